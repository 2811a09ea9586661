/// The pointing app's persistence (docs/apps.md "Pointing party"): one
/// record per room (ticket, votes, revealed or not) in SQLite, written
/// whole on every change.
///
///   fenix::apps::pointing::room_store db{"fenix-pointing.db"};  // or :memory:
///   room_record r = db.load("lobby");   // an empty record if never saved
///   r.ticket = ticket{"Login page", "alice"};
///   r.votes["alice"] = 5;
///   db.save(r);                         // one transaction
///
/// Errors: SQLite failures throw fenix::apps::sqlite_error. Not
/// thread-safe: one owner (the rooms' registry actor).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "apps/common/sqlite_db.hpp"

namespace fenix::apps::pointing {

struct ticket {
  std::string title;
  std::string by;
};

/// Everything a room keeps across restarts.
struct room_record {
  std::string name;  // "lobby", not "room:lobby"
  std::optional<ticket> current;
  std::map<std::string, int> votes;  // user -> points
  bool revealed = false;
};

class room_store {
public:
  explicit room_store(const std::string& path);

  room_store(const room_store&) = delete;
  room_store& operator=(const room_store&) = delete;

  /// The stored record of `name` (an empty one if there is none).
  room_record load(const std::string& name);

  /// Replaces the stored record of `r.name`.
  void save(const room_record& r);

private:
  sqlite_db db_;
};

}  // namespace fenix::apps::pointing
