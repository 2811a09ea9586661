// fanout and chat: publishers push "broadcast" events that the server
// broadcasts to the topic; every receiver checks sequence numbers and
// measures publish-to-receipt latency.
//
// fanout: S subscribers plus P publishers (which also receive their own
// broadcasts, used by the closed loop, but are not counted as receivers).
// chat: N members, each publishing and receiving everything (N^2).
//
// Phases: "go" (all joined; server CPU starts), "done" (drained).

#include <cstdint>
#include <mutex>
#include <thread>

#include "bench/client_pool.hpp"
#include "bench/delivery_log.hpp"
#include "bench/runner.hpp"
#include "bench/scenario.hpp"
#include "bench/senders.hpp"
#include "bench/server_probe.hpp"

namespace fenix::bench {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

struct layout {
  bool chat = false;
  std::size_t receivers_total = 0;
  std::size_t publishers_total = 0;
  std::size_t receivers = 0;   // local
  std::size_t publishers = 0;  // local
  std::size_t first_pub = 0;   // global id of the first local publisher

  // Pool index i: fanout puts publishers first, then subscribers.
  std::size_t connections() const {
    return chat ? receivers : receivers + publishers;
  }
  bool is_publisher(std::size_t i) const { return chat || i < publishers; }
  bool is_receiver(std::size_t i) const { return chat || i >= publishers; }
  std::size_t receiver_index(std::size_t i) const {
    return chat ? i : i - publishers;
  }
};

layout make_layout(const run_context& ctx) {
  auto& o = ctx.opts;
  layout l;
  l.chat = o.scenario == "chat";
  l.receivers_total = o.clients;
  l.publishers_total = l.chat ? o.clients : o.publishers;
  l.receivers = ctx.share(l.receivers_total);
  l.publishers = l.chat ? l.receivers : ctx.share(l.publishers_total);
  l.first_pub = ctx.offset(l.publishers_total);
  return l;
}

// Waits for deliveries to stop: every expected one arrived (when the
// count is known here), or else nothing arrived for a second; at most 30 s.
void drain(const std::atomic<std::uint64_t>& received, std::uint64_t expected,
           const std::atomic<std::int64_t>& last_frame_ns) {
  auto start = now_ns();
  for (;;) {
    if (expected != 0 && received.load() >= expected)
      return;
    auto now = now_ns();
    auto quiet_since = std::max(start, last_frame_ns.load());
    if ((expected == 0 && now - quiet_since > 1'000'000'000)
        || now - start > 30'000'000'000)
      return;
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

result run_fanout(run_context& ctx) {
  auto& o = ctx.opts;
  auto l = make_layout(ctx);
  bool closed_loop = o.rate <= 0;
  client::client_context cctx{1};
  client_pool pool{cctx, base_options(o)};
  // --publish-port (fanout): the publishers in a pool of their own on
  // another node; `pool` then holds the receivers only (index - publishers).
  bool split = !l.chat && o.publish_port != 0 && o.publish_port != o.port;
  auto pub_options = base_options(o);
  pub_options.port = o.publish_port;
  client_pool pub_pool{cctx, pub_options};
  auto client_at = [&](std::size_t i) {
    if (!split)
      return pool.client(i);
    return i < l.publishers ? pub_pool.client(i)
                            : pool.client(i - l.publishers);
  };
  delivery_log log{l.receivers, l.publishers_total};
  senders snd{o.topic, "broadcast", o.payload};
  std::mutex mtx;  // guards log
  std::atomic<std::uint64_t> frames{0};
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::int64_t> last_frame_ns{0};
  std::atomic<bool> sending{false};
  // Pool index -> sender index (publishers that joined); filled before
  // `sending` is set, read by the io thread only after.
  std::vector<std::size_t> sender_of(l.connections(), SIZE_MAX);

  auto on_frame = [&](std::size_t i, std::string_view, const frame_head& h) {
    if (h.event != "broadcast")
      return;
    auto now = now_ns();
    frames.fetch_add(1, std::memory_order_relaxed);
    last_frame_ns.store(now, std::memory_order_relaxed);
    auto p = find_int(h.payload, "p");
    auto s = find_int(h.payload, "s");
    auto t = find_int(h.payload, "t");
    if (!p || !s || !t)
      return;
    if (l.is_receiver(i)) {
      std::lock_guard<std::mutex> guard{mtx};
      log.record(l.receiver_index(i), static_cast<std::uint64_t>(*p),
                 static_cast<std::uint64_t>(*s), *t, now);
      received.store(log.delivered(), std::memory_order_relaxed);
    }
    if (closed_loop && l.is_publisher(i) && sending.load()
        && static_cast<std::size_t>(*p) == l.first_pub + i)
      snd.acked(sender_of[i]);
  };

  client_pool::spec spec;
  spec.count = l.connections();
  spec.rate = o.connect_rate / static_cast<double>(ctx.workers);
  spec.inflight = std::max<std::size_t>(1, o.inflight / ctx.workers);
  spec.topic = o.topic;
  ctx.progress("joining " + std::to_string(spec.count) + " clients");
  client_pool::open_report rep;
  if (split) {
    auto pub_spec = spec;
    pub_spec.count = l.publishers;
    spec.count = l.receivers;
    rep = pub_pool.open(pub_spec, on_frame);
    auto subs = pool.open(
      spec, [&](std::size_t i, std::string_view d, const frame_head& h) {
        on_frame(i + l.publishers, d, h);
      });
    rep.failed += subs.failed;
  } else {
    rep = pool.open(spec, on_frame);
  }
  std::size_t receivers_joined = 0;
  for (std::size_t i = 0; i < l.connections(); ++i) {
    if (!client_at(i))
      continue;
    if (l.is_receiver(i))
      ++receivers_joined;
    if (l.is_publisher(i))
      sender_of[i] = snd.add(
        client_at(i), (split ? pub_pool : pool).join_ref(i), l.first_pub + i);
  }
  ctx.sync("go", 500ms);

  auto cpu0 = self_cpu_seconds();
  auto deadline = clock_type::now()
                  + (o.count > 0 ? std::chrono::duration<double>(120)
                                 : std::chrono::duration<double>(o.duration));
  auto deadline_tp =
    std::chrono::time_point_cast<clock_type::duration>(deadline);
  auto tick = [&] {
    pool.heartbeat_all();
    pub_pool.heartbeat_all();
  };
  ctx.progress("publishing");
  sending = true;
  if (closed_loop) {
    snd.start_closed_loop(o.window, o.count);
    snd.wait_closed_loop(deadline_tp, tick);
  } else {
    snd.run_paced(o.rate, deadline_tp, o.count, tick);
  }
  sending = false;
  auto publish_end = now_ns();
  // Expected receipts here are known when every publisher sends `count`
  // or when this process holds every publisher.
  std::uint64_t expected = 0;
  if (o.count > 0)
    expected = o.count * l.publishers_total * receivers_joined;
  else if (ctx.workers == 1)
    expected = snd.total_sent() * receivers_joined;
  drain(received, expected, last_frame_ns);
  ctx.sync("done", 0ms);

  result r;
  r.set("connections", static_cast<double>(l.connections()));
  r.set("receivers", static_cast<double>(receivers_joined));
  r.set("publishers", static_cast<double>(snd.size()));
  r.set("join_failures", static_cast<double>(rep.failed));
  r.set("published", static_cast<double>(snd.total_sent()));
  {
    std::lock_guard<std::mutex> guard{mtx};
    r.set("delivered", static_cast<double>(log.delivered()));
    r.set("duplicates", static_cast<double>(log.duplicates()));
    r.set("reordered", static_cast<double>(log.reordered()));
    r.set("frames_received", static_cast<double>(frames.load()));
    r.set("t_first_send_ns", static_cast<double>(snd.first_send_ns()), "ns",
          merge_rule::min);
    r.set("t_last_receipt_ns", static_cast<double>(log.last_receipt_ns()), "ns",
          merge_rule::max);
    r.set("t_publish_end_ns", static_cast<double>(publish_end), "ns",
          merge_rule::max);
    r.hist("latency") = log.latency();
    for (std::uint64_t p = 0; p < log.publishers(); ++p) {
      auto s = log.last_latency(p);
      while (!s.empty() && s.back() == 0)
        s.pop_back();
      if (!s.empty())
        r.series["last." + std::to_string(p)] = std::move(s);
    }
  }
  r.set("client_cpu_s", self_cpu_seconds() - cpu0, "s");
  if (!snd.lag().empty())
    r.hist("pacer_lag") = snd.lag();
  r.set("disconnects",
        static_cast<double>(pool.disconnects() + pub_pool.disconnects()));
  pool.close_all(10s);
  pub_pool.close_all(10s);
  return r;
}

void finish_fanout(result& r, const options& o) {
  auto published = r.value("published");
  auto delivered = r.value("delivered");
  auto expected = published * r.value("receivers");
  r.set("expected", expected);
  r.set("lost", std::max(0.0, expected - delivered));
  auto first = r.value("t_first_send_ns");
  auto last = r.value("t_last_receipt_ns");
  auto window = seconds_between(first, last);
  if (window > 0) {
    r.set("deliveries_per_s", delivered / window, "/s");
    r.set("frames_per_s", r.value("frames_received") / window, "/s");
  }
  auto pub_window = seconds_between(first, r.value("t_publish_end_ns"));
  if (pub_window > 0)
    r.set("publish_rate", published / pub_window, "/s");
  histogram last_hist;
  for (auto& [name, s] : r.series)
    for (auto v : s)
      if (v != 0)
        last_hist.record(v);
  if (!last_hist.empty())
    r.hist("time_to_last_receiver") = last_hist;
  r.series.clear();
  add_server_cost(r, "go", "done", r.value("frames_received"), "delivery_us");
  for (auto name : {"t_first_send_ns", "t_last_receipt_ns", "t_publish_end_ns"})
    r.erase(name);
  (void)o;
}

bool passed_fanout(const result& r) {
  return r.value("join_failures") == 0 && r.value("published") > 0
         && r.value("lost") == 0 && r.value("duplicates") == 0
         && r.value("disconnects") == 0;
}

}  // namespace fenix::bench
