// churn: `--inflight` loops, each repeating connect -> join -> leave ->
// close (handshake) until `--count` cycles are done, pausing once at 10%
// so the server's RSS can be read with nothing open.
//
// Phases: "start" (baseline), "10pct" (10% of the cycles done, all loops
// idle, 1 s later), "end" (all done, all idle, 1 s later).

#include <condition_variable>
#include <mutex>

#include "bench/runner.hpp"
#include "bench/scenario.hpp"
#include "bench/server_probe.hpp"
#include "bench/wire.hpp"
#include "fenix/client.hpp"

namespace fenix::bench {

using namespace std::chrono_literals;

namespace {

// The loops; every callback runs on the one io thread.
class churn_driver {
public:
  churn_driver(client::client_context& ctx, client::client_options base,
               std::string topic, std::size_t loops)
    : ctx_(ctx),
      base_(std::move(base)),
      topic_(std::move(topic)),
      loops_(loops) {
    base_.connect_timeout = 10s;
  }

  ~churn_driver() {
    for (auto& l : loops_)
      l.client.reset();
  }

  /// Lets cycles start until `limit` have started, then waits (at most
  /// `timeout`) until every loop is idle. False on timeout.
  bool run_until(std::size_t limit, std::chrono::milliseconds timeout) {
    std::vector<std::size_t> to_start;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      limit_ = limit;
      for (std::size_t k = 0; k < loops_.size(); ++k)
        if (loops_[k].idle && started_ < limit_) {
          loops_[k].idle = false;
          --idle_;
          ++started_;
          to_start.push_back(k);
        }
    }
    for (auto k : to_start)
      start(k);
    std::unique_lock<std::mutex> lock{mtx_};
    return cv_.wait_for(lock, timeout, [&] { return idle_ == loops_.size(); });
  }

  std::size_t done() const { return done_; }
  std::size_t failures() const { return failures_; }
  const histogram& cycle_latency() const { return latency_; }
  const std::string& first_error() const { return first_error_; }

  std::size_t completed() {
    std::lock_guard<std::mutex> guard{mtx_};
    return done_ + failures_;
  }

private:
  struct loop {
    std::unique_ptr<client::ws_client> client;
    std::string join_ref;
    std::string leave_ref;
    std::int64_t started_ns = 0;
    bool left = false;
    bool idle = true;
  };

  void start(std::size_t k) {
    loops_[k].started_ns = now_ns();
    loops_[k].left = false;
    client::async_connect(ctx_, base_, [this, k](client::connect_result r) {
      on_connected(k, std::move(r));
    });
  }

  void on_connected(std::size_t k, client::connect_result r) {
    if (!r)
      return finish(k, false, r.error);
    auto& l = loops_[k];
    l.client = std::move(r.client);
    l.client->on_frame([this, k](std::string_view data, bool binary) {
      on_frame(k, data, binary);
    });
    l.client->on_close([this, k](int) {
      // Destroying the client in its own callback is allowed (io thread).
      auto ok = loops_[k].left;
      loops_[k].client.reset();
      finish(k, ok, "connection ended before the leave reply");
    });
    l.join_ref = l.client->join(topic_);
  }

  void on_frame(std::size_t k, std::string_view data, bool binary) {
    frame_head h;
    auto& l = loops_[k];
    if (binary || !scan_head(data, h) || h.event != "phx_reply")
      return;
    bool ok = h.payload.find("\"status\":\"ok\"") != std::string_view::npos;
    if (h.ref == l.join_ref && l.leave_ref.empty()) {
      if (ok)
        l.leave_ref = l.client->leave(topic_);
      else
        l.client->close(1000);
    } else if (!l.leave_ref.empty() && h.ref == l.leave_ref) {
      l.left = ok;
      l.client->close(1000);
    }
  }

  // A cycle ended; start the next one or go idle.
  void finish(std::size_t k, bool ok, const std::string& error) {
    auto now = now_ns();
    auto& l = loops_[k];
    l.leave_ref.clear();
    bool again = false;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (ok) {
        ++done_;
        latency_.record(static_cast<std::uint64_t>(now - l.started_ns));
      } else {
        ++failures_;
        if (first_error_.empty())
          first_error_ = error;
        if (failures_ > 100 + limit_ / 10)
          limit_ = started_;  // give up: something is badly wrong
      }
      if (started_ < limit_) {
        ++started_;
        again = true;
      } else {
        l.idle = true;
        ++idle_;
        cv_.notify_all();
      }
    }
    if (again)
      start(k);
  }

  client::client_context& ctx_;
  client::client_options base_;
  std::string topic_;
  std::vector<loop> loops_;

  std::mutex mtx_;
  std::condition_variable cv_;
  std::size_t limit_ = 0;
  std::size_t started_ = 0;
  std::size_t idle_ = loops_.size();
  std::size_t done_ = 0;
  std::size_t failures_ = 0;
  histogram latency_;
  std::string first_error_;
};

}  // namespace

result run_churn(run_context& ctx) {
  auto& o = ctx.opts;
  auto cycles = ctx.share(o.count);
  auto loops = std::max<std::size_t>(1, ctx.share(o.inflight));
  client::client_context cctx{1};
  churn_driver driver{cctx, base_options(o), o.topic, loops};
  ctx.sync("start", 500ms);
  auto cpu0 = self_cpu_seconds();
  auto t0 = now_ns();
  auto timeout = std::chrono::milliseconds{
    static_cast<long>(60'000 + cycles * 10)};  // at least 100 cycles/s
  bool ok = driver.run_until(cycles / 10, timeout);
  auto t1 = now_ns();
  ctx.progress(std::to_string(driver.completed()) + " cycles (10%)");
  ctx.sync("10pct", ctx.settle());
  auto t2 = now_ns();
  ok = driver.run_until(cycles, timeout) && ok;
  auto t3 = now_ns();
  ctx.progress(std::to_string(driver.completed()) + " cycles");
  ctx.sync("end", ctx.settle());

  result r;
  r.set("cycles_target", static_cast<double>(cycles));
  r.set("cycles", static_cast<double>(driver.done()));
  r.set("failures", static_cast<double>(driver.failures()));
  r.set("timeouts", ok ? 0.0 : 1.0);
  r.set("loops", static_cast<double>(loops));
  // Time spent cycling, without the pause (max over workers).
  r.set("churn_s",
        seconds_between(static_cast<double>(t0), static_cast<double>(t1))
          + seconds_between(static_cast<double>(t2), static_cast<double>(t3)),
        "s", merge_rule::max);
  r.set("client_cpu_s", self_cpu_seconds() - cpu0, "s");
  r.hist("cycle") = driver.cycle_latency();
  if (!driver.first_error().empty())
    r.params["first_error_w" + std::to_string(ctx.index)] =
      driver.first_error();
  return r;
}

void finish_churn(result& r, const options&) {
  auto s = r.value("churn_s");
  if (s > 0)
    r.set("cycles_per_s", r.value("cycles") / s, "/s");
  auto* start = r.snapshot("start");
  auto* tenth = r.snapshot("10pct");
  auto* end = r.snapshot("end");
  if (start && tenth && end && tenth->rss_kib > 0) {
    r.set("server_rss_start", static_cast<double>(start->rss_kib), "KiB");
    r.set("server_rss_10pct", static_cast<double>(tenth->rss_kib), "KiB");
    r.set("server_rss_end", static_cast<double>(end->rss_kib), "KiB");
    r.set("server_rss_growth_after_10pct",
          100.0 * static_cast<double>(end->rss_kib - tenth->rss_kib)
            / static_cast<double>(tenth->rss_kib),
          "%");
  }
  add_server_cost(r, "start", "end", r.value("cycles"), "cycle_us");
  for (auto* snap : {tenth, end})
    if (snap)
      for (auto key : {"connections", "channels", "actors"})
        if (auto* v = snap->stats.if_contains(key))
          r.set(std::string{"server_"} + key + "_" + snap->phase,
                v->to_number<double>());
}

bool passed_churn(const result& r) {
  return r.value("failures") == 0 && r.value("timeouts") == 0
         && r.value("cycles") == r.value("cycles_target");
}

}  // namespace fenix::bench
