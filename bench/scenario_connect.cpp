// connect: N connections, each joining one channel, at a target rate (or
// as fast as the in-flight bound allows); then held idle and closed.
//
// Phases: "start" (nothing open: the server's baseline RSS), "joined"
// (every connection joined and idle, 2 s later), "closed" (all closed,
// 2 s later). RSS per connection = (joined - start) / joined; server CPU
// per close = CPU from "joined" to "closed" / joined.

#include <thread>

#include "bench/client_pool.hpp"
#include "bench/runner.hpp"
#include "bench/scenario.hpp"
#include "bench/server_probe.hpp"

namespace fenix::bench {

using namespace std::chrono_literals;

result run_connect(run_context& ctx) {
  auto& o = ctx.opts;
  auto n = ctx.share(o.clients);
  client::client_context cctx{1};
  client_pool pool{cctx, base_options(o)};
  ctx.sync("start", 0ms);

  auto cpu0 = self_cpu_seconds();
  client_pool::spec spec;
  spec.count = n;
  spec.rate = o.connect_rate / static_cast<double>(ctx.workers);
  spec.inflight = std::max<std::size_t>(1, o.inflight / ctx.workers);
  spec.topic = o.topic;
  spec.progress = [&](std::size_t done) {
    if (done % 5000 == 0)
      ctx.progress(std::to_string(done) + " settled");
  };
  auto rep =
    pool.open(spec, [](std::size_t, std::string_view, const frame_head&) {});
  auto cpu1 = self_cpu_seconds();
  ctx.progress(std::to_string(rep.joined) + " joined, "
               + std::to_string(rep.failed) + " failed"
               + (rep.first_error.empty() ? "" : " (" + rep.first_error + ")"));
  ctx.sync("joined", ctx.settle());

  if (o.hold > 0) {
    auto until = std::chrono::steady_clock::now()
                 + std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::duration<double>(o.hold));
    while (std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_until(
        std::min(until, std::chrono::steady_clock::now() + 25s));
      pool.heartbeat_all();
    }
  }
  auto disconnects = pool.disconnects();
  pool.close_all(30s);
  ctx.sync("closed", ctx.settle());

  result r;
  r.set("attempted", static_cast<double>(n));
  r.set("joined", static_cast<double>(rep.joined));
  r.set("failed", static_cast<double>(rep.failed));
  r.set("disconnects", static_cast<double>(disconnects));
  r.set("t_first_start_ns", static_cast<double>(rep.first_start_ns), "ns",
        merge_rule::min);
  r.set("t_last_join_ns", static_cast<double>(rep.last_join_ns), "ns",
        merge_rule::max);
  r.set("client_cpu_s", cpu1 - cpu0, "s");
  r.hist("connect_join") = rep.latency;
  if (!rep.first_error.empty())
    r.params["first_error_w" + std::to_string(ctx.index)] = rep.first_error;
  return r;
}

void finish_connect(result& r, const options&) {
  auto joined = r.value("joined");
  auto elapsed =
    seconds_between(r.value("t_first_start_ns"), r.value("t_last_join_ns"));
  if (elapsed > 0 && joined > 0) {
    r.set("elapsed_s", elapsed, "s");
    r.set("connect_join_rate", joined / elapsed, "/s");
  }
  auto* start = r.snapshot("start");
  auto* after = r.snapshot("joined");
  auto* closed = r.snapshot("closed");
  if (start && after && start->rss_kib >= 0 && after->rss_kib >= 0) {
    r.set("server_rss_start", static_cast<double>(start->rss_kib), "KiB");
    r.set("server_rss_joined", static_cast<double>(after->rss_kib), "KiB");
    if (joined > 0)
      r.set("server_rss_per_connection",
            static_cast<double>(after->rss_kib - start->rss_kib) / joined,
            "KiB");
  }
  if (closed && closed->rss_kib >= 0)
    r.set("server_rss_closed", static_cast<double>(closed->rss_kib), "KiB");
  add_server_cost(r, "start", "joined", joined, "connect_us");
  // Closing: every connection left its one topic (one PubSub list).
  if (after && closed && after->cpu_s >= 0 && closed->cpu_s >= 0 && joined > 0)
    r.set("server_cpu_per_close_us",
          (closed->cpu_s - after->cpu_s) * 1e6 / joined, "us");
  if (after)
    if (auto* c = after->stats.if_contains("connections"))
      r.set("server_connections_joined", c->to_number<double>());
  r.erase("t_first_start_ns");
  r.erase("t_last_join_ns");
}

bool passed_connect(const result& r) {
  return r.value("failed") == 0 && r.value("joined") == r.value("attempted")
         && r.value("disconnects") == 0;
}

}  // namespace fenix::bench
