// presence: N clients (user=u0..uN-1) join one tracked topic as fast as
// they can. Each keeps the set of users it knows from presence_state and
// presence_diff (joins add, leaves remove) and is complete once it knows
// all N. Then a broadcast right after the joins and one when all is quiet
// measure whether presence traffic delays ordinary messages.
//
// Phases: "start", "joined" (every join reply), "complete" (every list
// complete, or the --duration limit), "done".

#include <mutex>
#include <thread>

#include "bench/client_pool.hpp"
#include "bench/runner.hpp"
#include "bench/scenario.hpp"
#include "bench/server_probe.hpp"

namespace fenix::bench {

using namespace std::chrono_literals;

namespace {

// What one client knows (io thread only).
struct roster {
  std::vector<std::uint64_t> bits;
  std::size_t known = 0;
  std::int64_t complete_ns = 0;

  void add(std::size_t u) {
    auto& w = bits[u / 64];
    auto b = std::uint64_t{1} << (u % 64);
    if (!(w & b)) {
      w |= b;
      ++known;
    }
  }
  void remove(std::size_t u) {
    auto& w = bits[u / 64];
    auto b = std::uint64_t{1} << (u % 64);
    if (w & b) {
      w &= ~b;
      --known;
    }
  }
};

struct counters {
  std::atomic<std::uint64_t> state_frames{0};
  std::atomic<std::uint64_t> state_bytes{0};
  std::atomic<std::uint64_t> diff_frames{0};
  std::atomic<std::uint64_t> diff_bytes{0};
  std::atomic<std::size_t> complete{0};
  std::atomic<std::size_t> probes_seen[2] = {};
};

// Waits until `done()` or `limit`, with a heartbeat every 25 s like
// phoenix.js (a server closes connections idle for 60 s).
template <class F>
void wait_for(client_pool& pool, std::chrono::duration<double> limit, F done) {
  auto now = std::chrono::steady_clock::now();
  auto until = now + limit;
  auto beat = now + 25s;
  while (!done() && (now = std::chrono::steady_clock::now()) < until) {
    if (now >= beat) {
      pool.heartbeat_all();
      beat = now + 25s;
    }
    std::this_thread::sleep_for(5ms);
  }
}

}  // namespace

result run_presence(run_context& ctx) {
  auto& o = ctx.opts;
  auto total = o.clients;
  auto n = ctx.share(total);
  auto first = ctx.offset(total);
  client::client_context cctx{1};
  client_pool pool{cctx, base_options(o)};
  std::vector<roster> rosters(n);
  for (auto& ro : rosters)
    ro.bits.assign(total / 64 + 1, 0);
  counters c;
  histogram probes[2];  // broadcast latency: right after joins, when quiet
  std::mutex mtx;       // guards probes

  auto on_frame = [&](std::size_t i, std::string_view data,
                      const frame_head& h) {
    auto& ro = rosters[i];
    bool is_state = h.event == "presence_state";
    if (is_state || h.event == "presence_diff") {
      (is_state ? c.state_frames : c.diff_frames).fetch_add(1);
      (is_state ? c.state_bytes : c.diff_bytes).fetch_add(data.size());
      for_each_key(h.payload,
                   [&](std::string_view parent, std::string_view key) {
                     if (is_state ? !parent.empty()
                                  : parent != "joins" && parent != "leaves")
                       return;
                     auto u = user_index(key);
                     if (!u || *u >= total)
                       return;
                     if (parent == "leaves")
                       ro.remove(*u);
                     else
                       ro.add(*u);
                   });
      if (ro.known == total && ro.complete_ns == 0) {
        ro.complete_ns = now_ns();
        c.complete.fetch_add(1);
      }
    } else if (h.event == "new_msg") {
      auto p = find_int(h.payload, "p");
      auto t = find_int(h.payload, "t");
      if (!p || !t || *p < 0 || *p > 1)
        return;
      std::lock_guard<std::mutex> guard{mtx};
      probes[*p].record(
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, now_ns() - *t)));
      c.probes_seen[*p].fetch_add(1);
    }
  };

  ctx.sync("start", 0ms);
  auto cpu0 = self_cpu_seconds();
  client_pool::spec spec;
  spec.count = n;
  spec.rate = o.connect_rate / static_cast<double>(ctx.workers);
  spec.inflight = std::max<std::size_t>(1, o.inflight / ctx.workers);
  spec.topic = o.topic;
  spec.query = [first](std::size_t i) {
    return "vsn=2.0.0&user=u" + std::to_string(first + i);
  };
  spec.progress = [&](std::size_t done) {
    if (done % 1000 == 0)
      ctx.progress(std::to_string(done) + " joined");
  };
  auto rep = pool.open(spec, on_frame);
  ctx.sync("joined", 0ms);

  // A broadcast right after the joins, from the first client of worker 0.
  auto probe = [&](int which) {
    if (ctx.index != 0 || !pool.client(0))
      return;
    auto payload =
      bench_payload(static_cast<std::uint64_t>(which), 0, now_ns(), 100);
    pool.client(0)->send_text(push_frame(pool.join_ref(0),
                                         "p" + std::to_string(which), o.topic,
                                         "new_msg", payload));
  };
  probe(0);
  auto joined = rep.joined;
  ctx.progress("waiting for complete lists");
  wait_for(pool, std::chrono::duration<double>(o.duration), [&] {
    return c.complete.load() >= joined && c.probes_seen[0].load() >= joined;
  });
  ctx.sync("complete", 500ms);
  probe(1);
  wait_for(pool, 10s, [&] { return c.probes_seen[1].load() >= joined; });
  ctx.sync("done", 0ms);

  result r;
  r.set("clients", static_cast<double>(n));
  r.set("joined", static_cast<double>(rep.joined));
  r.set("join_failures", static_cast<double>(rep.failed));
  r.set("complete", static_cast<double>(c.complete.load()));
  r.set("state_frames", static_cast<double>(c.state_frames.load()));
  r.set("state_bytes", static_cast<double>(c.state_bytes.load()), "B");
  r.set("diff_frames", static_cast<double>(c.diff_frames.load()));
  r.set("diff_bytes", static_cast<double>(c.diff_bytes.load()), "B");
  r.set("t_first_start_ns", static_cast<double>(rep.first_start_ns), "ns",
        merge_rule::min);
  r.set("t_last_join_ns", static_cast<double>(rep.last_join_ns), "ns",
        merge_rule::max);
  r.set("client_cpu_s", self_cpu_seconds() - cpu0, "s");
  r.set("disconnects", static_cast<double>(pool.disconnects()));
  std::vector<std::int64_t> joined_at(n);
  for (std::size_t i = 0; i < n; ++i)
    joined_at[i] = pool.joined_at(i);
  pool.close_all(30s);  // no callback runs after this: rosters are ours
  std::int64_t last_complete = 0;
  auto& after_join = r.hist("complete_after_own_join");
  for (std::size_t i = 0; i < n; ++i) {
    auto& ro = rosters[i];
    if (ro.complete_ns == 0)
      continue;
    last_complete = std::max(last_complete, ro.complete_ns);
    if (auto j = joined_at[i]; j != 0)
      after_join.record(static_cast<std::uint64_t>(
        std::max<std::int64_t>(0, ro.complete_ns - j)));
  }
  r.set("t_last_complete_ns", static_cast<double>(last_complete), "ns",
        merge_rule::max);
  r.hist("join") = rep.latency;
  {
    std::lock_guard<std::mutex> guard{mtx};
    r.hist("broadcast_after_joins") = probes[0];
    r.hist("broadcast_when_quiet") = probes[1];
  }
  return r;
}

void finish_presence(result& r, const options& o) {
  auto n = static_cast<double>(o.clients);
  auto frames = r.value("state_frames") + r.value("diff_frames");
  r.set("presence_frames", frames);
  r.set("presence_bytes", r.value("state_bytes") + r.value("diff_bytes"), "B");
  r.set("frames_per_client", n > 0 ? frames / n : 0);
  // Phoenix without batching: one diff per join to every member so far.
  r.set("unbatched_diff_frames", n * (n + 1) / 2);
  auto first = r.value("t_first_start_ns");
  auto last_join = r.value("t_last_join_ns");
  auto last_complete = r.value("t_last_complete_ns");
  r.set("join_phase_s", seconds_between(first, last_join), "s");
  if (r.value("complete") == r.value("joined") && last_complete > 0) {
    r.set("all_complete_after_start_s", seconds_between(first, last_complete),
          "s");
    r.set("all_complete_after_last_join_s",
          std::max(0.0, seconds_between(last_join, last_complete)), "s");
  }
  add_server_cost(r, "start", "complete", n, "client_us");
  for (auto name : {"t_first_start_ns", "t_last_join_ns", "t_last_complete_ns"})
    r.erase(name);
}

bool passed_presence(const result& r) {
  return r.value("join_failures") == 0
         && r.value("complete") == r.value("joined") && r.value("joined") > 0
         && r.value("disconnects") == 0;
}

}  // namespace fenix::bench
