#include "seawall/proxy/upstream_ask.hpp"

#include "seawall/resp/writer.hpp"

namespace seawall::proxy {

std::shared_ptr<UpstreamAsk> UpstreamAsk::send(const asio::any_io_executor& ex,
                                               upstream::Connection& connection,
                                               std::span<const std::string_view> args,
                                               std::chrono::steady_clock::time_point now,
                                               breaker::Permit permit,
                                               breaker::CircuitBreaker* issuer) {
  std::string command;
  resp::append_command(command, args);
  return send_raw(ex, connection, command, now, permit, issuer);
}

std::shared_ptr<UpstreamAsk> UpstreamAsk::send_raw(const asio::any_io_executor& ex,
                                                   upstream::Connection& connection,
                                                   std::string_view command,
                                                   std::chrono::steady_clock::time_point now,
                                                   breaker::Permit permit,
                                                   breaker::CircuitBreaker* issuer) {
  auto ask = std::make_shared<UpstreamAsk>(ex);
  ask->self_ = ask;
  connection.submit(command, ask.get(), 0, now, permit, issuer);
  return ask;
}

awaitable<void> UpstreamAsk::wait() {
  if (!done_) {
    co_await signal_.wait();
  }
}

void UpstreamAsk::on_reply(std::uint64_t /*token*/, std::string_view bytes,
                           upstream::ReplyStatus status,
                           std::chrono::steady_clock::time_point /*now*/) {
  status_ = status;
  done_ = true;
  signal_.notify();
  if (status == upstream::ReplyStatus::Ok || status == upstream::ReplyStatus::FailedReply) {
    reply_.emplace(bytes);
    return;  // on_batch_end follows, and this object must live until it (ReplyTarget)
  }
  self_.reset();  // last: may destroy this object
}

void UpstreamAsk::on_batch_end() {
  self_.reset();  // last: may destroy this object
}

}  // namespace seawall::proxy
