// app-chat: the real fenix-chat (../shared/docs/apps.md) under load.
//
// N members u0..uN-1, each with a JWT from POST /api/session, join one
// room (--topic, room:bench); the first P of them push `new_msg`
// {"body":"P S T xxx..."} (publisher, sequence number, steady-clock send
// time, padded to --payload bytes), paced at --rate per publisher or in a
// closed loop of --window each (the next push when the publisher sees its
// own broadcast). Every member checks each broadcast's sequence (losses,
// duplicates, order) and records push-to-receipt latency; publishers keep
// the ids of their ok replies. After the drain a fresh user joins and
// checks the join reply's history: the last 50 messages, every one an
// acknowledged id, the latest acknowledged ones among them. `--ids FILE`
// writes every acknowledged id, one a line, for a check against the
// database (bench/run-apps.sh does it with sqlite3).
//
// Phases: "start" (before any client: RSS), "go" (all joined and presence
// quiet: RSS, server CPU starts), "done" (drained).

#include <algorithm>
#include <charconv>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "bench/client_pool.hpp"
#include "bench/delivery_log.hpp"
#include "bench/runner.hpp"
#include "bench/scenario.hpp"
#include "bench/server_probe.hpp"

namespace fenix::bench {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::size_t history_size = 50;  // apps.md: the last 50
constexpr auto heartbeat_every = 20s;

struct publisher {
  client::ws_client* client = nullptr;
  std::string join_ref;
  std::uint64_t id = 0;  // global publisher index = pool index
  std::mutex mtx;        // send order = sequence order; guards sent_ns
  std::atomic<std::uint64_t> sent{0};
  std::deque<std::int64_t> sent_ns;  // by sequence number
  // io thread only:
  std::vector<std::string> ids;  // acknowledged, in reply order
  std::uint64_t errors = 0;
};

// "P S T xxx" -> P, S, T.
bool parse_body(std::string_view payload, std::uint64_t& p, std::uint64_t& s,
                std::int64_t& t) {
  constexpr std::string_view key = "\"body\":\"";
  auto at = payload.find(key);
  if (at == std::string_view::npos)
    return false;
  const char* c = payload.data() + at + key.size();
  const char* end = payload.data() + payload.size();
  auto r1 = std::from_chars(c, end, p);
  if (r1.ec != std::errc{} || r1.ptr == end || *r1.ptr != ' ')
    return false;
  auto r2 = std::from_chars(r1.ptr + 1, end, s);
  if (r2.ec != std::errc{} || r2.ptr == end || *r2.ptr != ' ')
    return false;
  auto r3 = std::from_chars(r2.ptr + 1, end, t);
  return r3.ec == std::errc{};
}

// The string after `"key":"` (no escapes in ids), or empty.
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

std::string chat_frame(const std::string& join_ref, std::uint64_t seq,
                       const std::string& topic, std::uint64_t pub,
                       std::int64_t t, std::size_t size) {
  std::string body = std::to_string(pub) + ' ' + std::to_string(seq) + ' '
                     + std::to_string(t) + ' ';
  if (body.size() < size)
    body.append(size - body.size(), 'x');
  else
    body += 'x';
  return push_frame(join_ref, std::to_string(seq + 2), topic, "new_msg",
                    "{\"body\":\"" + body + "\"}");
}

void send_next(publisher& p, const options& o) {
  std::lock_guard<std::mutex> guard{p.mtx};
  auto seq = p.sent.load();
  auto t = now_ns();
  p.sent_ns.push_back(t);
  p.client->send_text(chat_frame(p.join_ref, seq, o.topic, p.id, t, o.payload));
  p.sent.store(seq + 1);
}

// The join reply's message ids of a fresh member `user`, or an error.
std::vector<std::string> history_of(const options& o, const std::string& user,
                                    std::string& error) {
  std::vector<std::string> ids;
  client::client_context cctx{1};
  auto co = base_options(o);
  co.query = "vsn=2.0.0&token=" + app_session(o, user);
  auto r = client::connect(cctx, co);
  if (!r) {
    error = "connect: " + r.error;
    return ids;
  }
  auto ref = r.client->join(o.topic);
  auto reply = r.client->wait_reply(ref, 10s);
  if (!reply || client::status_of(*reply) != "ok") {
    error = "join failed";
    return ids;
  }
  auto& resp = reply->payload.object().at("response").as_object();
  for (auto& m : resp.at("messages").as_array())
    ids.emplace_back(m.as_object().at("id").as_string());
  r.client->close(1000);
  r.client->closed_code(2s);
  return ids;
}

}  // namespace

result run_app_chat(run_context& ctx) {
  auto& o = ctx.opts;
  if (ctx.workers > 1)
    throw std::invalid_argument("app-chat runs in one process (no --workers)");
  const std::size_t n = o.clients;
  const std::size_t np = std::min(o.publishers, n);
  bool closed_loop = o.rate <= 0;
  ctx.sync("start", 0ms);

  ctx.progress("sessions for " + std::to_string(n) + " users");
  std::vector<std::string> tokens(n);
  for (std::size_t i = 0; i < n; ++i)
    tokens[i] = app_session(o, "u" + std::to_string(i));

  client::client_context cctx{1};
  client_pool pool{cctx, base_options(o)};
  delivery_log log{n, np};
  std::mutex mtx;  // guards log and reply_rtt
  histogram reply_rtt;
  std::vector<std::unique_ptr<publisher>> pubs;
  for (std::size_t k = 0; k < np; ++k) {
    pubs.push_back(std::make_unique<publisher>());
    pubs.back()->id = k;
  }
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> replies{0};
  std::atomic<std::uint64_t> other_frames{0};
  std::atomic<std::uint64_t> other_bytes{0};
  std::atomic<std::int64_t> last_frame_ns{0};
  std::atomic<std::int64_t> last_other_ns{now_ns()};
  std::atomic<bool> sending{false};
  std::atomic<bool> publishers_ready{false};

  auto on_frame = [&](std::size_t i, std::string_view data,
                      const frame_head& h) {
    auto now = now_ns();
    if (h.event == "new_msg") {
      last_frame_ns.store(now, std::memory_order_relaxed);
      std::uint64_t p = 0, s = 0;
      std::int64_t t = 0;
      if (!parse_body(h.payload, p, s, t))
        return;
      {
        std::lock_guard<std::mutex> guard{mtx};
        log.record(i, p, s, t, now);
        received.store(log.delivered(), std::memory_order_relaxed);
      }
      if (closed_loop && i < np && p == i && sending.load())
        if (o.count == 0 || pubs[i]->sent.load() < o.count)
          send_next(*pubs[i], o);
      return;
    }
    if (h.event == "phx_reply" && i < np && publishers_ready.load()) {
      auto& pub = *pubs[i];
      std::uint64_t seq = 0;
      auto [ptr, ec] =
        std::from_chars(h.ref.data(), h.ref.data() + h.ref.size(), seq);
      if (ec != std::errc{} || seq < 2)
        return;  // not one of ours
      seq -= 2;
      if (h.payload.find("\"status\":\"ok\"") != std::string_view::npos) {
        auto id = find_string(h.payload, "id");
        if (!id.empty())
          pub.ids.emplace_back(id);
        else
          ++pub.errors;
      } else {
        ++pub.errors;
      }
      std::int64_t sent = 0;
      {
        std::lock_guard<std::mutex> guard{pub.mtx};
        if (seq < pub.sent_ns.size())
          sent = pub.sent_ns[seq];
      }
      if (sent != 0) {
        std::lock_guard<std::mutex> guard{mtx};
        reply_rtt.record(static_cast<std::uint64_t>(now - sent));
      }
      replies.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // presence_state, presence_diff: the join phase's traffic.
    other_frames.fetch_add(1, std::memory_order_relaxed);
    other_bytes.fetch_add(data.size(), std::memory_order_relaxed);
    last_other_ns.store(now, std::memory_order_relaxed);
  };

  client_pool::spec spec;
  spec.count = n;
  spec.rate = o.connect_rate;
  spec.inflight = std::max<std::size_t>(1, o.inflight);
  spec.topic = o.topic;
  spec.query = [&](std::size_t i) { return "vsn=2.0.0&token=" + tokens[i]; };
  ctx.progress("joining " + std::to_string(n) + " members to " + o.topic);
  auto join_start = now_ns();
  auto rep = pool.open(spec, on_frame);
  auto joined_ns = now_ns();
  std::size_t members = rep.joined;
  // Presence: wait until no presence frame came for a second (at most 60 s).
  while (now_ns() - last_other_ns.load() < 1'000'000'000
         && now_ns() - joined_ns < 60'000'000'000)
    std::this_thread::sleep_for(50ms);
  auto presence_quiet_ns = last_other_ns.load();
  std::uint64_t join_frames = other_frames.load();
  std::uint64_t join_bytes = other_bytes.load();
  std::size_t active = 0;
  for (std::size_t k = 0; k < np; ++k) {
    pubs[k]->client = pool.client(k);
    pubs[k]->join_ref = pool.join_ref(k);
    if (pubs[k]->client)
      ++active;
  }
  publishers_ready = true;
  auto metrics0 = app_metrics(o);
  ctx.sync("go", ctx.settle());

  ctx.progress("publishing (" + std::to_string(active) + " publishers)");
  auto cpu0 = self_cpu_seconds();
  auto busy0 = machine_busy_jiffies();
  auto start = clock_type::now();
  auto start_ns = now_ns();
  auto deadline =
    start
    + std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double>(o.count > 0 ? 120 : o.duration));
  auto next_heartbeat = start + heartbeat_every;
  auto all_sent = [&] {
    if (o.count == 0)
      return false;
    for (auto& p : pubs)
      if (p->client && p->sent.load() < o.count)
        return false;
    return true;
  };
  sending = true;
  if (closed_loop) {
    for (auto& p : pubs)
      for (std::size_t w = 0; p->client && w < o.window; ++w)
        if (o.count == 0 || p->sent.load() < o.count)
          send_next(*p, o);
    while (clock_type::now() < deadline && !all_sent()) {
      std::this_thread::sleep_for(5ms);
      if (clock_type::now() >= next_heartbeat) {
        pool.heartbeat_all();
        next_heartbeat += heartbeat_every;
      }
    }
  } else {
    auto interval = std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double>(1.0 / o.rate));
    std::vector<clock_type::time_point> next(np);
    for (std::size_t k = 0; k < np; ++k)
      next[k] = start + interval * static_cast<long>(k) / static_cast<long>(np);
    while (clock_type::now() < deadline && !all_sent() && np > 0) {
      auto due = *std::min_element(next.begin(), next.end());
      std::this_thread::sleep_until(std::min(due, deadline));
      auto now = clock_type::now();
      if (now >= deadline)
        break;
      for (std::size_t k = 0; k < np; ++k)
        while (next[k] <= now) {
          if (pubs[k]->client
              && (o.count == 0 || pubs[k]->sent.load() < o.count))
            send_next(*pubs[k], o);
          next[k] += interval;
        }
      if (now >= next_heartbeat) {
        pool.heartbeat_all();
        next_heartbeat += heartbeat_every;
      }
    }
  }
  sending = false;
  auto publish_end = now_ns();
  std::uint64_t published = 0;
  for (auto& p : pubs)
    published += p->sent.load();
  // Drain: every broadcast to every member and every reply, or nothing
  // for a second, at most 30 s.
  std::uint64_t expected = published * members;
  {
    auto t0 = now_ns();
    for (;;) {
      if (received.load() >= expected && replies.load() >= published)
        break;
      auto now = now_ns();
      auto quiet = std::max(t0, last_frame_ns.load());
      if (now - quiet > 1'000'000'000 || now - t0 > 30'000'000'000)
        break;
      std::this_thread::sleep_for(10ms);
    }
  }
  auto busy1 = machine_busy_jiffies();
  auto client_cpu = self_cpu_seconds() - cpu0;
  ctx.sync("done", 0ms);
  auto metrics1 = app_metrics(o);

  result r;
  r.set("members", static_cast<double>(members));
  r.set("join_failures", static_cast<double>(rep.failed));
  r.set("join_s",
        seconds_between(static_cast<double>(join_start),
                        static_cast<double>(joined_ns)),
        "s");
  r.set("presence_quiet_s",
        seconds_between(static_cast<double>(join_start),
                        static_cast<double>(presence_quiet_ns)),
        "s");
  r.set("presence_frames", static_cast<double>(join_frames));
  r.set("presence_mib", static_cast<double>(join_bytes) / 1048576.0, "MiB");
  r.set("publishers", static_cast<double>(active));
  r.set("published", static_cast<double>(published));
  std::vector<std::string> acked;
  std::uint64_t reply_errors = 0;
  for (auto& p : pubs) {
    acked.insert(acked.end(), p->ids.begin(), p->ids.end());
    reply_errors += p->errors;
  }
  r.set("acknowledged", static_cast<double>(acked.size()));
  r.set("reply_errors", static_cast<double>(reply_errors));
  {
    std::lock_guard<std::mutex> guard{mtx};
    r.set("expected", static_cast<double>(expected));
    r.set("delivered", static_cast<double>(log.delivered()));
    r.set("duplicates", static_cast<double>(log.duplicates()));
    r.set("reordered", static_cast<double>(log.reordered()));
    r.set("t_first_send_ns", static_cast<double>(start_ns), "ns",
          merge_rule::min);
    r.set("t_last_receipt_ns", static_cast<double>(log.last_receipt_ns()), "ns",
          merge_rule::max);
    r.set("t_publish_end_ns", static_cast<double>(publish_end), "ns",
          merge_rule::max);
    r.hist("latency") = log.latency();
    r.hist("reply_rtt") = reply_rtt;
  }
  r.set("client_cpu_s", client_cpu, "s");
  auto busy = busy_cores_between(busy0, busy1);
  if (busy >= 0)
    r.set("machine_busy_cores", busy, "cores");
  auto metric_delta = [&](const std::string& name) {
    double a = -1, b = -1;
    for (auto& [k, v] : metrics0)
      if (k == name)
        a = v;
    for (auto& [k, v] : metrics1)
      if (k == name)
        b = v;
    return a >= 0 && b >= 0 ? b - a : -1.0;
  };
  if (auto d = metric_delta("fenix_messages_out_total"); d >= 0)
    r.set("server_frames_out", d);
  if (auto d = metric_delta("fenix_broadcasts_total"); d >= 0)
    r.set("server_broadcasts", d);
  if (auto d = metric_delta("fenix_dropped_frames_total"); d >= 0)
    r.set("server_dropped_frames", d);
  if (auto d = metric_delta("fenix_slow_closes_total"); d >= 0)
    r.set("server_slow_closes", d);
  r.set("disconnects", static_cast<double>(pool.disconnects()));

  // The history a new member sees.
  std::string error;
  auto history =
    history_of(o, "checker" + std::to_string(::getpid() % 100000), error);
  std::unordered_set<std::string> acked_set(acked.begin(), acked.end());
  std::size_t unacked = 0;
  for (auto& id : history)
    if (!acked_set.count(id))
      ++unacked;
  std::unordered_set<std::string> in_history(history.begin(), history.end());
  std::size_t latest_missing = 0;
  // The latest acknowledged of each publisher (reply order is store order
  // per publisher): 2 each with 10 publishers, half the history in all, so
  // that publishers a little ahead of the others do not push them out.
  std::size_t per_pub = np > 0 && 2 * np <= history_size
                          ? std::min<std::size_t>(history_size / (2 * np), 10)
                          : 0;
  for (auto& p : pubs)
    for (std::size_t j = 0; j < std::min(per_pub, p->ids.size()); ++j)
      if (!in_history.count(p->ids[p->ids.size() - 1 - j]))
        ++latest_missing;
  r.set("history_messages", static_cast<double>(history.size()));
  r.set("history_expected",
        static_cast<double>(std::min(history_size, acked.size())));
  r.set("history_unacknowledged", static_cast<double>(unacked));
  r.set("history_latest_missing", static_cast<double>(latest_missing));
  if (!error.empty())
    ctx.progress("history check: " + error);

  if (!o.ids_file.empty()) {
    std::ofstream out{o.ids_file};
    for (auto& id : acked)
      out << id << '\n';
    if (!out)
      throw std::runtime_error("cannot write " + o.ids_file);
  }
  pool.close_all(10s);
  return r;
}

void finish_app_chat(result& r, const options& o) {
  auto delivered = r.value("delivered");
  r.set("lost", std::max(0.0, r.value("expected") - delivered));
  auto first = r.value("t_first_send_ns");
  auto last = r.value("t_last_receipt_ns");
  auto window = seconds_between(first, last);
  if (window > 0 && r.value("members") > 0) {
    r.set("messages_per_s", delivered / r.value("members") / window, "/s");
    r.set("deliveries_per_s", delivered / window, "/s");
  }
  auto pub_window = seconds_between(first, r.value("t_publish_end_ns"));
  if (pub_window > 0)
    r.set("push_rate", r.value("published") / pub_window, "/s");
  add_server_cost(r, "go", "done", r.value("published"), "message_us");
  if (auto* a = r.snapshot("go"); a && a->rss_kib >= 0)
    if (auto* s = r.snapshot("start");
        s && s->rss_kib >= 0 && r.value("members") > 0)
      r.set("server_rss_per_member",
            static_cast<double>(a->rss_kib - s->rss_kib) / r.value("members"),
            "KiB");
  auto* g = r.snapshot("go");
  auto* d = r.snapshot("done");
  if (g && d) {
    double wall = seconds_between(static_cast<double>(g->t_ns),
                                  static_cast<double>(d->t_ns));
    if (wall > 0)
      r.set("client_cpu_util", 100.0 * r.value("client_cpu_s") / wall,
            "% of one core");
  }
  for (auto name : {"t_first_send_ns", "t_last_receipt_ns", "t_publish_end_ns"})
    r.erase(name);
  r.set("passed", passed_app_chat(r) ? 1 : 0);
  (void)o;
}

bool passed_app_chat(const result& r) {
  return r.value("join_failures") == 0 && r.value("published") > 0
         && r.value("lost") == 0 && r.value("duplicates") == 0
         && r.value("reordered") == 0 && r.value("reply_errors") == 0
         && r.value("acknowledged") == r.value("published")
         && r.value("disconnects") == 0
         && r.value("history_messages") == r.value("history_expected")
         && r.value("history_unacknowledged") == 0
         && r.value("history_latest_missing") == 0;
}

}  // namespace fenix::bench
