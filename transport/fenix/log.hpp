/// fenix's logger: every message the library writes goes through it.
///
///   fenix::log::set_level(fenix::log_level::warning);   // default: info
///   fenix::log::set_sink([](fenix::log_level lv, std::string_view msg) {
///     my_logger.write(to_string(lv), msg);               // route anywhere
///   });
///   fenix::log::warning("closing ", peer, ": too slow");
///   fenix::log::limited(fenix::log_level::warning, "unmatched topic",
///                       "ignoring unmatched topic ", topic);
///
/// The default sink writes `fenix: <message>` lines to stderr. Sinks are
/// called from any thread (io threads, CAF workers), one call at a time;
/// a sink must not block for long and must not call back into the logger.
///
/// Messages a peer can cause (a bad frame, an unknown topic, a refused
/// connect) go through `limited`: per category, at most
/// `limited_burst` (5) lines every `limited_interval` (10 s); the rest are
/// counted and reported in one "N similar messages suppressed" line when
/// the category may speak again. So a client cannot flood the log. Both
/// bounds can be changed with set_limits.
#pragma once

#include <chrono>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>

namespace fenix {

enum class log_level { debug = 0, info, warning, error, off };

/// "debug", "info", "warning", "error", "off".
const char* to_string(log_level lv);

/// Parses the names above (also "warn"); false if `name` is none of them.
bool parse_log_level(std::string_view name, log_level& out);

using log_sink = std::function<void(log_level, std::string_view message)>;

namespace log {

constexpr int limited_burst = 5;
constexpr std::chrono::seconds limited_interval{10};

/// Messages below `lv` are discarded (cheaply: check `enabled` first).
void set_level(log_level lv);
log_level level();
bool enabled(log_level lv);

/// Replaces the sink; an empty function restores the stderr sink.
void set_sink(log_sink sink);

/// Sets the rate limit of `limited`: at most `burst` lines per category
/// every `interval` (defaults: limited_burst, limited_interval), and
/// starts every category afresh (suppression counts are dropped).
void set_limits(int burst, std::chrono::milliseconds interval);

/// Writes one message (no trailing newline needed).
void write(log_level lv, std::string_view message);

/// Takes one line of `category`'s budget (see top): false when it is used
/// up (the line is then counted as suppressed). When the budget comes back
/// after a suppression, it first writes the "N similar messages" line.
bool admit_limited(log_level lv, std::string_view category);

template <class... Ts>
std::string concat(const Ts&... xs) {
  std::ostringstream out;
  (out << ... << xs);
  return std::move(out).str();
}

template <class... Ts>
void debug(const Ts&... xs) {
  if (enabled(log_level::debug))
    write(log_level::debug, concat(xs...));
}

template <class... Ts>
void info(const Ts&... xs) {
  if (enabled(log_level::info))
    write(log_level::info, concat(xs...));
}

template <class... Ts>
void warning(const Ts&... xs) {
  if (enabled(log_level::warning))
    write(log_level::warning, concat(xs...));
}

template <class... Ts>
void error(const Ts&... xs) {
  if (enabled(log_level::error))
    write(log_level::error, concat(xs...));
}

/// Rate-limited per `category` (a fixed string naming the kind of event).
template <class... Ts>
void limited(log_level lv, std::string_view category, const Ts&... xs) {
  // The message is only formatted when it will be written: a flood of
  // suppressed lines costs a lookup each, not a string.
  if (enabled(lv) && admit_limited(lv, category))
    write(lv, concat(xs...));
}

}  // namespace log

}  // namespace fenix
