#include "apps/common/app.hpp"
#include "fenix/log.hpp"

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/json.hpp>

#include "apps/common/embedded.hpp"
#include "apps/common/jwt.hpp"
#include "fenix/protocol/json.hpp"

namespace fenix::apps {

namespace {

namespace json = boost::json;
using transport::http_request;
using transport::http_response;

void print_help(const std::string& app, std::uint16_t port) {
  const endpoint_options d;  // the defaults the help shows
  std::cout
    << "usage: fenix-" << app << " [flags]\n"
    << "  --host HOST        address to bind (default 127.0.0.1)\n"
    << "  --port N           port (default " << port << "; 0 picks one)\n"
    << "  --secret KEY       token signing key (default $FENIX_SECRET, else\n"
    << "                     a random key per start)\n"
    << "  --db PATH          SQLite file (default fenix-" << app
    << ".db; :memory: for none)\n"
    << "  --log-level LEVEL  error|warning|info|debug (default info)\n"
    << "  --compress         permessage-deflate for clients that offer it\n"
    << "  --token-ttl SECS   lifetime of session tokens (default 86400); a\n"
    << "                     socket is closed (4001) when its token expires\n"
    << "  --static-dir DIR   serve the web page's files from DIR (default: "
       "the\n"
    << "                     copy built into this binary)\n"
    << "cluster (docs: examples/cluster/README.md):\n"
    << "  --node-port N      join a cluster: this node's cluster port\n"
    << "  --node-host HOST   address of the cluster port (default 127.0.0.1;\n"
    << "                     other hosts need TLS or --node-insecure)\n"
    << "  --join HOST:PORT   a member to join (repeatable); nodes learn every\n"
    << "                     member from each other (a full mesh)\n"
    << "  --node-cert FILE   TLS between nodes (mutual auth): PEM "
       "certificate,\n"
    << "  --node-key FILE    its private key, and the CA that signs every\n"
    << "  --node-ca FILE     node's certificate (all three together)\n"
    << "  --node-insecure    allow a non-loopback --node-host without TLS\n"
    << "  --node-heartbeat MS  heartbeat between nodes (default 200)\n"
    << "  --node-timeout MS  a node silent this long is down (default 2000)\n"
    << "  --gossip-period MS presence replication period (default 200)\n"
    << "                     (a clustered node uses " << cluster_shards
    << " PubSub/presence shards)\n"
    << "rate limits (per connection; connects per peer address; 0: off):\n"
    << "  --event-rate N     events per second (default " << d.event_rate
    << ") and\n"
    << "  --event-burst N    in one burst (default " << d.event_burst
    << "): then \"rate limited\"\n"
    << "  --join-rate N      joins per second (default " << d.join_rate
    << ") and\n"
    << "  --join-burst N     in one burst (default " << d.join_burst << ")\n"
    << "  --connect-rate N   new connections per second (default "
    << d.connect_rate << ") and\n"
    << "  --connect-burst N  in one burst (default " << d.connect_burst
    << "): then HTTP 429\n"
    << "TLS (https and wss on --port instead of http and ws):\n"
    << "  --tls-cert FILE    PEM certificate chain (leaf first)\n"
    << "  --tls-key FILE     its PEM private key (both together)\n"
    << "  --tls-client-ca FILE  verify client certificates against this CA\n"
    << "  --tls-client-verify require|request  (default require)\n"
    << "  --help             this text\n";
}

// The TLS flags, into the endpoint options; false: not a TLS flag. An
// invalid value sets `error`.
bool tls_flag(app_flags& f, const std::string& flag, const std::string& value,
              std::string& error) {
  auto& t = f.limits.tls;
  if (flag == "--tls-cert")
    t.cert_chain_file = value;
  else if (flag == "--tls-key")
    t.key_file = value;
  else if (flag == "--tls-client-ca")
    t.client_ca_file = value;
  else if (flag == "--tls-client-verify" && value == "require")
    f.tls_client_verify = transport::client_cert_mode::require;
  else if (flag == "--tls-client-verify" && value == "request")
    f.tls_client_verify = transport::client_cert_mode::request;
  else if (flag == "--tls-client-verify")
    error = "invalid --tls-client-verify (require or request): " + value;
  else
    return false;
  return true;
}

// Both files or neither, and they load; "" when fine.
std::string check_tls(app_flags& f) {
  auto& t = f.limits.tls;
  if (t.cert_chain_file.empty() != t.key_file.empty())
    return "--tls-cert and --tls-key go together";
  if (!t.client_ca_file.empty() && t.cert_chain_file.empty())
    return "--tls-client-ca needs --tls-cert and --tls-key";
  if (t.cert_chain_file.empty())
    return {};
  for (auto [flag, file] : {std::pair{"--tls-cert", &t.cert_chain_file},
                            std::pair{"--tls-key", &t.key_file},
                            std::pair{"--tls-client-ca", &t.client_ca_file}})
    if (!file->empty() && !std::ifstream{*file})
      return std::string{"cannot read "} + flag + " " + *file + ": "
             + std::strerror(errno);
  if (!t.client_ca_file.empty())
    t.client_certs = f.tls_client_verify;
  try {
    transport::check_tls_options(t);
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

bool parse_rate(const std::string& s, double& out) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789.") != s.npos)
    return false;
  try {
    out = std::stod(s);
  } catch (const std::exception&) {
    return false;
  }
  return out >= 0;
}

bool parse_ms(const std::string& s, std::chrono::milliseconds& out) {
  if (s.empty() || s.size() > 7 || s.find_first_not_of("0123456789") != s.npos)
    return false;
  out = std::chrono::milliseconds{std::stol(s)};
  return out.count() > 0;
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

}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

double* rate_flag(app_flags& f, const std::string& flag) {
  auto& l = f.limits;
  std::pair<const char*, double*> table[] = {
    {"--event-rate", &l.event_rate},     {"--event-burst", &l.event_burst},
    {"--join-rate", &l.join_rate},       {"--join-burst", &l.join_burst},
    {"--connect-rate", &l.connect_rate}, {"--connect-burst", &l.connect_burst},
  };
  for (auto& [name, ptr] : table)
    if (flag == name)
      return ptr;
  return nullptr;
}

app_flags parse_flags(int argc, char** argv, const std::string& app,
                      std::uint16_t default_port) {
  app_flags f;
  f.app = app;
  f.port = default_port;
  f.db = "fenix-" + app + ".db";
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
    } else if (flag != "--help" && flag != "-h" && flag != "--node-insecure"
               && flag != "--compress") {
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
      if (log_level lv; !parse_log_level(value, lv) || lv == log_level::off)
        return fail("invalid --log-level: " + value);
      f.log_level = value;
    } else if (flag == "--token-ttl") {
      std::chrono::milliseconds ttl{};
      if (value.size() > 7 || !parse_ms(value, ttl))
        return fail("invalid --token-ttl (seconds, 1-9999999): " + value);
      f.token_ttl = std::chrono::seconds{ttl.count()};
    } else if (flag == "--static-dir") {
      f.static_dir = value;
    } else if (flag == "--node-port") {
      if (!parse_port(value, f.node_port) || f.node_port == 0)
        return fail("invalid --node-port: " + value);
    } else if (flag == "--node-host") {
      if (value.empty())
        return fail("invalid --node-host: empty");
      f.node_host = value;
    } else if (flag == "--join") {
      auto colon = value.rfind(':');
      std::uint16_t p = 0;
      if (colon == std::string::npos || colon == 0
          || !parse_port(value.substr(colon + 1), p) || p == 0)
        return fail("invalid --join (HOST:PORT expected): " + value);
      f.joins.push_back(value);
    } else if (flag == "--node-cert") {
      f.node_cert = value;
    } else if (flag == "--node-key") {
      f.node_key = value;
    } else if (flag == "--node-ca") {
      f.node_ca = value;
    } else if (flag == "--compress") {
      if (!value.empty() && value != "true" && value != "false")
        return fail("invalid --compress (true or false): " + value);
      f.limits.compress = value != "false";
    } else if (flag == "--node-insecure") {
      f.node_insecure = value.empty() || value == "true";
    } else if (flag == "--node-heartbeat") {
      if (!parse_ms(value, f.node_heartbeat))
        return fail("invalid --node-heartbeat (milliseconds): " + value);
    } else if (flag == "--node-timeout") {
      if (!parse_ms(value, f.node_timeout))
        return fail("invalid --node-timeout (milliseconds): " + value);
    } else if (flag == "--gossip-period") {
      if (!parse_ms(value, f.gossip))
        return fail("invalid --gossip-period (milliseconds): " + value);
    } else if (std::string err; tls_flag(f, flag, value, err)) {
      if (!err.empty())
        return fail(err);
    } else if (auto* rate = rate_flag(f, flag)) {
      if (!parse_rate(value, *rate))
        return fail("invalid " + flag + " (a number >= 0): " + value);
    } else {
      return fail("unknown flag " + flag + " (see --help)");
    }
  }
  if (log_level lv; parse_log_level(f.log_level, lv))
    log::set_level(lv);
  if (!f.clustered()
      && (!f.joins.empty() || !f.node_cert.empty() || !f.node_key.empty()
          || !f.node_ca.empty()))
    return fail("the cluster flags need --node-port");
  if (f.clustered()) {
    try {
      cluster::check(cluster_options_for(f));
    } catch (const std::exception& e) {
      return fail(std::string{"cluster: "} + e.what());
    }
  }
  if (auto err = check_tls(f); !err.empty())
    return fail(err);
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
  configure_scheduler(cfg);
  return cfg;
}

caf::actor_system_config& system_config(const app_flags& flags) {
  auto& cfg = system_config();
  if (flags.clustered())
    cluster::configure(cfg, cluster_options_for(flags));
  return cfg;
}

cluster_options cluster_options_for(const app_flags& flags) {
  cluster_options o;
  o.host = flags.node_host;
  o.port = flags.node_port;
  o.seeds = flags.joins;
  o.certificate = flags.node_cert;
  o.key = flags.node_key;
  o.ca = flags.node_ca;
  o.insecure = flags.node_insecure;
  o.heartbeat_interval = flags.node_heartbeat;
  o.connection_timeout = flags.node_timeout;
  o.gossip_period = flags.gossip;
  return o;
}

std::unique_ptr<cluster>
start_cluster(endpoint& ep, const app_flags& flags,
              std::function<void(const broadcast&)> on_remote_broadcast) {
  if (!flags.clustered())
    return nullptr;
  auto co = cluster_options_for(flags);
  co.on_remote_broadcast = std::move(on_remote_broadcast);
  auto node = std::make_unique<cluster>(ep, std::move(co));
  std::cerr << "fenix-" << flags.app << ": cluster node " << node->address()
            << (flags.node_cert.empty() ? "" : " (TLS)") << '\n';
  return node;
}

endpoint_options endpoint_options_for(const app_flags& flags) {
  endpoint_options o = flags.limits;
  o.host = flags.host;
  o.port = flags.port;
  if (flags.clustered()) {
    o.node_name = cluster::address_of(cluster_options_for(flags));
    o.pubsub_shards = cluster_shards;
  }
  o.log_connects = flags.log_level == "debug";
  o.longpoll = true;  // apps.md: long-poll at /socket/longpoll
  return o;
}

void mount(endpoint& ep, const app_flags& flags, const cluster* node) {
  auto secret = flags.secret;
  ep.on_connect([secret](const connect_info& info) {
    auto token = info.param("token");
    if (token.empty() && info.auth_token)
      token = *info.auth_token;
    std::chrono::system_clock::time_point exp;
    auto user =
      verify_token(token, secret, std::chrono::system_clock::now(), &exp);
    if (!user)
      return connect_result::refuse(403);
    return connect_result::accept(json::object{{"user", *user}},
                                  "users_socket:" + *user)
      .expires_at(exp);
  });
  auto ttl = flags.token_ttl;
  ep.route("POST", "/api/session", [secret, ttl](const http_request& req) {
    json::error_code ec;
    auto body = fenix::protocol::parse_json(req.body, ec);
    if (ec)
      return http_response::json(400, R"({"error":"invalid json"})");
    const json::value* name =
      body.is_object() ? body.as_object().if_contains("username") : nullptr;
    if (!name || !name->is_string() || !valid_username(name->as_string()))
      return http_response::json(400, R"({"error":"invalid username"})");
    std::string user{name->as_string()};
    auto token =
      sign_token(user, secret, std::chrono::system_clock::now(), ttl);
    return http_response::json(
      200, json::serialize(json::object{{"token", token}, {"username", user}}));
  });
  ep.route("GET", "/metrics", [&ep, node](const http_request&) {
    auto s = ep.stats();
    std::string out;
    out +=
      metric("fenix_connections", "Open WebSocket connections", s.connections);
    out += metric("fenix_channels", "Joined channels", s.channels);
    out += metric("fenix_messages_in_total", "Frames received", s.messages_in,
                  "counter");
    out += metric("fenix_messages_out_total", "Frames sent", s.messages_out,
                  "counter");
    out += metric("fenix_broadcasts_total", "Broadcasts dispatched",
                  s.broadcasts, "counter");
    out +=
      metric("fenix_dropped_frames_total", "Frames dropped for slow readers",
             s.frames_dropped, "counter");
    out +=
      metric("fenix_slow_closes_total", "Connections closed for slow reading",
             s.slow_closes, "counter");
    out += metric("fenix_presence_entries", "Tracked presence entries",
                  s.presence_entries);
    auto limited = [&](const char* limit, std::uint64_t n) {
      return "fenix_rate_limited_total{limit=\"" + std::string{limit} + "\"} "
             + std::to_string(n) + "\n";
    };
    out += "# HELP fenix_rate_limited_total Requests refused by a rate limit\n"
           "# TYPE fenix_rate_limited_total counter\n";
    out += limited("events", s.rate_limited_events);
    out += limited("joins", s.rate_limited_joins);
    out += limited("connects", s.rate_limited_connects);
    out += metric("fenix_rate_limit_closes_total",
                  "Connections closed with 1008 for staying over a limit",
                  s.rate_limit_closes, "counter");
    out += metric("fenix_http_refused_total",
                  "Malformed or oversized HTTP requests (400, 413, 431)",
                  s.http_refused, "counter");
    out += metric("fenix_accept_backoffs_total",
                  "Times accepting paused at the file descriptor limit",
                  s.accept_backoffs, "counter");
    out += metric("fenix_deflates_total",
                  "permessage-deflate compressions (a broadcast: one)",
                  s.deflates, "counter");
    out += metric("fenix_frames_deflated_total",
                  "Frames sent compressed (permessage-deflate)",
                  s.frames_deflated, "counter");
    out += metric("fenix_cluster_nodes",
                  "Nodes in the cluster as seen from here (this one included)",
                  node ? node->nodes() : 1);
    out += "# HELP fenix_actor_restarts_total Restarts of each supervised "
           "actor\n# TYPE fenix_actor_restarts_total counter\n";
    for (auto& [name, n] : ep.supervisor().restarts())
      out += "fenix_actor_restarts_total{actor=\"" + name + "\"} "
             + std::to_string(n) + "\n";
    return http_response{
      200, "text/plain; version=0.0.4; charset=utf-8", std::move(out), {}};
  });
  // The page: from --static-dir if given, else the copy embedded at build
  // time (phoenix.mjs and session.js too, unless the directory has its own).
  auto dir = flags.static_dir;
  auto app = flags.app;
  auto page = [dir, app](const std::string& name) {
    if (!dir.empty()) {
      auto r = serve_file(dir + "/" + name);
      if (r.status != 404 || (name != "phoenix.mjs" && name != "session.js"))
        return r;
    }
    auto* f = find_embedded(app, name);
    if (!f)
      return http_response::text(404, "not found\n");
    http_response r{
      200,
      f->mime,
      std::string{reinterpret_cast<const char*>(f->data), f->size},
      {}};
    r.headers.emplace("cache-control", "no-cache");
    return r;
  };
  ep.route("GET", "/",
           [page](const http_request&) { return page("index.html"); });
  ep.route_prefix("/assets/", [page](const http_request& req) {
    if (req.method != "GET" && req.method != "HEAD")
      return http_response::text(405, "method not allowed\n");
    auto name = req.path.substr(8);
    if (name.empty() || name.find("..") != std::string::npos
        || name.find('/') != std::string::npos)
      return http_response::text(404, "not found\n");
    return page(name);
  });
}

}  // namespace fenix::apps
