// Three fenix-chat processes clustered on 127.0.0.1, driven by the C++
// client: one room across nodes, one presence list, message order, a killed
// node, a frozen node, a restarted node, a clean shutdown, and flags.

#include <catch2/catch.hpp>

#include "cluster_helpers.hpp"

using namespace cluster_test;

namespace {

// Three nodes: b joins a, c joins b (c learns a through gossip).
struct three_nodes {
  temp_dir dir;
  node a{"a", dir.path, free_port()};
  node b{"b", dir.path, free_port()};
  node c{"c", dir.path, free_port()};
  tr::client_context ctx;

  three_nodes() {
    REQUIRE(a.start({}));
    REQUIRE(b.start({"--join", a.node_address()}));
    REQUIRE(c.start({"--join", b.node_address()}));
    wait_mesh();
  }

  void wait_mesh() {
    INFO(a.log() << b.log() << c.log());
    REQUIRE(poll_until(
      [&] {
        return a.cluster_nodes() == 3 && b.cluster_nodes() == 3
               && c.cluster_nodes() == 3;
      },
      15s));
  }

  std::string logs() const { return a.log() + b.log() + c.log(); }
};

// Joins a fresh user to room:lobby on `n` and returns its join reply.
std::optional<fenix::message> join_reply(tr::client_context& ctx, const node& n,
                                         const std::string& user) {
  chat_user u{ctx, n, user};
  if (!u.connected())
    return std::nullopt;
  auto ref = u.client().join("room:lobby");
  return u.client().wait_reply(ref, 5s);
}

bool history_has(const fenix::message& reply, const std::string& body) {
  auto& msgs =
    reply.payload.object().at("response").as_object().at("messages").as_array();
  for (auto& m : msgs)
    if (m.as_object().at("body").as_string() == body)
      return true;
  return false;
}

}  // namespace

TEST_CASE("users on three nodes share one room with one presence list and "
          "one message order",
          "[cluster][chat]") {
  three_nodes n;
  chat_user alice{n.ctx, n.a, "alice"};
  chat_user bob{n.ctx, n.b, "bob"};
  chat_user carol{n.ctx, n.c, "carol"};
  REQUIRE(alice.join("room:lobby"));
  REQUIRE(bob.join("room:lobby"));
  REQUIRE(carol.join("room:lobby"));
  INFO(n.logs());
  CHECK(converge({&alice, &bob, &carol}, {"alice", "bob", "carol"}, 5s));
  INFO("alice sees " << show(alice.users()) << ", bob " << show(bob.users())
                     << ", carol " << show(carol.users()));
  // One publisher, many messages, no waiting in between: every node sees
  // them in the order they were sent.
  std::vector<std::string> sent;
  for (int i = 0; i < 40; ++i) {
    sent.push_back("m" + std::to_string(i));
    alice.client().push("room:lobby", "new_msg",
                        json::object{{"body", sent.back()}});
  }
  for (auto* u : {&alice, &bob, &carol}) {
    INFO(u->name());
    REQUIRE(u->wait([&] { return u->bodies().size() >= sent.size(); }, 10s));
    CHECK(u->bodies() == sent);
  }
  // Two users on different nodes talking back and forth.
  REQUIRE(carol.say("hi from c"));
  REQUIRE(bob.wait(
    [&] { return !bob.bodies().empty() && bob.bodies().back() == "hi from c"; },
    5s));
  // Node c stored what it received from a: its history has it.
  CHECK(poll_until(
    [&] {
      auto r = join_reply(n.ctx, n.c, "dave");
      return r && history_has(*r, "m39");
    },
    5s));
}

TEST_CASE("a killed node's users leave within 3 s and its restart leaves "
          "no ghost",
          "[cluster][chat]") {
  three_nodes n;
  chat_user alice{n.ctx, n.a, "alice"};
  chat_user bob{n.ctx, n.b, "bob"};
  std::unique_ptr<chat_user> carol =
    std::make_unique<chat_user>(n.ctx, n.c, "carol");
  REQUIRE(alice.join("room:lobby"));
  REQUIRE(bob.join("room:lobby"));
  REQUIRE(carol->join("room:lobby"));
  INFO(n.logs());
  REQUIRE(converge({&alice, &bob, carol.get()}, {"alice", "bob", "carol"}, 5s));
  n.c.kill(SIGKILL);
  auto t0 = clock_type::now();
  carol.reset();
  CHECK(converge({&alice, &bob}, {"alice", "bob"}, 3s));
  INFO("alice sees " << show(alice.users()) << ", bob " << show(bob.users()));
  CHECK(clock_type::now() - t0 < 3s);
  // Restart c on the same cluster port: a new incarnation. Its old
  // entries never come back, its new ones show everywhere.
  REQUIRE(n.c.start({"--join", n.a.node_address()}));
  n.wait_mesh();
  chat_user cara{n.ctx, n.c, "cara"};
  REQUIRE(cara.join("room:lobby"));
  CHECK(converge({&alice, &bob, &cara}, {"alice", "bob", "cara"}, 5s));
  INFO("alice sees " << show(alice.users()) << ", bob " << show(bob.users())
                     << ", cara " << show(cara.users()));
  // A newcomer on the restarted node gets the same list.
  chat_user dan{n.ctx, n.c, "dan"};
  REQUIRE(dan.join("room:lobby"));
  CHECK(
    converge({&alice, &bob, &cara, &dan}, {"alice", "bob", "cara", "dan"}, 5s));
}

TEST_CASE("a frozen node is detected within 5 s and rejoins after SIGCONT",
          "[cluster][chat]") {
  three_nodes n;
  chat_user alice{n.ctx, n.a, "alice"};
  chat_user bob{n.ctx, n.b, "bob"};
  chat_user carol{n.ctx, n.c, "carol"};
  REQUIRE(alice.join("room:lobby"));
  REQUIRE(bob.join("room:lobby"));
  REQUIRE(carol.join("room:lobby"));
  INFO(n.logs());
  REQUIRE(converge({&alice, &bob, &carol}, {"alice", "bob", "carol"}, 5s));
  n.c.kill(SIGSTOP);
  auto t0 = clock_type::now();
  bool detected = converge({&alice, &bob}, {"alice", "bob"}, 5s);
  auto took = clock_type::now() - t0;
  n.c.kill(SIGCONT);
  INFO("alice sees " << show(alice.users()) << ", bob " << show(bob.users()));
  CHECK(detected);
  CHECK(took < 5s);
  // Back: everyone converges on the full list again, and talks.
  bool back = converge({&alice, &bob, &carol}, {"alice", "bob", "carol"}, 10s);
  INFO("after SIGCONT alice sees " << show(alice.users()) << ", bob "
                                   << show(bob.users()) << ", carol "
                                   << show(carol.users()) << "\n"
                                   << n.logs());
  CHECK(back);
  REQUIRE(alice.say("welcome back"));
  CHECK(carol.wait(
    [&] {
      return !carol.bodies().empty() && carol.bodies().back() == "welcome back";
    },
    5s));
}

TEST_CASE("a node that shuts down cleanly is dropped at once",
          "[cluster][chat]") {
  three_nodes n;
  chat_user alice{n.ctx, n.a, "alice"};
  chat_user bob{n.ctx, n.b, "bob"};
  REQUIRE(alice.join("room:lobby"));
  REQUIRE(bob.join("room:lobby"));
  INFO(n.logs());
  REQUIRE(converge({&alice, &bob}, {"alice", "bob"}, 5s));
  n.b.kill(SIGTERM);
  CHECK(n.b.reap(10s) == 0);
  CHECK(converge({&alice}, {"alice"}, 2s));
  CHECK(poll_until(
    [&] { return n.a.cluster_nodes() == 2 && n.c.cluster_nodes() == 2; }, 2s));
  CHECK(n.a.log().find("node left: " + n.b.node_address())
        != std::string::npos);
}

TEST_CASE("cluster flags are checked", "[cluster][flags]") {
  temp_dir dir;
  SECTION("a non-loopback cluster port needs TLS or --node-insecure") {
    node x{"x", dir.path, free_port()};
    CHECK_FALSE(x.start({"--node-host", "0.0.0.0"}));
    CHECK(x.reap(5s) == 2);
    CHECK(x.log().find("without TLS") != std::string::npos);
  }
  SECTION("TLS needs the certificate, the key and the CA") {
    node x{"x", dir.path, free_port()};
    CHECK_FALSE(x.start({"--node-cert", "/nonexistent.pem"}));
    CHECK(x.reap(5s) == 2);
  }
  SECTION("a bad --join") {
    node x{"x", dir.path, free_port()};
    CHECK_FALSE(x.start({"--join", "nowhere"}));
    CHECK(x.reap(5s) == 2);
  }
}
