/// Internal: the sharded-actor facade shared by PubSub and presence: `n`
/// shard actors, supervised (children "PREFIX/0" ... "PREFIX/n-1" of a
/// supervisor), and routing by key (a topic) to the shard's current handle.
/// Not part of the public API.
///
/// How it works: each shard has a slot holding its handle; the child's
/// on_start (called by the supervisor after a restart) replaces it, so from
/// then on every route reaches the restarted shard. Routes copy the handle
/// under the slot's mutex (no send happens under it). The fault injector,
/// when set, may drop or delay what send() routes (fault_injection.hpp).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/send.hpp>

#include "fenix/fault_injection.hpp"
#include "fenix/supervisor.hpp"

namespace fenix::detail {

class sharded {
public:
  using start_fn = std::function<caf::actor(caf::actor_system&, std::size_t)>;

  /// Starts `n` (at least 1) shards under `sup`, in index order.
  sharded(supervisor& sup, std::string prefix, std::size_t n, start_fn start,
          std::shared_ptr<fault_injector> faults = nullptr)
    : sup_(sup),
      prefix_(std::move(prefix)),
      faults_(std::move(faults)) {
    n = std::max<std::size_t>(1, n);
    for (std::size_t i = 0; i < n; ++i)
      slots_.push_back(std::make_shared<slot>());
    for (std::size_t i = 0; i < n; ++i) {
      child_spec spec;
      spec.name = name(i);
      spec.start = [start, i](caf::actor_system& sys) { return start(sys, i); };
      spec.on_start = [s = slots_[i]](const caf::actor& h) {
        std::lock_guard<std::mutex> guard{s->mtx};
        if (!s->stopped)
          s->handle = h;
      };
      sup_.start_child(std::move(spec));
    }
  }

  ~sharded() { stop(); }

  sharded(const sharded&) = delete;
  sharded& operator=(const sharded&) = delete;

  std::size_t size() const { return slots_.size(); }

  std::size_t index_of(const std::string& key) const {
    return std::hash<std::string>{}(key) % slots_.size();
  }

  /// The shard's current handle (null after stop()).
  caf::actor at(std::size_t i) const {
    auto& s = *slots_[i];
    std::lock_guard<std::mutex> guard{s.mtx};
    return s.handle;
  }

  caf::actor route(const std::string& key) const { return at(index_of(key)); }

  std::vector<caf::actor> all() const {
    std::vector<caf::actor> out;
    for (std::size_t i = 0; i < slots_.size(); ++i)
      out.push_back(at(i));
    return out;
  }

  /// The supervisor's name of shard `i`: "PREFIX/i".
  std::string name(std::size_t i) const {
    return prefix_ + "/" + std::to_string(i);
  }

  /// Sends to the shard of `key` (with the fault injector's verdict).
  template <class... Ts>
  void send(const std::string& key, Ts&&... xs) const {
    send_to(index_of(key), std::forward<Ts>(xs)...);
  }

  template <class... Ts>
  void send_to(std::size_t i, Ts&&... xs) const {
    auto h = at(i);
    if (!h)
      return;  // stopped
    if (faults_ && faults_->active())
      if (auto v = faults_->take(name(i))) {
        if (v->drop)
          return;
        if (v->delay.count() > 0) {
          caf::delayed_anon_send(h, v->delay, std::forward<Ts>(xs)...);
          return;
        }
      }
    caf::anon_send(h, std::forward<Ts>(xs)...);
  }

  /// Stops the shards (terminate_child) and clears the handles. Idempotent.
  void stop() {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      {
        auto& s = *slots_[i];
        std::lock_guard<std::mutex> guard{s.mtx};
        if (s.stopped)
          continue;
        s.stopped = true;
        s.handle = nullptr;
      }
      sup_.terminate_child(name(i));
    }
  }

private:
  struct slot {
    std::mutex mtx;
    caf::actor handle;
    bool stopped = false;
  };
  supervisor& sup_;
  std::string prefix_;
  std::shared_ptr<fault_injector> faults_;
  std::vector<std::shared_ptr<slot>> slots_;
};

}  // namespace fenix::detail
