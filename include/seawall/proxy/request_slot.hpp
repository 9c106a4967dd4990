#pragma once
// One request still owed a reply, as the session's ReplyQueue holds it: what the reply (or the
// fallback) needs to know about the request, and the reply once it completed ahead of the slots
// before it. Slots live in a ring and are reused, so their strings and vectors keep their
// capacity: no allocation per command in steady state.
// Thread safety: one worker thread (the session's).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/cache/reply_cache.hpp"
#include "seawall/command/command_rules.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/policy/policy_table.hpp"
#include "seawall/proxy/writes_in_flight.hpp"

namespace seawall::proxy {

// A plain SET (in a transaction, or an MSET's pair): what GET of `key` answers once it ran.
struct QueuedFill {
  std::size_t index = 0;  // the command's place in the transaction (its reply in EXEC's)
  std::string key;
  std::string value;
};

struct RequestSlot {
  bool ready = false;
  std::string data;  // the reply, when it completed before the slots ahead of it
  // What the reply needs from the request (forwarded commands only).
  bool is_read = false;
  bool is_write = false;
  bool fill = false;  // store the reply in L1 (a write: store its values, see CacheEffects)
  std::uint32_t upstream = 0;
  const command::CommandInfo* info = nullptr;
  const policy::Policy* policy = nullptr;
  cache::ReadTicket ticket{};
  std::string args_blob;               // the request's arguments, copied
  std::vector<std::string_view> args;  // views into args_blob
  std::vector<std::uint32_t> keys;     // indexes of key arguments
  std::string cache_key;
  // Split commands: parts still missing, their replies, and each key's part.
  command::Merge merge = command::Merge::None;
  std::uint32_t parts_pending = 0;
  bool part_failed = false;
  // What each part of a split write did to its keys (SplitForward::settle_write).
  enum class PartRun : std::uint8_t { Ran, Unrun, Journaled };  // Ran: or may have
  std::vector<PartRun> part_runs;
  std::vector<std::string> parts;
  std::vector<std::uint16_t> key_part;
  std::uint16_t scan_shard = 0;  // SCAN over a cluster: the shard asked, of scan_shards
  std::uint16_t scan_shards = 0;
  bool writes_marked = false;     // counted in SharedState::writes_in_flight until its outcome
  WritesInFlight::Marked mark{};  // how it was marked there
  bool parked = false;            // a degraded read that waited for a write (ParkedReads)
  bool lease_wait = false;        // a degraded read that waited for another reader's miss lease
  bool near_flight = false;       // a near miss others wait for: its reply ends the flight
  std::uint8_t redirects = 0;     // MOVED / ASK followed (cluster_redirects.hpp)
  // A write's keys' L1 copies, kept from its sending until Redis answers (CacheEffects::withhold).
  cache::ReplyCache::Withheld withheld;

  // A reused slot as a new request's: no reply, nothing described yet (keeps capacities).
  void reset();
  // ReplyQueue moved this slot: a moved short string has a new buffer, so the argument views
  // point at it again.
  void relocated();
  // Copies the request's arguments into args_blob, with args as views into it.
  void copy_args(std::span<const std::string_view> request_args);
  // The key arguments, as views; valid until the next call on this thread.
  const std::vector<std::string_view>& key_views() const;
  // Heap bytes held by its strings and vectors (capacities).
  std::size_t heap_bytes() const;

  // A write about to be sent through `owner`: its keys count as written in flight until
  // release_writes, which follows its outcome (acknowledged and copied, journaled, or failed).
  // Here, beside writes_marked and mark, since the forward path and the degraded answers both
  // mark and release.
  void mark_writes(WritesInFlight& writes, WritesInFlight::Owner owner);
  void release_writes(WritesInFlight& writes);
  bool write_in_flight(const WritesInFlight& writes) const;  // of any of its keys
};

}  // namespace seawall::proxy
