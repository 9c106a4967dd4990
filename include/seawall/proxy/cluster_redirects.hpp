#pragma once
// What a request forwarded to a Redis Cluster shard does with a redirect reply, so that the
// client never sees one: -MOVED sends the command again to the shard the reply names (and moves
// that slot there in the slot table at once; the topology refreshes the whole map), -ASK sends
// ASKING and the command on one connection to the node the reply names (the map is unchanged:
// the slot is being migrated). At most kMaxRedirects per request; past that, or when no shard
// is the node named (a master added after startup, or a failover the topology has not learned
// yet), or its breaker is open, the request is answered as if it had never been sent (the
// fallback chain for reads, writes_when_open for writes): it did not run anywhere.
// A split request's parts (split_forward.hpp) are redirected one by one. -CLUSTERDOWN and
// -TRYAGAIN are relayed as they are, after asking the topology for a refresh.
// A read a shard's replica failed (read_from: prefer_replica; replica_reads.hpp) is sent to the
// master of its keys' shard once (to_master), with the same machinery.
//
// Ownership: a member of its session, holding references to the worker's context and to the
// session (as RedirectSender), which outlive it.
// Thread safety: the session's worker thread.
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/proxy/request_slot.hpp"
#include "seawall/proxy/worker_context.hpp"

namespace seawall::upstream {
class ClusterTopology;
}  // namespace seawall::upstream

namespace seawall::proxy {

// What ClusterRedirects needs of its session (Session implements it).
class RedirectSender {
 public:
  virtual ~RedirectSender() = default;
  // Sends `command` to upstream `up`, preceded by ASKING on the same connection when `asking`;
  // its reply comes back as `token`.
  virtual void resend(std::size_t up, std::uint64_t token,
                      std::span<const std::string_view> command, bool asking,
                      const breaker::Permit& permit, breaker::CircuitBreaker& issuer,
                      std::chrono::steady_clock::time_point now) = 0;
};

class ClusterRedirects {
 public:
  static constexpr std::uint8_t kMaxRedirects = 5;

  ClusterRedirects(WorkerContext& ctx, RedirectSender& sender) : ctx_(ctx), sender_(sender) {}

  enum class Outcome : std::uint8_t {
    NotRedirect,  // any other reply: handle it as usual
    Resent,       // the request went to the node named; its reply will come back
    NotSent,      // answer it as a request that was never sent
  };
  // `bytes`: an error reply (status Ok) to part `part` of request `seq` (part 0 when not split).
  Outcome follow(RequestSlot& slot, std::uint64_t seq, std::uint32_t part, std::string_view bytes,
                 std::chrono::steady_clock::time_point now);
  // Part `part` of read `seq` (0 when not split), sent to a replica, failed there (no reply, or
  // -LOADING and the like): sends it to the master of its shard. NotSent when that master's
  // upstream cannot take it now (the caller then answers the failure as usual).
  Outcome to_master(RequestSlot& slot, std::uint64_t seq, std::uint32_t part,
                    std::chrono::steady_clock::time_point now);
  // A redirect on a pinned connection to a shard of `topology` (a key of the pinned shard's slot
  // being migrated, or moved away while pinned): the command cannot go elsewhere, since the
  // connection's state is there, so the client gets -TRYAGAIN (a retryable error; Redis's own
  // word for a slot in migration) in `out` instead of MOVED/ASK, and a MOVED moves the slot in the
  // table, so that the client's retry outside the pinned state reaches the right shard. False
  // when `reply` is no redirect.
  static bool pinned_retry(std::string_view reply, upstream::ClusterTopology& topology,
                           std::string& out);

 private:
  // Part `part` of request `seq` (the whole request when not split) sent to upstream `to`, with
  // ASKING ahead when `asking`; NotSent when that upstream cannot take it now.
  Outcome resend_to(RequestSlot& slot, std::uint64_t seq, std::uint32_t part, std::size_t to,
                    bool asking, std::chrono::steady_clock::time_point now);

  WorkerContext& ctx_;
  RedirectSender& sender_;
  std::vector<std::string_view> command_;  // the part resent; reused
};

}  // namespace seawall::proxy
