// fenix's WebSocket session: start, reading and writing (see
// ws_session.hpp).

#include "fenix/log.hpp"
#include "fenix/transport/ws/session.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/post.hpp>

namespace fenix::transport::ws {

void log_error(const boost::system::error_code& ec, const char* what) {
  namespace err = boost::asio::error;
  if (ec == err::operation_aborted || ec == err::eof
      || ec == err::connection_reset || ec == err::broken_pipe
      || ec == err::not_connected || ec == err::timed_out)
    return;
  log::limited(log_level::warning, "transport error", "transport ", what, ": ",
               ec.message());
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
  flow_->max_bytes = state_->opts.max_inbound_bytes;
  push_frame(make_frame(std::move(response)), ws_opcode::text, out_frame::raw);
  queue_.back().header_size = 0;  // the 101 response goes out as it is
  handler_->on_open(
    make_ws_connection(weak_from_this(), *worker_, flow_, std::move(info)));
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
    if (done_)
      return;
    switch (e.kind) {
    case ws_event::message:
      if (closing_ || close_deferred_)
        break;
      state_->stats.frames_in.fetch_add(1);
      flow_->pending.fetch_add(1);
      flow_->pending_bytes.fetch_add(e.data.size());
      handler_->on_frame(std::move(e.data), e.binary);
      break;
    case ws_event::ping:
      if (!closing_ && !close_deferred_)
        on_ping(std::move(e.data));
      break;
    case ws_event::close:
      close_received_ = true;
      if (closing_) {
        if (close_sent_)
          return finish();
        break;  // finish once our close frame is out
      }
      // Echo the peer's code (RFC 6455 5.5.1), then end the stream.
      defer_close(e.code, true);
      break;
    case ws_event::error:
      if (e.code == static_cast<std::uint16_t>(close_code::too_big))
        log::limited(log_level::warning, "frame too big",
                     "frame over max_frame_size from ", peer_,
                     ", closing with 1009");
      fatal_ = true;  // we close TCP once our close frame is out
      defer_close(e.code, false);
      break;
    }
  }
  if (closing_ || close_deferred_ || done_)
    return;
  if (flow_->over()) {
    paused_ = true;
    flow_->paused.store(true);
    // Re-check: the consumer may have caught up in between.
    if (!flow_->over()) {
      flow_->paused.store(false);
      paused_ = false;
    }
  }
}

void ws_session::on_ping(std::string data) {
  // Pongs count against the outbound bound: a peer that pings and never
  // reads is cut off like any slow reader; one that is merely behind
  // misses pongs (RFC 6455 5.5.3: answering only the latest ping is
  // allowed).
  if (queued_bytes_ + data.size() > state_->opts.max_backpressure) {
    auto now = clock_type::now();
    if (stalled(now))
      return cut_off();
    // Look again when a stall would show, as for data frames.
    pong_skipped_ = true;
    state_->stats.frames_dropped.fetch_add(1);
    if (timer_.expiry() > now + state_->opts.backpressure_stall)
      arm_timer(state_->opts.backpressure_stall);
    return;
  }
  push_frame(make_frame(std::move(data)), ws_opcode::pong, out_frame::control);
}

void ws_session::defer_close(std::uint16_t code, bool echo) {
  if (closing_ || close_deferred_)
    return;
  close_deferred_ = true;
  deferred_echo_ = echo;
  deferred_code_ = code;
  reader_.discard_messages();
  flow_->closing.store(true);
  // Frames the handler has not consumed yet: the consume that empties
  // `pending` posts the close (io_worker.cpp). Else it goes now, through
  // the outbox, behind the sends already made.
  if (flow_->pending.load() == 0)
    worker_->push(outbox_item{shared_from_this(), {}, 0, true});
  arm_timer(state_->opts.close_flush_timeout);
}

void ws_session::run_deferred_close() {
  if (!close_deferred_ || done_)
    return;
  close_deferred_ = false;
  if (closing_)
    return;  // closed meanwhile (by the handler or a shutdown)
  if (!deferred_echo_)
    return do_close(static_cast<close_code>(deferred_code_), "");
  closing_ = true;
  std::string payload;
  if (deferred_code_ != 0) {
    payload.push_back(static_cast<char>(deferred_code_ >> 8));
    payload.push_back(static_cast<char>(deferred_code_ & 0xFF));
  }
  push_frame(make_frame(std::move(payload)), ws_opcode::close,
             out_frame::close);
  arm_timer(state_->opts.handshake_timeout);
  flush();
}

void ws_session::half_close() {
  boost::system::error_code ignored;
  sock_.shutdown(tcp::socket::shutdown_send, ignored);
  paused_ = false;  // what comes now is read and dropped
  wait_read();
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
  pong_skipped_ = false;  // the peer reads again: the stall clock restarts
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
  // After our close frame: end at once if the peer's close came; after
  // an error, end our half and wait for the peer's; else wait for its
  // close frame (both bounded by the timer).
  if (close_sent_ && close_received_)
    finish();
  else if (close_sent_ && fatal_ && !half_closed_) {
    half_closed_ = true;
    half_close();
  }
}

// -- entry points ---------------------------------------------------------------------

void start_ws_session(tcp::socket sock, io_worker& w,
                      std::shared_ptr<shared_state> st,
                      std::shared_ptr<socket_handler> handler,
                      std::string response, std::string leftover,
                      http_request info,
                      std::optional<deflate_params> deflate) {
  std::make_shared<ws_session>(std::move(sock), w, std::move(st),
                               std::move(handler), deflate)
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

}  // namespace fenix::transport::ws
