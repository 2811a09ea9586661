/// A channel test kit, like Phoenix's ChannelTest: drive channels through a
/// real socket actor without a network. Frames the server would write are
/// captured and decoded (V2), so tests read them as messages.
///
///   caf::actor_system sys{cfg};
///   fenix::testing::channel_case tc{sys};
///   tc.channel("room:*", room);
///   auto sock = tc.connect({{"user", "alice"}});
///   auto joined = sock->join("room:lobby");
///   REQUIRE(joined.status == "ok");
///   auto ref = sock->push("room:lobby", "ping", json::object{{"n", 1}});
///   auto r = sock->expect_reply(ref);          // waits up to 5 s
///   REQUIRE(r.response == json::object{{"n", 1}});  // binary: r.raw.payload
///   sock->expect_broadcast("room:lobby", "new_msg");
///
/// Every expect_* waits (5 s by default) and throws fenix::testing::timeout
/// (a std::runtime_error) when nothing matching arrives; messages that do
/// not match stay queued for later expectations.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <caf/actor_system.hpp>

#include "fenix/endpoint.hpp"
#include "fenix/protocol/message.hpp"

namespace fenix::testing {

using namespace std::chrono_literals;

struct timeout : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A decoded reply.
struct reply_msg {
  std::string status;
  json::value response;
  message raw;
};

class fake_connection;

/// One simulated connection: a real socket actor over a fake transport.
class test_socket {
public:
  test_socket(std::shared_ptr<detail::endpoint_context> ctx,
              json::object assigns, std::string id);
  ~test_socket();

  /// Sends phx_join and waits for its reply.
  reply_msg join(const std::string& topic, payload params = {},
                 std::chrono::milliseconds wait = 5s);

  /// Sends an event; returns its ref.
  std::string push(const std::string& topic, const std::string& event,
                   payload p = {});

  /// Sends phx_leave; returns its ref.
  std::string leave(const std::string& topic);

  /// Sends a raw text frame (for bad-input tests).
  void send_raw(std::string text, bool binary = false);

  reply_msg expect_reply(const std::string& ref,
                         std::chrono::milliseconds wait = 5s);

  /// A push: join_ref set, ref null.
  message expect_push(const std::string& topic, const std::string& event,
                      std::chrono::milliseconds wait = 5s);

  /// A broadcast: join_ref and ref null.
  message expect_broadcast(const std::string& topic, const std::string& event,
                           std::chrono::milliseconds wait = 5s);

  /// Any message matching `pred`.
  message expect(std::function<bool(const message&)> pred,
                 std::chrono::milliseconds wait = 5s);

  /// True if nothing matching arrives within `wait`.
  bool refute(std::function<bool(const message&)> pred,
              std::chrono::milliseconds wait = 100ms);

  /// The close code the server chose, if it closed the connection.
  std::optional<int> close_code(std::chrono::milliseconds wait = 5s);

  /// Simulates the connection dropping.
  void disconnect();

  const caf::actor& socket_actor() const { return actor_; }

private:
  std::shared_ptr<fake_connection> conn_;
  caf::actor actor_;
  std::uint64_t next_ref_ = 1;
  std::map<std::string, std::string> join_refs_;
};

/// An endpoint without a network: channels, PubSub and presence.
class channel_case {
public:
  explicit channel_case(caf::actor_system& sys, endpoint_options opts = {});
  ~channel_case();

  void channel(std::string pattern, channel_fn fn);

  /// A connected socket with these assigns (and optional socket id).
  std::unique_ptr<test_socket> connect(json::object assigns = {},
                                       std::string id = {});

  /// A server-side broadcast (Endpoint.broadcast).
  void broadcast(const std::string& topic, const std::string& event, payload p);

  const std::shared_ptr<detail::endpoint_context>& context() const {
    return ctx_;
  }

private:
  std::shared_ptr<detail::endpoint_context> ctx_;
};

}  // namespace fenix::testing
