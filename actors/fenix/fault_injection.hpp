/// Fault injection for tests and operators: crash a named system actor, or
/// drop or delay the messages routed to it. Compiled in, off unless enabled
/// (endpoint_options::fault_injection; endpoint::faults() is null when off).
///
///   fenix::endpoint ep{sys, {.port = 0, .fault_injection = true}};
///   ep.faults()->crash("fenix.pubsub/0");   // as if it threw
///   ep.faults()->drop("fenix.presence/1", 5);  // its next 5 messages
///   ep.faults()->delay("fenix.pubsub/1", 200ms);
///   ep.faults()->clear("fenix.pubsub/1");
///
/// Names are those of the endpoint supervisor's children (supervisor.hpp):
/// "fenix.pubsub/N", "fenix.presence/N", "fenix.cluster", and whatever an
/// application starts under it. A crash is an exit with reason
/// runtime_error "fault injected", what an actor that threw dies with; the
/// supervisor restarts the child and linked actors (channels) die with it.
/// (Not `kill`: CAF 0.17 passes kill on through links untrappable, so it
/// would take sockets and every other shard with it.) A system actor that
/// traps exits obeys an anonymous exit, which is what this sends.
///
/// drop and delay apply to what the sharded facades route (PubSub and
/// presence shards: broadcasts, subscribes, unsubscribes, presence updates
/// sent through pubsub / presence_tracker), not to requests an actor makes
/// to a handle it holds. While a delay is set, every routed message waits
/// the same time, so their order stays.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace fenix {

class supervisor;

class fault_injector {
public:
  explicit fault_injector(supervisor& sup) : sup_(sup) {}

  /// Kills the child `name` (reason kill). False if no such running child.
  bool crash(const std::string& name);

  /// Drops the next `count` messages routed to `name`.
  void drop(const std::string& name, std::size_t count = SIZE_MAX);

  /// Delays every message routed to `name` by `d` until clear().
  void delay(const std::string& name, std::chrono::milliseconds d);

  /// Removes the drop and delay rules of `name`.
  void clear(const std::string& name);

  /// Internal (the facades): what to do with one message routed to `name`.
  struct verdict {
    bool drop = false;
    std::chrono::milliseconds delay{0};
  };
  std::optional<verdict> take(const std::string& name);

  /// Internal: true while any rule is set (a cheap check before take).
  bool active() const { return active_.load(std::memory_order_relaxed); }

private:
  struct rule {
    std::size_t drops = 0;
    std::chrono::milliseconds delay{0};
  };
  supervisor& sup_;
  std::mutex mtx_;
  std::map<std::string, rule> rules_;
  std::atomic<bool> active_{false};
};

}  // namespace fenix
