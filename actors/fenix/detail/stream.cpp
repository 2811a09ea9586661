#include "fenix/detail/stream.hpp"

#include <stdexcept>

#include <openssl/rand.h>

namespace fenix::detail {

std::string random_epoch() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof(bytes));
  for (auto c : bytes) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

stream::stream(std::shared_ptr<const history_options> opts,
               stream_clock::time_point now)
  : opts_(std::move(opts)),
    epoch_(random_epoch()),
    last_active_(now) {}

stream::stream(std::shared_ptr<const history_options> opts,
               const stream_seed& seed, stream_clock::time_point now)
  : opts_(std::move(opts)),
    epoch_(seed.position.epoch.empty() ? random_epoch() : seed.position.epoch),
    offset_(seed.position.offset),
    last_active_(now) {
  for (auto& e : seed.entries)
    if (e.b && e.b->offset > 0 && e.b->offset <= offset_
        && (entries_.empty() || e.b->offset > entries_.back().b->offset))
      keep(e);
  trim(now);
}

void stream::keep(stream_entry e) {
  entries_.push_back(std::move(e));
  while (entries_.size() > opts_->max_messages)
    entries_.pop_front();
}

broadcast_ptr stream::record(const broadcast_ptr& b,
                             stream_clock::time_point now) {
  auto copy = std::make_shared<broadcast>(*b);
  copy->offset = ++offset_;
  auto& key = opts_->offset_key;
  if (!key.empty() && !copy->payload.is_binary()
      && copy->payload.json().is_object())
    copy->payload.json().as_object()[key] =
      static_cast<std::int64_t>(copy->offset);
  broadcast_ptr out = std::move(copy);
  last_active_ = now;
  if (opts_->max_messages > 0)
    keep(stream_entry{out, now});
  trim(now);
  return out;
}

void stream::trim(stream_clock::time_point now) {
  while (!entries_.empty() && now - entries_.front().at > opts_->max_age)
    entries_.pop_front();
}

bool stream::can_serve(const stream_position& since) const {
  if (since.epoch != epoch_ || since.offset > offset_)
    return false;
  if (since.offset == offset_)
    return true;
  return !entries_.empty() && entries_.front().b->offset <= since.offset + 1;
}

std::vector<broadcast_ptr> stream::after(std::uint64_t offset) const {
  std::vector<broadcast_ptr> out;
  for (auto& e : entries_)
    if (e.b->offset > offset)
      out.push_back(e.b);
  return out;
}

}  // namespace fenix::detail
