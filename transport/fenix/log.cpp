#include "fenix/log.hpp"

#include <atomic>
#include <iostream>
#include <map>
#include <mutex>

namespace fenix {

namespace {

struct bucket {
  std::chrono::steady_clock::time_point window_start;
  int used = 0;
  std::uint64_t suppressed = 0;
};

// The one process-wide logger (a sink is process state, like stderr).
struct logger_state {
  std::atomic<int> level{static_cast<int>(log_level::info)};
  std::mutex mtx;  // guards sink and buckets; held while the sink runs
  log_sink sink;
  std::map<std::string, bucket, std::less<>> buckets;
  int burst = log::limited_burst;
  std::chrono::steady_clock::duration interval = log::limited_interval;
};

logger_state& state() {
  static logger_state st;
  return st;
}

// Categories are fixed strings in fenix's code; the cap only guards
// against a caller that builds them from input.
constexpr std::size_t max_categories = 256;

void emit(logger_state& st, log_level lv, std::string_view message) {
  if (st.sink) {
    st.sink(lv, message);
    return;
  }
  std::string line = "fenix: ";
  line.append(message);
  line += '\n';
  std::cerr << line << std::flush;
}

}  // namespace

const char* to_string(log_level lv) {
  switch (lv) {
  case log_level::debug:
    return "debug";
  case log_level::info:
    return "info";
  case log_level::warning:
    return "warning";
  case log_level::error:
    return "error";
  default:
    return "off";
  }
}

bool parse_log_level(std::string_view name, log_level& out) {
  static constexpr std::pair<const char*, log_level> names[] = {
    {"debug", log_level::debug},     {"info", log_level::info},
    {"warning", log_level::warning}, {"warn", log_level::warning},
    {"error", log_level::error},     {"off", log_level::off},
  };
  for (auto& [n, lv] : names)
    if (name == n) {
      out = lv;
      return true;
    }
  return false;
}

namespace log {

void set_level(log_level lv) {
  state().level.store(static_cast<int>(lv));
}

log_level level() {
  return static_cast<log_level>(state().level.load());
}

bool enabled(log_level lv) {
  return lv != log_level::off
         && static_cast<int>(lv)
              >= state().level.load(std::memory_order_relaxed);
}

void set_sink(log_sink sink) {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mtx};
  st.sink = std::move(sink);
}

void set_limits(int burst, std::chrono::milliseconds interval) {
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mtx};
  st.burst = burst;
  st.interval = interval;
  st.buckets.clear();
}

void write(log_level lv, std::string_view message) {
  if (!enabled(lv))
    return;
  auto& st = state();
  std::lock_guard<std::mutex> guard{st.mtx};
  emit(st, lv, message);
}

bool admit_limited(log_level lv, std::string_view category) {
  auto& st = state();
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> guard{st.mtx};
  auto i = st.buckets.find(category);
  if (i == st.buckets.end()) {
    if (st.buckets.size() >= max_categories)
      category = "(other)";
    auto [j, fresh] = st.buckets.try_emplace(std::string{category});
    if (fresh)  // "(other)" keeps its window: it must expire as any other
      j->second.window_start = now;
    i = j;
  }
  auto& b = i->second;
  if (now - b.window_start >= st.interval) {
    if (b.suppressed > 0)
      emit(st, lv,
           concat(b.suppressed, " similar \"", i->first,
                  "\" messages suppressed in the last ",
                  std::chrono::duration_cast<std::chrono::seconds>(
                    now - b.window_start)
                    .count(),
                  " s"));
    b = bucket{now, 0, 0};
  }
  if (b.used < st.burst) {
    ++b.used;
    return true;
  }
  ++b.suppressed;
  return false;
}

}  // namespace log

}  // namespace fenix
