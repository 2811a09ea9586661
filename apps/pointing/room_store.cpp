#include "apps/pointing/room_store.hpp"

namespace fenix::apps::pointing {

namespace {

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS pointing_rooms(
  name TEXT PRIMARY KEY,
  title TEXT,
  by_user TEXT,
  revealed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS pointing_votes(
  room TEXT NOT NULL,
  user TEXT NOT NULL,
  points INTEGER NOT NULL,
  PRIMARY KEY(room, user));
)sql";

}  // namespace

room_store::room_store(const std::string& path) : db_(path) {
  db_.exec(schema);
}

room_record room_store::load(const std::string& name) {
  room_record r;
  r.name = name;
  auto room = db_.prepare(
    "SELECT title, by_user, revealed FROM pointing_rooms WHERE name = ?");
  room.bind(1, name);
  if (room.step()) {
    if (!room.column_is_null(0))
      r.current = ticket{room.column_text(0), room.column_text(1)};
    r.revealed = room.column_int(2) != 0;
  }
  auto votes =
    db_.prepare("SELECT user, points FROM pointing_votes WHERE room = ?");
  votes.bind(1, name);
  while (votes.step())
    r.votes[votes.column_text(0)] = votes.column_int(1);
  return r;
}

void room_store::save(const room_record& r) {
  sqlite_transaction tx{db_};
  auto room = db_.prepare(
    "INSERT OR REPLACE INTO pointing_rooms(name, title, by_user, revealed) "
    "VALUES(?, ?, ?, ?)");
  room.bind(1, r.name);
  if (r.current)
    room.bind(2, r.current->title).bind(3, r.current->by);
  else
    room.bind_null(2).bind_null(3);
  room.bind(4, r.revealed ? 1 : 0).run();
  auto clear = db_.prepare("DELETE FROM pointing_votes WHERE room = ?");
  clear.bind(1, r.name).run();
  auto vote = db_.prepare(
    "INSERT INTO pointing_votes(room, user, points) VALUES(?, ?, ?)");
  for (auto& [user, points] : r.votes) {
    vote.bind(1, r.name).bind(2, user).bind(3, points).run();
    vote.reset();
  }
  tx.commit();
}

}  // namespace fenix::apps::pointing
