// HTTP helpers (transport/http.hpp) and the Origin parser (actors/origin.hpp)
// on arbitrary strings. url_decode never grows its input and inverts
// percent-encoding of every byte; query_params() of a query rebuilt from its
// own (percent-encoded) result gives that result again, and query_param()
// returns the first match; base64_decode yields 6 bits per character;
// parse_origin gives a lower-case host without '/' and a port without ':',
// and any origin passes check_origin against itself: its "host:port" as the
// Host header (origin_check::conn, when it has a host) and the origin as
// allowed_origins entry (origin_check::list).
#include <cstdint>
#include <string>

#include "fenix/detail/origin.hpp"
#include "fuzz_util.hpp"
#include "fenix/transport/http.hpp"

using namespace fenix;
using namespace fenix::transport;
using namespace fenix::detail;

namespace {

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s)
    out += {'%', hex[c >> 4], hex[c & 15]};
  return out;
}

bool has_upper(const std::string& s) {
  return s.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string in{reinterpret_cast<const char*>(data), size};
  FUZZ_CHECK(url_decode(in, true).size() <= in.size());
  FUZZ_CHECK(url_decode(in, false).size() <= in.size());
  FUZZ_CHECK(url_decode(percent_encode(in), false) == in);

  http_request req;
  req.query = in;
  auto params = req.query_params();
  http_request again;
  for (auto& [k, v] : params)
    again.query += percent_encode(k) + '=' + percent_encode(v) + '&';
  FUZZ_CHECK(again.query_params() == params);
  if (!params.empty())
    FUZZ_CHECK(req.query_param(params[0].first) == params[0].second);

  auto stripped = std::string_view{in}.substr(0, in.find_last_not_of('=') + 1);
  if (auto bytes = base64_decode(in))
    FUZZ_CHECK(bytes->size() == stripped.size() * 6 / 8);
  FUZZ_CHECK(!mime_type(in).empty());

  auto o = parse_origin(in);
  FUZZ_CHECK(o.host.find('/') == std::string::npos && !has_upper(o.host));
  FUZZ_CHECK(o.port.find(':') == std::string::npos && !has_upper(o.scheme));
  endpoint_options opts;
  bool tls = o.scheme == "https" || o.scheme == "wss";  // default port
  auto host = o.host + ':' + (!o.port.empty() ? o.port : tls ? "443" : "80");
  FUZZ_CHECK(origin_allowed(opts, in, host) || o.host.empty());
  opts.check_origin = origin_check::list;
  opts.allowed_origins = {in};
  FUZZ_CHECK(origin_allowed(opts, in, ""));
  return 0;
}
