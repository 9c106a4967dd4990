#include "seawall/util/bugs.hpp"

#include <atomic>
#include <string>

#include "seawall/util/log.hpp"

namespace seawall::util {
namespace {

std::atomic<std::uint64_t> g_bugs{0};

}  // namespace

std::uint64_t bugs_total() { return g_bugs.load(std::memory_order_relaxed); }

void report_bug(std::string_view module, std::string_view what) {
  g_bugs.fetch_add(1, std::memory_order_relaxed);
  logger(std::string(module))->error("bug: {}", what);
}

void coroutine_done(std::string_view module, std::string_view what, std::exception_ptr e) {
  if (!e) {
    return;
  }
  std::string message(what);
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    message += " failed: ";
    message += ex.what();
  } catch (...) {
    message += " failed with a non-standard exception";
  }
  report_bug(module, message);
}

}  // namespace seawall::util
