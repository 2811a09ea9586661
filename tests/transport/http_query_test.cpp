// Query-string parsing (transport/http.hpp): a repeated parameter takes its
// last value, as Plug does, for every reader (connect params, vsn, token),
// so the WebSocket and long-poll paths agree.

#include <catch2/catch.hpp>

#include "fenix/transport/http.hpp"

using fenix::transport::http_request;

TEST_CASE("a repeated query parameter takes its last value",
          "[transport][http]") {
  http_request r;
  // What phoenix.js LongPoll sends when the app passes params: {token}.
  r.query = "token=JWT&vsn=2.0.0&token=SESSION";
  CHECK(r.query_param("token") == "SESSION");
  CHECK(r.query_param("vsn") == "2.0.0");
  auto all = r.query_params();
  REQUIRE(all.size() == 2);
  CHECK(all[0] == std::pair<std::string, std::string>{"token", "SESSION"});
  CHECK(all[1] == std::pair<std::string, std::string>{"vsn", "2.0.0"});
  r.query = "vsn=1.0.0&vsn=2.0.0";
  CHECK(r.query_param("vsn") == "2.0.0");
  r.query = "a=1&&b=x%20y&a=&c";
  CHECK(r.query_param("a").empty());
  CHECK(r.query_param("b") == "x y");
  CHECK(r.query_params().size() == 3);
  CHECK(r.query_param("missing").empty());
}
