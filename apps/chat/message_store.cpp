#include "apps/chat/message_store.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "apps/common/jwt.hpp"

namespace fenix::apps::chat {

namespace {

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS messages (
  seq   INTEGER PRIMARY KEY AUTOINCREMENT,
  id    TEXT    NOT NULL UNIQUE,
  room  TEXT    NOT NULL,
  user  TEXT    NOT NULL,
  body  TEXT    NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_room_seq ON messages(room, seq);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
)sql";

// Databases from before offsets: the column, then 1, 2, ... per room.
void add_offsets(sqlite_db& db) {
  try {
    db.exec("ALTER TABLE messages ADD COLUMN off INTEGER NOT NULL DEFAULT 0");
  } catch (const sqlite_error&) {
    return;  // the column exists
  }
  db.exec("UPDATE messages SET off = (SELECT COUNT(*) FROM messages m"
          " WHERE m.room = messages.room AND m.seq <= messages.seq)");
}

sqlite_db open_with_schema(const std::string& path) {
  sqlite_db db{path};
  db.exec(schema);
  add_offsets(db);
  db.exec("INSERT OR IGNORE INTO meta(k, v) VALUES('epoch', '" + random_hex(16)
          + "')");
  return db;
}

std::string read_epoch(sqlite_db& db) {
  auto st = db.prepare("SELECT v FROM meta WHERE k = 'epoch'");
  if (!st.step())
    throw sqlite_error(0, "no epoch in meta");
  return st.column_text(0);
}

}  // namespace

boost::json::object to_json(const chat_message& msg) {
  return boost::json::object{{"id", msg.id},
                             {"user", msg.user},
                             {"body", msg.body},
                             {"at", msg.at_ms},
                             {"offset", static_cast<std::int64_t>(msg.offset)}};
}

// -- id_generator -------------------------------------------------------------

id_generator::id_generator() : node_(random_hex(6)) {}

std::string id_generator::next(std::int64_t now_ms) {
  auto n = counter_.fetch_add(1, std::memory_order_relaxed) & 0xFFFFFF;
  auto ms = static_cast<unsigned long long>(std::max<std::int64_t>(now_ms, 0));
  char head[24];
  char tail[12];
  std::snprintf(head, sizeof(head), "%011llx-", ms);
  std::snprintf(tail, sizeof(tail), "-%06llx",
                static_cast<unsigned long long>(n));
  return head + node_ + tail;
}

// -- message_store ------------------------------------------------------------

message_store::message_store(std::string path)
  : path_(std::move(path)),
    db_(open_with_schema(path_)),
    insert_(db_.prepare("INSERT OR IGNORE INTO messages(id, room, user, body,"
                        " at_ms, off) VALUES(?, ?, ?, ?, ?, ?)")),
    last_(db_.prepare("SELECT id, room, user, body, at_ms, off FROM messages"
                      " WHERE room = ? ORDER BY seq DESC LIMIT ?")),
    count_(db_.prepare("SELECT COUNT(*) FROM messages WHERE room = ?")),
    last_offset_(db_.prepare("SELECT COALESCE(MAX(off), 0) FROM messages"
                             " WHERE room = ?")),
    epoch_(read_epoch(db_)) {}

void message_store::append(const std::vector<chat_message>& batch) {
  if (batch.empty())
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  sqlite_transaction tx{db_};
  for (auto& msg : batch) {
    insert_.reset();
    insert_.bind(1, msg.id)
      .bind(2, msg.room)
      .bind(3, msg.user)
      .bind(4, msg.body)
      .bind(5, msg.at_ms)
      .bind(6, static_cast<std::int64_t>(msg.offset));
    try {
      insert_.run();
    } catch (...) {
      insert_.reset();
      throw;
    }
  }
  insert_.reset();
  tx.commit();
}

std::vector<chat_message> message_store::last(std::string_view room,
                                              std::size_t n) {
  std::vector<chat_message> out;
  if (n == 0)
    return out;
  constexpr auto max_limit =
    static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  auto limit = static_cast<std::int64_t>(std::min(n, max_limit));
  std::lock_guard<std::mutex> guard{mtx_};
  last_.reset();
  last_.bind(1, room).bind(2, limit);
  while (last_.step())
    out.push_back(chat_message{
      last_.column_text(0), last_.column_text(1), last_.column_text(2),
      last_.column_text(3), last_.column_int64(4),
      static_cast<std::uint64_t>(last_.column_int64(5))});
  last_.reset();
  std::reverse(out.begin(), out.end());
  return out;
}

std::size_t message_store::count(std::string_view room) {
  std::lock_guard<std::mutex> guard{mtx_};
  count_.reset();
  count_.bind(1, room);
  std::size_t result = 0;
  if (count_.step())
    result = static_cast<std::size_t>(count_.column_int64(0));
  count_.reset();
  return result;
}

std::uint64_t message_store::last_offset(std::string_view room) {
  std::lock_guard<std::mutex> guard{mtx_};
  last_offset_.reset();
  last_offset_.bind(1, room);
  std::uint64_t result = 0;
  if (last_offset_.step())
    result = static_cast<std::uint64_t>(last_offset_.column_int64(0));
  last_offset_.reset();
  return result;
}

}  // namespace fenix::apps::chat
