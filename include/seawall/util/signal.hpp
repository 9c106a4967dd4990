#pragma once
// A level-less wake-up for one waiting coroutine: wait() suspends until notify() is called.
// Built on a steady_timer that never expires on its own (the Asio chat_server idiom).
// Thread safety: use from the owning strand/io_context only.
#include "seawall/net.hpp"

namespace seawall::util {

class Signal {
 public:
  explicit Signal(const asio::any_io_executor& ex) : timer_(ex) {
    timer_.expires_at(asio::steady_timer::time_point::max());
  }

  awaitable<void> wait() {
    waiting_ = true;
    co_await timer_.async_wait(use_nothrow);
    waiting_ = false;
    timer_.expires_at(asio::steady_timer::time_point::max());
  }

  void notify() {
    if (waiting_) {
      timer_.cancel();
    }
  }

  bool waiting() const { return waiting_; }

 private:
  asio::steady_timer timer_;
  bool waiting_ = false;
};

}  // namespace seawall::util
