/// Clients that send benchmark messages: each at a fixed rate (paced by
/// the calling thread), or in a closed loop with `window` messages in
/// flight, the next sent when one comes back (its broadcast, or its
/// reply). Every message carries the sender's id, a sequence number and
/// its send time (see wire.hpp).
///
///   senders s{"bench:1", "broadcast", 100};
///   s.add(pool.client(0), pool.join_ref(0), /*id=*/0);
///   s.run_paced(2.0, deadline, 0, [&] { pool.heartbeat_all(); });
///   // or: s.start_closed_loop(8, 0); ... s.acked(k) from the io thread;
///   //     s.wait_closed_loop(deadline, tick);
///   s.total_sent();
///
/// Threads: run_paced / wait_closed_loop block the calling thread; acked()
/// is called from the io thread. A per-sender mutex keeps sequence numbers
/// in the order their frames are queued, whichever thread sends.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench/histogram.hpp"
#include "fenix/client.hpp"

namespace fenix::bench {

class senders {
public:
  using time_point = std::chrono::steady_clock::time_point;

  senders(std::string topic, std::string event, std::size_t payload_bytes);

  /// Adds a sender; returns its local index.
  std::size_t add(client::ws_client* client, std::string join_ref,
                  std::uint64_t id);

  std::size_t size() const { return list_.size(); }
  std::uint64_t id(std::size_t k) const { return list_[k]->id; }
  std::uint64_t sent(std::size_t k) const { return list_[k]->sent.load(); }
  std::uint64_t total_sent() const;

  /// The earliest send time of any message (steady ns), 0 before any.
  std::int64_t first_send_ns() const { return first_send_ns_.load(); }

  /// Each sender sends `rate` messages per second (staggered) until
  /// `deadline`, or until each has sent `count` (if count > 0). `tick`
  /// runs about every 25 s (heartbeats).
  void run_paced(double rate, time_point deadline, std::uint64_t count,
                 const std::function<void()>& tick);

  /// Closed loop: each sender sends `window` messages now; acked() sends
  /// the next one while running and under `count` (0: no limit).
  void start_closed_loop(std::size_t window, std::uint64_t count);

  /// One message of sender `k` came back (io thread).
  void acked(std::size_t k);

  /// Runs the closed loop until `deadline` (or every count sent), then
  /// stops it.
  void wait_closed_loop(time_point deadline, const std::function<void()>& tick);

  /// How late run_paced sent each message against its schedule, ns: a
  /// load generator starved of CPU shows here first.
  const histogram& lag() const { return lag_; }

  /// Stops sending (closed loop).
  void stop() { running_ = false; }

private:
  struct sender {
    client::ws_client* client = nullptr;
    std::string join_ref;
    std::uint64_t id = 0;
    std::mutex mtx;
    std::atomic<std::uint64_t> sent{0};
  };

  void send(sender& s);
  bool all_sent(std::uint64_t count) const;

  std::string topic_;
  std::string event_;
  std::size_t payload_bytes_;
  std::vector<std::unique_ptr<sender>> list_;
  std::atomic<bool> running_{false};
  std::uint64_t count_ = 0;
  std::atomic<std::int64_t> first_send_ns_{0};
  histogram lag_;  // run_paced's thread only
};

}  // namespace fenix::bench
