#include "fenix/testing/channel_test_kit.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>

#include <boost/json.hpp>
#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "fenix/protocol/wire.hpp"
#include "fenix/detail/endpoint_context.hpp"
#include "fenix/socket/socket.hpp"

namespace fenix::testing {

// Captures what the socket and its channels write, decoded as V2.
class fake_connection final : public transport::connection {
public:
  void send(frame f) override {
    auto r = protocol::decode_server_frame(*f.data, f.binary);
    if (auto* e = std::get_if<protocol::decode_error>(&r))
      throw std::logic_error("channel test: undecodable server frame: "
                             + e->what);
    auto m = std::get<message>(std::move(r));
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_)
      return;
    inbox_.push_back(std::move(m));
    cv_.notify_all();
  }

  void close(transport::close_code code, std::string) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!closed_) {
      closed_ = true;
      code_ = static_cast<int>(code);
    }
    cv_.notify_all();
  }

  void consumed(std::size_t) override {}

  const transport::http_request& request() const override { return req_; }

  message take(const std::function<bool(const message&)>& pred,
               std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> guard{mtx_};
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      for (auto i = inbox_.begin(); i != inbox_.end(); ++i)
        if (pred(*i)) {
          auto m = std::move(*i);
          inbox_.erase(i);
          return m;
        }
      if (cv_.wait_until(guard, deadline) == std::cv_status::timeout) {
        for (auto i = inbox_.begin(); i != inbox_.end(); ++i)
          if (pred(*i)) {
            auto m = std::move(*i);
            inbox_.erase(i);
            return m;
          }
        throw timeout("channel test: expected message did not arrive");
      }
    }
  }

  std::optional<int> code(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait_for(guard, wait, [this] { return closed_; });
    return closed_ ? std::optional<int>{code_} : std::nullopt;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<message> inbox_;
  bool closed_ = false;
  int code_ = 0;
  transport::http_request req_;
};

// -- test_socket ------------------------------------------------------------------

test_socket::test_socket(std::shared_ptr<detail::endpoint_context> ctx,
                         json::object assigns, std::string id)
  : conn_(std::make_shared<fake_connection>()) {
  socket::socket_init init{ctx, &serializer_for(protocol_version::v2),
                           std::move(assigns), std::move(id)};
  actor_ = socket::spawn_socket(ctx->sys, std::move(init));
  caf::anon_send(actor_, open_atom::value, transport::connection_ptr{conn_});
}

test_socket::~test_socket() {
  disconnect();
}

void test_socket::disconnect() {
  if (actor_)
    caf::anon_send(actor_, closed_atom::value);
}

void test_socket::send_raw(std::string text, bool binary) {
  caf::anon_send(actor_, frame_atom::value, std::move(text), binary);
}

std::string test_socket::push(const std::string& topic,
                              const std::string& event, payload p) {
  auto ref = std::to_string(next_ref_++);
  auto jr =
    join_refs_.count(topic) ? opt_string{join_refs_[topic]} : opt_string{};
  if (p.is_binary())
    send_raw(protocol::encode_client_binary(jr.value_or(""), ref, topic, event,
                                            p.bytes()),
             true);
  else
    send_raw(*serializer_for(protocol_version::v2)
                .encode(jr, ref, topic, event, p)
                .data,
             false);
  return ref;
}

reply_msg test_socket::join(const std::string& topic, payload params,
                            std::chrono::milliseconds wait) {
  auto ref = std::to_string(next_ref_++);
  join_refs_[topic] = ref;
  auto f = serializer_for(protocol_version::v2)
             .encode(ref, ref, topic, "phx_join", params);
  send_raw(*f.data, false);
  return expect_reply(ref, wait);
}

std::string test_socket::leave(const std::string& topic) {
  return push(topic, "phx_leave", {});
}

reply_msg test_socket::expect_reply(const std::string& ref,
                                    std::chrono::milliseconds wait) {
  auto m = expect(
    [&](const message& m) { return m.event == "phx_reply" && m.ref == ref; },
    wait);
  reply_msg r;
  if (m.payload.is_binary()) {
    r.status = protocol::reply_status_of(m);
    r.response = nullptr;
  } else {
    auto& o = m.payload.object();
    r.status = std::string{o.at("status").as_string()};
    r.response = o.at("response");
  }
  r.raw = std::move(m);
  return r;
}

message test_socket::expect_push(const std::string& topic,
                                 const std::string& event,
                                 std::chrono::milliseconds wait) {
  return expect(
    [&](const message& m) {
      return m.topic == topic && m.event == event && m.join_ref && !m.ref;
    },
    wait);
}

message test_socket::expect_broadcast(const std::string& topic,
                                      const std::string& event,
                                      std::chrono::milliseconds wait) {
  return expect(
    [&](const message& m) {
      return m.topic == topic && m.event == event && !m.join_ref && !m.ref;
    },
    wait);
}

message test_socket::expect(std::function<bool(const message&)> pred,
                            std::chrono::milliseconds wait) {
  return conn_->take(pred, wait);
}

bool test_socket::refute(std::function<bool(const message&)> pred,
                         std::chrono::milliseconds wait) {
  try {
    conn_->take(pred, wait);
    return false;
  } catch (const timeout&) {
    return true;
  }
}

std::optional<int> test_socket::close_code(std::chrono::milliseconds wait) {
  return conn_->code(wait);
}

// -- channel_case -----------------------------------------------------------------

channel_case::channel_case(caf::actor_system& sys, endpoint_options opts)
  : ctx_(detail::make_endpoint_context(sys, std::move(opts))) {}

channel_case::~channel_case() {
  ctx_->shutdown();
}

void channel_case::channel(std::string pattern, channel_fn fn) {
  ctx_->routes.emplace_back(socket::topic_pattern{std::move(pattern)},
                            std::move(fn));
}

std::unique_ptr<test_socket> channel_case::connect(json::object assigns,
                                                   std::string id) {
  return std::make_unique<test_socket>(ctx_, std::move(assigns), std::move(id));
}

void channel_case::broadcast(const std::string& topic, const std::string& event,
                             payload p) {
  ctx_->ps->broadcast(topic, event, std::move(p));
}

}  // namespace fenix::testing
