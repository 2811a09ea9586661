#include "fenix/protocol/json.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_stack.hpp>

namespace fenix::protocol {

namespace {

// Builds a json::value like Boost's own parser handler (detail::handler),
// but reads doubles again from their source text.
struct precise_handler {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::string number;  // the text of a number split over several writes
  // What the parsed document may cost in memory (see max_parsed_bytes): a
  // value costs its slot on the value stack and in its container, a string
  // or key its characters as well.
  std::size_t budget = max_parsed_bytes;
  std::size_t used = 0;

  static constexpr std::size_t value_cost = 2 * sizeof(json::value);
  static constexpr std::size_t member_cost = sizeof(json::key_value_pair);

  bool charge(std::size_t n, json::error_code& ec) {
    used += n;
    if (used <= budget)
      return true;
    ec = json::error::array_too_large;  // the document is too large
    return false;
  }

  precise_handler(json::storage_ptr sp, unsigned char* buf, std::size_t size)
    : st(std::move(sp), buf, size) {}

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code& ec) {
    if (!charge(value_cost + n * member_cost, ec))
      return false;
    st.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code& ec) {
    if (!charge(value_cost, ec))
      return false;
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code& ec) {
    if (!charge(s.size(), ec))
      return false;
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    if (!charge(s.size(), ec))
      return false;
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code& ec) {
    if (!charge(s.size(), ec))
      return false;
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code& ec) {
    if (!charge(value_cost + s.size(), ec))
      return false;
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, json::error_code& ec) {
    number.clear();
    if (!charge(value_cost, ec))
      return false;
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code& ec) {
    number.clear();
    if (!charge(value_cost, ec))
      return false;
    st.push_uint64(u);
    return true;
  }
  bool on_double(double approx, json::string_view s, json::error_code& ec) {
    std::string_view text{s.data(), s.size()};
    if (!number.empty()) {
      number.append(s.data(), s.size());
      text = number;
    }
    double d = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), d);
    number.clear();
    if (r.ec == std::errc::result_out_of_range) {
      // Too large or too small for a double: Boost's estimate tells which
      // (it is >= 1e308 or inf for the first, < 1e-300 for the second).
      if (!(std::fabs(approx) < 1.0)) {
        ec = boost::system::errc::make_error_code(
          boost::system::errc::result_out_of_range);
        return false;
      }
      d =
        std::signbit(approx) || (!text.empty() && text[0] == '-') ? -0.0 : 0.0;
    } else if (r.ec != std::errc{} || r.ptr != text.data() + text.size()
               || !std::isfinite(d)) {
      ec = boost::system::errc::make_error_code(
        boost::system::errc::result_out_of_range);
      return false;
    }
    if (!charge(value_cost, ec))
      return false;
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code& ec) {
    if (!charge(value_cost, ec))
      return false;
    st.push_bool(b);
    return true;
  }
  bool on_null(json::error_code& ec) {
    if (!charge(value_cost, ec))
      return false;
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

// False if `v` holds a non-finite number or goes deeper than `left` levels.
bool encodable(const json::value& v, std::size_t left, const char*& why) {
  switch (v.kind()) {
  case json::kind::double_:
    if (!std::isfinite(v.get_double())) {
      why = "non-finite number in JSON";
      return false;
    }
    return true;
  case json::kind::array:
    if (left == 0) {
      why = "JSON nested too deep";
      return false;
    }
    for (auto& x : v.get_array())
      if (!encodable(x, left - 1, why))
        return false;
    return true;
  case json::kind::object:
    if (left == 0) {
      why = "JSON nested too deep";
      return false;
    }
    for (auto& kv : v.get_object())
      if (!encodable(kv.value(), left - 1, why))
        return false;
    return true;
  default:
    return true;
  }
}

}  // namespace

json::value parse_json(std::string_view text, json::error_code& ec,
                       std::size_t max_depth) {
  unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
  json::parse_options opt;
  opt.max_depth = max_depth;
  json::basic_parser<precise_handler> p(opt, json::storage_ptr{}, temp,
                                        sizeof(temp));
  ec = {};
  auto n = p.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size())
    ec = json::error::extra_data;
  if (ec)
    return nullptr;
  return p.handler().st.release();
}

std::size_t json_depth(const json::value& v) {
  std::size_t deepest = 0;
  std::vector<std::pair<const json::value*, std::size_t>> todo{{&v, 0}};
  while (!todo.empty()) {
    auto [x, d] = todo.back();
    todo.pop_back();
    if (auto* a = x->if_array()) {
      deepest = std::max(deepest, d + 1);
      for (auto& y : *a)
        todo.emplace_back(&y, d + 1);
    } else if (auto* o = x->if_object()) {
      deepest = std::max(deepest, d + 1);
      for (auto& kv : *o)
        todo.emplace_back(&kv.value(), d + 1);
    }
  }
  return deepest;
}

void check_json(const json::value& v, std::size_t max_depth) {
  const char* why = nullptr;
  if (!encodable(v, max_depth, why))
    throw std::domain_error(why);
}

void append_json(std::string& out, const json::value& v,
                 std::size_t max_depth) {
  check_json(v, max_depth);
  out += json::serialize(v);
}

std::string serialize_json(const json::value& v, std::size_t max_depth) {
  check_json(v, max_depth);
  return json::serialize(v);
}

}  // namespace fenix::protocol
