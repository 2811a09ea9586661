/// Internal: the checks every transport runs before a socket exists, in
/// Phoenix's order: Origin, vsn negotiation, then the connect callback.
#pragma once

#include <memory>
#include <string>
#include <variant>

#include "fenix/socket/socket.hpp"
#include "fenix/transport/http.hpp"

namespace fenix::socket {

/// A refusal (HTTP status) or what the socket actor starts with.
/// `subprotocol` is set to "phoenix" when the client offered it.
std::variant<int, socket_init>
authorize(const std::shared_ptr<detail::endpoint_context>& ctx,
          const transport::http_request& req, std::string& subprotocol);

}  // namespace fenix::socket
