#pragma once
// Degraded reads waiting for the outcome of a write of their key that is still in flight (see
// WritesInFlight). Each entry names its session and reply position; a timer of the worker asks
// the session again every millisecond until the write's outcome is known or the entry's deadline
// (the write's own request_timeout bounds the wait) passes, and the session then answers the read
// from the fallback chain, which by then holds the written value.
//
// The session counts a parked read as a request still with the upstream, so it outlives its
// entries; a session that is destroyed anyway (worker shutdown) takes its entries out.
//
// Ownership: one per worker, in its WorkerContext. Thread safety: that worker's thread only.
#include <chrono>
#include <cstdint>
#include <vector>

#include "seawall/net.hpp"

namespace seawall::proxy {

class Session;

class ParkedReads {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ParkedReads(asio::any_io_executor ex) : timer_(ex) {}
  ParkedReads(const ParkedReads&) = delete;
  ParkedReads& operator=(const ParkedReads&) = delete;

  void park(Session* session, std::uint64_t seq, Clock::time_point deadline);
  void forget(const Session* session);
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Session* session;
    std::uint64_t seq;
    Clock::time_point deadline;
  };
  void arm();
  void tick();

  asio::steady_timer timer_;
  std::vector<Entry> entries_;
  std::vector<Entry> due_;  // scratch of tick()
  bool armed_ = false;
};

}  // namespace seawall::proxy
