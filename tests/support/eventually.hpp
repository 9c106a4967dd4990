#pragma once
// eventually(): a bounded wait for a condition another thread makes true (a breaker opening, a
// fake accepting a connection), for component tests, which run on real time.
// Thread safety: a pure function of `condition`.
#include <chrono>
#include <thread>

namespace seawall::support {

// Polls `condition` every 2 ms until it holds or `deadline` passes; returns its last value.
template <typename Condition>
bool eventually(Condition condition,
                std::chrono::milliseconds deadline = std::chrono::milliseconds(5000)) {
  const auto give_up = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= give_up) {
      return condition();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace seawall::support
