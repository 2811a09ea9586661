// The Beast side of the Phoenix V2 client (see client.hpp). The only TU of
// the client that includes Beast.
//
// How this works: each ws_client::impl owns a websocket stream whose executor
// is a strand of the context's io_context. Everything that touches the
// stream, the write queue or the callbacks runs on that strand; user threads
// only post to it. The receive queue, the close code and the join_refs are
// shared with user threads under mutexes that are never held while calling
// into Beast. Handlers keep the impl alive (shared_from_this), so a
// ws_client can be destroyed at any time.

#include "fenix/client/client.hpp"
#include "fenix/log.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace fenix::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Per-connection memory, kept small for the benchmark's 15k clients
// (measured: ~6.4 KB per idle client, ~9 KB after one exchange). Beast's
// masking write buffer, and the read buffer kept between frames (0: freed
// after each frame).
constexpr std::size_t write_buffer_bytes = 1024;
constexpr std::size_t max_idle_read_buffer = 0;

constexpr int abnormal_closure = 1006;
constexpr int no_status_received = 1005;

}  // namespace

// -- client_context -----------------------------------------------------------

struct client_context::impl {
  explicit impl(std::size_t n)
    : ioc(static_cast<int>(n)),
      work(ioc.get_executor()) {}

  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::vector<std::thread> threads;
  std::atomic<std::size_t> live_clients{0};
};

client_context::client_context(std::size_t threads)
  : impl_(std::make_unique<impl>(threads == 0 ? 1 : threads)) {
  for (std::size_t i = 0; i < (threads == 0 ? 1 : threads); ++i)
    impl_->threads.emplace_back([ctx = impl_.get()] {
      for (;;) {
        try {
          ctx->ioc.run();
          return;
        } catch (const std::exception& e) {
          fenix::log::error("client: callback threw: ", e.what());
        }
      }
    });
}

client_context::~client_context() {
  if (auto n = impl_->live_clients.load(); n != 0) {
    fenix::log::error("client: client_context destroyed before ", n,
                      " ws_client(s); destroy clients first");
    std::abort();
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    t.join();
}

// -- ws_client::impl ----------------------------------------------------------

struct ws_client::impl : std::enable_shared_from_this<impl> {
  enum class out_kind : unsigned char { text, binary, close };

  struct outbound {
    std::string data;  // the frame, or the close reason
    out_kind kind = out_kind::text;
    int code = 0;  // close code
  };

  struct inbound {
    raw_frame raw;
    std::optional<message> decoded;  // cached by the first wait that looks
  };

  // Lives only while connecting.
  struct connect_state {
    client_options opts;
    std::function<void(connect_result)> done;
    websocket::response_type res;
  };
  using state_ptr = std::shared_ptr<connect_state>;

  explicit impl(client_context::impl& ctx)
    : ctx_(ctx),
      strand_(asio::make_strand(ctx.ioc)),
      ws_(strand_) {}

  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(ws_); }

  template <class F>
  void run(F f) {  // on the strand, from any thread
    asio::dispatch(strand_, std::move(f));
  }

  // -- connecting (strand) ----------------------------------------------------

  void start(client_options opts, std::function<void(connect_result)> done) {
    auto st = std::make_shared<connect_state>(
      connect_state{std::move(opts), std::move(done), {}});
    run([self = shared_from_this(), st] { self->do_resolve(st); });
  }

  void do_resolve(const state_ptr& st) {
    tcp_layer().expires_after(st->opts.connect_timeout);  // whole connect
    auto on_connect = [self = shared_from_this(), st](beast::error_code ec,
                                                      auto&&...) {
      self->on_connect(st, ec);
    };
    beast::error_code ec;
    auto addr = asio::ip::make_address(st->opts.host, ec);
    if (!ec)
      return tcp_layer().async_connect(tcp::endpoint{addr, st->opts.port},
                                       on_connect);
    auto resolver = std::make_shared<tcp::resolver>(ws_.get_executor());
    resolver->async_resolve(
      st->opts.host, std::to_string(st->opts.port),
      [self = shared_from_this(), st, resolver,
       on_connect](beast::error_code ec, tcp::resolver::results_type eps) {
        if (ec)
          return self->fail(st, "resolve", ec);
        self->tcp_layer().async_connect(eps, on_connect);
      });
  }

  void on_connect(const state_ptr& st, beast::error_code ec) {
    if (ec)
      return fail(st, "connect", ec);
    tcp_layer().socket().set_option(tcp::no_delay{true}, ec);
    std::string protocols;
    for (auto& p : st->opts.subprotocols)
      protocols += (protocols.empty() ? "" : ", ") + p;
    ws_.set_option(websocket::stream_base::decorator(
      [headers = st->opts.headers, protocols](websocket::request_type& req) {
        for (auto& h : headers)
          req.erase(h.first);
        for (auto& h : headers)
          req.insert(h.first, h.second);
        if (!protocols.empty())
          req.set(http::field::sec_websocket_protocol, protocols);
      }));
    ws_.auto_fragment(false);  // one message, one frame
    ws_.write_buffer_bytes(write_buffer_bytes);
    auto& o = st->opts;
    auto target = o.query.empty() ? o.path : o.path + "?" + o.query;
    ws_.async_handshake(st->res, o.host + ":" + std::to_string(o.port), target,
                        [self = shared_from_this(), st](beast::error_code ec) {
                          self->on_handshake(st, ec);
                        });
  }

  void on_handshake(const state_ptr& st, beast::error_code ec) {
    tcp_layer().expires_never();
    ws_.set_option(  // frees the copied headers
      websocket::stream_base::decorator([](websocket::request_type&) {}));
    if (ec)
      return fail(st, "upgrade", ec);
    websocket::stream_base::timeout t;
    t.handshake_timeout = st->opts.connect_timeout;  // bounds the close too
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    ws_.set_option(t);
    subprotocol_ = std::string{st->res[http::field::sec_websocket_protocol]};
    connect_result r;
    r.http_status = st->res.result_int();
    r.client = std::make_unique<ws_client>(shared_from_this());
    std::exchange(st->done, nullptr)(std::move(r));
    do_read();  // after done(), so callbacks set there see every frame
  }

  void fail(const state_ptr& st, const char* what, beast::error_code ec) {
    connect_result r;
    // Errors of the websocket category come from validating a response.
    if (ec.category()
        == websocket::make_error_code(websocket::error::closed).category()) {
      r.http_status = st->res.result_int();
      r.body = st->res.body();
    }
    r.error = std::string{what} + ": " + ec.message();
    tcp_layer().close();
    std::exchange(st->done, nullptr)(std::move(r));
  }

  // -- reading (strand) -------------------------------------------------------

  void do_read() {
    ws_.async_read(
      rbuf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        self->on_read(ec);
      });
  }

  // The code of the close frame received, or 1005 if it had none.
  int received_code() const {
    auto code = ws_.reason().code;
    return code == websocket::close_code::none ? no_status_received
                                               : static_cast<int>(code);
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      read_ended_ = true;
      // While our close handshake runs, Beast's close operation reads the
      // server's close frame and aborts this read: on_closed finishes.
      if (closing_ && ec == asio::error::operation_aborted)
        return;
      return finish(ec == websocket::error::closed ? received_code()
                                                   : abnormal_closure);
    }
    auto buf = rbuf_.data();
    std::string_view data{static_cast<const char*>(buf.data()), buf.size()};
    if (on_frame_) {
      on_frame_(data, ws_.got_binary());
    } else {
      std::lock_guard<std::mutex> guard{mtx_};
      inbox_.push_back({raw_frame{std::string{data}, ws_.got_binary()}, {}});
      cv_.notify_all();
    }
    rbuf_.consume(rbuf_.size());
    if (rbuf_.capacity() > max_idle_read_buffer)
      rbuf_.shrink_to_fit();
    do_read();
  }

  void finish(int code) {
    if (ended_)
      return;
    ended_ = true;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      close_code_ = code;
      cv_.notify_all();
    }
    tcp_layer().close();
    pending_.clear();
    on_frame_ = nullptr;
    if (auto f = std::exchange(on_close_, nullptr))
      f(code);
  }

  // -- writing (strand) -------------------------------------------------------

  void post_out(outbound o) {
    asio::post(strand_,
               [self = shared_from_this(), o = std::move(o)]() mutable {
                 self->enqueue(std::move(o));
               });
  }

  void enqueue(outbound o) {
    if (ended_ || close_queued_)
      return;
    close_queued_ = o.kind == out_kind::close;
    pending_.push_back(std::move(o));
    if (!write_busy_)
      do_write();
  }

  // Writes writing_[write_pos_]; refills writing_ from pending_ when done.
  void do_write() {
    if (write_pos_ == writing_.size()) {
      writing_.clear();
      write_pos_ = 0;
      writing_.swap(pending_);
      if (writing_.empty()) {
        write_busy_ = false;
        return;
      }
    }
    write_busy_ = true;
    auto self = shared_from_this();
    auto& o = writing_[write_pos_];
    if (o.kind == out_kind::close) {
      closing_ = true;
      websocket::close_reason cr{static_cast<std::uint16_t>(o.code)};
      cr.reason = o.data;
      return ws_.async_close(
        cr, [self](beast::error_code ec) { self->on_closed(ec); });
    }
    ws_.text(o.kind == out_kind::text);
    ws_.async_write(asio::buffer(o.data),
                    [self](beast::error_code ec, std::size_t) {
                      if (ec)  // the read fails too and reports
                        return self->tcp_layer().close();
                      ++self->write_pos_;
                      self->do_write();
                    });
  }

  void on_closed(beast::error_code ec) {
    if (!ec)
      return finish(received_code());
    tcp_layer().close();
    if (read_ended_)  // otherwise the read ends now and reports
      finish(abnormal_closure);
  }

  // -- queue (any thread, mtx_ held) -----------------------------------------

  // The decoded message at `i`; an undecodable frame is removed and thrown.
  const message& decoded(std::size_t i) {
    auto& in = inbox_[i];
    if (!in.decoded) {
      auto r = decode_server_frame(in.raw.data, in.raw.binary);
      if (auto* err = std::get_if<decode_error>(&r)) {
        auto text = in.raw.data.substr(0, 200);
        take(i);
        throw std::runtime_error("fenix client: undecodable server frame ("
                                 + err->what + "): " + text);
      }
      in.decoded = std::move(std::get<message>(r));
    }
    return *in.decoded;
  }

  inbound take(std::size_t i) {
    inbound out = std::move(inbox_[i]);
    if (i == head_)
      ++head_;
    else
      inbox_.erase(inbox_.begin() + static_cast<std::ptrdiff_t>(i));
    // Compact once the taken shells at the front are the majority.
    if (head_ == inbox_.size() || (head_ > 64 && 2 * head_ > inbox_.size())) {
      inbox_.erase(inbox_.begin(),
                   inbox_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return out;
  }

  bool ready() const { return head_ < inbox_.size() || close_code_; }

  // Waits for a frame (or the end); the index of the first one, or nullopt.
  std::optional<std::size_t> wait_front(std::unique_lock<std::mutex>& lock,
                                        std::chrono::milliseconds timeout) {
    cv_.wait_for(lock, timeout, [this] { return ready(); });
    return head_ < inbox_.size() ? std::optional<std::size_t>{head_}
                                 : std::nullopt;
  }

  client_context::impl& ctx_;
  asio::strand<asio::io_context::executor_type> strand_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer rbuf_;
  std::string subprotocol_;  // set before the client is handed out

  // Strand only.
  std::vector<outbound> writing_;
  std::vector<outbound> pending_;
  std::size_t write_pos_ = 0;
  bool write_busy_ = false;
  bool close_queued_ = false;
  bool closing_ = false;     // async_close started
  bool read_ended_ = false;  // the read loop has stopped
  bool ended_ = false;       // finish() ran
  std::function<void(std::string_view, bool)> on_frame_;
  std::function<void(int)> on_close_;

  // Guarded by mtx_.
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<inbound> inbox_;  // taken from head_ on
  std::size_t head_ = 0;
  std::optional<int> close_code_;
};

// -- ws_client ----------------------------------------------------------------

ws_client::ws_client(std::shared_ptr<impl> p) : impl_(std::move(p)) {
  ++impl_->ctx_.live_clients;
}

ws_client::~ws_client() {
  auto silence = [p = impl_] {
    p->on_frame_ = nullptr;
    p->on_close_ = nullptr;
    p->tcp_layer().close();
  };
  if (impl_->strand_.running_in_this_thread()) {
    silence();
  } else if (impl_->ctx_.ioc.get_executor().running_in_this_thread()) {
    asio::post(impl_->strand_, silence);  // waiting here could deadlock
  } else {  // a user thread: wait, so no callback runs after we return
    std::promise<void> done;
    asio::post(impl_->strand_, [&] {
      silence();
      done.set_value();
    });
    done.get_future().wait();
  }
  --impl_->ctx_.live_clients;
}

void ws_client::on_frame(std::function<void(std::string_view, bool)> f) {
  impl_->run(
    [p = impl_, f = std::move(f)]() mutable { p->on_frame_ = std::move(f); });
}

void ws_client::on_close(std::function<void(int)> f) {
  impl_->run([p = impl_, f = std::move(f)]() mutable {
    if (!p->ended_)
      return void(p->on_close_ = std::move(f));
    std::unique_lock<std::mutex> lock{p->mtx_};
    int code = p->close_code_.value_or(abnormal_closure);
    lock.unlock();
    f(code);
  });
}

void ws_client::send_text(std::string data) {
  impl_->post_out({std::move(data), impl::out_kind::text, 0});
}

void ws_client::send_binary(std::string data) {
  impl_->post_out({std::move(data), impl::out_kind::binary, 0});
}

std::optional<message> ws_client::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{impl_->mtx_};
  auto i = impl_->wait_front(lock, timeout);
  if (!i)
    return std::nullopt;
  impl_->decoded(*i);
  return std::move(impl_->take(*i).decoded);
}

std::optional<raw_frame>
ws_client::next_frame(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{impl_->mtx_};
  auto i = impl_->wait_front(lock, timeout);
  if (!i)
    return std::nullopt;
  return std::move(impl_->take(*i).raw);
}

std::optional<message>
ws_client::wait_for(std::function<bool(const message&)> pred,
                    std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock{impl_->mtx_};
  for (bool last = false;;) {
    // Rescanning is cheap: decoded messages are cached in the queue.
    for (auto i = impl_->head_; i < impl_->inbox_.size(); ++i)
      if (pred(impl_->decoded(i)))
        return std::move(impl_->take(i).decoded);
    if (last || impl_->close_code_)
      return std::nullopt;
    last = impl_->cv_.wait_until(lock, deadline) == std::cv_status::timeout;
  }
}

std::optional<message>
ws_client::wait_reply(const std::string& ref,
                      std::chrono::milliseconds timeout) {
  return wait_for(
    [&ref](const message& m) { return m.event == "phx_reply" && m.ref == ref; },
    timeout);
}

std::size_t ws_client::queued() const {
  std::lock_guard<std::mutex> guard{impl_->mtx_};
  return impl_->inbox_.size() - impl_->head_;
}

void ws_client::close(int code, std::string reason) {
  impl_->post_out({std::move(reason), impl::out_kind::close, code});
}

void ws_client::abort() {
  impl_->run([p = impl_] { p->tcp_layer().close(); });
}

bool ws_client::is_open() const {
  std::lock_guard<std::mutex> guard{impl_->mtx_};
  return !impl_->close_code_;
}

std::optional<int> ws_client::closed_code(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{impl_->mtx_};
  impl_->cv_.wait_for(lock, timeout,
                      [this] { return impl_->close_code_.has_value(); });
  return impl_->close_code_;
}

const std::string& ws_client::subprotocol() const {
  return impl_->subprotocol_;
}

// -- connecting ---------------------------------------------------------------

void async_connect(client_context& ctx, client_options opts,
                   std::function<void(connect_result)> done) {
  auto p = std::make_shared<ws_client::impl>(ctx.get_impl());
  p->start(std::move(opts), std::move(done));
}

connect_result connect(client_context& ctx, const client_options& opts) {
  auto promise = std::make_shared<std::promise<connect_result>>();
  auto result = promise->get_future();
  async_connect(ctx, opts, [promise](connect_result r) {
    promise->set_value(std::move(r));
  });
  // The connect timeout ends the attempt; the margin only guards against a
  // stalled io thread (e.g. connect called from a callback).
  auto margin = std::chrono::seconds{2};
  if (result.wait_for(opts.connect_timeout + margin)
      != std::future_status::ready) {
    connect_result r;
    r.error = "connect: no answer from the io thread";
    return r;
  }
  return result.get();
}

}  // namespace fenix::client
