#pragma once
// The injected faults' metric, read at each scrape from each upstream's FaultCounters.
// Thread safety: constants.
#include <array>

#include "seawall/metrics/spec.hpp"

namespace seawall::fault {

inline constexpr metrics::Spec kFaultsInjected{
    "seawall_faults_injected_total",
    metrics::Type::Counter,
    "Commands a configured fault was applied to (faults:), by upstream and type: delay or error.",
    {"upstream", "type"}};

inline constexpr std::array kFaultMetrics{kFaultsInjected};

}  // namespace seawall::fault
