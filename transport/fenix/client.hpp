/// The C++ Phoenix client: one header for applications, tests and load
/// generators (see fenix/client/client.hpp for the full contract).
///
///   #include <fenix/client.hpp>
///
///   fenix::client::client_context ctx;
///   fenix::client::client_options opts;
///   opts.port = 4000;
///   auto r = fenix::client::connect(ctx, opts);
///   auto ref = r.client->join("room:lobby", {});
///   auto reply = r.client->wait_reply(ref);
#pragma once

#include "fenix/client/client.hpp"
