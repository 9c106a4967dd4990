#pragma once
// The Lua script bodies clients sent to an upstream (EVAL, EVAL_RO, SCRIPT LOAD), so that every
// new connection to it loads them (SCRIPT LOAD) before its first request.
//
// Why: Redis forgets its script cache when it restarts. Direct, the restart also closes the
// client's connection, and clients load their scripts again on the new one (ioredis sends a
// script as EVAL once per connection, then EVALSHA). Through seawall the client's connection
// stays up, so the client goes on sending EVALSHA, and gets NOSCRIPT, which it cannot recover
// from inside MULTI or a pipeline it checked beforehand. Loading what clients loaded before, on
// each new upstream connection, makes EVALSHA after a restart work as it does direct.
// SCRIPT FLUSH through seawall forgets every body, as Redis does.
//
// Bounded: at most kMaxScripts bodies and kMaxBytes in all; a body beyond either is not
// remembered (counted in dropped()), and that script gets NOSCRIPT after a restart as before.
// A body Redis refuses (a syntax error) is remembered all the same; its SCRIPT LOAD fails on
// each new connection and the error is ignored.
//
// Thread safety: shared by every worker thread. remember() of a body seen before (the common
// case: a client that EVALs the same script) reads a fixed table of hashes with relaxed atomic
// loads and takes no lock; a new body, forget_all() and preload() take a mutex.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "seawall/command/command_table.hpp"
#include "seawall/net.hpp"
#include "seawall/resp/reply_framer.hpp"
#include "seawall/upstream/stream.hpp"

namespace seawall::upstream {

class ScriptRegistry {
 public:
  static constexpr std::size_t kMaxScripts = 1024;
  static constexpr std::size_t kMaxBytes = 4 * 1024 * 1024;

  ScriptRegistry() = default;
  ScriptRegistry(const ScriptRegistry&) = delete;
  ScriptRegistry& operator=(const ScriptRegistry&) = delete;

  // Looks at one client command: remembers EVAL's and EVAL_RO's script and SCRIPT LOAD's, and
  // forgets everything on SCRIPT FLUSH. Anything else costs a few pointer comparisons.
  void note(const command::CommandInfo* info, std::span<const std::string_view> args);

  void remember(std::string_view body);
  void forget_all();

  // SCRIPT LOAD of every body remembered, oldest first, as one pipelined RESP string.
  struct Preload {
    std::string commands;
    std::size_t count = 0;
  };
  Preload preload() const;

  std::size_t size() const;
  bool empty() const { return size() == 0; }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::size_t kSlots = 2 * kMaxScripts;  // open addressing, at most half full
  bool known(std::uint64_t hash) const;
  void publish(std::uint64_t hash);

  std::array<std::atomic<std::uint64_t>, kSlots> hashes_{};  // 0 = empty slot
  std::atomic<std::uint64_t> dropped_{0};
  mutable std::mutex mutex_;
  // Guarded by mutex_: the bodies, and their order (pointers into the set's stable nodes).
  std::unordered_set<std::string> bodies_;
  std::vector<const std::string*> order_;
  std::size_t bytes_ = 0;
};

// Sends `preload` on a connection that just opened and reads one reply per SCRIPT LOAD (an error
// reply is fine: that body does not compile), all within `timeout`. Returns "" on success, else
// why not (an I/O error or the timeout: the connection is not usable).
awaitable<std::string> load_scripts(Stream& stream, const ScriptRegistry::Preload& preload,
                                    std::chrono::milliseconds timeout);

// How many complete replies `bytes` holds from its start (framed by `framer`, which keeps a
// partial one for the next call, as ReplyFramer does); `consumed` gets their length. -1: not RESP.
std::ptrdiff_t count_replies(std::string_view bytes, resp::ReplyFramer& framer,
                             std::size_t& consumed);

}  // namespace seawall::upstream
