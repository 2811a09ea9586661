/// A frame as the transport writes it: bytes shared by every connection it
/// goes to (a broadcast is encoded once), and whether it is binary.
#pragma once

#include <atomic>
#include <memory>
#include <string>

namespace fenix::transport {

/// What the transport derives from a frame's bytes once for every
/// connection it goes to: its permessage-deflate form. Any thread.
class frame_memo {
public:
  std::shared_ptr<const std::string> deflated() const {
    return std::atomic_load(&deflated_);
  }
  void deflated(std::shared_ptr<const std::string> bytes) {
    std::atomic_store(&deflated_, std::move(bytes));
  }

private:
  std::shared_ptr<const std::string> deflated_;
};

struct frame {
  std::shared_ptr<const std::string> data;
  bool binary = false;
  std::shared_ptr<frame_memo> memo;  // null: nothing is kept

  std::size_t size() const { return data ? data->size() : 0; }
};

/// Makes a frame from a string (one allocation, then shared).
inline frame make_frame(std::string bytes, bool binary = false) {
  struct storage {
    std::string bytes;
    frame_memo memo;
  };
  auto s = std::make_shared<storage>();
  s->bytes = std::move(bytes);
  return frame{std::shared_ptr<const std::string>(s, &s->bytes), binary,
               std::shared_ptr<frame_memo>(s, &s->memo)};
}

}  // namespace fenix::transport
