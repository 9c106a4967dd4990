#pragma once
// Bugs that must not stop the process: logged and counted (seawall_bugs_total), as STYLE.md's
// SEAWALL_BUG asks. The completion handler of every co_spawn reports through here: the data path
// throws nothing, so a coroutine that ends with an exception is a bug, whichever one it was.
// Thread safety: every function may be called from any thread.
#include <cstdint>
#include <exception>
#include <string_view>

namespace seawall::util {

// Bugs reported since the process started.
std::uint64_t bugs_total();

// Logs `what` as a bug on the `module` logger and counts it.
void report_bug(std::string_view module, std::string_view what);

// A coroutine's completion: nothing when `e` is empty, else the exception reported as a bug of
// `module`, naming `what` ran.
void coroutine_done(std::string_view module, std::string_view what, std::exception_ptr e);

// The completion handler for co_spawn; `module` and `what` must be string literals.
inline auto on_coroutine_done(std::string_view module, std::string_view what) {
  return [module, what](std::exception_ptr e) { coroutine_done(module, what, std::move(e)); };
}

}  // namespace seawall::util
