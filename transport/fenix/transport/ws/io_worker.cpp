// The outbox of an io thread, the handle actors keep for a WebSocket, and
// send_batch (see io_worker.hpp and connection.hpp).

#include "fenix/transport/ws/io_worker.hpp"

#include <algorithm>
#include <iterator>
#include <unordered_set>

#include <boost/asio/post.hpp>

#include "fenix/transport/ws/session.hpp"

namespace fenix::transport::ws {

// -- the handle actors keep ----------------------------------------------------------

namespace {

// What a send inside a send_batch is parked in until the batch ends.
struct batch_state {
  int depth = 0;
  std::vector<std::pair<io_worker*, std::vector<outbox_item>>> pending;
};

thread_local batch_state current_batch;

// Hands this thread's batch in progress over, so that what comes next
// stays behind the frames it holds.
void hand_over_batch() {
  for (auto& [w, items] : current_batch.pending)
    if (!items.empty())
      w->push(items);
}

}  // namespace

// A weak reference, so that a connection that is gone turns every call
// into a no-op. A strong reference taken here is always moved into the
// outbox or a posted handler, so the session dies on its io thread.
class ws_connection_impl final : public connection {
public:
  ws_connection_impl(std::weak_ptr<ws_session> s, io_worker& w,
                     std::shared_ptr<flow_state> fl, http_request req)
    : session_(std::move(s)),
      worker_(&w),
      flow_(std::move(fl)),
      request_(std::move(req)) {}

  void send(frame f) override {
    auto s = session_.lock();
    if (!s)
      return;
    auto& b = current_batch;
    if (b.depth == 0)
      return worker_->push(outbox_item{std::move(s), std::move(f), 0});
    for (auto& [w, items] : b.pending)
      if (w == worker_)
        return items.push_back({std::move(s), std::move(f), 0});
    b.pending.emplace_back(worker_, std::vector<outbox_item>{});
    b.pending.back().second.push_back({std::move(s), std::move(f), 0});
  }

  void close(close_code code, std::string reason) override {
    // Through the outbox too, so that it stays behind the frames sent
    // before it (a batch in progress on this thread is handed over first).
    if (auto s = session_.lock()) {
      hand_over_batch();
      worker_->push(outbox_item{std::move(s), make_frame(std::move(reason)),
                                static_cast<std::uint16_t>(code)});
    }
  }

  // The replies to a frame are sent before it is reported consumed: an
  // inbound close waiting for the last one (flow_state::closing) is posted
  // behind them.
  void consumed(std::size_t bytes) override {
    auto& fl = *flow_;
    auto left = fl.pending.fetch_sub(1) - 1;
    fl.pending_bytes.fetch_sub(bytes);
    if (left == 0 && fl.closing.load()) {
      // Only the close needs this thread's batch in progress ahead of it.
      if (auto s = session_.lock()) {
        hand_over_batch();
        worker_->push(outbox_item{std::move(s), {}, 0, true});
      }
      return;
    }
    if (!fl.over() && fl.paused.exchange(false)) {
      if (auto s = session_.lock())
        net::post(worker_->ioc, [s = std::move(s)] { s->do_resume(); });
    }
  }

  const http_request& request() const override { return request_; }

private:
  std::weak_ptr<ws_session> session_;
  io_worker* worker_;
  std::shared_ptr<flow_state> flow_;
  http_request request_;
};

connection_ptr make_ws_connection(std::weak_ptr<ws_session> s, io_worker& w,
                                  std::shared_ptr<flow_state> fl,
                                  http_request req) {
  return std::make_shared<ws_connection_impl>(std::move(s), w, std::move(fl),
                                              std::move(req));
}

// -- the outbox ------------------------------------------------------------------------

void io_worker::schedule_locked() {
  if (scheduled_)
    return;
  scheduled_ = true;
  net::post(ioc, [this] { drain(); });
}

void io_worker::push(std::vector<outbox_item>& batch) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (items_.empty())
    items_.swap(batch);
  else
    std::move(batch.begin(), batch.end(), std::back_inserter(items_));
  batch.clear();
  schedule_locked();
}

void io_worker::push(outbox_item item) {
  std::lock_guard<std::mutex> guard{mtx_};
  items_.push_back(std::move(item));
  schedule_locked();
}

void io_worker::drain() {
  std::vector<outbox_item> items;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    items.swap(items_);
    scheduled_ = false;
  }
  // Queue everything first, then write once per session: frames that
  // arrived together leave together (one sendmsg per connection).
  std::vector<ws_session*> dirty;
  for (auto& it : items) {
    auto* s = it.session.get();
    if (it.deferred_close) {
      s->run_deferred_close();
      continue;
    }
    if (it.close != 0) {
      s->do_close(static_cast<close_code>(it.close),
                  it.f.data ? *it.f.data : std::string{});
      continue;
    }
    s->enqueue(std::move(it.f));
    if (!s->dirty) {
      s->dirty = true;
      dirty.push_back(s);
    }
  }
  for (auto* s : dirty) {
    s->dirty = false;
    s->flush();
  }
  // `items` releases the sessions here, on the io thread.
}

// Closes the WebSockets with `code`, drain_batch_size of them per
// drain_interval, then waits for their close handshakes; gives up at
// drain_timeout. Sessions that start meanwhile close themselves (stopping).
void drain_sessions(shared_state& st, close_code code) {
  auto& o = st.opts;
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + o.drain_timeout;
  auto batch = std::max<std::size_t>(o.drain_batch_size, 1);
  std::unordered_set<ws::ws_session*> told;
  std::unique_lock<std::mutex> guard{st.mtx};
  auto gone = [&] { return st.sessions.empty(); };
  for (;;) {
    std::size_t n = 0;
    for (auto* s : st.sessions)
      if (n < batch && told.insert(s).second) {
        ws::post_close(s, code);
        ++n;
      }
    bool all_told = n < batch;
    auto until =
      all_told ? deadline : std::min(deadline, clock::now() + o.drain_interval);
    if (st.sessions_cv.wait_until(guard, until, gone)
        || clock::now() >= deadline)
      return;
    if (all_told)
      return;
  }
}

}  // namespace fenix::transport::ws

namespace fenix::transport {

send_batch::send_batch() {
  ++ws::current_batch.depth;
}

send_batch::~send_batch() {
  auto& b = ws::current_batch;
  if (--b.depth > 0)
    return;
  for (auto& [w, items] : b.pending)
    if (!items.empty())
      w->push(items);
  b.pending.clear();
}

}  // namespace fenix::transport
