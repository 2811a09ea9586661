/// Topic patterns as Phoenix's `channel "room:*", RoomChannel`: a pattern
/// ending in `*` matches every topic with that prefix, any other pattern
/// matches exactly one topic.
///
///   topic_pattern p{"room:*"};
///   p.matches("room:lobby");  // true
///   p.matches("room:");       // true (Phoenix matches the empty rest too)
///   p.matches("rooms");       // false
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace fenix::socket {

class topic_pattern {
public:
  explicit topic_pattern(std::string pattern) : text_(std::move(pattern)) {
    auto star = text_.find('*');
    if (star != std::string::npos && star != text_.size() - 1)
      throw std::invalid_argument("topic pattern: '*' must come last: "
                                  + text_);
    wildcard_ = star != std::string::npos;
    if (wildcard_)
      prefix_ = text_.substr(0, star);
  }

  bool matches(std::string_view topic) const {
    if (wildcard_)
      return topic.substr(0, prefix_.size()) == prefix_;
    return topic == text_;
  }

  const std::string& text() const { return text_; }

private:
  std::string text_;
  std::string prefix_;
  bool wildcard_ = false;
};

}  // namespace fenix::socket
