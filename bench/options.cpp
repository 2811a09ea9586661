#include "bench/options.hpp"

#include <functional>
#include <optional>
#include <type_traits>
#include <stdexcept>

namespace fenix::bench {

namespace {

struct flag {
  const char* name;
  const char* help;
  std::function<void(options&, const std::string&)> set;  // null: boolean
};

template <class T>
T number(const std::string& flag_name, const std::string& text) {
  try {
    std::size_t used = 0;
    T v{};
    if constexpr (std::is_floating_point_v<T>)
      v = static_cast<T>(std::stod(text, &used));
    else
      v = static_cast<T>(std::stoll(text, &used));
    if (used != text.size() || (!std::is_floating_point_v<T> && v < T{0}))
      throw std::invalid_argument(text);
    return v;
  } catch (const std::exception&) {
    throw std::invalid_argument("--" + flag_name + ": not a number: " + text);
  }
}

template <class T>
std::function<void(options&, const std::string&)> to(const char* name,
                                                     T options::*member) {
  return [name, member](options& o, const std::string& v) {
    if constexpr (std::is_same_v<T, std::string>)
      o.*member = v;
    else
      o.*member = number<T>(name, v);
  };
}

const std::vector<flag>& flags() {
  static const std::vector<flag> table{
    {"host", "server address (127.0.0.1)", to("host", &options::host)},
    {"port", "server port (4000)", to("port", &options::port)},
    {"publish-port", "fanout: publishers connect here (another node)",
     to("publish-port", &options::publish_port)},
    {"path", "WebSocket path (/socket/websocket)", to("path", &options::path)},
    {"server-pid", "server process for RSS and CPU (/proc)",
     to("server-pid", &options::server_pid)},
    {"label", "name of the server in reports (fenix)",
     to("label", &options::label)},
    {"clients", "connections, subscribers or room members",
     to("clients", &options::clients)},
    {"publishers", "fanout: publishing clients (besides subscribers)",
     to("publishers", &options::publishers)},
    {"rate", "messages/s per publisher (echo: in all); 0: closed loop",
     to("rate", &options::rate)},
    {"payload", "payload bytes per message", to("payload", &options::payload)},
    {"window", "messages in flight per publisher when --rate 0",
     to("window", &options::window)},
    {"duration", "seconds of load", to("duration", &options::duration)},
    {"count", "messages per publisher (instead of --duration); churn: cycles",
     to("count", &options::count)},
    {"connect-rate", "connects per second (0: as fast as --inflight allows)",
     to("connect-rate", &options::connect_rate)},
    {"inflight", "connects in flight; churn: concurrent loops",
     to("inflight", &options::inflight)},
    {"topic", "topic to join (bench:1; presence room:bench)",
     to("topic", &options::topic)},
    {"hold", "connect: seconds to hold the connections open",
     to("hold", &options::hold)},
    {"settle", "seconds to let the server settle before reading its RSS",
     to("settle", &options::settle)},
    {"json", "write the result as JSON to FILE",
     to("json", &options::json_file)},
    {"workers", "worker processes sharing the load (coordinator mode)",
     to("workers", &options::workers)},
    {"worker-index", "(internal) this process is worker N",
     to("worker-index", &options::worker_index)},
    {"server", "smoke: path of fenix-test-server",
     to("server", &options::server_path)},
    {"ids", "app-chat: write the acknowledged message ids to FILE",
     to("ids", &options::ids_file)},
    {"quiet", "no progress on stderr", nullptr},
  };
  return table;
}

void apply_defaults(options& o) {
  auto def = [](auto& field, auto value) {
    if (field == std::decay_t<decltype(field)>{})
      field = value;
  };
  const auto& s = o.scenario;
  if (s == "connect") {
    def(o.clients, 1000);
    def(o.inflight, 200);
  } else if (s == "fanout" || s == "chat" || s == "echo") {
    bool fanout = s == "fanout";
    bool echo = s == "echo";
    def(o.clients, fanout ? 1000 : 100);
    def(o.publishers, fanout ? 1 : 0);
    if (o.rate < 0)
      o.rate = fanout ? 2 : echo ? 1000 : 0;
    def(o.payload, 100);
    def(o.window, echo ? 1 : fanout ? 8 : 4);
    def(o.duration, 10.0);
    def(o.inflight, 200);
  } else if (s == "presence") {
    def(o.clients, 1000);
    def(o.inflight, 200);
    def(o.duration, 60.0);  // longest wait for complete lists
  } else if (s == "churn") {
    def(o.count, 10000);
    def(o.inflight, 50);
  } else if (s == "app-chat") {
    def(o.clients, 1000);
    def(o.publishers, 10);
    if (o.rate < 0)
      o.rate = 0;
    def(o.payload, 100);
    def(o.window, 4);
    def(o.duration, 10.0);
    def(o.inflight, 200);
    if (o.topic.empty())
      o.topic = "room:bench";
  } else if (s == "app-timer") {
    def(o.clients, 100);  // users, one socket each
    def(o.count, 100);    // running timers per user (the app's maximum)
    if (o.rate < 0)
      o.rate = 2000;  // timer starts per second, in all
    def(o.duration, 15.0);
    if (o.settle < 0)
      o.settle = 2.0;
    if (o.topic.empty())
      o.topic = "timers:*";
  } else if (s != "smoke") {
    throw std::invalid_argument("unknown scenario: " + s);
  }
  if (o.settle < 0)
    o.settle = s == "connect" ? 2.0 : 1.0;
  if (o.topic.empty())
    o.topic = s == "presence" ? "room:bench" : "bench:1";
  if (o.workers == 0)
    o.workers = 1;
}

}  // namespace

options parse_options(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].rfind("--", 0) == 0)
    throw std::invalid_argument("missing scenario");
  options o;
  o.scenario = argv[0];
  for (std::size_t i = 1; i < argv.size(); ++i) {
    auto arg = argv[i];
    if (arg.rfind("--", 0) != 0)
      throw std::invalid_argument("unexpected argument: " + arg);
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const flag* f = nullptr;
    for (auto& candidate : flags())
      if (name == candidate.name)
        f = &candidate;
    if (!f)
      throw std::invalid_argument("unknown flag: --" + name);
    o.args.push_back(arg);
    if (!f->set) {
      o.quiet = true;
      continue;
    }
    if (!value) {
      if (i + 1 >= argv.size())
        throw std::invalid_argument("--" + name + " needs a value");
      value = argv[++i];
      o.args.push_back(*value);
    }
    f->set(o, *value);
  }
  apply_defaults(o);
  return o;
}

std::string usage() {
  std::string out =
    "fenix-bench SCENARIO [flags]: load generator for Phoenix V2 servers\n"
    "\n"
    "scenarios (defaults):\n"
    "  connect   --clients 1000 --inflight 200: connect + join each, report\n"
    "            rate, failures, server RSS per connection (--server-pid)\n"
    "  fanout    --clients 1000 --publishers 1 --rate 2 --payload 100\n"
    "            --duration 10: publish-to-receipt latency, deliveries/s,\n"
    "            losses, duplicates, time to the last subscriber\n"
    "  chat      --clients 100 --rate 0 --window 4: every member publishes\n"
    "  echo      --clients 100 --rate 1000 (in all): push/reply round trip\n"
    "  presence  --clients 1000 (topic room:bench, user=uN): presence "
    "frames,\n"
    "            bytes, time until every list is complete\n"
    "  churn     --count 10000 --inflight 50: connect/join/leave/close\n"
    "            cycles; server RSS at 10% and at the end\n"
    "  app-chat  --clients 1000 --publishers 10 --rate 0 --window 4: the\n"
    "            real fenix-chat, one room (--topic room:bench), sessions\n"
    "            from POST /api/session; new_msg push-to-broadcast latency,\n"
    "            messages/s, losses, join history check (--ids FILE)\n"
    "  app-timer --clients 100 --count 100 --rate 2000 --duration 15: the\n"
    "            real fenix-timer, users x running timers; server CPU and\n"
    "            RSS while they tick (watched, then with no socket)\n"
    "  smoke     --server PATH: tiny run of each scenario against a test\n"
    "            server it starts; exit 1 unless all complete with no loss\n"
    "\nflags:\n";
  for (auto& f : flags()) {
    std::string name = std::string{"  --"} + f.name + (f.set ? " X" : "");
    out += name + std::string(name.size() < 22 ? 22 - name.size() : 1, ' ')
           + f.help + '\n';
  }
  return out;
}

}  // namespace fenix::bench
