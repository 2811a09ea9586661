// A WebSocket connection after the upgrade: fenix's own RFC 6455 framing
// (ws_frame.hpp) on a raw TCP socket, in the manner of uWebSockets.
//
// - Reading: the session waits for readability holding no buffer, reads
//   into its io thread's shared buffer and keeps only an incomplete frame.
// - Writing: frames wait in a queue bounded in bytes; a flush writes every
//   queued frame (headers and shared payloads) in one gather write, and
//   only when the kernel refuses more does the session wait for
//   writability. Control frames (pong, close) go through the same queue,
//   so nothing can interleave with a frame half written.
// - Hand-off: other threads reach a session through its io_worker's
//   outbox; a broadcast (inside a send_batch) is one hand-off per io
//   thread, and the drain writes to each session once.
// A session lives as long as one of its handlers is pending; it is always
// destroyed on its io thread.

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>

#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "transport/io_worker.hpp"
#include "transport/ws_frame.hpp"

namespace fenix::transport::detail {

using clock_type = std::chrono::steady_clock;

void log_error(const boost::system::error_code& ec, const char* what) {
  namespace err = boost::asio::error;
  if (ec == err::operation_aborted || ec == err::eof
      || ec == err::connection_reset || ec == err::broken_pipe
      || ec == err::not_connected || ec == err::timed_out)
    return;
  std::cerr << "fenix: transport " << what << ": " << ec.message() << '\n';
}

namespace {

// Inbound flow control shared by a session and its handle: frames handed
// to the socket actor but not yet consumed.
struct flow_state {
  std::atomic<std::size_t> pending{0};
  std::atomic<bool> paused{false};
  std::size_t max = 256;
};

// A frame in the write queue, with its header.
struct out_frame {
  frame f;
  std::uint8_t header[max_header_size];
  std::uint8_t header_size = 0;
  enum kind_t : std::uint8_t { data, control, close, raw } kind = data;

  std::size_t size() const { return header_size + f.size(); }
};

constexpr std::size_t max_gather = 64;  // frames per write (128 iovecs)

}  // namespace

class ws_session : public std::enable_shared_from_this<ws_session> {
public:
  ws_session(tcp::socket&& sock, io_worker& w, std::shared_ptr<shared_state> st,
             std::shared_ptr<socket_handler> handler)
    : sock_(std::move(sock)),
      worker_(&w),
      timer_(w.ioc),
      state_(std::move(st)),
      handler_(std::move(handler)),
      reader_(state_->opts.max_frame_size) {}

  ~ws_session() {
    {
      std::lock_guard<std::mutex> guard{state_->mtx};
      state_->sessions.erase(this);
    }
    state_->sessions_cv.notify_all();
    if (opened_) {
      state_->stats.connections.fetch_sub(1);
      handler_->on_close();
    }
  }

  void start(std::string response, std::string leftover, http_request info);

  // -- on the io thread ---------------------------------------------------------

  /// Queues a data frame, applying the backpressure policy. No write yet.
  void enqueue(frame f) {
    if (closing_ || !opened_)
      return;
    auto& o = state_->opts;
    auto now = clock_type::now();
    if (queue_empty())
      last_drain_ = now;  // a fresh burst is not a stall
    if (queued_bytes_ + f.size() > o.max_backpressure) {
      if (stalled(now)) {
        if (o.on_backpressure == backpressure_policy::drop) {
          state_->stats.frames_dropped.fetch_add(1);
          return;
        }
        return cut_off();
      }
      // Over the bound but draining: look again when a stall would show.
      if (timer_.expiry() > now + o.backpressure_stall)
        arm_timer(o.backpressure_stall);
    }
    auto op = f.binary ? ws_opcode::binary : ws_opcode::text;
    push_frame(std::move(f), op, out_frame::data);
  }

  /// Writes what is queued, as far as the socket takes it.
  void flush();

  void do_close(close_code code, std::string reason) {
    if (closing_ || done_)
      return;
    closing_ = true;
    reader_.discard_messages();
    std::string payload(2, '\0');
    auto c = static_cast<std::uint16_t>(code);
    payload[0] = static_cast<char>(c >> 8);
    payload[1] = static_cast<char>(c & 0xFF);
    payload += reason.substr(0, 123);
    push_frame(make_frame(std::move(payload)), ws_opcode::close,
               out_frame::close);
    // Bound the close handshake: a peer that reads nothing is cut off.
    arm_timer(state_->opts.handshake_timeout);
    flush();
  }

  void do_resume() {
    if (paused_ && !closing_ && flow_->pending.load() < flow_->max) {
      paused_ = false;
      wait_read();
    }
  }

  io_worker& worker() { return *worker_; }

  bool dirty = false;  // in the current drain's list of sessions to flush

private:
  bool queue_empty() const { return head_ == queue_.size(); }

  void push_frame(frame f, ws_opcode op, out_frame::kind_t kind) {
    out_frame o;
    o.header_size =
      static_cast<std::uint8_t>(write_header(o.header, op, f.size()));
    o.f = std::move(f);
    o.kind = kind;
    queued_bytes_ += o.f.size();
    queue_.push_back(std::move(o));
  }

  // The close policy for a slow reader: discard what is queued (but a frame
  // partly written) and close with 1013 so that the client reconnects.
  void cut_off() {
    state_->stats.slow_closes.fetch_add(1);
    std::cerr << "fenix: closing slow reader " << peer_ << " (" << queued_bytes_
              << " bytes queued)\n";
    auto keep = head_ + (offset_ > 0 ? 1 : 0);
    for (auto i = keep; i < queue_.size(); ++i)
      queued_bytes_ -= queue_[i].f.size();
    queue_.resize(keep);
    do_close(close_code::try_again_later, "backpressure");
  }

  // Over the bound, a connection is cut off (or its frames dropped) when it
  // has not drained a frame for `backpressure_stall`, or when its queue is
  // past `backpressure_hard_factor` times the bound: a burst to a healthy
  // reader passes, a reader that stopped reading does not.
  bool stalled(clock_type::time_point now) const {
    auto& o = state_->opts;
    if (queue_empty())
      return false;
    return now - last_drain_ >= o.backpressure_stall
           || queued_bytes_ > o.max_backpressure * o.backpressure_hard_factor;
  }

  void wait_read() {
    if (reading_ || done_ || paused_)
      return;
    reading_ = true;
    sock_.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this()](boost::system::error_code ec) {
                       self->reading_ = false;
                       if (ec) {
                         if (!self->done_)
                           log_error(ec, "read");
                         return self->finish();
                       }
                       self->on_readable();
                     });
  }

  void wait_write() {
    if (writing_ || done_)
      return;
    writing_ = true;
    sock_.async_wait(tcp::socket::wait_write,
                     [self = shared_from_this()](boost::system::error_code ec) {
                       self->writing_ = false;
                       if (ec)
                         return self->finish();
                       self->flush();
                     });
  }

  void on_readable();
  void process(std::string_view bytes);
  void on_written(std::size_t n);

  // Ends the connection now: the TCP stream is closed and every pending
  // handler returns, which releases the session.
  void finish() {
    if (done_)
      return;
    done_ = true;
    boost::system::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
    timer_.cancel();
    queue_.clear();
    head_ = offset_ = 0;
    queued_bytes_ = 0;
  }

  void arm_timer(clock_type::duration d) {
    if (done_)
      return;
    timer_.expires_after(d);
    timer_.async_wait(
      [self = shared_from_this()](boost::system::error_code ec) {
        if (ec == boost::asio::error::operation_aborted)
          return;  // re-armed (a newer wait is pending) or finished
        self->on_timer();
      });
  }

  void on_timer() {
    if (done_)
      return;
    auto now = clock_type::now();
    if (closing_) {
      // The close handshake did not finish in time: drop the TCP stream.
      if (timer_.expiry() <= now)
        finish();
      return;
    }
    auto& o = state_->opts;
    if (queued_bytes_ > o.max_backpressure && stalled(now)
        && o.on_backpressure == backpressure_policy::close)
      return cut_off();
    // (drop policy: later frames are dropped while it stays stalled)
    auto since = now - last_read_;
    if (since >= o.idle_timeout)
      return do_close(close_code::going_away, "idle timeout");
    arm_timer(o.idle_timeout - since);
  }

  tcp::socket sock_;
  io_worker* worker_;
  net::steady_timer timer_;  // idle timeout, stall check, close handshake
  std::shared_ptr<shared_state> state_;
  std::shared_ptr<socket_handler> handler_;
  std::shared_ptr<flow_state> flow_ = std::make_shared<flow_state>();
  frame_reader reader_;
  std::string peer_;  // "address:port", for log lines
  std::vector<out_frame> queue_;
  std::size_t head_ = 0;    // first unwritten frame in queue_
  std::size_t offset_ = 0;  // bytes of queue_[head_] already written
  std::size_t queued_bytes_ = 0;
  clock_type::time_point last_read_;
  clock_type::time_point last_drain_;  // last time a write made progress
  bool opened_ = false;
  bool reading_ = false;  // a wait for readability is pending
  bool writing_ = false;  // a wait for writability is pending
  bool paused_ = false;   // inbound flow control
  bool closing_ = false;  // our close frame is queued or sent
  bool close_sent_ = false;
  bool close_received_ = false;
  bool fatal_ = false;  // protocol error: no close reply is awaited
  bool done_ = false;   // the TCP stream is closed
};

// -- the handle actors keep ----------------------------------------------------------

namespace {

// What a send inside a send_batch is parked in until the batch ends.
struct batch_state {
  int depth = 0;
  std::vector<std::pair<io_worker*, std::vector<outbox_item>>> pending;
};

thread_local batch_state current_batch;

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
      for (auto& [w, items] : current_batch.pending)
        if (!items.empty())
          w->push(items);
      worker_->push(outbox_item{std::move(s), make_frame(std::move(reason)),
                                static_cast<std::uint16_t>(code)});
    }
  }

  void consumed(std::size_t n) override {
    auto& fl = *flow_;
    auto before = fl.pending.fetch_sub(n);
    if (before >= fl.max && before - n < fl.max && fl.paused.exchange(false)) {
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

// -- reading -----------------------------------------------------------------------------

void ws_session::start(std::string response, std::string leftover,
                       http_request info) {
  {
    std::lock_guard<std::mutex> guard{state_->mtx};
    state_->sessions.insert(this);
  }
  opened_ = true;
  state_->stats.connections.fetch_add(1);
  state_->stats.connections_total.fetch_add(1);
  last_read_ = last_drain_ = clock_type::now();
  peer_ = info.peer_address + ":" + std::to_string(info.peer_port);
  // The connect callback has seen the headers: keep only what logging and
  // the socket need (this is per-connection memory).
  info.headers.clear();
  info.body = std::string{};
  flow_->max = state_->opts.max_inbound_pending;
  push_frame(make_frame(std::move(response)), ws_opcode::text, out_frame::raw);
  queue_.back().header_size = 0;  // the 101 response goes out as it is
  handler_->on_open(std::make_shared<ws_connection_impl>(
    weak_from_this(), *worker_, flow_, std::move(info)));
  arm_timer(state_->opts.idle_timeout);
  if (state_->stopping.load())
    do_close(state_->stop_code, "server shutting down");
  if (!leftover.empty())
    process(leftover);
  wait_read();
  flush();
}

void ws_session::on_readable() {
  if (done_)
    return;
  auto& buf = worker_->read_buffer;
  auto fd = sock_.native_handle();
  ssize_t n;
  do {
    n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n == 0)
    return finish();  // the peer closed the TCP stream
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      log_error({errno, boost::system::system_category()}, "read");
      return finish();
    }
  } else {
    last_read_ = clock_type::now();
    process({buf.data(), static_cast<std::size_t>(n)});
  }
  if (done_)
    return;
  wait_read();
  flush();  // pongs and close frames the input asked for
}

void ws_session::process(std::string_view bytes) {
  std::vector<ws_event> events;
  reader_.feed(bytes, events);
  for (auto& e : events) {
    switch (e.kind) {
    case ws_event::message:
      if (closing_)
        break;
      state_->stats.frames_in.fetch_add(1);
      flow_->pending.fetch_add(1);
      handler_->on_frame(std::move(e.data), e.binary);
      break;
    case ws_event::ping:
      if (!closing_)
        push_frame(make_frame(std::move(e.data)), ws_opcode::pong,
                   out_frame::control);
      break;
    case ws_event::close:
      close_received_ = true;
      if (closing_) {
        if (close_sent_)
          return finish();
        break;  // finish once our close frame is out
      }
      // Echo the peer's code (RFC 6455 5.5.1), then end the stream.
      closing_ = true;
      reader_.discard_messages();
      {
        std::string payload;
        if (e.code != 0) {
          payload.push_back(static_cast<char>(e.code >> 8));
          payload.push_back(static_cast<char>(e.code & 0xFF));
        }
        push_frame(make_frame(std::move(payload)), ws_opcode::close,
                   out_frame::close);
      }
      arm_timer(state_->opts.handshake_timeout);
      break;
    case ws_event::error:
      if (e.code == static_cast<std::uint16_t>(close_code::too_big))
        std::cerr << "fenix: frame over max_frame_size from " << peer_
                  << ", closing with 1009\n";
      if (e.code == static_cast<std::uint16_t>(close_code::protocol_error))
        fatal_ = true;
      do_close(static_cast<close_code>(e.code), "");
      break;
    }
  }
  if (closing_ || done_)
    return;
  if (flow_->pending.load() >= flow_->max) {
    paused_ = true;
    flow_->paused.store(true);
    // Re-check: the consumer may have caught up in between.
    if (flow_->pending.load() < flow_->max) {
      flow_->paused.store(false);
      paused_ = false;
    }
  }
}

// -- writing -----------------------------------------------------------------------------

void ws_session::flush() {
  if (writing_ || done_)
    return;
  auto fd = sock_.native_handle();
  while (!queue_empty()) {
    std::array<iovec, 2 * max_gather> iov;
    std::size_t n_iov = 0;
    std::size_t total = 0;
    std::size_t skip = offset_;
    for (auto i = head_; i < queue_.size() && n_iov + 2 <= iov.size(); ++i) {
      auto& o = queue_[i];
      auto add = [&](const void* p, std::size_t len) {
        if (skip >= len) {
          skip -= len;
          return;
        }
        iov[n_iov++] = {const_cast<char*>(static_cast<const char*>(p)) + skip,
                        len - skip};
        total += len - skip;
        skip = 0;
      };
      add(o.header, o.header_size);
      if (o.f.data)
        add(o.f.data->data(), o.f.data->size());
    }
    msghdr mh{};
    mh.msg_iov = iov.data();
    mh.msg_iovlen = n_iov;
    ssize_t n;
    do {
      n = ::sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return wait_write();
      log_error({errno, boost::system::system_category()}, "write");
      return finish();
    }
    state_->stats.writes.fetch_add(1, std::memory_order_relaxed);
    on_written(static_cast<std::size_t>(n));
    if (done_)
      return;
    if (static_cast<std::size_t>(n) < total)
      return wait_write();  // the kernel's buffer is full
  }
}

void ws_session::on_written(std::size_t n) {
  last_drain_ = clock_type::now();
  std::uint64_t frames = 0, bytes = 0;
  while (n > 0 && !queue_empty()) {
    auto& o = queue_[head_];
    auto rest = o.size() - offset_;
    if (n < rest) {
      offset_ += n;
      break;
    }
    n -= rest;
    offset_ = 0;
    queued_bytes_ -= o.f.size();
    if (o.kind == out_frame::data) {
      ++frames;
      bytes += o.size();
    } else if (o.kind == out_frame::close) {
      close_sent_ = true;
    }
    o.f = frame{};
    ++head_;
  }
  if (frames > 0) {
    state_->stats.frames_out.fetch_add(frames, std::memory_order_relaxed);
    state_->stats.bytes_out.fetch_add(bytes, std::memory_order_relaxed);
  }
  if (queue_empty()) {
    queue_.clear();
    head_ = 0;
    if (queue_.capacity() > 4)
      std::vector<out_frame>{}.swap(queue_);  // idle connections stay small
  } else if (head_ >= 64 && head_ * 2 >= queue_.size()) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(head_));
    head_ = 0;
  }
  // After our close frame: end at once if the peer's close came (or the
  // stream is broken), else wait for it (bounded by the timer).
  if (close_sent_ && (close_received_ || fatal_))
    finish();
}

// -- entry points ---------------------------------------------------------------------

void start_ws_session(tcp::socket sock, io_worker& w,
                      std::shared_ptr<shared_state> st,
                      std::shared_ptr<socket_handler> handler,
                      std::string response, std::string leftover,
                      http_request info) {
  std::make_shared<ws_session>(std::move(sock), w, std::move(st),
                               std::move(handler))
    ->start(std::move(response), std::move(leftover), std::move(info));
}

void post_close(ws_session* s, close_code code) {
  auto self = s->weak_from_this().lock();
  if (!self)
    return;  // expiring: its destructor waits for the lock we hold
  auto& w = self->worker();
  net::post(w.ioc, [self = std::move(self), code]() mutable {
    self->do_close(code, "server shutting down");
    self.reset();
  });
}

}  // namespace fenix::transport::detail

namespace fenix::transport {

send_batch::send_batch() {
  ++detail::current_batch.depth;
}

send_batch::~send_batch() {
  auto& b = detail::current_batch;
  if (--b.depth > 0)
    return;
  for (auto& [w, items] : b.pending)
    if (!items.empty())
      w->push(items);
  b.pending.clear();
}

}  // namespace fenix::transport
