#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "bench/result.hpp"

using namespace fenix::bench;

TEST_CASE("figures merge by their rule", "[bench][result]") {
  result a;
  a.set("delivered", 100);
  a.set("t_first", 50, "ns", merge_rule::min);
  a.set("t_last", 900, "ns", merge_rule::max);
  result b;
  b.set("delivered", 23);
  b.set("t_first", 40, "ns", merge_rule::min);
  b.set("t_last", 800, "ns", merge_rule::max);
  b.set("only_b", 1);
  result total;
  total.merge(a);
  total.merge(b);
  CHECK(total.value("delivered") == 123);
  CHECK(total.value("t_first") == 40);
  CHECK(total.value("t_last") == 900);
  CHECK(total.value("only_b") == 1);
  CHECK_FALSE(total.get("missing"));
  total.erase("only_b");
  CHECK_FALSE(total.get("only_b"));
}

TEST_CASE("histograms merge by counts and series by element-wise max",
          "[bench][result]") {
  result a, b;
  a.hist("latency").record(1000);
  b.hist("latency").record(3000);
  b.hist("latency").record(5000);
  a.series["last.0"] = {10, 50};
  b.series["last.0"] = {20, 40, 7};
  result total;
  total.merge(a);
  total.merge(b);
  CHECK(total.histograms.at("latency").count() == 3);
  CHECK(total.histograms.at("latency").max() == 5000);
  CHECK(total.series.at("last.0") == std::vector<std::uint64_t>{20, 50, 7});
}

TEST_CASE("a worker's result survives the JSON trip", "[bench][result]") {
  result r;
  r.scenario = "fanout";
  r.label = "fenix";
  r.command = "fenix-bench fanout --clients 10";
  r.params["clients"] = 10;
  r.set("published", 40);
  r.set("t_last", 7, "ns", merge_rule::max);
  r.hist("latency").record(123456);
  r.series["last.3"] = {1, 2, 3};
  server_snapshot s;
  s.phase = "go";
  s.t_ns = 99;
  s.rss_kib = 1234;
  s.cpu_s = 0.5;
  s.stats["encodes"] = 4;
  r.snapshots.push_back(s);
  auto back =
    result::from_json(boost::json::parse(boost::json::serialize(r.to_json())));
  CHECK(back.scenario == "fanout");
  CHECK(back.command == r.command);
  CHECK(back.value("published") == 40);
  // The rule travels too: merging two copies keeps the max, not the sum.
  result twice;
  twice.merge(back);
  twice.merge(back);
  CHECK(twice.value("t_last") == 7);
  CHECK(twice.value("published") == 80);
  CHECK(back.histograms.at("latency").percentile(50)
        == r.histograms.at("latency").percentile(50));
  CHECK(back.series.at("last.3").size() == 3);
  REQUIRE(back.snapshot("go"));
  CHECK(back.snapshot("go")->rss_kib == 1234);
  CHECK(back.snapshot("go")->stats.at("encodes").to_number<int>() == 4);
  CHECK_THROWS_AS(result::from_json(boost::json::parse("{}")),
                  std::invalid_argument);
}

TEST_CASE("the table shows figures and percentiles", "[bench][result]") {
  result r;
  r.scenario = "echo";
  r.label = "peer";
  r.set("replies", 12345);
  r.set("server_cpu_per_message_us", 4.25, "us");
  for (int i = 1; i <= 100; ++i)
    r.hist("round_trip").record(static_cast<std::uint64_t>(i) * 1'000'000);
  auto t = format_table(r);
  CHECK(t.find("echo [peer]") != std::string::npos);
  CHECK(t.find("12,345") != std::string::npos);
  CHECK(t.find("4.25 us") != std::string::npos);
  CHECK(t.find("round_trip") != std::string::npos);
  CHECK(t.find("99.") != std::string::npos);  // p99 ~ 99 ms
}

TEST_CASE("numbers are formatted for people", "[bench][result]") {
  CHECK(format_number(1234567) == "1,234,567");
  CHECK(format_number(-1000) == "-1,000");
  CHECK(format_number(0) == "0");
  CHECK(format_number(12.345) == "12.35");
  CHECK(format_number(0.01234) == "0.01234");
  CHECK(format_number(250000.5) == "250000");
}
