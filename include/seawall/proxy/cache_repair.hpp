#pragma once
// Re-reads a key whose written value the L1 could not keep. Two writes of one key in flight at
// once both find their fill refused at the reply (each was raced by the other's invalidation),
// since seawall cannot know which of them Redis ran last; without a copy, reads of the key would
// have nothing to answer with if Redis failed next. A GET sent after the write's reply returns
// what Redis holds by then, and fills the L1 under its own read ticket like any read: a write
// sent after the GET refuses it in turn (and, if it also races, asks for its own repair).
//
// Only while the upstream is ready and its breaker closed; at most kMaxPending at once per
// worker and one per key, so a write storm on one key costs one GET at a time: a repair asked
// for while one is in flight is remembered, and sent when that one's fill was refused. The GETs
// pass outside the breaker's permits and are not recorded in it (like the health check's PING while
// open): they are seawall's, not the client's.
//
// Ownership: one per worker, in its WorkerContext. Thread safety: that worker's thread only.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "seawall/cache/reply_cache.hpp"
#include "seawall/upstream/reply_target.hpp"

namespace seawall::proxy {

struct WorkerContext;

class CacheRepair : public upstream::ReplyTarget {
 public:
  static constexpr std::size_t kMaxPending = 256;

  explicit CacheRepair(WorkerContext& ctx) : ctx_(ctx) {}

  // Re-reads `key` (on `upstream`) to fill its GET copy, with these lifetimes.
  void request(std::size_t upstream, std::string_view key, std::chrono::milliseconds ttl,
               std::chrono::milliseconds max_stale);

  std::uint64_t sent() const { return sent_; }
  std::uint64_t filled() const { return filled_; }

  void on_reply(std::uint64_t token, std::string_view bytes, upstream::ReplyStatus status,
                std::chrono::steady_clock::time_point now) override;

 private:
  struct Pending {
    std::size_t upstream;
    std::string key;
    cache::ReadTicket ticket;
    std::chrono::milliseconds ttl;
    std::chrono::milliseconds max_stale;
    bool again = false;         // asked for again while in flight
    std::uint32_t refused = 0;  // fills refused so far
  };
  // A refused fill is retried this often even when no write asked again: the refusal may come
  // from another key sharing the L1's invalidation stripe, which asks for no repair of this key.
  static constexpr std::uint32_t kMaxRefusals = 3;
  void send(Pending p);

  WorkerContext& ctx_;
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::unordered_map<std::string, std::uint64_t> tokens_;  // key -> its token in pending_
  std::uint64_t next_token_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t filled_ = 0;
  std::string command_;  // scratch
};

}  // namespace seawall::proxy
