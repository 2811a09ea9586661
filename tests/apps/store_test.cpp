#include "apps/chat/message_store.hpp"
#include "apps/common/jwt.hpp"
#include "apps/common/sqlite_db.hpp"
#include "apps/timer/timer_store.hpp"

#include <cstdio>
#include <set>
#include <string>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace fenix::apps;
namespace json = boost::json;

namespace {

/// A unique database path under /tmp, deleted (with its WAL files) on exit.
struct temp_db {
  std::string path = "/tmp/fenix-store-test-" + random_hex(8) + ".db";

  temp_db() = default;
  temp_db(const temp_db&) = delete;
  temp_db& operator=(const temp_db&) = delete;

  ~temp_db() {
    for (auto suffix : {"", "-wal", "-shm", "-journal"})
      std::remove((path + suffix).c_str());
  }
};

chat::chat_message msg(std::string room, int i) {
  return {"m" + std::to_string(i), std::move(room), "alice",
          "body " + std::to_string(i), 1'732'350'000'000 + i};
}

json::value parse(const char* text) {
  return json::parse(text);
}

}  // namespace

// -- sqlite_db ----------------------------------------------------------------

TEST_CASE("sqlite_db: exec, bind, step, transactions", "[apps][storage]") {
  sqlite_db db{":memory:"};
  db.exec("CREATE TABLE t(k TEXT PRIMARY KEY, v INTEGER)");
  db.prepare("INSERT INTO t VALUES(?, ?)").bind(1, "a").bind(2, 1).run();
  {
    sqlite_transaction tx{db};
    db.prepare("INSERT INTO t VALUES('b', 2)").run();
    // no commit: rolled back
  }
  {
    sqlite_transaction tx{db};
    db.prepare("INSERT INTO t VALUES('c', NULL)").run();
    tx.commit();
  }
  auto sel = db.prepare("SELECT k, v FROM t ORDER BY k");
  std::vector<std::string> keys;
  while (sel.step())
    keys.push_back(sel.column_text(0));
  CHECK(keys == std::vector<std::string>{"a", "c"});
  CHECK_THROWS_AS(db.prepare("INSERT INTO t VALUES('a', 3)").run(),
                  sqlite_error);
  CHECK_THROWS_AS(db.prepare("SELECT nope FROM t"), sqlite_error);
  CHECK_THROWS_AS(db.exec("NOT SQL"), sqlite_error);
  CHECK_THROWS_AS(sqlite_db{"/nonexistent-dir/x/y.db"}, sqlite_error);
}

// -- chat ---------------------------------------------------------------------

TEST_CASE("message_store: last n, oldest first, per room", "[apps][storage]") {
  chat::message_store store{":memory:"};
  CHECK(store.last("lobby").empty());
  std::vector<chat::chat_message> batch;
  for (int i = 0; i < 120; ++i)
    batch.push_back(msg(i % 2 == 0 ? "lobby" : "other", i));
  store.append(batch);
  store.append({});
  CHECK(store.count("lobby") == 60);
  auto last = store.last("lobby");
  REQUIRE(last.size() == 50);
  CHECK(last.front().id == "m20");
  CHECK(last.back().id == "m118");
  for (auto& m : last)
    CHECK(m.room == "lobby");
  auto three = store.last("other", 3);
  REQUIRE(three.size() == 3);
  CHECK(three[0].id == "m115");
  CHECK(three[2].id == "m119");
  CHECK(three[2].body == "body 119");
  CHECK(three[2].at_ms == 1'732'350'000'119);
  CHECK(store.last("other", 0).empty());
  CHECK(store.last("nowhere").empty());
  // Re-appending a stored id is ignored.
  store.append({msg("lobby", 118)});
  CHECK(store.count("lobby") == 60);
}

TEST_CASE("message_store: insertion order wins over at", "[apps][storage]") {
  chat::message_store store{":memory:"};
  auto late = msg("lobby", 1);
  late.at_ms = 5;
  store.append({msg("lobby", 2), late});
  auto last = store.last("lobby");
  REQUIRE(last.size() == 2);
  CHECK(last[0].id == "m2");
  CHECK(last[1].id == "m1");
}

TEST_CASE("message_store: history survives a reopen", "[apps][storage]") {
  temp_db tmp;
  {
    chat::message_store store{tmp.path};
    store.append({msg("lobby", 1), msg("lobby", 2)});
    store.append({msg("lobby", 3)});
  }
  chat::message_store again{tmp.path};
  auto last = again.last("lobby");
  REQUIRE(last.size() == 3);
  CHECK(last[0].id == "m1");
  CHECK(last[2].id == "m3");
  CHECK(last[2].user == "alice");
}

TEST_CASE("chat message json and ids", "[apps][storage]") {
  auto obj = chat::to_json(msg("lobby", 7));
  CHECK(json::value(obj)
        == parse(R"({"id":"m7","user":"alice",)"
                 R"("body":"body 7","at":1732350000007,"offset":0})"));
  chat::id_generator ids;
  chat::id_generator other;
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    seen.insert(ids.next(1'732'350'000'000));
    seen.insert(other.next(1'732'350'000'000));
  }
  CHECK(seen.size() == 2000);
  auto a = ids.next(1'732'350'000'000);
  auto b = ids.next(1'732'350'000'001);
  CHECK(a < b);
  CHECK(a.size() == 31);
}

// -- timer --------------------------------------------------------------------

namespace {

constexpr std::int64_t t0 = 1'732'350'000'000;

timer::timer make_timer(std::string id, std::string user, int remaining,
                        std::string_view status) {
  return {std::move(id), std::move(user),     "tea", 300,
          remaining,     std::string{status}, t0};
}

}  // namespace

TEST_CASE("timer_store: save, update, delete", "[apps][storage]") {
  timer::timer_store store{":memory:"};
  store.save(make_timer("a", "alice", 300, timer::status_running));
  store.save(make_timer("b", "alice", 100, timer::status_paused));
  store.save(make_timer("c", "bob", 50, timer::status_running));
  store.save(make_timer("d", "bob", 0, timer::status_completed));
  CHECK(store.load_active(t0).size() == 3);
  CHECK(store.load_active("alice", t0).size() == 2);
  CHECK(store.load_active("carol", t0).empty());

  // update: pause "a" with 200 left; it keeps its position.
  auto a = make_timer("a", "alice", 200, timer::status_paused);
  a.updated_at_ms = t0 + 100'000;
  store.save(a);
  auto found = store.find("a");
  REQUIRE(found);
  CHECK(found->status == "paused");
  CHECK(found->remaining == 200);
  CHECK(found->updated_at_ms == t0 + 100'000);
  auto alice = store.load_active("alice", t0 + 500'000);
  REQUIRE(alice.size() == 2);
  CHECK(alice[0].id == "a");
  CHECK(alice[0].remaining == 200);  // paused: no time applied

  CHECK(store.remove("a"));
  CHECK_FALSE(store.remove("a"));
  CHECK_FALSE(store.find("a"));
  CHECK(store.purge_inactive() == 1);
  CHECK_FALSE(store.find("d"));
  CHECK_THROWS_AS(store.save(make_timer("e", "x", 1, "bogus")), sqlite_error);
  // A failing batch stores nothing.
  CHECK_THROWS_AS(store.save({make_timer("f", "x", 1, timer::status_running),
                              make_timer("g", "x", 1, "bogus")}),
                  sqlite_error);
  CHECK_FALSE(store.find("f"));
  store.save(make_timer("h", "x", 1, timer::status_running));
  CHECK(store.find("h"));
}

TEST_CASE("timer_store: reload applies elapsed time", "[apps][storage]") {
  temp_db tmp;
  {
    timer::timer_store store{tmp.path};
    store.save({make_timer("run", "alice", 300, timer::status_running),
                make_timer("pause", "alice", 120, timer::status_paused),
                make_timer("short", "bob", 5, timer::status_running),
                make_timer("gone", "bob", 9, timer::status_stopped)});
  }
  timer::timer_store store{tmp.path};
  auto now = t0 + 10'900;  // 10.9 s later: 10 whole seconds passed
  auto all = store.load_active(now);
  REQUIRE(all.size() == 3);
  CHECK(all[0].id == "run");
  CHECK(all[0].remaining == 290);
  CHECK(all[0].status == "running");
  CHECK(all[0].updated_at_ms == now);
  CHECK(all[1].id == "pause");
  CHECK(all[1].remaining == 120);
  CHECK(all[1].status == "paused");
  CHECK(all[2].id == "short");
  CHECK(all[2].remaining == 0);  // clamped: due to complete
  CHECK(all[2].user == "bob");
  // Nothing was written back: the stored row still matches the clock.
  CHECK(store.find("run")->remaining == 300);
  CHECK(store.load_active(t0 + 60'000)[0].remaining == 240);
  // A clock that went backwards counts as no time passed.
  CHECK(store.load_active(t0 - 5'000)[0].remaining == 300);
}

TEST_CASE("timer json and remaining_at", "[apps][storage]") {
  auto t = make_timer("x1", "alice", 42, timer::status_running);
  CHECK(json::value(timer::to_json(t))
        == parse(R"({"id":"x1","label":"tea","duration":300,)"
                 R"("remaining_time":42,"status":"running"})"));
  CHECK(timer::to_json(t).size() == 5);
  CHECK(timer::remaining_at(t, t0 + 999) == 42);
  CHECK(timer::remaining_at(t, t0 + 1'000) == 41);
  CHECK(timer::remaining_at(t, t0 + 3'600'000) == 0);
  t.status = "paused";
  CHECK(timer::remaining_at(t, t0 + 3'600'000) == 42);
  CHECK(timer::is_active(t));
  t.status = "stopped";
  CHECK_FALSE(timer::is_active(t));
  CHECK(timer::new_timer_id().size() == 24);
  CHECK(timer::new_timer_id() != timer::new_timer_id());
}

TEST_CASE("timer payload validation", "[apps][storage]") {
  auto duration = [](const char* text) {
    auto v = json::parse(text);
    return timer::parse_duration(&v);
  };
  CHECK(duration("1") == 1);
  CHECK(duration("1500") == 1500);
  CHECK(duration("86400") == 86400);
  CHECK(duration("60.0") == 60);
  CHECK(duration("6e1") == 60);
  CHECK_FALSE(duration("0"));
  CHECK_FALSE(duration("-5"));
  CHECK_FALSE(duration("86401"));
  CHECK_FALSE(duration("1.5"));
  CHECK_FALSE(duration("\"60\""));
  CHECK_FALSE(duration("true"));
  CHECK_FALSE(duration("null"));
  CHECK_FALSE(duration("[60]"));
  CHECK_FALSE(duration("{}"));
  CHECK_FALSE(duration("18446744073709551615"));
  CHECK_FALSE(duration("1e300"));
  CHECK_FALSE(timer::parse_duration(nullptr));

  auto label = [](const char* text) {
    auto v = json::parse(text);
    return timer::parse_label(&v);
  };
  CHECK(timer::parse_label(nullptr) == "");
  CHECK(label("null") == "");
  CHECK(label("\"\"") == "");
  CHECK(label("\"tea\"") == "tea");
  auto hundred = "\"" + std::string(100, 'x') + "\"";
  auto too_long = "\"" + std::string(101, 'x') + "\"";
  CHECK(label(hundred.c_str())->size() == 100);
  CHECK_FALSE(label(too_long.c_str()));
  std::string snowmen = "\"";
  for (int i = 0; i < 100; ++i)
    snowmen += "\xe2\x98\x83";  // 100 code points, 300 bytes
  CHECK(label((snowmen + "\"").c_str()));
  CHECK_FALSE(label((snowmen + "x\"").c_str()));
  CHECK_FALSE(label("42"));
  CHECK_FALSE(label("false"));
  CHECK_FALSE(label("[\"tea\"]"));
  CHECK_FALSE(label("{}"));
}
