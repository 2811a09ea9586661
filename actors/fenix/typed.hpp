/// Typed payloads: a struct per event, decoded from and encoded to JSON.
///
///   struct new_msg {
///     std::string body;
///     std::optional<std::string> reply_to;  // may be missing or null
///   };
///   BOOST_DESCRIBE_STRUCT(new_msg, (), (body, reply_to))
///
///   auto m = fenix::decode<new_msg>(p);
///   if (!m)
///     return fenix::reply::error(m.error().to_json());
///   // {"reason": "invalid payload", "field": "body", "error": "missing"}
///   use(m->body);
///   return fenix::reply::ok(fenix::encode(m.value()));
///
/// What decodes: std::string, bool, integers (a JSON integer in range),
/// floating point (any JSON number), json::value/object/array, payload,
/// std::optional<T> (missing or null: nullopt), std::vector<T>, structs
/// described with BOOST_DESCRIBE_STRUCT (an object; members looked up by
/// name, unknown keys ignored), and any other type Boost.JSON converts
/// (tag_invoke value_to; its errors name the field but not the cause).
/// Field paths name nested members and elements: "ticket.title",
/// "votes[2]".
#pragma once

#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/describe/members.hpp>
#include <boost/json.hpp>
#include <boost/mp11/algorithm.hpp>

#include "fenix/protocol/message.hpp"

namespace fenix {

/// Why a payload did not decode.
struct invalid_payload {
  /// Path of the offending field ("body", "ticket.title", "votes[2]");
  /// empty for the payload itself (e.g. not an object).
  std::string field;
  /// "missing" or "expected <type>" (string, boolean, integer, number,
  /// object, array, JSON).
  std::string error;

  /// The standard answer: {"reason": "invalid payload", "field", "error"}.
  boost::json::object to_json() const {
    return {{"reason", "invalid payload"}, {"field", field}, {"error", error}};
  }
};

/// A decoded value or why it did not decode.
template <class T>
class decoded {
public:
  decoded(T x) : value_(std::move(x)) {}
  decoded(invalid_payload e) : error_(std::move(e)) {}

  explicit operator bool() const { return value_.has_value(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  /// Meaningful only when decoding failed.
  const invalid_payload& error() const { return error_; }

private:
  std::optional<T> value_;
  invalid_payload error_;
};

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T>
constexpr bool is_described_v = boost::describe::has_describe_members<T>::value;

inline std::string join_path(const std::string& base, const char* name) {
  return base.empty() ? std::string{name} : base + "." + name;
}

template <class T>
bool decode_into(const boost::json::value& v, T& out, const std::string& path,
                 invalid_payload& err);

inline bool fail(invalid_payload& err, const std::string& path,
                 const char* expected) {
  err.field = path;
  err.error = std::string{"expected "} + expected;
  return false;
}

template <class T>
bool decode_integer(const boost::json::value& v, T& out,
                    const std::string& path, invalid_payload& err) {
  using lim = std::numeric_limits<T>;
  if (v.is_int64()) {
    auto n = v.get_int64();
    if constexpr (std::is_signed_v<T>) {
      if (n < static_cast<std::int64_t>(lim::min())
          || n > static_cast<std::int64_t>(lim::max()))
        return fail(err, path, "integer in range");
    } else {
      if (n < 0 || static_cast<std::uint64_t>(n) > lim::max())
        return fail(err, path, "integer in range");
    }
    out = static_cast<T>(n);
    return true;
  }
  if (v.is_uint64()) {
    auto n = v.get_uint64();
    if (n > static_cast<std::uint64_t>(lim::max()))
      return fail(err, path, "integer in range");
    out = static_cast<T>(n);
    return true;
  }
  return fail(err, path, "integer");
}

template <class T>
bool decode_described(const boost::json::value& v, T& out,
                      const std::string& path, invalid_payload& err) {
  auto* obj = v.if_object();
  if (obj == nullptr)
    return fail(err, path, "object");
  using members =
    boost::describe::describe_members<T, boost::describe::mod_public>;
  bool ok = true;
  boost::mp11::mp_for_each<members>([&](auto d) {
    if (!ok)
      return;
    auto& field = out.*d.pointer;
    using field_t = std::decay_t<decltype(field)>;
    auto sub = join_path(path, d.name);
    auto* x = obj->if_contains(d.name);
    if (x == nullptr) {
      if constexpr (is_optional<field_t>::value) {
        field.reset();
      } else {
        err.field = sub;
        err.error = "missing";
        ok = false;
      }
      return;
    }
    ok = decode_into(*x, field, sub, err);
  });
  return ok;
}

template <class T>
bool decode_into(const boost::json::value& v, T& out, const std::string& path,
                 invalid_payload& err) {
  namespace json = boost::json;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string())
      return fail(err, path, "string");
    out.assign(v.get_string().data(), v.get_string().size());
    return true;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_bool())
      return fail(err, path, "boolean");
    out = v.get_bool();
    return true;
  } else if constexpr (std::is_integral_v<T>) {
    return decode_integer(v, out, path, err);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number())
      return fail(err, path, "number");
    out = static_cast<T>(v.to_number<double>());
    return true;
  } else if constexpr (std::is_same_v<T, json::value>) {
    out = v;
    return true;
  } else if constexpr (std::is_same_v<T, json::object>) {
    if (!v.is_object())
      return fail(err, path, "object");
    out = v.get_object();
    return true;
  } else if constexpr (std::is_same_v<T, json::array>) {
    if (!v.is_array())
      return fail(err, path, "array");
    out = v.get_array();
    return true;
  } else if constexpr (std::is_same_v<T, protocol::payload>) {
    out = protocol::payload{v};
    return true;
  } else if constexpr (is_optional<T>::value) {
    if (v.is_null()) {
      out.reset();
      return true;
    }
    typename T::value_type x{};
    if (!decode_into(v, x, path, err))
      return false;
    out = std::move(x);
    return true;
  } else if constexpr (is_vector<T>::value) {
    auto* arr = v.if_array();
    if (arr == nullptr)
      return fail(err, path, "array");
    out.clear();
    out.reserve(arr->size());
    for (std::size_t i = 0; i < arr->size(); ++i) {
      typename T::value_type x{};
      if (!decode_into((*arr)[i], x, path + "[" + std::to_string(i) + "]", err))
        return false;
      out.push_back(std::move(x));
    }
    return true;
  } else if constexpr (is_described_v<T>) {
    return decode_described(v, out, path, err);
  } else {
    auto r = json::try_value_to<T>(v);
    if (!r)
      return fail(err, path, "valid value");
    out = std::move(*r);
    return true;
  }
}

template <class T>
boost::json::value encode_value(const T& x);

template <class T>
boost::json::value encode_value(const T& x) {
  namespace json = boost::json;
  if constexpr (std::is_same_v<T, protocol::payload>) {
    return x.json();
  } else if constexpr (is_optional<T>::value) {
    return x ? encode_value(*x) : json::value(nullptr);
  } else if constexpr (is_vector<T>::value) {
    json::array a;
    a.reserve(x.size());
    for (auto& e : x)
      a.push_back(encode_value(e));
    return a;
  } else if constexpr (is_described_v<T>) {
    json::object o;
    using members =
      boost::describe::describe_members<T, boost::describe::mod_public>;
    boost::mp11::mp_for_each<members>(
      [&](auto d) { o[d.name] = encode_value(x.*d.pointer); });
    return o;
  } else {
    return json::value_from(x);
  }
}

}  // namespace detail

/// Decodes a JSON value as T.
template <class T>
decoded<T> decode(const boost::json::value& v) {
  T out{};
  invalid_payload err;
  if (!detail::decode_into(v, out, "", err))
    return err;
  return out;
}

/// Decodes a payload as T (see the top of this file). A binary payload
/// decodes only as payload (field "", error "expected JSON").
template <class T>
decoded<T> decode(const protocol::payload& p) {
  if constexpr (std::is_same_v<T, protocol::payload>) {
    return p;
  } else {
    if (p.is_binary())
      return invalid_payload{"", "expected JSON"};
    return decode<T>(p.json());
  }
}

/// Encodes a value as JSON: described structs become objects (nullopt
/// members null), vectors arrays; anything else through
/// boost::json::value_from.
template <class T>
boost::json::value encode(const T& x) {
  return detail::encode_value(x);
}

}  // namespace fenix
