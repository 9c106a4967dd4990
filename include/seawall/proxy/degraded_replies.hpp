#pragma once
// What a forwarded request gets when its upstream cannot answer it (breaker open, journal
// waiting, connection down, timeout, a refusal such as -LOADING): a read takes the fallback
// chain, after the journal's answer for a key written during the outage; a write is journaled,
// invalidated or refused as its policy's writes_when_open says. A read of a key whose write is
// still in flight waits for that write's outcome (ParkedReads) rather than answer an older value,
// and one that only a miss could answer waits while another reader holds the key's miss lease.
// Every degraded answer is counted and logged at a limited rate.
//
// Ownership: a member of its session, holding references to the worker's context, the session's
// CacheEffects and the session itself (as ReplySlots), all of which outlive it.
// Thread safety: the session's worker thread.
// Invariant: each call completes the request it is given exactly once (through
// ReplySlots::complete_request), or parks it, and then the session's retry_parked completes it.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "seawall/policy/fallback.hpp"
#include "seawall/proxy/cache_effects.hpp"
#include "seawall/proxy/request_slot.hpp"
#include "seawall/proxy/worker_context.hpp"
#include "seawall/resp/resp3.hpp"
#include "seawall/upstream/reply_target.hpp"

namespace seawall::proxy {

// What DegradedReplies needs of the session whose requests it answers (Session implements it).
class ReplySlots {
 public:
  virtual ~ReplySlots() = default;
  // The reply to request `seq`, sent once the replies ahead of it are.
  virtual void complete_request(std::uint64_t seq, std::string_view bytes) = 0;
  // The session's scratch buffer: answers are built there.
  virtual std::string& scratch_buffer() = 0;
  // The protocol of the client's replies (HELLO).
  virtual resp::Protocol reply_protocol() const = 0;
  // When the session last read a request (or was woken): degraded answers' `now`.
  virtual std::chrono::steady_clock::time_point last_activity() const = 0;
  // Parks read `seq` in the worker's ParkedReads until `deadline`; the session counts it as a
  // request still with the upstream, and answers it from retry_parked.
  virtual void park_read(std::uint64_t seq, std::chrono::steady_clock::time_point deadline) = 0;
};

class DegradedReplies {
 public:
  DegradedReplies(WorkerContext& ctx, ReplySlots& session, const CacheEffects& cache)
      : ctx_(ctx), session_(session), cache_(cache) {}

  // A request whose upstream cannot be used (or that never reached it): answered as if the
  // breaker had been open, unless it is a read parked behind a write.
  void answer_without_upstream(RequestSlot& slot, std::uint64_t seq);
  // What a request gets while its upstream cannot be used (breaker open, journal waiting): the
  // fallback chain for reads, the policy's writes_when_open for writes. Valid until the scratch
  // buffer or the upstream's error lines change.
  std::string_view answer(RequestSlot& slot);
  // A request Redis did not answer (refused, timed out, its connection dropped).
  void answer_failed(RequestSlot& slot, std::uint64_t seq, upstream::ReplyStatus status,
                     std::string_view bytes);
  // A read Redis cannot answer: the journal's answer for a key written during the outage, else
  // the fallback chain. Appends to `out`.
  policy::Source read(const RequestSlot& slot, std::string& out);
  // A read Redis cannot answer, answered from read() and logged.
  void complete_read(RequestSlot& slot, std::uint64_t seq);

 private:
  // A journal-mode write that failed (refused by a server that cannot serve, timed out, or its
  // connection dropped): journaled and acknowledged; the acknowledgement is left in the scratch
  // buffer.
  bool journaled_after_failure(RequestSlot& slot);
  // A degraded read of a key with a write in flight waits for that write's outcome, so it
  // answers the written value rather than nothing (the write's send dropped the L1 copy). True
  // when parked; the reply comes from the session's retry_parked.
  bool parked_behind_write(RequestSlot& slot, std::uint64_t seq);
  // A read the chain can only answer with a miss, of a key whose miss another reader was given
  // (policies[].miss_lease): it waits for that reader's write, at most until the lease ends.
  // True when parked; the reply comes from the session's retry_parked.
  bool waits_for_lease(RequestSlot& slot, std::uint64_t seq);

  WorkerContext& ctx_;
  ReplySlots& session_;
  const CacheEffects& cache_;
};

}  // namespace seawall::proxy
