#pragma once
// The split/merge handler (Envoy redis_proxy's MGET/MSET/sum-of-integers splitters): a command
// whose keys live on several upstreams goes out as one part per upstream (split_merge.hpp's
// pure steps), and the parts' replies are merged back into the one reply Redis would have given.
// The request's state (its parts' replies, each key's part, the parts still missing) lives in its
// RequestSlot, like a handler's own state in Envoy; the reply takes its place in request order.
// If any part's upstream cannot be used, the whole command takes the degraded answer; if a part
// fails, an MGET is answered from the fallback chain and a write with the part's error.
//
// Ownership: a member of its session, holding references to the worker's context, the
// session (as PartSender), its CacheEffects and its DegradedReplies, all of which outlive it.
// Thread safety: the session's worker thread.
// Invariant: a split request's slot has merge != None and parts_pending counts the parts sent
// whose reply (or failure) has not come back; its reply is completed when that reaches 0.
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/proxy/cache_effects.hpp"
#include "seawall/proxy/degraded_replies.hpp"
#include "seawall/proxy/request_slot.hpp"
#include "seawall/proxy/split_merge.hpp"
#include "seawall/proxy/worker_context.hpp"
#include "seawall/upstream/reply_target.hpp"

namespace seawall::proxy {

// A forwarded request's token for its upstream connection: the request's place among the
// session's replies, which part of a split request the reply is for (0 when not split), and
// whether it was sent to a cluster replica (a read that the master gets when the replica fails
// it; see replica_reads.hpp).
inline constexpr unsigned kPartBits = 16;  // kMaxParts parts; seq keeps 47 bits
inline constexpr std::uint64_t kPartMask = (1u << kPartBits) - 1;
inline constexpr std::uint64_t kReplicaBit = std::uint64_t{1} << kPartBits;
inline constexpr unsigned kTokenFlagBits = kPartBits + 1;
enum class SentTo : std::uint8_t { Master, Replica };
inline std::uint64_t make_token(std::uint64_t seq, std::uint32_t part, SentTo to = SentTo::Master) {
  return (seq << kTokenFlagBits) | (to == SentTo::Replica ? kReplicaBit : 0) | part;
}
inline std::uint64_t token_seq(std::uint64_t token) { return token >> kTokenFlagBits; }
inline std::uint32_t token_part(std::uint64_t token) {
  return static_cast<std::uint32_t>(token & kPartMask);
}
inline SentTo token_sent_to(std::uint64_t token) {
  return (token & kReplicaBit) != 0 ? SentTo::Replica : SentTo::Master;
}

// What SplitForward needs of its session besides ReplySlots (Session implements it).
class PartSender : public ReplySlots {
 public:
  // A slot for a new request at the back of the session's replies, reset; `seq` its place.
  virtual RequestSlot& push_request(std::uint64_t& seq) = 0;
  // Sends `part` (a request of its own) to upstream `up` with `permit` from `issuer`, the reply
  // to come back as `token`; `info` and `args` are the whole command's (fault injection).
  virtual void send_part(const command::CommandInfo& info, std::span<const std::string_view> args,
                         std::size_t up, std::uint64_t token,
                         std::span<const std::string_view> part, const breaker::Permit& permit,
                         breaker::CircuitBreaker& issuer,
                         std::chrono::steady_clock::time_point now) = 0;
  // The upstream read `slot` of shard upstream `up` goes to: its replica upstream or `up`
  // (ReplicaReads::target, for this session's connection).
  virtual std::size_t read_upstream(const RequestSlot& slot, std::size_t up) = 0;
};

class SplitForward {
 public:
  SplitForward(WorkerContext& ctx, PartSender& session, const CacheEffects& cache,
               DegradedReplies& degraded)
      : ctx_(ctx), session_(session), cache_(cache), degraded_(degraded) {}

  // Forwards `args`, whose keys (`keys`: their indexes) route to several upstreams, as one part
  // per upstream. False when the command cannot be split (no Merge rule); nothing was done then.
  bool forward(const command::CommandInfo& info, std::span<const std::string_view> args,
               std::span<const std::uint32_t> keys);
  // A command without keys, in front of a cluster: sent to every shard and the replies merged
  // when its rules fan it out (CommandRules::fanout; SCAN goes to the one shard its cursor
  // names), or answered as a Redis without cluster support would (CommandRules::cluster_only).
  // False when it is neither, or the default upstream is no cluster: nothing was done then.
  bool without_keys(const command::CommandInfo& info, std::span<const std::string_view> args);
  // The reply (or failure) of part `part` of request `seq`.
  void on_part_reply(RequestSlot& slot, std::uint64_t seq, std::uint32_t part,
                     upstream::ReplyStatus status, std::string_view bytes);

 private:
  // Sends part p of `slot` (request `seq`) to part_upstream[p] when every part's upstream can
  // take it, else answers the whole request without an upstream. `part(p)` is part p's request.
  void fan_out(const command::CommandInfo& info, std::span<const std::string_view> args,
               std::span<const std::size_t> shards);
  template <class PartOf>
  void send_parts(RequestSlot& slot, std::uint64_t seq, const command::CommandInfo& info,
                  std::span<const std::string_view> args,
                  std::span<const std::size_t> part_upstream, PartOf&& part);

  // Part `part` of write `slot`, whose upstream `up` is unavailable, journaled there as a
  // command of its own (`request`): its acknowledgement becomes the part's reply, a refusal the
  // request's error.
  void journal_part(RequestSlot& slot, std::span<const std::string_view> request, std::size_t up,
                    std::size_t part);
  // A split write that did not leave its values (some part failed, or not a SET-like write):
  // its keys' copies, part by part.
  void settle_write(RequestSlot& slot);
  // Upstream `up` is a spare cluster shard no master has taken (it holds no key): fan-outs
  // skip it.
  bool spare(std::size_t up) const;
  // Every part answered: the merged reply, or the failure, in the request's place.
  void complete(RequestSlot& slot, std::uint64_t seq);

  WorkerContext& ctx_;
  PartSender& session_;
  const CacheEffects& cache_;
  DegradedReplies& degraded_;
};

}  // namespace seawall::proxy
