#include "apps/common/sqlite_db.hpp"

#include <utility>

#include <sqlite3.h>

namespace fenix::apps {

namespace {

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw sqlite_error(rc, msg);
}

}  // namespace

// -- sqlite_statement ---------------------------------------------------------

sqlite_statement::sqlite_statement(sqlite3* db, std::string_view sql)
  : db_(db) {
  const char* tail = nullptr;
  auto rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()),
                               &stmt_, &tail);
  if (rc != SQLITE_OK)
    fail(db, rc, "sqlite prepare");
  if (stmt_ == nullptr)
    throw sqlite_error(SQLITE_MISUSE, "sqlite prepare: empty statement");
}

sqlite_statement::sqlite_statement(sqlite_statement&& other) noexcept
  : db_(std::exchange(other.db_, nullptr)),
    stmt_(std::exchange(other.stmt_, nullptr)) {}

sqlite_statement&
sqlite_statement::operator=(sqlite_statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

sqlite_statement::~sqlite_statement() {
  sqlite3_finalize(stmt_);  // no-op on nullptr
}

void sqlite_statement::check(int rc) const {
  if (rc != SQLITE_OK)
    fail(db_, rc, "sqlite bind");
}

sqlite_statement& sqlite_statement::bind(int index, std::int64_t value) {
  check(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

sqlite_statement& sqlite_statement::bind(int index, int value) {
  return bind(index, static_cast<std::int64_t>(value));
}

sqlite_statement& sqlite_statement::bind(int index, std::string_view value) {
  check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(),
                            SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

sqlite_statement& sqlite_statement::bind(int index, const char* value) {
  return bind(index, std::string_view(value));
}

sqlite_statement& sqlite_statement::bind_null(int index) {
  check(sqlite3_bind_null(stmt_, index));
  return *this;
}

bool sqlite_statement::step() {
  auto rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW)
    return true;
  if (rc == SQLITE_DONE)
    return false;
  sqlite3_reset(stmt_);
  fail(db_, rc, "sqlite step");
}

void sqlite_statement::run() {
  while (step()) {
    // drain any rows
  }
}

void sqlite_statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t sqlite_statement::column_int64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

int sqlite_statement::column_int(int col) const {
  return sqlite3_column_int(stmt_, col);
}

std::string sqlite_statement::column_text(int col) const {
  auto* text = sqlite3_column_text(stmt_, col);
  if (text == nullptr)
    return {};
  auto len = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col));
  return std::string(reinterpret_cast<const char*>(text), len);
}

bool sqlite_statement::column_is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

// -- sqlite_db ----------------------------------------------------------------

sqlite_db::sqlite_db(const std::string& path, int busy_timeout_ms) {
  auto flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  auto rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "sqlite open " + path + ": ";
    msg += db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw sqlite_error(rc, msg);
  }
  try {
    sqlite3_busy_timeout(db_, busy_timeout_ms);
    // journal_mode returns a row ("wal", or "memory" for :memory:).
    prepare("PRAGMA journal_mode=WAL").run();
    exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON");
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

sqlite_db::sqlite_db(sqlite_db&& other) noexcept
  : db_(std::exchange(other.db_, nullptr)) {}

sqlite_db& sqlite_db::operator=(sqlite_db&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

sqlite_db::~sqlite_db() {
  sqlite3_close_v2(db_);  // no-op on nullptr
}

void sqlite_db::exec(const std::string& sql) {
  char* err = nullptr;
  auto rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = "sqlite exec: ";
    msg += err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw sqlite_error(rc, msg);
  }
}

sqlite_statement sqlite_db::prepare(std::string_view sql) {
  return sqlite_statement(db_, sql);
}

int sqlite_db::changes() const {
  return sqlite3_changes(db_);
}

std::int64_t sqlite_db::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

// -- sqlite_transaction -------------------------------------------------------

sqlite_transaction::sqlite_transaction(sqlite_db& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}

sqlite_transaction::~sqlite_transaction() {
  if (done_)
    return;
  try {
    db_.exec("ROLLBACK");
  } catch (...) {
    // The transaction may already be gone (SQLite rolls back on some
    // errors by itself); nothing else can be done in a destructor.
  }
}

void sqlite_transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace fenix::apps
