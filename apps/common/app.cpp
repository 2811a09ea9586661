#include "apps/common/app.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/json.hpp>

#include "apps/common/jwt.hpp"

#ifndef FENIX_SOURCE_DIR
#define FENIX_SOURCE_DIR "."
#endif

namespace fenix::apps {

namespace {

namespace json = boost::json;
using transport::http_request;
using transport::http_response;

void print_help(const std::string& app, std::uint16_t port) {
  std::cout
    << "usage: fenix-" << app << " [flags]\n"
    << "  --host HOST        address to bind (default 127.0.0.1)\n"
    << "  --port N           port (default " << port << "; 0 picks one)\n"
    << "  --secret KEY       token signing key (default $FENIX_SECRET, else\n"
    << "                     a random key per start)\n"
    << "  --db PATH          SQLite file (default fenix-" << app
    << ".db; :memory: for none)\n"
    << "  --log-level LEVEL  error|warning|info|debug (default info)\n"
    << "  --static-dir DIR   the web page's files (default: the source tree)\n"
    << "  --node-port N      cluster: port for other nodes (not available yet)\n"
    << "  --join HOST:PORT   cluster: seed node, repeatable (not available yet)\n"
    << "  --help             this text\n";
}

bool parse_port(const std::string& s, std::uint16_t& out) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != s.npos)
    return false;
  auto v = std::stoul(s);
  if (v > 65535)
    return false;
  out = static_cast<std::uint16_t>(v);
  return true;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

http_response serve_file(const std::string& path) {
  auto body = read_file(path);
  if (body.empty())
    return http_response::text(404, "not found\n");
  http_response r{200, transport::mime_type(path), std::move(body), {}};
  r.headers.emplace("cache-control", "no-cache");
  return r;
}

std::string metric(const char* name, const char* help, std::uint64_t v,
                   const char* type = "gauge") {
  std::ostringstream out;
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type
      << '\n'
      << name << ' ' << v << '\n';
  return out.str();
}

} // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

app_flags parse_flags(int argc, char** argv, const std::string& app,
                      std::uint16_t default_port) {
  app_flags f;
  f.app = app;
  f.port = default_port;
  f.db = "fenix-" + app + ".db";
  f.static_dir = std::string{FENIX_SOURCE_DIR} + "/apps/" + app + "/static";
  auto fail = [&](const std::string& msg) {
    std::cerr << "fenix-" << app << ": " << msg << '\n';
    f.run = false;
    f.exit_code = 2;
    return f;
  };
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    if (auto eq = flag.find('='); eq != std::string::npos && flag[0] == '-') {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (flag != "--help" && flag != "-h") {
      if (i + 1 >= argc)
        return fail("missing value for " + flag);
      value = argv[++i];
    }
    if (flag == "--help" || flag == "-h") {
      print_help(app, default_port);
      f.run = false;
      return f;
    } else if (flag == "--host") {
      if (value.empty())
        return fail("invalid --host: empty");
      f.host = value;
    } else if (flag == "--port") {
      if (!parse_port(value, f.port))
        return fail("invalid --port: " + value);
    } else if (flag == "--secret") {
      if (value.empty())
        return fail("invalid --secret: empty");
      f.secret = value;
    } else if (flag == "--db") {
      if (value.empty())
        return fail("invalid --db: empty");
      f.db = value;
    } else if (flag == "--log-level") {
      if (value != "error" && value != "warning" && value != "info"
          && value != "debug")
        return fail("invalid --log-level: " + value);
      f.log_level = value;
    } else if (flag == "--static-dir") {
      f.static_dir = value;
    } else if (flag == "--node-port") {
      if (!parse_port(value, f.node_port) || f.node_port == 0)
        return fail("invalid --node-port: " + value);
      return fail("--node-port: clustering is not available in this build");
    } else if (flag == "--join") {
      if (value.find(':') == std::string::npos)
        return fail("invalid --join (HOST:PORT expected): " + value);
      return fail("--join: clustering is not available in this build");
    } else {
      return fail("unknown flag " + flag + " (see --help)");
    }
  }
  if (f.secret.empty()) {
    if (const char* env = std::getenv("FENIX_SECRET"); env && *env) {
      f.secret = env;
    } else {
      f.secret = random_secret();
      std::cerr << "fenix-" << app << ": warning: no --secret or FENIX_SECRET;"
                << " using a random key (tokens end with this process)\n";
    }
  }
  return f;
}

caf::actor_system_config& system_config() {
  static caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  return cfg;
}

endpoint_options endpoint_options_for(const app_flags& flags) {
  endpoint_options o;
  o.host = flags.host;
  o.port = flags.port;
  o.log_connects = flags.log_level == "debug";
  o.longpoll = true;  // apps.md: long-poll at /socket/longpoll
  return o;
}

void mount(endpoint& ep, const app_flags& flags) {
  auto secret = flags.secret;
  ep.on_connect([secret](const connect_info& info) {
    auto token = info.param("token");
    if (token.empty() && info.auth_token)
      token = *info.auth_token;
    auto user = verify_token(token, secret, std::chrono::system_clock::now());
    if (!user)
      return connect_result::refuse(403);
    return connect_result::accept(json::object{{"user", *user}},
                                  "users_socket:" + *user);
  });
  ep.route("POST", "/api/session", [secret](const http_request& req) {
    json::error_code ec;
    auto body = json::parse(req.body, ec);
    if (ec)
      return http_response::json(400, R"({"error":"invalid json"})");
    const json::value* name = body.is_object()
                                ? body.as_object().if_contains("username")
                                : nullptr;
    if (!name || !name->is_string() || !valid_username(name->as_string()))
      return http_response::json(400, R"({"error":"invalid username"})");
    std::string user{name->as_string()};
    auto token = sign_token(user, secret, std::chrono::system_clock::now());
    return http_response::json(
      200, json::serialize(json::object{{"token", token}, {"username", user}}));
  });
  ep.route("GET", "/metrics", [&ep](const http_request&) {
    auto s = ep.stats();
    std::string out;
    out += metric("fenix_connections", "Open WebSocket connections",
                  s.connections);
    out += metric("fenix_channels", "Joined channels", s.channels);
    out += metric("fenix_messages_in_total", "Frames received",
                  s.messages_in, "counter");
    out += metric("fenix_messages_out_total", "Frames sent", s.messages_out,
                  "counter");
    out += metric("fenix_broadcasts_total", "Broadcasts dispatched",
                  s.broadcasts, "counter");
    out += metric("fenix_dropped_frames_total",
                  "Frames dropped for slow readers", s.frames_dropped,
                  "counter");
    out += metric("fenix_slow_closes_total",
                  "Connections closed for slow reading", s.slow_closes,
                  "counter");
    out += metric("fenix_presence_entries", "Tracked presence entries",
                  s.presence_entries);
    out += metric("fenix_cluster_nodes", "Nodes in the cluster (this one)", 1);
    return http_response{200, "text/plain; version=0.0.4; charset=utf-8",
                         std::move(out), {}};
  });
  auto dir = flags.static_dir;
  ep.route("GET", "/", [dir](const http_request&) {
    return serve_file(dir + "/index.html");
  });
  auto phoenix_js = std::string{FENIX_SOURCE_DIR}
                    + "/tests/js/node_modules/phoenix/priv/static/phoenix.mjs";
  ep.route_prefix("/assets/", [dir, phoenix_js](const http_request& req) {
    if (req.method != "GET" && req.method != "HEAD")
      return http_response::text(405, "method not allowed\n");
    auto name = req.path.substr(8);
    if (name == "phoenix.mjs")
      return serve_file(phoenix_js);
    if (name.empty() || name.find("..") != std::string::npos
        || name.find('/') != std::string::npos)
      return http_response::text(404, "not found\n");
    return serve_file(dir + "/" + name);
  });
}

} // namespace fenix::apps
