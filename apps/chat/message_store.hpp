/// Chat history in SQLite: what `room:NAME` join replies are made of.
///
///   fenix::apps::chat::message_store store{"fenix-chat.db"}; // or :memory:
///   fenix::apps::chat::id_generator ids;
///   chat_message m{ids.next(now_ms), "lobby", "alice", "hi", now_ms};
///   store.append({m});                       // one transaction per batch
///   boost::json::array history;
///   for (auto& msg : store.last("lobby"))    // last 50, oldest first
///     history.push_back(to_json(msg));
///   reply_ok({{"messages", std::move(history)}});
///
/// Order is insertion order (not `at_ms`), so a batch keeps its order.
/// Each message keeps its offset in the room's stream (column `off`;
/// databases from before offsets are numbered 1, 2, ... per room on open).
/// Appending an id that is already stored is silently ignored, so a retried
/// batch does not duplicate messages. Validation (room names, bodies) is
/// the channel's job; the store keeps whatever it is given.
///
/// Errors: SQLite failures throw `fenix::apps::sqlite_error` (from the
/// constructor, e.g. an unwritable path, or from any call); a failed
/// `append` stores nothing. Thread-safe: calls are serialized by an
/// internal mutex (held only around SQLite work).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "apps/common/sqlite_db.hpp"

namespace fenix::apps::chat {

/// One chat message.
struct chat_message {
  std::string id;
  std::string room;  // "lobby", not "room:lobby"
  std::string user;
  std::string body;
  std::int64_t at_ms = 0;    // ms since the epoch
  std::uint64_t offset = 0;  // the room's stream position (1, 2, ...)
};

/// Exactly `{"id","user","body","at","offset"}` (the room is the topic).
boost::json::object to_json(const chat_message& msg);

/// Unique message ids: `TTTTTTTTTTT-NNNNNNNNNNNN-CCCCCC`, hex of the time in
/// ms, 48 random bits drawn once per generator (so ids stay unique across
/// restarts and nodes) and a per-generator counter. Ids from one generator
/// sort by creation time. Thread-safe.
class id_generator {
public:
  id_generator();

  std::string next(std::int64_t now_ms);

private:
  std::string node_;
  std::atomic<std::uint64_t> counter_{0};
};

class message_store {
public:
  /// What a join reply carries.
  static constexpr std::size_t default_history = 50;
  /// What is kept in memory for recovery (docs/apps.md: 500, 10 minutes).
  static constexpr std::size_t recovery_history = 500;

  /// Opens (creating if needed) the database at `path`.
  explicit message_store(std::string path);

  message_store(const message_store&) = delete;
  message_store& operator=(const message_store&) = delete;

  /// Stores a batch in one transaction (all or nothing).
  void append(const std::vector<chat_message>& batch);

  /// The last `n` messages of `room`, oldest first.
  std::vector<chat_message> last(std::string_view room,
                                 std::size_t n = default_history);

  /// Number of stored messages in `room`.
  std::size_t count(std::string_view room);

  /// The offset of the room's last message (0 if none).
  std::uint64_t last_offset(std::string_view room);

  /// The epoch of the rooms' streams: drawn (CSPRNG) when the database is
  /// created and kept in it, so offsets and epoch survive a restart; a new
  /// database (or :memory:, each start) has a new epoch.
  const std::string& epoch() const noexcept { return epoch_; }

  const std::string& path() const noexcept { return path_; }

private:
  std::string path_;
  std::mutex mtx_;
  sqlite_db db_;  // declared before the statements: destroyed after them
  sqlite_statement insert_;
  sqlite_statement last_;
  sqlite_statement count_;
  sqlite_statement last_offset_;
  std::string epoch_;
};

}  // namespace fenix::apps::chat
