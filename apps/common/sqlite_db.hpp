/// A thin RAII wrapper over SQLite 3, shared by the apps' stores.
///
///   fenix::apps::sqlite_db db{"app.db"};      // or ":memory:"
///   db.exec("CREATE TABLE IF NOT EXISTS t(k TEXT PRIMARY KEY, v INTEGER)");
///   {
///     fenix::apps::sqlite_transaction tx{db};  // BEGIN IMMEDIATE
///     auto ins = db.prepare("INSERT INTO t(k, v) VALUES(?, ?)");
///     ins.bind(1, "a").bind(2, std::int64_t{1}).run();
///     tx.commit();                             // else rolled back
///   }
///   auto sel = db.prepare("SELECT k, v FROM t WHERE v > ?");
///   sel.bind(1, std::int64_t{0});
///   while (sel.step())
///     use(sel.column_text(0), sel.column_int64(1));
///
/// Lifecycle: the constructor opens (creating the file if needed) and sets
/// `journal_mode=WAL`, `synchronous=NORMAL` and a busy timeout; the
/// destructor closes it with sqlite3_close_v2, so a statement destroyed after
/// its database is still safe (the connection lingers until then).
///
/// Errors: every failing SQLite call throws `sqlite_error` carrying the
/// SQLite message. Threading: a database and its statements belong to one
/// user at a time (an actor, or a caller holding a lock); they may move
/// between threads.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace fenix::apps {

/// A failed SQLite call.
class sqlite_error : public std::runtime_error {
public:
  sqlite_error(int code, const std::string& what)
    : std::runtime_error(what),
      code_(code) {}

  /// The SQLite result code (e.g. SQLITE_CONSTRAINT).
  int code() const noexcept { return code_; }

private:
  int code_;
};

/// A prepared statement. Parameter indexes start at 1, columns at 0.
class sqlite_statement {
public:
  sqlite_statement(sqlite3* db, std::string_view sql);
  sqlite_statement(sqlite_statement&& other) noexcept;
  sqlite_statement& operator=(sqlite_statement&& other) noexcept;
  sqlite_statement(const sqlite_statement&) = delete;
  sqlite_statement& operator=(const sqlite_statement&) = delete;
  ~sqlite_statement();

  // -- binding ---------------------------------------------------------------

  sqlite_statement& bind(int index, std::int64_t value);
  sqlite_statement& bind(int index, int value);
  sqlite_statement& bind(int index, std::string_view value);  // copied
  sqlite_statement& bind(int index, const char* value);
  sqlite_statement& bind_null(int index);

  // -- execution -------------------------------------------------------------

  /// Advances; true while a row is available.
  bool step();

  /// Steps to completion (for statements that return no rows).
  void run();

  /// Resets for another execution and clears the bindings.
  void reset();

  // -- columns of the current row ---------------------------------------------

  std::int64_t column_int64(int col) const;
  int column_int(int col) const;
  std::string column_text(int col) const;  // "" for NULL
  bool column_is_null(int col) const;

private:
  void check(int rc) const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

/// An open database connection.
class sqlite_db {
public:
  /// Opens `path` (":memory:" for a private in-memory database).
  explicit sqlite_db(const std::string& path, int busy_timeout_ms = 5000);
  sqlite_db(sqlite_db&& other) noexcept;
  sqlite_db& operator=(sqlite_db&& other) noexcept;
  sqlite_db(const sqlite_db&) = delete;
  sqlite_db& operator=(const sqlite_db&) = delete;
  ~sqlite_db();

  /// Runs one or more statements that return no rows.
  void exec(const std::string& sql);

  /// Compiles one statement.
  sqlite_statement prepare(std::string_view sql);

  /// Rows changed by the last INSERT, UPDATE or DELETE.
  int changes() const;

  std::int64_t last_insert_rowid() const;

  /// The raw handle, for anything this wrapper does not cover.
  sqlite3* native_handle() const noexcept { return db_; }

private:
  sqlite3* db_ = nullptr;
};

/// `BEGIN IMMEDIATE` on construction; `ROLLBACK` on destruction unless
/// `commit()` ran. Not nestable.
class sqlite_transaction {
public:
  explicit sqlite_transaction(sqlite_db& db);
  sqlite_transaction(const sqlite_transaction&) = delete;
  sqlite_transaction& operator=(const sqlite_transaction&) = delete;
  ~sqlite_transaction();

  void commit();

private:
  sqlite_db& db_;
  bool done_ = false;
};

}  // namespace fenix::apps
