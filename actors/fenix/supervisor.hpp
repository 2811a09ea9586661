/// A supervisor for long-lived actors, with Erlang/OTP's vocabulary: child
/// specs (a name and a start function), a restart strategy, a restart
/// intensity, and an order of start and stop.
///
///   fenix::supervisor sup{sys, {.max_restarts = 3, .period = 5s}};
///   sup.start_child({"myapp.store", [path](caf::actor_system& sys) {
///                      return sys.spawn(store_fn, path);
///                    }});
///   auto store = sup.which("myapp.store");  // the current handle
///
/// The endpoint owns one (endpoint::supervisor()) with the PubSub shards
/// ("fenix.pubsub/N") and the presence tracker shards ("fenix.presence/N")
/// as children (the cluster node actor is not supervised yet); an
/// application puts its own long-lived actors (stores, per-user actors)
/// under it the same way.
///
/// Lifecycle:
/// - start_child starts the child at once, in the caller's thread, and
///   returns its handle; children are started in the order of the calls.
/// - one_for_one: a child that exits is started again by its start
///   function, alone, unless its restart policy says otherwise (permanent:
///   always; transient: only after an abnormal exit, i.e. a reason other
///   than none or user_shutdown; temporary: never). Each new handle is
///   handed to the spec's on_start (e.g. to route to it from now on).
/// - Restart intensity: more than `max_restarts` restarts within `period`
///   and the supervisor gives up (escalates): it logs which child and why,
///   stops every child, and calls on_escalate (the endpoint then stops and
///   run() returns 1), as an Erlang supervisor exits to its parent.
/// - stop() stops the children in the reverse order of their start, one at
///   a time: an exit with user_shutdown, then a kill after the child's
///   `shutdown` time if it has not exited by then.
///
/// Every restart is logged (warning: "restarting NAME after REASON") and
/// counted per child (restarts(), /metrics fenix_actor_restarts_total).
/// A start function that throws during a restart counts as a failed
/// restart (the next attempt follows at once, within the intensity).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>

namespace fenix {

/// How the supervisor restarts (Erlang's strategies; one_for_one only).
enum class restart_strategy {
  one_for_one,  // only the child that exited is restarted
};

/// When a child is restarted (Erlang's restart types).
enum class restart_policy {
  permanent,  // always
  transient,  // after an abnormal exit only
  temporary,  // never (it is forgotten when it exits)
};

/// One child: a name (unique under its supervisor, used in logs, metrics
/// and fault injection) and how to start it.
struct child_spec {
  std::string name;
  std::function<caf::actor(caf::actor_system&)> start;
  restart_policy restart = restart_policy::permanent;
  std::chrono::milliseconds shutdown{5'000};  // stop(): then a kill
  // Called with every handle start() returns (the first and each
  // restart's), in the caller's thread or the supervisor's; must not block.
  std::function<void(const caf::actor&)> on_start;
};

struct supervisor_options {
  restart_strategy strategy = restart_strategy::one_for_one;
  std::size_t max_restarts = 3;            // restart intensity: at most this
  std::chrono::milliseconds period{5000};  // many restarts in this period
  // Called once when the intensity is exceeded, after every child stopped:
  // (the child that failed last, its exit reason as text).
  std::function<void(const std::string& child, const std::string& reason)>
    on_escalate;
};

class supervisor {
public:
  supervisor(caf::actor_system& sys, supervisor_options opts = {},
             std::string name = "fenix.supervisor");
  ~supervisor();

  supervisor(const supervisor&) = delete;
  supervisor& operator=(const supervisor&) = delete;

  /// Starts `spec` now and supervises it; returns its handle. Throws
  /// std::invalid_argument for a duplicate name, and what start throws.
  caf::actor start_child(child_spec spec);

  /// Stops the child and forgets it (no restart). No-op for unknown names.
  void terminate_child(const std::string& name);

  /// The child's current handle (null if unknown or stopped).
  caf::actor which(const std::string& name) const;

  /// The names of the children, in start order.
  std::vector<std::string> children() const;

  /// How often each child was restarted, in start order (every child ever
  /// started, including terminated ones).
  std::vector<std::pair<std::string, std::uint64_t>> restarts() const;

  /// How often `name` was restarted.
  std::uint64_t restarts(const std::string& name) const;

  /// True once the restart intensity was exceeded.
  bool escalated() const;

  /// Stops every child in reverse start order and waits for them.
  /// Idempotent; the destructor calls it.
  void stop();

  const std::string& name() const;

  struct shared;  // internal

private:
  caf::actor_system& sys_;
  std::shared_ptr<shared> sh_;
  caf::actor actor_;
};

}  // namespace fenix
