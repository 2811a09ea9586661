/// Timers in SQLite, and the pure rules of the timer app's payloads.
///
/// The per-user timer actor is the gold copy; the store only makes it
/// survive restarts. Save a timer on every state change (start, pause,
/// resume) with `remaining` as of `updated_at_ms`; ticks need no write,
/// because a running timer's remaining time is derived from the clock:
///
///   fenix::apps::timer::timer_store store{"fenix-timer.db"};
///   // startup: every user's running and paused timers
///   for (auto& t : store.load_active(now_ms))
///     spawn_or_get_user_actor(t.user).adopt(t); // remaining already
///                                               // reduced; 0 = complete it
///   // timers:start
///   auto duration = parse_duration(payload.if_contains("duration"));
///   auto label = parse_label(payload.if_contains("label"));
///   if (!duration) return reply_error("invalid duration");
///   if (!label) return reply_error("invalid label");
///   timer t{new_timer_id(), user, *label, *duration, *duration,
///           std::string{status_running}, now_ms};
///   store.save(t);
///   broadcast("timers:started", to_json(t));
///   // timers:stop, timers:completed
///   store.remove(t.id);
///
/// Errors: SQLite failures throw `fenix::apps::sqlite_error`. Thread-safe:
/// calls are serialized by an internal mutex (held only around SQLite).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "apps/common/sqlite_db.hpp"

namespace fenix::apps::timer {

// -- the contract's limits and statuses
// ----------------------------------------

inline constexpr int max_duration = 86400;             // seconds
inline constexpr std::size_t max_label_chars = 100;    // Unicode code points
inline constexpr std::size_t max_active_timers = 100;  // per user

inline constexpr std::string_view status_running = "running";
inline constexpr std::string_view status_paused = "paused";
inline constexpr std::string_view status_completed = "completed";
inline constexpr std::string_view status_stopped = "stopped";

/// One timer. Times are whole seconds; `remaining` is the remaining time as
/// of `updated_at_ms` (ms since the epoch).
struct timer {
  std::string id;
  std::string user;
  std::string label;
  int duration = 0;
  int remaining = 0;
  std::string status;  // running | paused | completed | stopped
  std::int64_t updated_at_ms = 0;
};

/// Exactly `{"id","label","duration","remaining_time","status"}`.
boost::json::object to_json(const timer& t);

/// True for running and paused timers.
bool is_active(const timer& t);

/// Remaining seconds at `now_ms`: for a running timer `remaining` minus the
/// whole seconds since `updated_at_ms` (time going backwards counts as 0),
/// clamped at 0; for any other status `remaining` unchanged.
int remaining_at(const timer& t, std::int64_t now_ms);

/// A `duration` payload field: an integral JSON number in 1..86400 (60.0
/// counts as 60). nullopt for a missing field (nullptr), strings, bools,
/// null, fractions and out-of-range numbers.
std::optional<int> parse_duration(const boost::json::value* v);

/// A `label` payload field: a missing field (nullptr) or null gives "";
/// a string of at most 100 code points gives itself; anything else nullopt.
std::optional<std::string> parse_label(const boost::json::value* v);

/// A fresh timer id: 96 random bits as 24 hex characters.
std::string new_timer_id();

class timer_store {
public:
  /// Opens (creating if needed) the database at `path` (":memory:" works).
  explicit timer_store(std::string path);

  timer_store(const timer_store&) = delete;
  timer_store& operator=(const timer_store&) = delete;

  /// Inserts or replaces the timer with `t.id` (any status). A timer keeps
  /// its original position in load order when updated.
  void save(const timer& t);

  /// Saves several timers in one transaction (all or nothing).
  void save(const std::vector<timer>& batch);

  /// Deletes a timer; false if there was none with that id.
  bool remove(std::string_view id);

  /// The stored row as saved (no time adjustment).
  std::optional<timer> find(std::string_view id);

  /// Running and paused timers of every user, in creation order, as of
  /// `now_ms`: running ones get `remaining = remaining_at(t, now_ms)` (0
  /// means due to complete) and `updated_at_ms = now_ms`; paused ones are
  /// returned as stored. Nothing is written back (the stored row stays
  /// consistent with the clock).
  std::vector<timer> load_active(std::int64_t now_ms);

  /// As above, for one user.
  std::vector<timer> load_active(std::string_view user, std::int64_t now_ms);

  /// Deletes completed and stopped timers; returns how many.
  std::size_t purge_inactive();

  const std::string& path() const noexcept { return path_; }

private:
  std::vector<timer> collect(sqlite_statement& stmt, std::int64_t now_ms);
  void save_locked(const timer& t);

  std::string path_;
  std::mutex mtx_;
  sqlite_db db_;  // declared before the statements: destroyed after them
  sqlite_statement upsert_;
  sqlite_statement remove_;
  sqlite_statement find_;
  sqlite_statement active_all_;
  sqlite_statement active_user_;
};

}  // namespace fenix::apps::timer
