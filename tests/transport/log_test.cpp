// fenix's logger (transport/fenix/log.hpp): levels, the sink, and the rate
// limit on messages a peer can cause.

#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fenix/log.hpp"

using namespace std::chrono_literals;

namespace {

// Captures what reaches the sink; restores the defaults when done.
struct captured {
  std::mutex mtx;
  std::vector<std::pair<fenix::log_level, std::string>> lines;

  captured() {
    fenix::log::set_sink([this](fenix::log_level lv, std::string_view m) {
      std::lock_guard<std::mutex> guard{mtx};
      lines.emplace_back(lv, std::string{m});
    });
  }
  ~captured() {
    fenix::log::set_sink({});
    fenix::log::set_level(fenix::log_level::info);
    fenix::log::set_limits(fenix::log::limited_burst,
                           fenix::log::limited_interval);
  }
  std::size_t size() {
    std::lock_guard<std::mutex> guard{mtx};
    return lines.size();
  }
};

}  // namespace

TEST_CASE("levels filter before the sink", "[log]") {
  captured c;
  fenix::log::set_level(fenix::log_level::warning);
  fenix::log::info("not shown");
  fenix::log::debug("not shown");
  fenix::log::warning("shown ", 1);
  fenix::log::error("shown ", 2);
  REQUIRE(c.size() == 2);
  CHECK(c.lines[0]
        == std::make_pair(fenix::log_level::warning, std::string{"shown 1"}));
  CHECK(c.lines[1].first == fenix::log_level::error);
  fenix::log::set_level(fenix::log_level::off);
  fenix::log::error("silenced");
  CHECK(c.size() == 2);
  fenix::log_level lv;
  CHECK(fenix::parse_log_level("warn", lv));
  CHECK(lv == fenix::log_level::warning);
  CHECK_FALSE(fenix::parse_log_level("loud", lv));
}

TEST_CASE("limited: a burst per category, then one suppression line", "[log]") {
  captured c;
  fenix::log::set_limits(3, 200ms);
  for (int i = 0; i < 10; ++i)
    fenix::log::limited(fenix::log_level::warning, "bad frame", "bad frame ",
                        i);
  // Another category has its own budget.
  fenix::log::limited(fenix::log_level::warning, "unknown topic", "topic");
  REQUIRE(c.size() == 4);
  CHECK(c.lines[2].second == "bad frame 2");
  CHECK(c.lines[3].second == "topic");
  // Once the window is over, the count of suppressed lines comes first.
  std::this_thread::sleep_for(250ms);
  fenix::log::limited(fenix::log_level::warning, "bad frame", "bad frame ", 10);
  REQUIRE(c.size() == 6);
  CHECK(
    c.lines[4].second.rfind("7 similar \"bad frame\" messages suppressed", 0)
    == 0);
  CHECK(c.lines[5].second == "bad frame 10");
}

TEST_CASE("limited: categories past the cap share one bucket that still "
          "expires",
          "[log]") {
  captured c;
  fenix::log::set_limits(2, 200ms);
  // More categories than the cap (256): the rest land in "(other)".
  for (int i = 0; i < 300; ++i)
    fenix::log::limited(fenix::log_level::warning, "cat " + std::to_string(i),
                        "line ", i);
  auto before = c.size();
  CHECK(before == 256 + 2);
  std::this_thread::sleep_for(250ms);
  // New categories keep arriving, and "(other)" may speak again.
  fenix::log::limited(fenix::log_level::warning, "cat 1000", "late");
  REQUIRE(c.size() > before);
  CHECK(c.lines.back().second == "late");
}
