#include "seawall/util/bugs.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace seawall::util {
namespace {

TEST(Bugs, ACoroutineThatThrewIsCountedAndOneThatEndedIsNot) {
  const std::uint64_t before = bugs_total();
  on_coroutine_done("test", "a coroutine")(nullptr);
  EXPECT_EQ(bugs_total(), before);
  on_coroutine_done("test", "a coroutine")(std::make_exception_ptr(std::runtime_error("boom")));
  EXPECT_EQ(bugs_total(), before + 1);
  coroutine_done("test", "another", std::make_exception_ptr(42));  // not a std::exception
  EXPECT_EQ(bugs_total(), before + 2);
  report_bug("test", "an invariant");
  EXPECT_EQ(bugs_total(), before + 3);
}

}  // namespace
}  // namespace seawall::util
