#pragma once
// The metrics the composition root computes itself (build, clients, process resources), and
// the list of every module's metric table: what a scrape and `seawall --describe-metrics` show.
// The process_* names are the Prometheus client-library conventions, so that standard dashboards
// work; the rest follow seawall_<module>_<what>.
// Thread safety: the tables are constants; the functions are called at startup.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "seawall/metrics/registry.hpp"
#include "seawall/metrics/spec.hpp"

namespace seawall::app {

inline constexpr metrics::Spec kBuildInfo{
    "seawall_build_info",
    metrics::Type::Gauge,
    "Always 1; the version label tells which seawall build is running.",
    {"version"}};
inline constexpr metrics::Spec kClients{"seawall_clients", metrics::Type::Gauge,
                                        "Client connections open now, across all threads."};
inline constexpr metrics::Spec kProcessStartTime{
    "process_start_time_seconds", metrics::Type::Gauge,
    "When seawall started, in seconds since the Unix epoch."};
inline constexpr metrics::Spec kProcessCpu{"process_cpu_seconds_total", metrics::Type::Counter,
                                           "User and system CPU time used, in seconds."};
inline constexpr metrics::Spec kProcessResidentMemory{
    "process_resident_memory_bytes", metrics::Type::Gauge, "Resident memory, in bytes."};
inline constexpr metrics::Spec kProcessOpenFds{"process_open_fds", metrics::Type::Gauge,
                                               "Open file descriptors."};
inline constexpr metrics::Spec kProcessMaxFds{
    "process_max_fds", metrics::Type::Gauge,
    "Most file descriptors the process may open (RLIMIT_NOFILE)."};

inline constexpr metrics::Spec kBugs{
    "seawall_bugs_total", metrics::Type::Counter,
    "Bugs seawall survived (a coroutine that ended with an exception, a broken invariant); each is "
    "also logged. Should stay 0."};

inline constexpr metrics::Spec kConfigReloads{
    "seawall_config_reloads_total",
    metrics::Type::Counter,
    "Configuration reloads (SIGHUP or file change), by result.",
    {"result"}};
inline constexpr metrics::Spec kConfigVersion{"seawall_config_version", metrics::Type::Gauge,
                                              "Configurations loaded since start; 1 is the first."};
inline constexpr metrics::Spec kConfigLastReloadOk{
    "seawall_config_last_reload_successful", metrics::Type::Gauge,
    "1 unless the latest reload failed (the old configuration is still in force): 0 until a "
    "reload succeeds."};

inline constexpr std::array kConfigMetrics{kConfigReloads, kConfigVersion, kConfigLastReloadOk};

inline constexpr std::array kAppMetrics{kBuildInfo,
                                        kClients,
                                        kProcessStartTime,
                                        kProcessCpu,
                                        kProcessResidentMemory,
                                        kProcessOpenFds,
                                        kProcessMaxFds,
                                        kBugs};

// Declares every module's table in `registry`: each module declares its own beside its code
// (policy/policy_metrics.hpp, upstream/upstream_metrics.hpp, ...) and adds it here.
void declare_metrics(metrics::Registry& registry);

// Registers the app table's values: build info, the client count read from `clients` at each
// scrape (which must outlive the registry's scrapes), the start time, and process resources
// read from /proc and getrusage at each scrape.
void register_app_metrics(metrics::Registry& registry, const std::atomic<std::uint32_t>& clients,
                          std::chrono::system_clock::time_point started);

}  // namespace seawall::app
