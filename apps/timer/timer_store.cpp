#include "apps/timer/timer_store.hpp"

#include <algorithm>
#include <cmath>

#include "apps/common/jwt.hpp"

namespace fenix::apps::timer {

namespace {

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS timers (
  id            TEXT    PRIMARY KEY NOT NULL,
  user          TEXT    NOT NULL,
  label         TEXT    NOT NULL,
  duration      INTEGER NOT NULL,
  remaining     INTEGER NOT NULL,
  status        TEXT    NOT NULL
                CHECK (status IN ('running','paused','completed','stopped')),
  updated_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS timers_user ON timers(user);
)sql";

constexpr const char* columns =
  "id, user, label, duration, remaining, status, updated_at_ms";

sqlite_db open_with_schema(const std::string& path) {
  sqlite_db db{path};
  db.exec(schema);
  return db;
}

std::string select_active(const char* extra_where) {
  return std::string{"SELECT "} + columns
         + " FROM timers WHERE status IN ('running','paused')" + extra_where
         + " ORDER BY rowid";
}

timer read_row(const sqlite_statement& stmt) {
  return timer{stmt.column_text(0), stmt.column_text(1), stmt.column_text(2),
               stmt.column_int(3),  stmt.column_int(4),  stmt.column_text(5),
               stmt.column_int64(6)};
}

std::size_t utf8_code_points(std::string_view s) {
  // Counts every byte that is not a continuation byte (10xxxxxx); the JSON
  // parser has already rejected invalid UTF-8.
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

// -- pure helpers -------------------------------------------------------------

boost::json::object to_json(const timer& t) {
  return boost::json::object{{"id", t.id},
                             {"label", t.label},
                             {"duration", t.duration},
                             {"remaining_time", t.remaining},
                             {"status", t.status}};
}

bool is_active(const timer& t) {
  return t.status == status_running || t.status == status_paused;
}

int remaining_at(const timer& t, std::int64_t now_ms) {
  if (t.status != status_running)
    return t.remaining;
  auto elapsed_s = std::max<std::int64_t>(now_ms - t.updated_at_ms, 0) / 1000;
  auto left = static_cast<std::int64_t>(t.remaining) - elapsed_s;
  return static_cast<int>(std::max<std::int64_t>(left, 0));
}

std::optional<int> parse_duration(const boost::json::value* v) {
  if (v == nullptr)
    return std::nullopt;
  if (v->is_int64()) {
    auto n = v->get_int64();
    if (n >= 1 && n <= max_duration)
      return static_cast<int>(n);
    return std::nullopt;
  }
  if (v->is_double()) {
    auto d = v->get_double();
    if (std::isfinite(d) && std::trunc(d) == d && d >= 1.0
        && d <= static_cast<double>(max_duration))
      return static_cast<int>(d);
  }
  // uint64 only holds values above INT64_MAX: out of range anyway.
  return std::nullopt;
}

std::optional<std::string> parse_label(const boost::json::value* v) {
  if (v == nullptr || v->is_null())
    return std::string{};
  if (!v->is_string())
    return std::nullopt;
  std::string_view s{v->get_string().data(), v->get_string().size()};
  if (utf8_code_points(s) > max_label_chars)
    return std::nullopt;
  return std::string{s};
}

std::string new_timer_id() {
  return random_hex(12);
}

// -- timer_store --------------------------------------------------------------

timer_store::timer_store(std::string path)
  : path_(std::move(path)),
    db_(open_with_schema(path_)),
    upsert_(db_.prepare(
      "INSERT INTO timers(id, user, label, duration, remaining, status,"
      " updated_at_ms) VALUES(?, ?, ?, ?, ?, ?, ?)"
      " ON CONFLICT(id) DO UPDATE SET user = excluded.user,"
      " label = excluded.label, duration = excluded.duration,"
      " remaining = excluded.remaining, status = excluded.status,"
      " updated_at_ms = excluded.updated_at_ms")),
    remove_(db_.prepare("DELETE FROM timers WHERE id = ?")),
    find_(db_.prepare(std::string{"SELECT "} + columns
                      + " FROM timers WHERE id = ?")),
    active_all_(db_.prepare(select_active(""))),
    active_user_(db_.prepare(select_active(" AND user = ?"))) {}

void timer_store::save_locked(const timer& t) {
  upsert_.reset();
  upsert_.bind(1, t.id)
    .bind(2, t.user)
    .bind(3, t.label)
    .bind(4, t.duration)
    .bind(5, t.remaining)
    .bind(6, t.status)
    .bind(7, t.updated_at_ms);
  try {
    upsert_.run();
  } catch (...) {
    upsert_.reset();
    throw;
  }
  upsert_.reset();
}

void timer_store::save(const timer& t) {
  std::lock_guard<std::mutex> guard{mtx_};
  save_locked(t);
}

void timer_store::save(const std::vector<timer>& batch) {
  if (batch.empty())
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  sqlite_transaction tx{db_};
  for (auto& t : batch)
    save_locked(t);
  tx.commit();
}

bool timer_store::remove(std::string_view id) {
  std::lock_guard<std::mutex> guard{mtx_};
  remove_.reset();
  remove_.bind(1, id);
  remove_.run();
  remove_.reset();
  return db_.changes() > 0;
}

std::optional<timer> timer_store::find(std::string_view id) {
  std::lock_guard<std::mutex> guard{mtx_};
  find_.reset();
  find_.bind(1, id);
  std::optional<timer> result;
  if (find_.step())
    result = read_row(find_);
  find_.reset();
  return result;
}

std::vector<timer> timer_store::collect(sqlite_statement& stmt,
                                        std::int64_t now_ms) {
  std::vector<timer> out;
  while (stmt.step()) {
    auto t = read_row(stmt);
    if (t.status == status_running) {
      t.remaining = remaining_at(t, now_ms);
      t.updated_at_ms = now_ms;
    }
    out.push_back(std::move(t));
  }
  stmt.reset();
  return out;
}

std::vector<timer> timer_store::load_active(std::int64_t now_ms) {
  std::lock_guard<std::mutex> guard{mtx_};
  active_all_.reset();
  return collect(active_all_, now_ms);
}

std::vector<timer> timer_store::load_active(std::string_view user,
                                            std::int64_t now_ms) {
  std::lock_guard<std::mutex> guard{mtx_};
  active_user_.reset();
  active_user_.bind(1, user);
  return collect(active_user_, now_ms);
}

std::size_t timer_store::purge_inactive() {
  std::lock_guard<std::mutex> guard{mtx_};
  db_.exec("DELETE FROM timers WHERE status IN ('completed','stopped')");
  return static_cast<std::size_t>(db_.changes());
}

}  // namespace fenix::apps::timer
