#pragma once
// One configured fault (faults: in the YAML): a share of the matching commands answered with an
// injected error, or whose reply is held back, to rehearse an outage in staging. Plain value
// type; the config loader fills and validates it, FaultInjector turns the list into decisions.
// Thread safety: a value type; copy or share as const freely.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace seawall::fault {

enum class FaultType : std::uint8_t {
  Delay,  // the reply reaches seawall `delay` later than Redis sent it
  Error,  // the command is not sent; an error reply takes the place of Redis's
};

struct FaultConfig {
  FaultType type = FaultType::Error;
  // Delay only (required there): added to the time Redis took. Past the upstream's
  // request_timeout the request times out, exactly as if Redis had been that slow.
  std::chrono::milliseconds delay{0};
  // Share of the matching commands affected, 0 to 100 (fractions allowed: 0.5 is one in 200).
  double percent = 0.0;
  // Command names (or "container|sub") the fault applies to, lowercase, each known to the
  // command table. Empty: every command sent on the shared connections.
  std::vector<std::string> commands;
  // The upstream whose commands are affected; empty: every upstream.
  std::string upstream;
  std::size_t upstream_index = 0;  // resolved at load when `upstream` is set
  // Error only: the error line (without '-' and CRLF) that stands for Redis's reply, e.g.
  // "LOADING Redis is loading the dataset in memory". Empty: resp::replies::kInjectedFault.
  std::string message;

  bool operator==(const FaultConfig&) const = default;
};

}  // namespace seawall::fault
