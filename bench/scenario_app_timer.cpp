// app-timer: the real fenix-timer (../shared/docs/apps.md) with many
// running timers.
//
// U users u0..uU-1 (JWTs from POST /api/session) each join their own
// `timers:uK` on one socket and start T timers (--count, at most the app's
// 100 per user) of an hour each with `timers:start`, paced at --rate starts
// per second in all. While they tick, each socket checks its timers'
// `timers:tick` broadcasts: the remaining times must go down one by one
// (a skipped value is a missed tick, a repeated one a duplicate), and each
// tick's lateness is its receipt minus when it is due, start push sent +
// (duration - remaining) s (the start push's send time stands for the
// server's start, so the lateness is overstated by at most the start
// reply's round trip, reported too). Then every socket closes and the
// timers tick on with nobody watching (the per-user actors outlive
// sockets); at the end user u0 joins again and must find its T timers
// still running.
//
// Phases: "start" (no client: RSS), "joined", "idle" (min(5, duration/3)
// s later: the server's idle CPU with the sockets joined), "ticking"
// (every timer started, + --settle: RSS; server CPU window 1 starts),
// "watched" (after --duration s), "closed" (sockets closed + 1 s; window 2
// starts), "unwatched" (after --duration s).

#include <charconv>
#include <fstream>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>

#include <boost/json/value.hpp>

#include "bench/runner.hpp"
#include "bench/scenario.hpp"
#include "bench/server_probe.hpp"
#include "bench/wire.hpp"

namespace fenix::bench {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int timer_duration = 3600;      // s: longer than any run
constexpr std::uint64_t ref_base = 1000;  // start push refs: base + slot

struct timer_slot {
  std::int64_t sent_ns = 0;
  std::int64_t acked_ns = 0;
  int last_remaining = timer_duration;  // as started
};

struct counters {
  std::uint64_t acked = 0;
  std::uint64_t start_errors = 0;
  std::uint64_t started_broadcasts = 0;
  std::uint64_t ticks = 0;         // all
  std::uint64_t ticks_window = 0;  // while measuring
  std::uint64_t ticks_unknown = 0;
  std::uint64_t tick_gaps = 0;  // remaining values skipped
  std::uint64_t tick_dups = 0;  // remaining not lower than before
  std::uint64_t completed = 0;
  std::uint64_t other = 0;
};

std::string_view find_string(std::string_view json, std::string_view key) {
  std::string pattern = "\"" + std::string{key} + "\":\"";
  auto at = json.find(pattern);
  if (at == std::string_view::npos)
    return {};
  auto from = at + pattern.size();
  auto to = json.find('"', from);
  return to == std::string_view::npos ? std::string_view{}
                                      : json.substr(from, to - from);
}

double loadavg_1min() {
  std::ifstream in{"/proc/loadavg"};
  double one = -1;
  in >> one;
  return one;
}

}  // namespace

result run_app_timer(run_context& ctx) {
  auto& o = ctx.opts;
  if (ctx.workers > 1)
    throw std::invalid_argument("app-timer runs in one process (no --workers)");
  const std::size_t users = o.clients;
  const std::size_t per_user = o.count;
  const std::size_t total = users * per_user;
  ctx.sync("start", 0ms);

  client::client_context cctx{1};
  std::vector<std::unique_ptr<client::ws_client>> socks(users);
  std::vector<std::string> topics(users), join_refs(users);
  std::vector<timer_slot> slots(total);
  std::unordered_map<std::string, std::size_t> by_id;
  std::mutex mtx;  // guards slots' tick state, by_id, counters, histograms
  counters c;
  histogram lateness, start_rtt;
  std::atomic<bool> measuring{false};
  std::atomic<bool> closing{false};
  std::atomic<std::uint64_t> disconnects{0};
  std::atomic<std::uint64_t> settled{0};

  auto on_frame = [&](std::size_t k, std::string_view data, bool binary) {
    frame_head h;
    if (binary || !scan_head(data, h) || h.topic == "phoenix")
      return;
    auto now = now_ns();
    std::lock_guard<std::mutex> guard{mtx};
    if (h.event == "timers:tick") {
      ++c.ticks;
      auto id = find_string(h.payload, "id");
      auto rem = find_int(h.payload, "remaining_time");
      auto it = by_id.find(std::string{id});
      if (!rem || it == by_id.end()) {
        ++c.ticks_unknown;
        return;
      }
      auto& s = slots[it->second];
      int r = static_cast<int>(*rem);
      if (r >= s.last_remaining)
        ++c.tick_dups;
      else
        c.tick_gaps += static_cast<std::uint64_t>(s.last_remaining - 1 - r);
      s.last_remaining = std::min(s.last_remaining, r);
      if (measuring.load(std::memory_order_relaxed)) {
        ++c.ticks_window;
        auto due =
          s.sent_ns
          + static_cast<std::int64_t>(timer_duration - r) * 1'000'000'000;
        lateness.record(
          static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - due)));
      }
    } else if (h.event == "phx_reply") {
      std::uint64_t ref = 0;
      auto [ptr, ec] =
        std::from_chars(h.ref.data(), h.ref.data() + h.ref.size(), ref);
      if (ec != std::errc{} || ref < ref_base || ref - ref_base >= per_user)
        return;
      auto slot = k * per_user + (ref - ref_base);
      auto id = find_string(h.payload, "id");
      if (h.payload.find("\"status\":\"ok\"") == std::string_view::npos
          || id.empty()) {
        ++c.start_errors;
      } else {
        ++c.acked;
        by_id.emplace(std::string{id}, slot);
        slots[slot].acked_ns = now;
        start_rtt.record(static_cast<std::uint64_t>(now - slots[slot].sent_ns));
      }
      settled.fetch_add(1);
    } else if (h.event == "timers:started") {
      ++c.started_broadcasts;
    } else if (h.event == "timers:completed") {
      ++c.completed;
    } else {
      ++c.other;
    }
  };

  auto heartbeats = [&] {
    for (auto& s : socks)
      if (s)
        s->heartbeat();
  };
  // Sleeps `secs`, with a heartbeat every 20 s (idle timeout: 60 s).
  auto wait_s = [&](double secs) {
    auto end = clock_type::now()
               + std::chrono::duration_cast<clock_type::duration>(
                 std::chrono::duration<double>(secs));
    while (clock_type::now() < end) {
      std::this_thread::sleep_until(
        std::min(end, clock_type::now() + std::chrono::seconds{20}));
      if (clock_type::now() < end)
        heartbeats();
    }
  };

  ctx.progress("sessions and joins for " + std::to_string(users) + " users");
  std::size_t join_failures = 0;
  for (std::size_t k = 0; k < users; ++k) {
    auto user = "u" + std::to_string(k);
    topics[k] = "timers:" + user;
    auto co = base_options(o);
    co.query = "vsn=2.0.0&token=" + app_session(o, user);
    auto r = client::connect(cctx, co);
    if (!r) {
      ++join_failures;
      continue;
    }
    join_refs[k] = r.client->join(topics[k]);
    auto reply = r.client->wait_reply(join_refs[k], 10s);
    if (!reply || client::status_of(*reply) != "ok") {
      ++join_failures;
      continue;
    }
    r.client->on_frame(
      [&, k](std::string_view d, bool b) { on_frame(k, d, b); });
    r.client->on_close([&](int) {
      if (!closing.load())
        disconnects.fetch_add(1);
    });
    socks[k] = std::move(r.client);
  }
  ctx.sync("joined", ctx.settle());
  // The server's idle cost with the sockets joined, as a baseline.
  wait_s(std::min(5.0, o.duration / 3));
  ctx.sync("idle", 0ms);

  ctx.progress("starting " + std::to_string(total) + " timers at "
               + format_number(o.rate) + "/s");
  auto start = clock_type::now();
  auto start_ns = now_ns();
  std::uint64_t pushed = 0;
  for (std::size_t s = 0; s < per_user; ++s) {
    for (std::size_t k = 0; k < users; ++k) {
      if (!socks[k])
        continue;
      if (o.rate > 0)
        std::this_thread::sleep_until(
          start
          + std::chrono::duration_cast<clock_type::duration>(
            std::chrono::duration<double>(pushed / o.rate)));
      auto slot = k * per_user + s;
      {
        std::lock_guard<std::mutex> guard{mtx};
        slots[slot].sent_ns = now_ns();
      }
      socks[k]->send_text(push_frame(
        join_refs[k], std::to_string(ref_base + s), topics[k], "timers:start",
        "{\"duration\":" + std::to_string(timer_duration) + ",\"label\":\"b"
          + std::to_string(s) + "\"}"));
      ++pushed;
    }
  }
  {
    auto t0 = clock_type::now();
    while (settled.load() < pushed && clock_type::now() - t0 < 60s)
      std::this_thread::sleep_for(10ms);
  }
  auto settled_ns = now_ns();
  ctx.sync("ticking", ctx.settle());

  ctx.progress("ticking, watched, " + format_number(o.duration) + " s");
  auto busy0 = machine_busy_jiffies();
  auto w0 = now_ns();
  measuring = true;
  wait_s(o.duration);
  measuring = false;
  auto w1 = now_ns();
  auto busy1 = machine_busy_jiffies();
  double load1 = loadavg_1min();
  ctx.sync("watched", 0ms);

  ctx.progress("closing the sockets; ticking unwatched, "
               + format_number(o.duration) + " s");
  closing = true;
  for (auto& s : socks)
    if (s)
      s->close(1000);
  for (auto& s : socks)
    if (s)
      s->closed_code(5s);
  ctx.sync("closed", 1000ms);
  auto busy2 = machine_busy_jiffies();
  wait_s(o.duration);
  auto busy3 = machine_busy_jiffies();
  double load3 = loadavg_1min();
  ctx.sync("unwatched", 0ms);

  // u0 comes back: its timers must all still be running.
  std::size_t u0_running = 0;
  if (users > 0) {
    auto co = base_options(o);
    co.query = "vsn=2.0.0&token=" + app_session(o, "u0");
    auto r = client::connect(cctx, co);
    if (r) {
      auto ref = r.client->join("timers:u0");
      auto reply = r.client->wait_reply(ref, 10s);
      if (reply && client::status_of(*reply) == "ok") {
        auto& timers = reply->payload.object()
                         .at("response")
                         .as_object()
                         .at("timers")
                         .as_array();
        for (auto& t : timers)
          if (t.as_object().at("status").as_string() == "running")
            ++u0_running;
      }
      r.client->close(1000);
      r.client->closed_code(2s);
    }
  }

  for (auto& s : socks)  // silences their callbacks before `mtx` and co. go
    s.reset();

  result r;
  std::lock_guard<std::mutex> guard{mtx};
  r.set("users", static_cast<double>(users));
  r.set("join_failures", static_cast<double>(join_failures));
  r.set("timers", static_cast<double>(total));
  r.set("timers_started", static_cast<double>(c.acked));
  r.set("start_errors", static_cast<double>(c.start_errors));
  r.set("started_broadcasts", static_cast<double>(c.started_broadcasts));
  double start_s = seconds_between(static_cast<double>(start_ns),
                                   static_cast<double>(settled_ns));
  r.set("start_s", start_s, "s");
  if (start_s > 0)
    r.set("starts_per_s", static_cast<double>(c.acked) / start_s, "/s");
  double window =
    seconds_between(static_cast<double>(w0), static_cast<double>(w1));
  r.set("watched_s", window, "s");
  r.set("ticks_watched", static_cast<double>(c.ticks_window));
  r.set("ticks_expected", static_cast<double>(c.acked) * window);
  if (window > 0)
    r.set("ticks_per_s", static_cast<double>(c.ticks_window) / window, "/s");
  r.set("ticks_total", static_cast<double>(c.ticks));
  r.set("tick_gaps", static_cast<double>(c.tick_gaps));
  r.set("tick_duplicates", static_cast<double>(c.tick_dups));
  r.set("ticks_unknown", static_cast<double>(c.ticks_unknown));
  r.set("completed", static_cast<double>(c.completed));
  r.set("disconnects", static_cast<double>(disconnects.load()));
  r.set("u0_running_after", static_cast<double>(u0_running));
  r.set("per_user", static_cast<double>(per_user));
  if (auto b = busy_cores_between(busy0, busy1); b >= 0)
    r.set("machine_busy_cores_watched", b, "cores");
  if (auto b = busy_cores_between(busy2, busy3); b >= 0)
    r.set("machine_busy_cores_unwatched", b, "cores");
  r.set("loadavg_1min_watched", load1);
  r.set("loadavg_1min_unwatched", load3);
  r.hist("tick_lateness") = lateness;
  r.hist("start_rtt") = start_rtt;
  return r;
}

void finish_app_timer(result& r, const options& o) {
  auto timers = r.value("timers_started");
  if (auto util = server_cpu_util(r, "joined", "idle"); util >= 0)
    r.set("server_cpu_util_idle", util, "% of one core");
  for (auto [from, to, name] :
       {std::tuple{"ticking", "watched", "watched"},
        std::tuple{"closed", "unwatched", "unwatched"}}) {
    auto util = server_cpu_util(r, from, to);
    if (util < 0)
      continue;
    r.set(std::string{"server_cpu_util_"} + name, util, "% of one core");
    if (timers > 0)  // one tick per timer per second
      r.set(std::string{"server_cpu_per_tick_us_"} + name,
            util / 100.0 * 1e6 / timers, "us");
    auto* a = r.snapshot(from);
    auto* b = r.snapshot(to);
    if (a->ctx_switches >= 0 && b->ctx_switches >= 0 && b->t_ns > a->t_ns)
      r.set(std::string{"server_ctx_switches_per_s_"} + name,
            static_cast<double>(b->ctx_switches - a->ctx_switches) * 1e9
              / static_cast<double>(b->t_ns - a->t_ns),
            "/s");
  }
  r.set("passed", passed_app_timer(r) ? 1 : 0);
  for (auto phase : {"start", "joined", "ticking", "watched", "unwatched"})
    if (auto* s = r.snapshot(phase); s && s->rss_kib >= 0)
      r.set(std::string{"server_rss_"} + phase, static_cast<double>(s->rss_kib),
            "KiB");
  auto* j = r.snapshot("joined");
  auto* t = r.snapshot("ticking");
  if (j && t && j->rss_kib >= 0 && t->rss_kib >= 0 && timers > 0)
    r.set("server_rss_per_timer",
          static_cast<double>(t->rss_kib - j->rss_kib) * 1024.0 / timers,
          "bytes");
  (void)o;
}

bool passed_app_timer(const result& r) {
  return r.value("join_failures") == 0 && r.value("timers") > 0
         && r.value("timers_started") == r.value("timers")
         && r.value("start_errors") == 0 && r.value("ticks_watched") > 0
         && r.value("tick_gaps") == 0 && r.value("tick_duplicates") == 0
         && r.value("ticks_unknown") == 0 && r.value("completed") == 0
         && r.value("disconnects") == 0
         && r.value("u0_running_after") == r.value("per_user");
}

}  // namespace fenix::bench
