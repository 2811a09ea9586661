#include "bench/senders.hpp"

#include <algorithm>
#include <thread>

#include "bench/server_probe.hpp"
#include "bench/wire.hpp"

namespace fenix::bench {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto tick_every = 25s;

}  // namespace

senders::senders(std::string topic, std::string event,
                 std::size_t payload_bytes)
  : topic_(std::move(topic)),
    event_(std::move(event)),
    payload_bytes_(payload_bytes) {}

std::size_t senders::add(client::ws_client* client, std::string join_ref,
                         std::uint64_t id) {
  auto s = std::make_unique<sender>();
  s->client = client;
  s->join_ref = std::move(join_ref);
  s->id = id;
  list_.push_back(std::move(s));
  return list_.size() - 1;
}

std::uint64_t senders::total_sent() const {
  std::uint64_t n = 0;
  for (auto& s : list_)
    n += s->sent.load();
  return n;
}

void senders::send(sender& s) {
  std::lock_guard<std::mutex> guard{s.mtx};
  auto seq = s.sent.load();
  auto t = now_ns();
  std::int64_t expected = 0;
  first_send_ns_.compare_exchange_strong(expected, t);
  auto ref = std::to_string(seq + 2);  // "1" was the join
  s.client->send_text(push_frame(s.join_ref, ref, topic_, event_,
                                 bench_payload(s.id, seq, t, payload_bytes_)));
  s.sent.store(seq + 1);
}

bool senders::all_sent(std::uint64_t count) const {
  for (auto& s : list_)
    if (s->sent.load() < count)
      return false;
  return true;
}

void senders::run_paced(double rate, time_point deadline, std::uint64_t count,
                        const std::function<void()>& tick) {
  if (list_.empty() || rate <= 0) {
    // Nothing to send here (e.g. a worker with only subscribers): wait.
    while (clock_type::now() < deadline && count == 0) {
      std::this_thread::sleep_for(std::min<clock_type::duration>(
        tick_every, deadline - clock_type::now()));
      if (clock_type::now() < deadline)
        tick();
    }
    return;
  }
  auto start = clock_type::now();
  auto interval = std::chrono::duration_cast<clock_type::duration>(
    std::chrono::duration<double>(1.0 / rate));
  std::vector<time_point> next(list_.size());
  for (std::size_t k = 0; k < list_.size(); ++k)  // staggered evenly
    next[k] =
      start + interval * static_cast<long>(k) / static_cast<long>(list_.size());
  auto next_tick = start + tick_every;
  for (;;) {
    if (count > 0 ? all_sent(count) : clock_type::now() >= deadline)
      return;
    if (count > 0 && clock_type::now() >= deadline)
      return;  // count mode still ends at the deadline
    auto due = *std::min_element(next.begin(), next.end());
    std::this_thread::sleep_until(std::min(due, deadline));
    auto now = clock_type::now();
    for (std::size_t k = 0; k < list_.size(); ++k)
      while (next[k] <= now && (count == 0 || list_[k]->sent < count)) {
        lag_.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - next[k])
            .count()));
        send(*list_[k]);
        next[k] += interval;
      }
    if (now >= next_tick) {
      tick();
      next_tick += tick_every;
    }
  }
}

void senders::start_closed_loop(std::size_t window, std::uint64_t count) {
  count_ = count;
  running_ = true;
  for (auto& s : list_)
    for (std::size_t i = 0; i < window && (count == 0 || s->sent < count); ++i)
      send(*s);
}

void senders::acked(std::size_t k) {
  auto& s = *list_[k];
  if (running_ && (count_ == 0 || s.sent.load() < count_))
    send(s);
}

void senders::wait_closed_loop(time_point deadline,
                               const std::function<void()>& tick) {
  auto next_tick = clock_type::now() + tick_every;
  while (clock_type::now() < deadline) {
    if (count_ > 0 && all_sent(count_))
      break;
    std::this_thread::sleep_for(5ms);
    if (clock_type::now() >= next_tick) {
      tick();
      next_tick += tick_every;
    }
  }
  running_ = false;
}

}  // namespace fenix::bench
