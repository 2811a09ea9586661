/// The one header a fenix application includes: endpoint, channels,
/// PubSub, presence, and the atoms channel behaviors match on.
///
///   #include "fenix/fenix.hpp"
///
///   caf::behavior echo(fenix::channel* self) {
///     return {
///       [](fenix::join_atom, const std::string&, const fenix::payload&) {
///         return fenix::join_result::ok();
///       },
///       [](fenix::in_atom, const std::string&, const fenix::payload& p) {
///         return fenix::reply::ok(p);
///       },
///     };
///   }
#pragma once

#include <boost/json.hpp>

#include "fenix/atoms.hpp"
#include "fenix/channel.hpp"
#include "fenix/endpoint.hpp"
#include "fenix/events.hpp"
#include "fenix/fault_injection.hpp"
#include "fenix/pubsub.hpp"
#include "fenix/supervisor.hpp"
#include "fenix/typed.hpp"
#include "fenix/types.hpp"
#include "fenix/version.hpp"

namespace fenix {

using json_object = boost::json::object;
using json_array = boost::json::array;

}  // namespace fenix
