#pragma once
// What a forwarded request's reply, or a write, does to the L1 (the process-wide ReplyCache): a
// read's reply is stored as its copy; a write drops the copies of its keys, and a plain SET or
// MSET Redis acknowledged (or the journal took) leaves its values as the copies GET answers, so
// its keys can still be read through an outage that follows.
//
// Ownership: a member of its session, holding only a reference to the worker's context, which
// outlives it. Thread safety: the session's worker thread; the cache and the writes-in-flight
// count it reaches through SharedState are safe for every thread.
// Invariant: a value is stored only when it is what Redis holds (or will hold after the
// journal's replay); a read ticket taken before the write was sent, or the write's mark, says so.
#include <chrono>
#include <span>
#include <string_view>

#include "seawall/cache/reply_cache.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/policy/policy_table.hpp"
#include "seawall/proxy/request_slot.hpp"
#include "seawall/proxy/worker_context.hpp"
#include "seawall/proxy/writes_in_flight.hpp"
#include "seawall/resp/resp3.hpp"
#include "seawall/upstream/journal.hpp"

namespace seawall::proxy {

// Commands that change data, as the L1 and the journal see them.
bool is_write_command(const command::CommandInfo& info);
bool flushes_everything(const command::CommandInfo& info);
// Whether Redis refusing `info` unrun (breaker::refused_unrun) proves none of it ran, so that
// its keys' copies dropped at its sending may go back: not a script (it can fail after it
// wrote), not a flush.
bool may_restore_copies(const command::CommandInfo& info);
// SET k v (no options; its key's policy keeps L1 copies) and MSET: their values are what GET of
// their keys returns once Redis acknowledged them.
bool writes_value(const command::CommandInfo* info, std::span<const std::string_view> args,
                  const policy::Policy& policy);

class CacheEffects {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit CacheEffects(WorkerContext& ctx) : ctx_(ctx) {}

  // A read's reply as its L1 copy (an MGET's: one copy per key, as the GET of that key), in the
  // encoding of `protocol` (the client's).
  void fill_cache(const RequestSlot& slot, std::string_view bytes, resp::Protocol protocol,
                  TimePoint now) const;
  void invalidate_keys(const RequestSlot& slot) const;
  // A write of `keys` (indexes into `args`) is about to be sent: starts loading what dropping
  // their copies and marking them in flight will touch, so those cache misses overlap the steps
  // before the sending (routing, write order, policy). Does nothing for other commands.
  void prefetch_write(const command::CommandInfo* info, std::span<const std::string_view> args,
                      std::span<const std::uint32_t> keys) const;
  // At a write's sending: invalidate_keys, keeping the dropped copies in slot.withheld (and
  // taking slot.ticket after the drop) until Redis answers, when may_restore_copies.
  void withhold_keys(RequestSlot& slot) const;
  // Redis answered the write with `reply`: when it refused it unrun (breaker::refused_unrun), the
  // copies withheld at its sending go back (ReplyCache::restore) and this returns true; otherwise
  // they are freed and the caller drops the keys' copies as usual.
  bool restore_withheld(RequestSlot& slot, std::string_view reply) const;
  // Redis answered read `slot` with `bytes`: when that is the miss of a key Redis evicted lately
  // and the policy serves evicted copies, puts the L1 copy in `out` and returns true (the reply
  // is then not stored: the copy stays for the next read). Any other reply of a key evicted
  // lately ends its evicted state: the key is back in Redis.
  bool evicted_copy(const RequestSlot& slot, std::string_view bytes, resp::Protocol protocol,
                    TimePoint now, std::string& out) const;
  // SET k v (no options) and MSET: their values are what GET of their keys returns next.
  bool writes_value(const RequestSlot& slot) const;
  // After Redis acknowledged such a write: its values as the L1 copies of GET of their keys.
  // `journaled`: the write was journaled there (see store_written_value).
  void fill_written(const RequestSlot& slot, TimePoint now,
                    const upstream::Journal* journaled = nullptr) const;
  // A journaled SET/MSET (slot.ticket taken before the append): its values in the L1 too.
  void keep_journaled_value(const RequestSlot& slot, TimePoint now) const;
  // The L1 copy of GET `key` after a write of `value` Redis acknowledged, unless another write
  // to the key was sent since `ticket` (taken when the write was sent).
  // When `mark` says the write was ordered and is still the key's last one sent, its value is
  // what Redis holds: stored whatever happened to the ticket. When `journaled` holds the write,
  // its order is the journal's: the value is stored if it is still the key's last journaled one.
  void store_written_value(cache::ReadTicket ticket, std::string_view key, std::string_view value,
                           TimePoint now, WritesInFlight::Marked mark,
                           const upstream::Journal* journaled = nullptr) const;

 private:
  // invalidate_keys, handing the dropped copies to `withheld` when it is not null.
  void drop_keys(const RequestSlot& slot, cache::ReplyCache::Withheld* withheld) const;

  WorkerContext& ctx_;
};

}  // namespace seawall::proxy
