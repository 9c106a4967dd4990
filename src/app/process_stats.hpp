#pragma once
// Resource use of this process, read when asked (at scrape time): Linux /proc and getrusage.
// Each returns NaN when the source cannot be read, which the text format renders as NaN.
// Thread safety: every function may be called from any thread.

namespace seawall::app::detail {

// User plus system CPU time, in seconds.
double process_cpu_seconds();
// Resident set size, in bytes (/proc/self/statm).
double process_resident_bytes();
// Entries of /proc/self/fd.
double process_open_fds();
// The soft RLIMIT_NOFILE; +Inf when unlimited.
double process_max_fds();

}  // namespace seawall::app::detail
