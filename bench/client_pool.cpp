#include "bench/client_pool.hpp"

#include <thread>

#include "bench/server_probe.hpp"

namespace fenix::bench {

using namespace std::chrono_literals;

client_pool::client_pool(client::client_context& ctx,
                         client::client_options base)
  : ctx_(ctx),
    base_(std::move(base)) {}

client_pool::~client_pool() {
  // Destroying a client silences its callbacks before returning.
  for (auto& s : slots_)
    s.client.reset();
}

client_pool::open_report client_pool::open(const spec& s, frame_fn on_frame) {
  using clock = std::chrono::steady_clock;
  topic_ = s.topic;
  on_frame_ = std::move(on_frame);
  slots_ = std::vector<slot>(s.count);
  auto start = clock::now();
  auto deadline = start + s.timeout;
  open_report rep;
  rep.first_start_ns = now_ns();
  std::unique_lock<std::mutex> lock{mtx_};
  std::size_t next_progress = 1000;
  bool timed_out = false;
  for (std::size_t i = 0; i < s.count && !timed_out; ++i) {
    if (s.rate > 0) {
      auto due = start
                 + std::chrono::duration_cast<clock::duration>(
                   std::chrono::duration<double>(i / s.rate));
      lock.unlock();
      std::this_thread::sleep_until(due);
      lock.lock();
    }
    timed_out =
      !cv_.wait_until(lock, deadline, [&] { return inflight_ < s.inflight; });
    if (timed_out)
      break;
    ++inflight_;
    slots_[i].started_ns = now_ns();
    auto opts = base_;
    opts.query = s.query ? s.query(i) : "vsn=2.0.0";
    opts.connect_timeout = 10s;
    client::async_connect(
      ctx_, std::move(opts),
      [this, i](client::connect_result r) { on_connected(i, std::move(r)); });
    if (s.progress && joined_ + failed_ >= next_progress) {
      s.progress(joined_ + failed_);
      next_progress += 1000;
    }
  }
  cv_.wait_until(lock, deadline, [&] { return joined_ + failed_ == s.count; });
  // What is not settled by now counts as failed; late answers are ignored.
  ready_.assign(s.count, nullptr);
  for (std::size_t i = 0; i < s.count; ++i) {
    auto& sl = slots_[i];
    if (sl.st == state::joined) {
      ready_[i] = sl.client.get();
      rep.latency.record(
        static_cast<std::uint64_t>(sl.joined_ns - sl.started_ns));
      rep.last_join_ns = std::max(rep.last_join_ns, sl.joined_ns);
      ++rep.joined;
    } else {
      ++rep.failed;
    }
  }
  rep.first_error = first_error_;
  if (rep.first_error.empty() && rep.failed != 0)
    rep.first_error = "timeout waiting for connect or join";
  return rep;
}

void client_pool::on_connected(std::size_t i, client::connect_result r) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& sl = slots_[i];
  if (!r) {
    settle(i, false, r.error.empty() ? "connect failed" : r.error);
    return;
  }
  sl.client = std::move(r.client);
  sl.st = state::joining;
  auto& c = *sl.client;
  // We are on the client's strand: these take effect before it reads.
  c.on_frame([this, i](std::string_view data, bool binary) {
    on_frame(i, data, binary);
  });
  c.on_close([this, i](int) { on_closed(i); });
  sl.join_ref = c.join(topic_);
}

void client_pool::settle(std::size_t i, bool ok, const std::string& error) {
  auto& sl = slots_[i];
  sl.st = ok ? state::joined : state::failed;
  --inflight_;
  if (ok) {
    sl.joined_ns = now_ns();
    ++joined_;
  } else {
    ++failed_;
    if (first_error_.empty())
      first_error_ = error;
  }
  cv_.notify_all();
}

void client_pool::on_frame(std::size_t i, std::string_view data, bool binary) {
  frame_head h;
  if (binary || !scan_head(data, h))
    return;
  auto& sl = slots_[i];
  if (sl.st == state::joining) {
    if (h.event == "phx_reply" && h.ref == sl.join_ref) {
      bool ok = h.payload.find("\"status\":\"ok\"") != std::string_view::npos;
      std::lock_guard<std::mutex> guard{mtx_};
      settle(i, ok, ok ? "" : "join refused: " + std::string{h.payload});
      return;
    }
  }
  if (h.topic == "phoenix")
    return;  // heartbeat replies
  on_frame_(i, data, h);
}

void client_pool::on_closed(std::size_t i) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& sl = slots_[i];
  sl.ended = true;
  ++ended_;
  if (sl.st == state::joining)
    settle(i, false, "connection closed before the join reply");
  else if (!closing_)
    ++disconnects_;
  cv_.notify_all();
}

client::ws_client* client_pool::client(std::size_t i) const {
  return i < ready_.size() ? ready_[i] : nullptr;
}

const std::string& client_pool::join_ref(std::size_t i) const {
  return slots_[i].join_ref;
}

std::int64_t client_pool::joined_at(std::size_t i) const {
  return slots_[i].st == state::joined ? slots_[i].joined_ns : 0;
}

std::size_t client_pool::disconnects() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return disconnects_;
}

void client_pool::heartbeat_all() {
  for (auto* c : ready_)
    if (c)
      c->heartbeat();
}

void client_pool::close_all(std::chrono::milliseconds timeout) {
  std::size_t open = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    closing_ = true;
    for (auto& sl : slots_)
      if (sl.client && !sl.ended)
        ++open;
    open += ended_;  // wait until ended_ reaches this
    for (auto& sl : slots_)
      if (sl.client)
        sl.client->close(1000);  // only posts to the io thread
  }
  {
    std::unique_lock<std::mutex> lock{mtx_};
    cv_.wait_for(lock, timeout, [&] { return ended_ >= open; });
  }
  ready_.clear();
  for (auto& sl : slots_)
    sl.client.reset();
}

}  // namespace fenix::bench
