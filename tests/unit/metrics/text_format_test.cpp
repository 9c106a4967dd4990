#include "seawall/metrics/text_format.hpp"

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace seawall::metrics {
namespace {

std::string value(double v) {
  std::string out;
  append_value(out, v);
  return out;
}

std::string value(std::uint64_t v) {
  std::string out;
  append_value(out, v);
  return out;
}

std::string label_value(std::string_view v) {
  std::string out;
  append_escaped_label_value(out, v);
  return out;
}

std::string help(std::string_view v) {
  std::string out;
  append_escaped_help(out, v);
  return out;
}

TEST(TextFormatTest, FormatsSpecialFloats) {
  EXPECT_EQ(value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(value(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(value(0.0), "0");
  EXPECT_EQ(value(-0.0), "0");
}

TEST(TextFormatTest, FormatsWholeNumbersWithoutAFraction) {
  EXPECT_EQ(value(1.0), "1");
  EXPECT_EQ(value(-3.0), "-3");
  EXPECT_EQ(value(1234567.0), "1234567");
  EXPECT_EQ(value(1e20), "100000000000000000000");
}

TEST(TextFormatTest, FormatsFractionsShortestInPlainNotation) {
  EXPECT_EQ(value(2.5), "2.5");
  EXPECT_EQ(value(0.1), "0.1");
  EXPECT_EQ(value(0.0001), "0.0001");
  EXPECT_EQ(value(0.00025), "0.00025");
  EXPECT_EQ(value(1234567.5), "1234567.5");
  EXPECT_EQ(value(0.1 + 0.2), "0.30000000000000004");
}

TEST(TextFormatTest, UsesExponentsOnlyForVerySmallAndVeryLargeNumbers) {
  EXPECT_EQ(value(0.00005), "5e-05");
  EXPECT_EQ(value(-0.00001), "-1e-05");
  EXPECT_EQ(value(1e21), "1e+21");
  EXPECT_EQ(value(1.5e300), "1.5e+300");
  EXPECT_EQ(value(std::numeric_limits<double>::denorm_min()), "5e-324");
}

TEST(TextFormatTest, EveryFormattedValueReadsBackExactly) {
  for (double v : {0.1, 1.0 / 3.0, 2.0 / 3.0 * 1e-7, 123456789.123, 9.87654321e19, 4.2e-5}) {
    EXPECT_EQ(std::stod(value(v)), v) << value(v);
  }
}

TEST(TextFormatTest, FormatsIntegersExactly) {
  EXPECT_EQ(value(std::uint64_t{0}), "0");
  EXPECT_EQ(value(std::uint64_t{42}), "42");
  EXPECT_EQ(value(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615");
}

TEST(TextFormatTest, EscapesBackslashQuoteAndNewlineInLabelValues) {
  EXPECT_EQ(label_value("plain value"), "plain value");
  EXPECT_EQ(label_value(R"(C:\dir)"), R"(C:\\dir)");
  EXPECT_EQ(label_value(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(label_value("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(label_value("\\\"\n"), R"(\\\"\n)");
  // Other bytes, UTF-8 included, pass through.
  EXPECT_EQ(label_value("tab\there é"), "tab\there é");
}

TEST(TextFormatTest, EscapesBackslashAndNewlineInHelpButNotQuotes) {
  EXPECT_EQ(help(R"(a "quoted" \ word)"), R"(a "quoted" \\ word)");
  EXPECT_EQ(help("line one\nline two"), R"(line one\nline two)");
}

TEST(TextFormatTest, ChecksMetricNames) {
  EXPECT_TRUE(is_valid_metric_name("seawall_requests_total"));
  EXPECT_TRUE(is_valid_metric_name("_x"));
  EXPECT_TRUE(is_valid_metric_name("job:rate5m"));
  EXPECT_TRUE(is_valid_metric_name("A9"));
  EXPECT_FALSE(is_valid_metric_name(""));
  EXPECT_FALSE(is_valid_metric_name("9lives"));
  EXPECT_FALSE(is_valid_metric_name("has-dash"));
  EXPECT_FALSE(is_valid_metric_name("has space"));
  EXPECT_FALSE(is_valid_metric_name("dotted.name"));
}

TEST(TextFormatTest, ChecksLabelNames) {
  EXPECT_TRUE(is_valid_label_name("command"));
  EXPECT_TRUE(is_valid_label_name("_private"));
  EXPECT_TRUE(is_valid_label_name("le"));  // valid in general; histograms forbid it
  EXPECT_FALSE(is_valid_label_name(""));
  EXPECT_FALSE(is_valid_label_name("__reserved"));
  EXPECT_FALSE(is_valid_label_name("1st"));
  EXPECT_FALSE(is_valid_label_name("a:b"));
  EXPECT_FALSE(is_valid_label_name("a-b"));
}

}  // namespace
}  // namespace seawall::metrics
