/// A frame as the transport writes it: bytes shared by every connection it
/// goes to (a broadcast is encoded once), and whether it is binary.
#pragma once

#include <memory>
#include <string>

namespace fenix::transport {

struct frame {
  std::shared_ptr<const std::string> data;
  bool binary = false;

  std::size_t size() const { return data ? data->size() : 0; }
};

/// Makes a frame from a string (one allocation, then shared).
inline frame make_frame(std::string bytes, bool binary = false) {
  return frame{std::make_shared<const std::string>(std::move(bytes)), binary};
}

/// Reply status as Phoenix sends it.

}  // namespace fenix::transport
