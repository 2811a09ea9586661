// ws_echo: a raw WebSocket echo server (no Phoenix protocol). Every text
// or binary message, on any path, comes back as it was sent. Used to check
// fenix's RFC 6455 framing with a conformance suite or `ws`.
//
//   build/bin/example-ws_echo --port 9001 [--host 127.0.0.1] [--compress]
//   # listening on http://127.0.0.1:9001  (WebSocket on any path)
//
// Messages up to 16 MiB (max_frame_size; larger ones close with 1009).

#include <cstdint>
#include <iostream>
#include <string>

#include <caf/all.hpp>

#include "fenix/fenix.hpp"

namespace {

constexpr std::size_t max_message = 16 << 20;

struct flags {
  fenix::endpoint_options opts;
  bool compress = false;
};

flags parse(int argc, char** argv) {
  flags f;
  f.opts.port = 9001;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--compress")
      f.compress = true;
    else if (flag == "--port" && i + 1 < argc)
      f.opts.port = static_cast<std::uint16_t>(std::stoi(argv[++i]));
    else if (flag == "--host" && i + 1 < argc)
      f.opts.host = argv[++i];
    else {
      std::cerr
        << "usage: example-ws_echo [--port N] [--host H] [--compress]\n";
      std::exit(2);
    }
  }
  auto& o = f.opts;
  o.compress = f.compress;  // permessage-deflate (RFC 7692) when offered
  o.compress_min_size = 0;  // every message, to exercise the codec
  o.max_frame_size = max_message;
  o.max_inbound_bytes = 4 * max_message;      // a few whole messages in flight
  o.max_backpressure = 4 * max_message;       // a 16 MiB echo is no stall
  o.check_origin = fenix::origin_check::off;  // test clients send any
  o.socket_path.clear();  // no Phoenix socket: every path echoes
  return f;
}

fenix::websocket_handler echo_handler() {
  fenix::websocket_handler h;
  h.on_message = [](const fenix::transport::connection_ptr& c, std::string data,
                    bool binary) {
    c->send(fenix::transport::make_frame(std::move(data), binary));
  };
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  auto f = parse(argc, argv);
  caf::actor_system_config cfg;
  fenix::configure_scheduler(cfg);
  caf::actor_system sys{cfg};
  fenix::endpoint ep{sys, f.opts};
  ep.websocket_prefix("/", echo_handler());
  return ep.run();  // "listening on http://HOST:PORT", until SIGINT/SIGTERM
}
