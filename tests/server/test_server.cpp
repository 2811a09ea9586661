// fenix-test-server: the server our integration tests (C++ and JS) drive.
// Its channels mimic the ones in Phoenix's own integration tests
// (protocol doc section 10.1 and the appendix), so the same scenarios can be
// checked against fenix.
//
//   build/bin/fenix-test-server --port 0 [--idle-timeout-ms 200]
//       [--max-channels 100] [--origins //example.com,...]
//       [--max-backpressure BYTES] [--backpressure close|drop]
//       [--longpoll-window-ms 10000] [--backpressure-stall-ms 1000]
//       [--io-threads 1] [--event-rate N] [--join-rate N] [--connect-rate N]
//       [--drain-batch N] [--drain-interval-ms MS]
//       [--compress true] [--compress-min-size 128] [--max-frame-size N]
//       (rate limits are off here unless given: this server is also the
//       benchmark target, which saturates one connection on purpose)
//       [--node-port N [--join HOST:PORT]...]   (cluster, as the apps:
//       loopback only, 4 shards; bench/run-cluster.sh)
//       [--pubsub-shards N] [--fault-injection true] [--max-restarts N]
//       [--restart-period-ms MS]   (supervision.test.mjs)
//
// Connect params: user=NAME (assigns.user), id=ID (socket id
// "users_socket:ID"), reject=1 (403) or reject=429 (429).
// Topics: room:* (see room() below), bench:* (echo + broadcast), feed:NAME
// (subscribes to room:NAME and pushes each of its broadcasts as "relay"
// {topic, event, payload}; "who" replies with room:NAME's presence list).
// HTTP: POST /broadcast?topic=T&event=E with a JSON body broadcasts it from
// the endpoint; GET /stats returns counters (actors, channels, ...).
// With --fault-injection true: GET /shard?kind=pubsub|presence&topic=T names
// the shard of T ({"name": "fenix.pubsub/N"}); POST /crash?name=NAME crashes
// that supervised actor (404 if none runs).

#include <caf/all.hpp>
#include <iostream>
#include <memory>

#include <boost/json.hpp>

#include "fenix/cluster.hpp"
#include "fenix/detail/endpoint_context.hpp"
#include "fenix/fenix.hpp"

namespace {

using namespace std::chrono_literals;
using fenix::json_object;
namespace json = boost::json;

using later_atom = caf::atom_constant<caf::atom("later")>;

caf::behavior room(fenix::channel* self) {
  return {
    [=](fenix::join_atom, const std::string& topic, const fenix::payload&) {
      if (topic == "room:secret")
        return fenix::join_result::error(
          json_object{{"reason", "unauthorized"}});
      if (topic == "room:join_crash")
        throw std::runtime_error("join crashed on purpose");
      self->intercept({"filtered"});
      auto user = self->assigns()["user"];
      self->track(json::value_to<std::string>(user),
                  {{"online_at", "1795424107"}});
      self->push_presence_state();
      return fenix::join_result::ok(json_object{{"joined", true}});
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload& p) -> fenix::reply {
      if (p.is_binary()) {
        self->push("binary", fenix::payload::binary(std::string("\0\1", 2)));
        return fenix::reply::ok(fenix::payload::binary(p.bytes() + "\3\4"));
      }
      if (event == "new_msg") {
        self->broadcast("new_msg", p);
        return fenix::reply::ok();
      }
      if (event == "shout_others") {
        self->broadcast_from("shout", p);
        return fenix::reply::ok();
      }
      if (event == "filtered") {
        self->broadcast("filtered", p);
        return fenix::reply::ok();
      }
      if (event == "ping")
        return fenix::reply::ok(p);
      if (event == "error_reply")
        return fenix::reply::error(p);
      if (event == "push_me") {
        self->push("pushed", p);
        return fenix::reply::none();
      }
      if (event == "later") {
        // Reply later through a saved reference, twice.
        self->delayed_send(self, 10ms, later_atom::value, self->socket_ref());
        return fenix::reply::none();
      }
      if (event == "update_meta") {
        auto user = json::value_to<std::string>(self->assigns()["user"]);
        self->update(user, p.object());
        return fenix::reply::ok();
      }
      if (event == "stop") {
        self->reply(self->socket_ref(), fenix::reply::ok(p));
        self->stop();
        return fenix::reply::none();
      }
      if (event == "crash")
        throw std::runtime_error("crashed on purpose");
      return fenix::reply::error(json_object{{"reason", "unknown event"}});
    },
    [=](fenix::out_atom, const std::string& event, const fenix::payload& p) {
      // Intercepted "filtered": a client named in "skip" does not get it;
      // the others get it with "seen_by" added, as a push.
      auto obj = p.object();
      auto user = self->assigns()["user"];
      if (auto* skip = obj.if_contains("skip"); skip && *skip == user)
        return;
      obj["seen_by"] = user;
      self->push(event, obj);
    },
    [=](later_atom, const fenix::reply_ref& ref) {
      self->reply(ref, fenix::reply::ok(json_object{{"later", 1}}));
      self->reply(ref, fenix::reply::ok(json_object{{"later", 2}}));
    },
    [=](fenix::terminate_atom, fenix::close_reason why) {
      if (why == fenix::close_reason::left)
        self->push("you_left", json_object{{"message", "bye!"}});
    },
  };
}

caf::behavior bench(fenix::channel* self) {
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload&) {
      return fenix::join_result::ok();
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload& p) -> fenix::reply {
      if (event == "broadcast") {
        self->broadcast("broadcast", p);
        return fenix::reply::none();
      }
      return fenix::reply::ok(p);  // echo
    },
  };
}

// A channel listening to another topic (channel::subscribe).
caf::behavior feed(fenix::channel* self) {
  auto room = std::make_shared<std::string>();
  return {
    [=](fenix::join_atom, const std::string& topic, const fenix::payload&) {
      *room = "room:" + topic.substr(5);
      self->subscribe(*room);
      return fenix::join_result::ok();
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload&) -> fenix::reply {
      if (event == "unsubscribe") {
        self->unsubscribe(*room);
        return fenix::reply::ok();
      }
      if (event == "who") {
        auto ref = self->socket_ref();
        self->presence_list(*room, [=](json::object list) {
          self->reply(ref, fenix::reply::ok(std::move(list)));
        });
        return fenix::reply::none();
      }
      return fenix::reply::error(json_object{{"reason", "unknown event"}});
    },
    [=](fenix::broadcast_atom, const std::string& topic,
        const std::string& event, const fenix::payload& p) {
      if (p.is_binary())
        return;
      self->push(
        "relay",
        json_object{{"topic", topic}, {"event", event}, {"payload", p.json()}});
    },
  };
}

fenix::connect_result connect(const fenix::connect_info& info) {
  auto reject = info.param("reject");
  if (reject == "1")
    return fenix::connect_result::refuse();
  if (!reject.empty())
    return fenix::connect_result::refuse(std::stoi(reject));
  auto user = info.param("user");
  if (user.empty())
    user = "anon";
  auto id = info.param("id");
  return fenix::connect_result::accept(json_object{{"user", user}},
                                       id.empty() ? "" : "users_socket:" + id);
}

// The fault-injection routes (see the header comment).
void mount_faults(fenix::endpoint& ep) {
  using fenix::transport::http_request;
  using fenix::transport::http_response;
  ep.route("GET", "/shard", [&ep](const http_request& r) {
    auto topic = r.query_param("topic");
    bool pubsub = r.query_param("kind") != "presence";
    auto shard =
      pubsub ? ep.pubsub().shard(topic) : ep.context()->presence->shard(topic);
    auto all = pubsub ? ep.pubsub().shards() : ep.context()->presence->shards();
    for (std::size_t i = 0; i < all.size(); ++i)
      if (all[i] == shard)
        return http_response::json(
          200,
          json::serialize(json::object{
            {"name", std::string{pubsub ? "fenix.pubsub/" : "fenix.presence/"}
                       + std::to_string(i)}}));
    return http_response::json(404, "{}");
  });
  ep.route("POST", "/crash", [&ep](const http_request& r) {
    auto name = r.query_param("name");
    if (!ep.faults()->crash(name))
      return http_response::json(404, "{}");
    return http_response::json(200, "{}");
  });
}

}  // namespace

int main(int argc, char** argv) {
  fenix::endpoint_options opts;
  opts.port = 0;
  opts.check_origin = fenix::origin_check::list;
  opts.allowed_origins = {"//example.com"};
  opts.longpoll = true;
  opts.event_rate = opts.join_rate = opts.connect_rate = 0;
  fenix::cluster_options co;  // clustered when co.port != 0
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string val = argv[i + 1];
    if (flag == "--port")
      opts.port = static_cast<std::uint16_t>(std::stoi(val));
    else if (flag == "--idle-timeout-ms")
      opts.idle_timeout = std::chrono::milliseconds(std::stol(val));
    else if (flag == "--longpoll-window-ms")
      opts.longpoll_window = std::chrono::milliseconds(std::stol(val));
    else if (flag == "--max-channels")
      opts.max_channels_per_socket = std::stoul(val);
    else if (flag == "--origins")
      opts.allowed_origins = {val};
    else if (flag == "--backpressure-stall-ms")
      opts.backpressure_stall = std::chrono::milliseconds(std::stol(val));
    else if (flag == "--max-backpressure")
      opts.max_backpressure = std::stoul(val);
    else if (flag == "--backpressure")
      opts.on_backpressure = val == "drop"
                               ? fenix::transport::backpressure_policy::drop
                               : fenix::transport::backpressure_policy::close;
    else if (flag == "--io-threads")
      opts.io_threads = std::stoi(val);
    else if (flag == "--event-rate")
      opts.event_rate = std::stod(val);
    else if (flag == "--join-rate")
      opts.join_rate = std::stod(val);
    else if (flag == "--drain-batch")
      opts.drain_batch_size = std::stoul(val);
    else if (flag == "--drain-interval-ms")
      opts.drain_interval = std::chrono::milliseconds{std::stol(val)};
    else if (flag == "--connect-rate")
      opts.connect_rate = std::stod(val);
    else if (flag == "--compress")
      opts.compress = val == "true" || val == "1";
    else if (flag == "--compress-min-size")
      opts.compress_min_size = std::stoul(val);
    else if (flag == "--max-frame-size")
      opts.max_frame_size = std::stoul(val);
    else if (flag == "--node-port")
      co.port = static_cast<std::uint16_t>(std::stoi(val));
    else if (flag == "--join")
      co.seeds.push_back(val);
    else if (flag == "--pubsub-shards")
      opts.pubsub_shards = std::stoul(val);
    else if (flag == "--fault-injection")
      opts.fault_injection = val == "true" || val == "1";
    else if (flag == "--max-restarts")
      opts.max_restarts = std::stoul(val);
    else if (flag == "--restart-period-ms")
      opts.restart_period = std::chrono::milliseconds{std::stol(val)};
    else {
      std::cerr << "unknown flag " << flag << '\n';
      return 2;
    }
  }
  caf::actor_system_config cfg;
  fenix::configure_scheduler(cfg);
  if (co.port != 0) {
    fenix::cluster::configure(cfg, co);
    opts.node_name = fenix::cluster::address_of(co);
    opts.pubsub_shards = 4;
  }
  caf::actor_system sys{cfg};
  fenix::endpoint ep{sys, opts};
  std::unique_ptr<fenix::cluster> node;
  if (co.port != 0) {
    node = std::make_unique<fenix::cluster>(ep, co);
    std::cerr << "cluster node " << node->address() << '\n';
  }
  ep.on_connect(connect);
  ep.channel("room:*", room);
  ep.channel("bench:*", bench);
  ep.channel("feed:*", feed);
  ep.route("POST", "/broadcast", [&](const fenix::transport::http_request& r) {
    json::error_code ec;
    auto body = json::parse(r.body, ec);
    if (ec || !body.is_object())
      return fenix::transport::http_response::json(400, R"({"error":"json"})");
    ep.broadcast(r.query_param("topic"), r.query_param("event"),
                 body.as_object());
    return fenix::transport::http_response::json(200, "{}");
  });
  ep.route("GET", "/stats", [&](const fenix::transport::http_request&) {
    auto s = ep.stats();
    json::object o{{"connections", s.connections},
                   {"channels", s.channels},
                   {"actors", sys.registry().running()},
                   {"broadcasts", s.broadcasts},
                   {"subscriptions", ep.pubsub().stats().subscriptions.load()},
                   {"encodes", ep.pubsub().stats().encodes.load()},
                   {"presence_entries", s.presence_entries},
                   {"frames_dropped", s.frames_dropped},
                   {"slow_closes", s.slow_closes},
                   {"deflates", s.deflates},
                   {"frames_deflated", s.frames_deflated},
                   {"cluster_nodes", node ? node->nodes() : 1}};
    std::uint64_t restarts = 0;
    for (auto& [name, n] : ep.supervisor().restarts())
      restarts += n;
    o["restarts"] = restarts;
    return fenix::transport::http_response::json(200, json::serialize(o));
  });
  if (ep.faults())
    mount_faults(ep);
  auto rc = ep.run();
  if (node)
    node->leave();
  return rc;
}
