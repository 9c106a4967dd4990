#pragma once
// Where an upstream connection delivers the reply to one request.
#include <chrono>
#include <cstdint>
#include <string_view>

namespace seawall::upstream {

enum class ReplyStatus : std::uint8_t {
  Ok,           // `bytes` is one complete RESP reply from Redis
  FailedReply,  // `bytes` is an error reply that means Redis cannot serve (-LOADING, -BUSY, ...)
  Timeout,      // the request deadline passed first; its late reply will be discarded
  NotSent,      // never written: not connected, or too many in flight (it did not run)
  Unavailable,  // the connection dropped with the request in flight (it may have run)
};

// Implemented by sessions. Thread safety: called on the owning worker's thread only.
class ReplyTarget {
 public:
  virtual ~ReplyTarget() = default;
  // `bytes` is valid only during the call. `now` is when the reply (or failure) was seen, so a
  // target need not read the clock once per reply.
  virtual void on_reply(std::uint64_t token, std::string_view bytes, ReplyStatus status,
                        std::chrono::steady_clock::time_point now) = 0;
  // Replies with status Ok or FailedReply come from a connection's read of Redis's output, which
  // may hold many; after the last one of that read, each target that got one is told, so it can
  // write all of them to its client at once. Other statuses are not followed by this call.
  virtual void on_batch_end() {}
};

}  // namespace seawall::upstream
