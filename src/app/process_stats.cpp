#include "app/process_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <system_error>

namespace seawall::app::detail {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

}  // namespace

double process_cpu_seconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) {
    return kNaN;
  }
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double process_resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size_pages = 0;
  std::uint64_t resident_pages = 0;
  const long page_size = sysconf(_SC_PAGESIZE);
  if (!(statm >> size_pages >> resident_pages) || page_size <= 0) {
    return kNaN;
  }
  return static_cast<double>(resident_pages) * static_cast<double>(page_size);
}

double process_open_fds() {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (ec) {
    return kNaN;
  }
  double count = 0;
  for (const auto& entry : it) {
    static_cast<void>(entry);
    ++count;
  }
  return count;
}

double process_max_fds() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return kNaN;
  }
  if (limit.rlim_cur == RLIM_INFINITY) {
    return std::numeric_limits<double>::infinity();
  }
  return static_cast<double>(limit.rlim_cur);
}

}  // namespace seawall::app::detail
