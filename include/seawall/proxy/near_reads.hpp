#pragma once
// Near mode (policies[].l1.mode: near) for one session: a read of one key under a near policy is
// answered from a verified L1 copy while Redis is healthy, without the upstream hop.
//
// prepare() runs before the request is dispatched, and the session reads nothing else meanwhile,
// so its requests keep their order:
//   1. the read barrier (TrackingLink::barrier): every invalidation of a write acknowledged before
//      the read arrived has been applied. No live link: the request goes on as in fallback mode.
//   2. the L1 lookup: a fresh copy filled at or after the link's epoch answers (l1_near). A
//      cached nil under a miss_lease policy takes the key's miss lease (policy::MissLeases): the
//      first reader gets the nil, the others wait for the value it writes back, or the lease's
//      end, then look again.
//   3. on a miss, single-flight: the first read of a cache key leads (it goes to Redis, and its
//      reply fills the L1 before the flight ends, see Session::on_reply); identical reads
//      arriving meanwhile, on any thread, wait for that, then look again. A leader whose reply is
//      nil takes the key's miss lease, so only it gets the miss.
//
// Server TTLs: near-policy copies are stored unverified; the leader's read is followed on the
// same connection by a PTTL of its key (NearVerify), whose reply verifies the copy with a fresh
// time of min(ttl, the key's remaining TTL), counted from before the PTTL was sent, unless the
// key was invalidated since the read's ticket. Only then does the flight end.
//
// MGET whose keys are all near (and on one upstream and cluster slot) passes the same barrier,
// then is answered from the keys' GET copies when every one of them is fresh and verified;
// otherwise it goes to Redis whole (no single-flight: its keys' flights are the GETs'), its reply
// fills the keys' copies as it always does, and a PTTL per key behind it verifies them.
//
// Ownership: a member of its session. Thread safety: the session's worker thread; the tables it
// reaches through SharedState are safe for every thread.
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "seawall/cache/reply_cache.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/net.hpp"
#include "seawall/proxy/worker_context.hpp"
#include "seawall/resp/resp3.hpp"
#include "seawall/upstream/connection.hpp"
#include "seawall/upstream/reply_target.hpp"
#include "seawall/upstream/tracking_link.hpp"

namespace seawall::proxy {

// The PTTLs behind near misses' reads (see above), one per worker.
// Ownership: in the worker's WorkerContext. Thread safety: that worker's thread.
class NearVerify : public upstream::ReplyTarget {
 public:
  explicit NearVerify(WorkerContext& ctx) : ctx_(ctx) {}

  // The read of `key` (its copy `cache_key`, ticketed `ticket`) was just submitted on
  // `connection`: sends PTTL behind it; the reply verifies the copy and ends the flight.
  void send(upstream::Connection& connection, cache::ReadTicket ticket, std::string_view cache_key,
            std::string_view key, std::chrono::milliseconds ttl,
            std::chrono::steady_clock::time_point now);
  // An MGET of `keys` was just submitted on `connection`: a PTTL per key behind it verifies the
  // key's GET copy (in `protocol`), which the MGET's reply filled. No flight to end.
  void send_keys(upstream::Connection& connection, cache::ReadTicket ticket,
                 std::span<const std::string> keys, resp::Protocol protocol,
                 std::chrono::steady_clock::time_point now);

  void on_reply(std::uint64_t token, std::string_view bytes, upstream::ReplyStatus status,
                std::chrono::steady_clock::time_point now) override;

 private:
  struct Pending {
    cache::ReadTicket ticket;
    std::string cache_key;
    std::string key;
    std::chrono::milliseconds ttl;
    std::chrono::steady_clock::time_point sent;
    bool flight = true;  // its reply ends the cache key's flight
  };
  void send_one(upstream::Connection& connection, Pending pending);

  WorkerContext& ctx_;
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::uint64_t next_token_ = 0;
  std::string command_;  // scratch
};

class NearReads {
 public:
  enum class Step : std::uint8_t {
    Forward,  // dispatch as in fallback mode
    Lead,     // dispatch; this read's reply ends the flight of its cache key
    Verify,   // dispatch (an MGET); PTTLs behind it verify its keys' copies (send_keys)
    Answer,   // reply() answers it
    Wait,     // start() only: co_await finish() for one of the others
  };

  NearReads(WorkerContext& ctx, asio::any_io_executor ex) : ctx_(ctx), ex_(std::move(ex)) {}

  // Whether the request is a near read: one key, a deterministic read, the key's policy near,
  // and near links running; or an MGET of near keys on one upstream and slot. Cheap when no
  // policy is near.
  bool wanted(const command::CommandInfo* info, std::span<const std::string_view> args,
              std::span<const std::uint32_t> key_indexes);
  // After wanted(). Decides without waiting when it can (the barrier already passed for this
  // read, as for the rest of a pipeline): Wait means finish() must wait for the barrier, a miss
  // lease or a flight. `arrived`: when the request's bytes had been read from the client.
  Step start(std::span<const std::string_view> args, std::span<const std::uint32_t> key_indexes,
             resp::Protocol protocol, std::chrono::steady_clock::time_point arrived);
  awaitable<Step> finish();
  std::string_view reply() const { return reply_; }

 private:
  // Flight with Stalled: another read of the key is with Redis and the link is stalled; after
  // it, the read still needs a barrier (once the link recovers) before the copy may answer.
  enum class Pending : std::uint8_t { Barrier, Lease, Flight, Stalled };
  static constexpr std::chrono::microseconds kPoll{250};

  // One decision after the barrier: answer, lead, forward, or Wait (pending_ set).
  Step step();
  // step() for an MGET: Answer when every key's copy answers, else Verify.
  Step step_mget();
  Step wait_for(Pending pending, std::chrono::steady_clock::time_point until);
  // A miss: leads the key's flight, or waits for it (`then`), or goes to Redis (table full).
  Step take_flight(std::chrono::steady_clock::time_point now, Pending then);
  // Waits while busy(now) holds, at most until `until`, in steps of kPoll.
  template <typename Busy>
  awaitable<void> poll_while(Busy busy, std::chrono::steady_clock::time_point until);
  // The barrier cannot pass now (Redis slow): misses still go to Redis once (single-flight),
  // unless the breaker is open, when the fallback chain answers at once.
  Step stalled();

  WorkerContext& ctx_;
  asio::any_io_executor ex_;
  // The request being decided (start() to its answer).
  const policy::Policy* policy_ = nullptr;
  std::string_view key_;
  std::span<const std::string_view> mget_keys_;  // an MGET's keys; empty otherwise
  upstream::TrackingLink* link_ = nullptr;
  std::shared_ptr<upstream::TrackingLink> hold_;  // while waiting
  std::chrono::milliseconds timeout_{0};
  std::size_t up_ = 0;
  std::chrono::steady_clock::time_point arrived_;
  resp::Protocol protocol_ = resp::Protocol::Resp2;
  std::chrono::steady_clock::time_point until_;
  Pending pending_ = Pending::Barrier;
  bool lease_waited_ = false;  // each wait happens once; then the L1 answers, or Redis
  bool flight_waited_ = false;
  std::string cache_key_;
  std::string reply_;
  std::string element_;  // scratch: one key's copy, for an MGET
};

}  // namespace seawall::proxy
