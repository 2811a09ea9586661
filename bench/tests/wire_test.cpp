#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bench/delivery_log.hpp"
#include "bench/wire.hpp"

using namespace fenix::bench;

TEST_CASE("payloads carry publisher, sequence and time at the asked size",
          "[bench][wire]") {
  auto p = bench_payload(3, 42, 1234567890123, 100);
  CHECK(p.size() == 100);
  CHECK(find_int(p, "p") == 3);
  CHECK(find_int(p, "s") == 42);
  CHECK(find_int(p, "t") == 1234567890123);
  CHECK(bench_payload(1, 2, 3, 0).size() > 10);  // never truncated
}

TEST_CASE("frame heads are scanned without a JSON parse", "[bench][wire]") {
  auto payload = bench_payload(0, 7, 99, 60);
  auto text = push_frame("1", "5", "bench:1", "broadcast", payload);
  frame_head h;
  REQUIRE(scan_head(text, h));
  CHECK(h.join_ref == "1");
  CHECK(h.ref == "5");
  CHECK(h.topic == "bench:1");
  CHECK(h.event == "broadcast");
  CHECK(h.payload == payload);

  REQUIRE(scan_head(R"([null, null, "room:a", "new_msg", {"a":1}])", h));
  CHECK(h.join_ref.empty());
  CHECK(h.ref.empty());
  CHECK(h.event == "new_msg");
  CHECK(h.payload == R"({"a":1})");

  CHECK(push_frame("", "2", "t", "e", "{}") == R"([null,"2","t","e",{}])");
  CHECK_FALSE(scan_head(R"({"topic":"x"})", h));
  CHECK_FALSE(scan_head(R"(["1","2",3,"e",{}])", h));
  CHECK_FALSE(scan_head(R"(["1","2","t")", h));
}

TEST_CASE("presence keys are found at the right depth", "[bench][wire]") {
  std::vector<std::string> seen;
  auto collect = [&](std::string_view parent, std::string_view key) {
    seen.push_back(std::string{parent} + "/" + std::string{key});
  };
  for_each_key(
    R"({"u1":{"metas":[{"phx_ref":"a","x":{"u9":1}}]},"u2":{"metas":[]}})",
    collect);
  CHECK(seen == std::vector<std::string>{"/u1", "u1/metas", "/u2", "u2/metas"});
  seen.clear();
  for_each_key(R"({"joins":{"u3":{"metas":[]}},"leaves":{"u\"4":{}}})",
               collect);
  CHECK(seen
        == std::vector<std::string>{"/joins", "joins/u3", "/leaves",
                                    "leaves/u\\\"4"});
  CHECK(user_index("u42") == 42u);
  CHECK_FALSE(user_index("x42"));
  CHECK_FALSE(user_index("u"));
  CHECK_FALSE(user_index("u4x"));
}

TEST_CASE("the delivery log counts losses, duplicates and reordering",
          "[bench][wire]") {
  delivery_log log{2, 2};
  log.record(0, 0, 0, 100, 1100);
  log.record(0, 0, 2, 200, 1200);  // 1 not yet: out of order when it comes
  log.record(0, 0, 1, 300, 2300);
  log.record(0, 0, 1, 300, 2400);  // a second copy
  log.record(1, 0, 0, 100, 5100);
  log.record(1, 1, 0, 100, 600);
  log.record(1, 5, 0, 100, 600);  // unknown publisher
  CHECK(log.delivered() == 5);
  CHECK(log.duplicates() == 1);
  CHECK(log.reordered() == 1);
  CHECK(log.foreign() == 1);
  CHECK(log.latency().count() == 5);
  CHECK(log.latency().max() == 5000);
  // Message (0, 0) reached its last receiver after 5,000 ns.
  CHECK(log.last_latency(0)[0] == 5000);
  CHECK(log.last_latency(0)[2] == 1000);
  CHECK(log.last_receipt_ns() == 5100);
}
