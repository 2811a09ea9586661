// Internal to the transport: a WebSocket connection after the upgrade,
// fenix's own RFC 6455 framing (ws_frame.hpp) on a raw TCP socket, in the
// manner of uWebSockets. Not part of the API; see connection.hpp for what
// the rest of fenix sees.
//
// - Reading: the session waits for readability holding no buffer, reads
//   into its io thread's shared buffer and keeps only an incomplete frame.
// - Writing: frames wait in a queue bounded in bytes; a flush writes every
//   queued frame (headers and shared payloads) in one gather write, and
//   only when the kernel refuses more does the session wait for
//   writability. Control frames (pong, close) go through the same queue,
//   so nothing can interleave with a frame half written.
// - Hand-off: other threads reach a session through its io_worker's outbox
//   (io_worker.cpp).
// A session lives as long as one of its handlers is pending; it is always
// destroyed on its io thread.
#pragma once

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/steady_timer.hpp>

#include "fenix/log.hpp"
#include "fenix/transport/ws/io_worker.hpp"
#include "fenix/transport/ws/frame.hpp"

namespace fenix::transport::ws {

using clock_type = std::chrono::steady_clock;

// Inbound flow control shared by a session and its handle: frames handed
// to the socket actor but not yet consumed.
// Inbound flow control: frames handed to the consumer and not yet
// reported consumed, in frames and in bytes. Reading pauses (TCP then
// pushes back on the peer) while either is at its bound.
struct flow_state {
  std::atomic<std::size_t> pending{0};
  std::atomic<std::size_t> pending_bytes{0};
  std::atomic<bool> paused{false};
  // Set when an inbound close or bad frame waits for the consumer: the
  // consume that empties `pending` posts the deferred close behind the
  // consumer's sends (io_worker.cpp).
  std::atomic<bool> closing{false};
  std::size_t max = 256;
  std::size_t max_bytes = 16 << 20;

  bool over() const {
    return pending.load() >= max || pending_bytes.load() >= max_bytes;
  }
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

// Memory of exactly the size asked, from the heap. The handlers a session
// keeps pending all its life (the wait for readability, the timer) use it:
// asio's default recycles per-thread blocks, and would hand them the larger
// ones the HTTP upgrade's read and its timeout left behind (~0.85 KiB per
// idle connection, measured with heaptrack).
template <class T>
struct exact_allocator {
  using value_type = T;
  exact_allocator() noexcept = default;
  template <class U>
  exact_allocator(const exact_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  template <class U>
  bool operator==(const exact_allocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const exact_allocator<U>&) const noexcept {
    return false;
  }
};

// `h` with exact_allocator as its associated allocator.
template <class Handler>
auto exact_alloc(Handler&& h) {
  return net::bind_allocator(exact_allocator<void>{}, std::forward<Handler>(h));
}

/// The handle actors keep for `s` (io_worker.cpp).
connection_ptr make_ws_connection(std::weak_ptr<ws_session> s, io_worker& w,
                                  std::shared_ptr<flow_state> fl,
                                  http_request req);

class ws_session : public std::enable_shared_from_this<ws_session> {
public:
  ws_session(tcp::socket&& sock, io_worker& w, std::shared_ptr<shared_state> st,
             std::shared_ptr<socket_handler> handler,
             std::optional<deflate_params> deflate = std::nullopt)
    : sock_(std::move(sock)),
      worker_(&w),
      timer_(w.ioc),
      state_(std::move(st)),
      handler_(std::move(handler)),
      reader_(state_->opts.max_frame_size),
      deflate_(deflate) {
    if (deflate_)
      reader_.enable_deflate(w.deflate);
  }

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
    bool compressed = deflate_ && deflate(f);
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
    if (compressed)
      queue_.back().header[0] |= 0x40;  // RSV1: permessage-deflate
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

  /// Runs the close an inbound close frame or a bad frame asked for, once
  /// the replies to the messages before it are queued (outbox order) or
  /// close_flush_timeout passed.
  void run_deferred_close();

  void do_resume() {
    if (paused_ && !closing_ && !flow_->over()) {
      paused_ = false;
      wait_read();
    }
  }

  io_worker& worker() { return *worker_; }

  bool dirty = false;  // in the current drain's list of sessions to flush

private:
  bool queue_empty() const { return head_ == queue_.size(); }

  // Compresses `f` in place when worth it (permessage-deflate).
  bool deflate(frame& f) {
    auto r = deflate_frame(f, *deflate_, state_->opts.compress_min_size,
                           worker_->deflate);
    if (r == deflate_result::deflated || r == deflate_result::not_smaller)
      state_->stats.deflates.fetch_add(1, std::memory_order_relaxed);
    if (r == deflate_result::plain || r == deflate_result::not_smaller)
      return false;
    state_->stats.frames_deflated.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

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
    log::limited(log_level::warning, "slow reader", "closing slow reader ",
                 peer_, " (", queued_bytes_, " bytes queued)");
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
    sock_.async_wait(
      tcp::socket::wait_read,
      exact_alloc([self = shared_from_this()](boost::system::error_code ec) {
        self->reading_ = false;
        if (ec) {
          if (!self->done_)
            log_error(ec, "read");
          return self->finish();
        }
        self->on_readable();
      }));
  }

  void wait_write() {
    if (writing_ || done_)
      return;
    writing_ = true;
    sock_.async_wait(
      tcp::socket::wait_write,
      exact_alloc([self = shared_from_this()](boost::system::error_code ec) {
        self->writing_ = false;
        if (ec)
          return self->finish();
        self->flush();
      }));
  }

  void on_readable();
  void process(std::string_view bytes);
  void on_ping(std::string data);
  // Everything handed to the handler before an inbound close or bad frame
  // is answered first: the close waits for the handler to consume those
  // messages and runs behind its sends (run_deferred_close).
  void defer_close(std::uint16_t code, bool echo);
  // After our close frame answered an error: end our half of the stream
  // and read (discarding) until the peer ends its half, bounded by the
  // handshake timer (RFC 6455 7.1.1: the server closes TCP first).
  void half_close();
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
      exact_alloc([self = shared_from_this()](boost::system::error_code ec) {
        if (ec == boost::asio::error::operation_aborted)
          return;  // re-armed (a newer wait is pending) or finished
        self->on_timer();
      }));
  }

  void on_timer() {
    if (done_)
      return;
    auto now = clock_type::now();
    if (close_deferred_)
      return run_deferred_close();  // the handler did not consume in time
    if (closing_) {
      // The close handshake did not finish in time: drop the TCP stream.
      if (timer_.expiry() <= now)
        finish();
      return;
    }
    auto& o = state_->opts;
    if ((queued_bytes_ > o.max_backpressure || pong_skipped_) && stalled(now)
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
  bool reading_ = false;       // a wait for readability is pending
  bool writing_ = false;       // a wait for writability is pending
  bool paused_ = false;        // inbound flow control
  bool pong_skipped_ = false;  // a ping went unanswered since the last write
  bool closing_ = false;       // our close frame is queued or sent
  bool close_sent_ = false;
  bool close_received_ = false;
  bool close_deferred_ = false;  // defer_close: waiting for the handler
  bool deferred_echo_ = false;   // ... to echo the peer's close
  std::uint16_t deferred_code_ = 0;
  bool fatal_ = false;        // error close: we end the TCP stream first
  bool half_closed_ = false;  // our FIN is sent
  bool done_ = false;         // the TCP stream is closed
  std::optional<deflate_params> deflate_;  // permessage-deflate negotiated
};

}  // namespace fenix::transport::ws
