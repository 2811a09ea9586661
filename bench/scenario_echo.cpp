// echo: C clients push "echo" events (total rate R, or a closed loop of
// `window` each); the server replies with the payload, and the round trip
// is the reply's arrival minus the send time the payload carries.
//
// Phases: "go" (all joined), "done" (replies drained).

#include <mutex>
#include <thread>

#include "bench/client_pool.hpp"
#include "bench/runner.hpp"
#include "bench/scenario.hpp"
#include "bench/senders.hpp"
#include "bench/server_probe.hpp"

namespace fenix::bench {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

result run_echo(run_context& ctx) {
  auto& o = ctx.opts;
  auto n = ctx.share(o.clients);
  auto first = ctx.offset(o.clients);
  bool closed_loop = o.rate <= 0;
  client::client_context cctx{1};
  client_pool pool{cctx, base_options(o)};
  senders snd{o.topic, "echo", o.payload};
  histogram rtt;
  std::mutex mtx;  // guards rtt
  std::atomic<std::uint64_t> replies{0};
  std::atomic<std::int64_t> last_reply_ns{0};
  std::atomic<bool> sending{false};
  std::vector<std::size_t> sender_of(n, SIZE_MAX);

  auto on_frame = [&](std::size_t i, std::string_view, const frame_head& h) {
    if (h.event != "phx_reply")
      return;
    auto now = now_ns();
    auto t = find_int(h.payload, "t");
    if (!t)
      return;
    {
      std::lock_guard<std::mutex> guard{mtx};
      rtt.record(
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - *t)));
    }
    replies.fetch_add(1);
    last_reply_ns.store(now);
    if (closed_loop && sending.load())
      snd.acked(sender_of[i]);
  };

  client_pool::spec spec;
  spec.count = n;
  spec.rate = o.connect_rate / static_cast<double>(ctx.workers);
  spec.inflight = std::max<std::size_t>(1, o.inflight / ctx.workers);
  spec.topic = o.topic;
  auto rep = pool.open(spec, on_frame);
  for (std::size_t i = 0; i < n; ++i)
    if (auto* c = pool.client(i))
      sender_of[i] = snd.add(c, pool.join_ref(i), first + i);
  ctx.sync("go", 500ms);

  auto cpu0 = self_cpu_seconds();
  auto deadline = std::chrono::time_point_cast<clock_type::duration>(
    clock_type::now()
    + std::chrono::duration<double>(o.count > 0 ? 120.0 : o.duration));
  auto tick = [&] { pool.heartbeat_all(); };
  sending = true;
  if (closed_loop) {
    snd.start_closed_loop(o.window, o.count);
    snd.wait_closed_loop(deadline, tick);
  } else {
    snd.run_paced(o.rate / static_cast<double>(o.clients), deadline, o.count,
                  tick);
  }
  sending = false;
  // Drain: every reply (the count is known), at most 10 s.
  auto end = now_ns();
  while (replies.load() < snd.total_sent()) {
    if (now_ns() - end > 10'000'000'000)
      break;
    std::this_thread::sleep_for(5ms);
  }
  ctx.sync("done", 0ms);

  result r;
  r.set("clients", static_cast<double>(snd.size()));
  r.set("join_failures", static_cast<double>(rep.failed));
  r.set("sent", static_cast<double>(snd.total_sent()));
  r.set("replies", static_cast<double>(replies.load()));
  r.set("t_first_send_ns", static_cast<double>(snd.first_send_ns()), "ns",
        merge_rule::min);
  r.set("t_last_reply_ns", static_cast<double>(last_reply_ns.load()), "ns",
        merge_rule::max);
  {
    std::lock_guard<std::mutex> guard{mtx};
    r.hist("round_trip") = rtt;
  }
  r.set("client_cpu_s", self_cpu_seconds() - cpu0, "s");
  if (!snd.lag().empty())
    r.hist("pacer_lag") = snd.lag();
  r.set("disconnects", static_cast<double>(pool.disconnects()));
  pool.close_all(10s);
  return r;
}

void finish_echo(result& r, const options&) {
  auto sent = r.value("sent");
  auto replies = r.value("replies");
  r.set("lost", std::max(0.0, sent - replies));
  auto window =
    seconds_between(r.value("t_first_send_ns"), r.value("t_last_reply_ns"));
  if (window > 0)
    r.set("replies_per_s", replies / window, "/s");
  add_server_cost(r, "go", "done", replies, "message_us");
  r.erase("t_first_send_ns");
  r.erase("t_last_reply_ns");
}

bool passed_echo(const result& r) {
  return r.value("join_failures") == 0 && r.value("sent") > 0
         && r.value("lost") == 0 && r.value("disconnects") == 0;
}

}  // namespace fenix::bench
