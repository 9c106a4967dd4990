#pragma once
// One command a session sends on a shared upstream connection outside its reply slots, and whose
// reply its reader waits for (UpstreamAsks, ShardDetour): the reader keeps its place among the
// replies by answering only once this one came.
//
// Ownership: the connection answers it exactly once (reply, deadline or drop) and holds a raw
// pointer until then (for a reply, until the on_batch_end after it), so it keeps itself alive
// until that call, whether or not anyone still waits for it (ASKING's ask has nobody).
// Thread safety: the session's worker thread (the connection's).
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/net.hpp"
#include "seawall/upstream/connection.hpp"
#include "seawall/upstream/reply_target.hpp"
#include "seawall/util/signal.hpp"

namespace seawall::proxy {

class UpstreamAsk final : public upstream::ReplyTarget {
 public:
  explicit UpstreamAsk(const asio::any_io_executor& ex) : signal_(ex) {}

  // `args` encoded as a command. With a permit, its outcome counts for `issuer` as a forwarded
  // request's does; without one, seawall asks for itself and the breaker is not told.
  static std::shared_ptr<UpstreamAsk> send(const asio::any_io_executor& ex,
                                           upstream::Connection& connection,
                                           std::span<const std::string_view> args,
                                           std::chrono::steady_clock::time_point now,
                                           breaker::Permit permit = {},
                                           breaker::CircuitBreaker* issuer = nullptr);
  // A command already encoded.
  static std::shared_ptr<UpstreamAsk> send_raw(const asio::any_io_executor& ex,
                                               upstream::Connection& connection,
                                               std::string_view command,
                                               std::chrono::steady_clock::time_point now,
                                               breaker::Permit permit = {},
                                               breaker::CircuitBreaker* issuer = nullptr);

  // Returns once the reply (or failure) came, or the waiting coroutine was cancelled.
  awaitable<void> wait();

  // The reply, when Redis sent one (status Ok or FailedReply).
  const std::optional<std::string>& reply() const { return reply_; }
  upstream::ReplyStatus status() const { return status_; }

  // ReplyTarget
  void on_reply(std::uint64_t token, std::string_view bytes, upstream::ReplyStatus status,
                std::chrono::steady_clock::time_point now) override;
  void on_batch_end() override;

 private:
  util::Signal signal_;
  std::optional<std::string> reply_;
  upstream::ReplyStatus status_ = upstream::ReplyStatus::NotSent;
  bool done_ = false;
  std::shared_ptr<UpstreamAsk> self_;
};

}  // namespace seawall::proxy
