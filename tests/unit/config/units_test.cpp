#include "config/units.hpp"

#include <gtest/gtest.h>

namespace seawall::config::detail {
namespace {

using namespace std::chrono_literals;

TEST(UnitsTest, DurationErrorsSayWhy) {
  EXPECT_EQ(parse_duration_detailed("").error, UnitError::Empty);
  EXPECT_EQ(parse_duration_detailed("-5ms").error, UnitError::Negative);
  EXPECT_EQ(parse_duration_detailed("fast").error, UnitError::Malformed);
  EXPECT_EQ(parse_duration_detailed("1.s").error, UnitError::Malformed);
  EXPECT_EQ(parse_duration_detailed("1 s").error, UnitError::Malformed);
  EXPECT_EQ(parse_duration_detailed("1..2").error, UnitError::Malformed);
  EXPECT_EQ(parse_duration_detailed("12").error, UnitError::MissingUnit);
  EXPECT_EQ(parse_duration_detailed("12d").error, UnitError::UnknownUnit);
  EXPECT_EQ(parse_duration_detailed("9223372036854775808ms").error, UnitError::TooLarge);
  EXPECT_EQ(parse_duration_detailed("0.1ms").error, UnitError::TooPrecise);
  const ParsedDuration ok = parse_duration_detailed("1.5s");
  EXPECT_EQ(ok.error, UnitError::None);
  EXPECT_EQ(ok.value, 1500ms);
}

TEST(UnitsTest, SizeErrorsSayWhy) {
  EXPECT_EQ(parse_size_detailed("").error, UnitError::Empty);
  EXPECT_EQ(parse_size_detailed("-1").error, UnitError::Negative);
  EXPECT_EQ(parse_size_detailed("mb").error, UnitError::Malformed);
  EXPECT_EQ(parse_size_detailed("5pb").error, UnitError::UnknownUnit);
  EXPECT_EQ(parse_size_detailed("16777216tb").error, UnitError::UnknownUnit);
  EXPECT_EQ(parse_size_detailed("17179869184gb").error, UnitError::TooLarge);
  EXPECT_EQ(parse_size_detailed("0.3b").error, UnitError::TooPrecise);
  // Ten significant fractional digits can never be a whole number of bytes for these units.
  EXPECT_EQ(parse_size_detailed("1.0000000001gb").error, UnitError::TooPrecise);
  const ParsedSize ok = parse_size_detailed("2kb");
  EXPECT_EQ(ok.error, UnitError::None);
  EXPECT_EQ(ok.value, 2048u);
}

TEST(UnitsTest, DescribesEveryErrorForEachKind) {
  for (UnitError error :
       {UnitError::Empty, UnitError::Negative, UnitError::Malformed, UnitError::MissingUnit,
        UnitError::UnknownUnit, UnitError::TooLarge, UnitError::TooPrecise}) {
    EXPECT_FALSE(describe(error, UnitKind::Duration).empty());
    EXPECT_FALSE(describe(error, UnitKind::Size).empty());
  }
  EXPECT_EQ(describe(UnitError::TooPrecise, UnitKind::Duration),
            "not a whole number of milliseconds");
  EXPECT_EQ(describe(UnitError::TooPrecise, UnitKind::Size), "not a whole number of bytes");
}

TEST(UnitsTest, FormatsDurationsInTheLargestExactUnit) {
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(1ms), "1ms");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(2s), "2s");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(2min), "2m");
  EXPECT_EQ(format_duration(8760h), "8760h");
  EXPECT_EQ(format_duration(-3ms), "-3ms");
}

TEST(UnitsTest, FormatsSizesInTheLargestExactUnit) {
  EXPECT_EQ(format_size(0), "0b");
  EXPECT_EQ(format_size(100), "100b");
  EXPECT_EQ(format_size(1536), "1536b");
  EXPECT_EQ(format_size(64 * 1024), "64kb");
  EXPECT_EQ(format_size(512ull << 20), "512mb");
  EXPECT_EQ(format_size(3ull << 30), "3gb");
}

TEST(UnitsTest, FormattedValuesParseBack) {
  for (Millis value : {Millis{0}, Millis{7}, Millis{1500}, Millis{3s}, Millis{5min}, Millis{2h}}) {
    EXPECT_EQ(parse_duration_detailed(format_duration(value)).value, value);
  }
  for (std::uint64_t value : {0ull, 1ull, 1000ull, 4096ull, 5ull << 20, 7ull << 30}) {
    EXPECT_EQ(parse_size_detailed(format_size(value)).value, value);
  }
}

}  // namespace
}  // namespace seawall::config::detail
