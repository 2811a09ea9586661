// permessage-deflate: negotiation and the zlib codec (see deflate.hpp).

#include "fenix/transport/ws/deflate.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include <zlib.h>

namespace fenix::transport::ws {

// -- negotiation ---------------------------------------------------------------

namespace {

constexpr std::string_view extension_name = "permessage-deflate";

struct param {
  std::string name;
  std::optional<std::string> value;
};

struct offer {
  std::string name;
  std::vector<param> params;
};

bool token_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 32 || u >= 127)
    return false;
  return std::strchr("()<>@,;:\\\"/[]?={}", c) == nullptr;
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// A scanner over one header value (RFC 6455 9.1 with RFC 7230 lists).
class scanner {
public:
  explicit scanner(std::string_view s) : s_(s) {}

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  void skip_ows() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t'))
      ++pos_;
  }
  bool take(char c) {
    if (peek() != c)
      return false;
    ++pos_;
    return true;
  }
  std::string_view token() {
    auto start = pos_;
    while (!at_end() && token_char(s_[pos_]))
      ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // A quoted-string (the opening quote not yet taken); nullopt if broken.
  std::optional<std::string> quoted() {
    if (!take('"'))
      return std::nullopt;
    std::string out;
    while (!at_end()) {
      char c = s_[pos_++];
      if (c == '"')
        return out;
      if (c == '\\') {
        if (at_end())
          return std::nullopt;
        c = s_[pos_++];
      }
      out.push_back(c);
    }
    return std::nullopt;
  }
  // Skips to just past the next ',' outside a quoted string.
  void skip_element() {
    bool in_quote = false;
    while (!at_end()) {
      char c = s_[pos_++];
      if (in_quote && c == '\\' && !at_end())
        ++pos_;
      else if (c == '"')
        in_quote = !in_quote;
      else if (c == ',' && !in_quote)
        return;
    }
  }

private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

// One parameter: name [ "=" ( token | quoted-string ) ].
std::optional<param> parse_param(scanner& sc) {
  sc.skip_ows();
  auto name = sc.token();
  if (name.empty())
    return std::nullopt;
  param p{lower(name), std::nullopt};
  sc.skip_ows();
  if (!sc.take('='))
    return p;
  sc.skip_ows();
  if (sc.peek() == '"') {
    auto v = sc.quoted();
    if (!v)
      return std::nullopt;
    p.value = std::move(*v);
  } else {
    auto v = sc.token();
    if (v.empty())
      return std::nullopt;
    p.value = std::string{v};
  }
  return p;
}

// One list element; nullopt when its syntax is broken (the scanner is then
// past the element anyway, so the next offer can be read).
std::optional<offer> parse_offer(scanner& sc) {
  sc.skip_ows();
  offer o{lower(sc.token()), {}};
  bool ok = !o.name.empty();
  while (ok) {
    sc.skip_ows();
    if (sc.at_end() || sc.peek() == ',')
      break;
    if (!sc.take(';')) {
      ok = false;
      break;
    }
    auto p = parse_param(sc);
    if (!p)
      ok = false;
    else
      o.params.push_back(std::move(*p));
  }
  if (!ok) {
    sc.skip_element();
    return std::nullopt;
  }
  sc.take(',');
  return o;
}

// 8..15 as RFC 7692 7.1.2 writes it: 1*DIGIT, no leading zero.
std::optional<int> window_bits(const std::string& v) {
  if (v == "8" || v == "9")
    return v[0] - '0';
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
    return 10 + (v[1] - '0');
  return std::nullopt;
}

// The parameters we answer for `o`, or nullopt to decline it.
std::optional<deflate_params> accept(const offer& o) {
  deflate_params p;
  bool seen[4] = {false, false, false, false};
  static constexpr std::string_view names[4] = {
    "server_no_context_takeover", "client_no_context_takeover",
    "server_max_window_bits", "client_max_window_bits"};
  for (auto& prm : o.params) {
    auto i = static_cast<std::size_t>(
      std::find(std::begin(names), std::end(names), prm.name)
      - std::begin(names));
    if (i == 4 || seen[i])
      return std::nullopt;  // unknown or repeated
    seen[i] = true;
    if (i < 2 && prm.value)
      return std::nullopt;  // the takeover flags take no value
    if (i == 2) {
      auto bits = prm.value ? window_bits(*prm.value) : std::nullopt;
      if (!bits || *bits < 9)
        return std::nullopt;
      p.server_max_window_bits = *bits;
      p.server_window_requested = true;
    }
    if (i == 3 && prm.value && !window_bits(*prm.value))
      return std::nullopt;
  }
  return p;
}

}  // namespace

std::optional<deflate_params> negotiate_deflate(std::string_view header) {
  scanner sc{header};
  while (!sc.at_end()) {
    sc.skip_ows();
    if (sc.take(','))
      continue;  // empty list elements are allowed
    auto o = parse_offer(sc);
    if (!o || o->name != extension_name)
      continue;
    if (auto p = accept(*o))
      return p;
  }
  return std::nullopt;
}

std::string deflate_response(const deflate_params& p) {
  std::string out{extension_name};
  out += "; server_no_context_takeover; client_no_context_takeover";
  if (p.server_window_requested)
    out +=
      "; server_max_window_bits=" + std::to_string(p.server_max_window_bits);
  return out;
}

// -- deflater ------------------------------------------------------------------

namespace {

constexpr std::size_t chunk = 16 * 1024;
constexpr unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};

}  // namespace

struct deflater::impl {
  z_stream z{};
};

deflater::deflater(int window_bits) : impl_(std::make_unique<impl>()) {
  if (deflateInit2(&impl_->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -window_bits,
                   8, Z_DEFAULT_STRATEGY)
      != Z_OK)
    throw std::bad_alloc{};
}

deflater::~deflater() {
  deflateEnd(&impl_->z);
}

std::string deflater::compress(std::string_view in) {
  auto& z = impl_->z;
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(in.size())) + 8);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_SYNC_FLUSH);
  auto produced = out.size() - z.avail_out;
  deflateReset(&z);
  if (rc != Z_OK || z.avail_in != 0)
    throw std::bad_alloc{};  // the bound is exact: only memory can fail
  if (produced >= 4
      && std::memcmp(out.data() + produced - 4, tail, sizeof tail) == 0)
    produced -= 4;
  out.resize(produced);
  out.shrink_to_fit();
  return out;
}

// -- inflater ------------------------------------------------------------------

struct inflater::impl {
  z_stream z{};
  bool ended = false;  // the sender closed the stream (BFINAL)
};

inflater::inflater() : impl_(std::make_unique<impl>()) {
  if (inflateInit2(&impl_->z, -15) != Z_OK)
    throw std::bad_alloc{};
}

inflater::~inflater() {
  inflateEnd(&impl_->z);
}

void inflater::reset() {
  inflateReset(&impl_->z);
  impl_->ended = false;
}

inflate_status inflater::feed(std::string_view in, std::string& out,
                              std::size_t limit) {
  auto& z = impl_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  unsigned char buf[chunk];
  do {
    z.next_out = buf;
    z.avail_out = sizeof buf;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    auto n = sizeof buf - z.avail_out;
    if (rc == Z_MEM_ERROR)
      throw std::bad_alloc{};
    if (rc == Z_STREAM_END)
      impl_->ended = true;  // what follows is ignored
    else if (rc == Z_BUF_ERROR)
      break;  // no progress possible: needs more input
    else if (rc != Z_OK)
      return inflate_status::bad_data;
    if (n > limit - std::min(limit, out.size()))
      return inflate_status::too_big;
    if (out.size() + n > out.capacity())
      out.reserve(
        std::min(limit, std::max(out.size() + n, 2 * out.capacity())));
    out.append(reinterpret_cast<const char*>(buf), n);
  } while (!impl_->ended && (z.avail_in > 0 || z.avail_out == 0));
  return inflate_status::ok;
}

inflate_status inflater::finish(std::string& out, std::size_t limit) {
  return feed({reinterpret_cast<const char*>(tail), sizeof tail}, out, limit);
}

// -- workspace -----------------------------------------------------------------

deflate_workspace::deflate_workspace() = default;
deflate_workspace::~deflate_workspace() = default;

deflater& deflate_workspace::compressor(int window_bits) {
  auto& d = deflaters_[static_cast<std::size_t>(window_bits)];
  if (!d)
    d = std::make_unique<deflater>(window_bits);
  return *d;
}

inflater& deflate_workspace::shared_inflater() {
  if (!inflater_)
    inflater_ = std::make_unique<inflater>();
  return *inflater_;
}

deflate_result deflate_frame(frame& f, const deflate_params& p,
                             std::size_t min_size, deflate_workspace& ws) {
  if (!f.data || f.data->size() < min_size || f.data->empty())
    return deflate_result::plain;
  auto size = f.data->size();
  int bits = p.server_max_window_bits;
  // A message no longer than the window cannot refer past it: the 15-bit
  // form (the memoized one) serves any window then.
  bool full_window = bits == 15 || size <= (std::size_t{1} << bits);
  std::shared_ptr<const std::string> z;
  auto result = deflate_result::memoized;
  if (full_window && f.memo)
    z = f.memo->deflated();
  if (!z) {
    result = deflate_result::deflated;
    z = std::make_shared<const std::string>(
      ws.compressor(full_window ? 15 : bits).compress(*f.data));
    if (full_window && f.memo)
      f.memo->deflated(z);
  }
  if (z->size() >= size)
    return result == deflate_result::deflated ? deflate_result::not_smaller
                                              : deflate_result::plain;
  f.data = std::move(z);
  f.memo = nullptr;
  return result;
}

}  // namespace fenix::transport::ws
