#include "fenix/transport/ws/frame.hpp"

#include <algorithm>

#include "fenix/transport/connection.hpp"
#include "fenix/transport/utf8.hpp"

namespace fenix::transport::ws {

namespace {

constexpr std::uint16_t code_of(close_code c) {
  return static_cast<std::uint16_t>(c);
}

bool known_opcode(unsigned op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// Appends `n` masked bytes to `out`, unmasking them.
void append_unmasked(std::string& out, const char* p, std::size_t n,
                     const unsigned char mask[4]) {
  auto at = out.size();
  out.resize(at + n);
  char* dst = out.data() + at;
  for (std::size_t i = 0; i < n; ++i)
    dst[i] = static_cast<char>(p[i] ^ static_cast<char>(mask[i & 3]));
}

// Inflates `n` masked bytes into `out`, unmasking them a block at a time.
inflate_status inflate_unmasked(inflater& inf, std::string_view in,
                                const unsigned char mask[4], std::string& out,
                                std::size_t limit) {
  char block[4096];  // a multiple of 4: the mask stays aligned
  for (std::size_t at = 0; at < in.size(); at += sizeof block) {
    auto n = std::min(sizeof block, in.size() - at);
    for (std::size_t i = 0; i < n; ++i)
      block[i] = static_cast<char>(in[at + i] ^ static_cast<char>(mask[i & 3]));
    auto st = inf.feed({block, n}, out, limit);
    if (st != inflate_status::ok)
      return st;
  }
  return inflate_status::ok;
}

}  // namespace

std::size_t write_header(std::uint8_t* out, ws_opcode op,
                         std::uint64_t length) {
  out[0] = static_cast<std::uint8_t>(0x80 | static_cast<unsigned>(op));
  if (length < 126) {
    out[1] = static_cast<std::uint8_t>(length);
    return 2;
  }
  if (length <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<std::uint8_t>(length >> 8);
    out[3] = static_cast<std::uint8_t>(length);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i)
    out[2 + i] = static_cast<std::uint8_t>(length >> (56 - 8 * i));
  return 10;
}

bool valid_close_code(std::uint16_t code) {
  if (code >= 3000 && code <= 4999)
    return true;
  switch (code) {
  case 1000:
  case 1001:
  case 1002:
  case 1003:
  case 1007:
  case 1008:
  case 1009:
  case 1010:
  case 1011:
  case 1012:
  case 1013:
  case 1014:
    return true;
  default:
    return false;
  }
}

bool frame_reader::check_partial(std::string_view payload,
                                 const unsigned char mask[4]) {
  char buf[256];
  while (checked_ < payload.size()) {
    auto n = std::min(sizeof buf, payload.size() - checked_);
    for (std::size_t i = 0; i < n; ++i)
      buf[i] = static_cast<char>(payload[checked_ + i]
                                 ^ static_cast<char>(mask[(checked_ + i) & 3]));
    checked_ += n;
    if (!utf8_.feed({buf, n}))
      return false;
  }
  return true;
}

std::size_t frame_reader::abandon(std::uint16_t code, bool fin,
                                  std::uint64_t length, std::size_t hsize,
                                  std::vector<ws_event>& out) {
  out.push_back({ws_event::error, false, code, {}});
  discarding_ = true;
  in_message_ = !fin;
  checked_ = 0;
  std::string{}.swap(message_);
  end_inflate();
  skip_ = length;
  return hsize;
}

void frame_reader::fail(std::uint16_t code, std::vector<ws_event>& out) {
  out.push_back({ws_event::error, false, code, {}});
  done_ = true;
  end_inflate();
}

void frame_reader::feed(std::string_view in, std::vector<ws_event>& out) {
  if (done_)
    return;
  bool from_pending = !pending_.empty();
  std::string_view view = in;
  if (from_pending) {
    pending_.append(in);
    view = pending_;
  }
  std::size_t pos = 0;
  while (!done_ && pos < view.size()) {
    if (skip_ > 0) {
      auto k = std::min<std::uint64_t>(skip_, view.size() - pos);
      pos += k;
      skip_ -= k;
      continue;
    }
    auto n = step(view.substr(pos), out);
    if (n == 0)
      break;
    pos += n;
  }
  if (done_) {
    std::string{}.swap(pending_);
    std::string{}.swap(message_);
    return;
  }
  if (from_pending)
    pending_.erase(0, pos);
  else
    pending_.assign(view.substr(pos));
  if (pending_.empty() && pending_.capacity() > 64)
    std::string{}.swap(pending_);  // no buffer kept between frames
}

void frame_reader::start_message(unsigned op, bool compressed, bool fin,
                                 std::uint64_t length) {
  message_binary_ = op == static_cast<unsigned>(ws_opcode::binary);
  if (!compressed) {
    message_.reserve(static_cast<std::size_t>(length));
  } else if (fin) {
    inflater_ = &deflate_->shared_inflater();
  } else {
    own_inflater_ = std::make_unique<inflater>();
    inflater_ = own_inflater_.get();
  }
}

void frame_reader::end_inflate() {
  if (inflater_ && inflater_ != own_inflater_.get())
    inflater_->reset();  // the shared one, ready for the next message
  own_inflater_.reset();
  inflater_ = nullptr;
}

bool frame_reader::append_payload(std::string_view payload,
                                  const unsigned char mask[4], bool fin,
                                  std::vector<ws_event>& out) {
  if (!inflater_) {
    append_unmasked(message_, payload.data(), payload.size(), mask);
    return true;
  }
  auto st = inflate_unmasked(*inflater_, payload, mask, message_, max_message_);
  if (st == inflate_status::ok && fin)
    st = inflater_->finish(message_, max_message_);
  if (fin || st != inflate_status::ok)
    end_inflate();
  if (st == inflate_status::ok)
    return true;
  auto code = st == inflate_status::too_big ? close_code::too_big
                                            : close_code::invalid_payload;
  out.push_back({ws_event::error, false, code_of(code), {}});
  discarding_ = true;
  std::string{}.swap(message_);
  return false;
}

std::size_t frame_reader::step(std::string_view data,
                               std::vector<ws_event>& out) {
  if (data.size() < 2)
    return 0;
  auto b0 = static_cast<unsigned char>(data[0]);
  auto b1 = static_cast<unsigned char>(data[1]);
  bool fin = (b0 & 0x80) != 0;
  unsigned op = b0 & 0x0F;
  unsigned len7 = b1 & 0x7F;
  bool control = (op & 0x8) != 0;
  // Reserved bits need a negotiated extension: RSV1 only on the first frame
  // of a compressed data message (RFC 7692 6.1); clients must mask every
  // frame (RFC 6455 5.1).
  bool rsv1 = (b0 & 0x40) != 0;
  bool rsv1_ok = deflate_ && !control && op != 0;
  if ((b0 & 0x30) != 0 || (rsv1 && !rsv1_ok) || !known_opcode(op)
      || (b1 & 0x80) == 0) {
    fail(code_of(close_code::protocol_error), out);
    return 0;
  }
  std::size_t hsize = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
  if (data.size() < hsize)
    return 0;
  std::uint64_t length = len7;
  if (len7 == 126) {
    length = (std::uint64_t{static_cast<unsigned char>(data[2])} << 8)
             | static_cast<unsigned char>(data[3]);
  } else if (len7 == 127) {
    length = 0;
    for (int i = 0; i < 8; ++i)
      length = (length << 8) | static_cast<unsigned char>(data[2 + i]);
    if (length >> 63) {
      fail(code_of(close_code::protocol_error), out);
      return 0;
    }
  }
  unsigned char mask[4];
  for (int i = 0; i < 4; ++i)
    mask[i] = static_cast<unsigned char>(data[hsize - 4 + i]);
  if (control && (!fin || length > 125)) {
    fail(code_of(close_code::protocol_error), out);
    return 0;
  }

  if (!control) {
    bool continuation = op == 0;
    if (continuation != in_message_) {
      fail(code_of(close_code::protocol_error), out);
      return 0;
    }
    if (discarding_) {
      in_message_ = !fin;
      checked_ = 0;
      skip_ = length;
      return hsize;
    }
    if (message_.size() + length > max_message_) {
      // Decided from the header: the payload is dropped as it arrives.
      return abandon(code_of(close_code::too_big), fin, length, hsize, out);
    }
    if (!continuation) {
      message_binary_ = op == static_cast<unsigned>(ws_opcode::binary);
      if (checked_ == 0)
        utf8_.reset();  // a new message (not a frame parsed again)
    }
    bool text = !message_binary_;
    bool compressed = continuation ? inflater_ != nullptr : rsv1;
    if (data.size() - hsize < length) {
      // Parsed again, whole, when more bytes came; plain text fails fast
      // (compressed text is checked as it is inflated, frame by frame).
      if (text && !compressed && !check_partial(data.substr(hsize), mask))
        return abandon(code_of(close_code::invalid_payload), fin, length, hsize,
                       out);
      return 0;
    }
    in_message_ = !fin;
    if (!continuation)
      start_message(op, rsv1, fin, length);
    auto consumed = hsize + static_cast<std::size_t>(length);
    auto at = message_.size();
    if (!append_payload(data.substr(hsize, static_cast<std::size_t>(length)),
                        mask, fin, out)) {
      checked_ = 0;
      return consumed;
    }
    auto from = at + (compressed ? 0 : checked_);
    checked_ = 0;
    if (text
        && (!utf8_.feed(std::string_view{message_}.substr(from))
            || (fin && !utf8_.complete())))
      return abandon(code_of(close_code::invalid_payload), fin, 0, hsize, out)
             + static_cast<std::size_t>(length);
    if (fin) {
      std::string m;
      m.swap(message_);
      out.push_back({ws_event::message, message_binary_, 0, std::move(m)});
    }
    return consumed;
  }

  if (data.size() - hsize < length)
    return 0;
  std::string payload;
  append_unmasked(payload, data.data() + hsize,
                  static_cast<std::size_t>(length), mask);
  auto consumed = hsize + static_cast<std::size_t>(length);
  switch (static_cast<ws_opcode>(op)) {
  case ws_opcode::ping:
    if (!discarding_)
      out.push_back({ws_event::ping, false, 0, std::move(payload)});
    break;
  case ws_opcode::close: {
    if (payload.size() == 1) {
      fail(code_of(close_code::protocol_error), out);
      return 0;
    }
    std::uint16_t code = 0;
    if (payload.size() >= 2) {
      code =
        static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8)
                                   | static_cast<unsigned char>(payload[1]));
      if (!valid_close_code(code)) {
        fail(code_of(close_code::protocol_error), out);
        return 0;
      }
      payload.erase(0, 2);
      if (!valid_utf8(payload)) {
        fail(code_of(close_code::invalid_payload), out);
        return 0;
      }
    }
    out.push_back({ws_event::close, false, code, std::move(payload)});
    done_ = true;
    break;
  }
  default:  // pong: nothing to do
    break;
  }
  return consumed;
}

}  // namespace fenix::transport::ws
