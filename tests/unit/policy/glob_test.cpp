#include "seawall/policy/glob.hpp"

#include <gtest/gtest.h>

#include <string>

namespace seawall::policy {
namespace {

TEST(GlobTest, EmptyPatternMatchesOnlyEmptyText) {
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "a"));
  EXPECT_FALSE(glob_match("a", ""));
}

TEST(GlobTest, StarAloneMatchesEverything) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "anything:at:all"));
  EXPECT_TRUE(glob_match("***", "x"));
  EXPECT_TRUE(glob_match("*", std::string("\0\r\n", 3)));
}

TEST(GlobTest, LiteralsAreExactAndCaseSensitive) {
  EXPECT_TRUE(glob_match("user:1", "user:1"));
  EXPECT_FALSE(glob_match("user:1", "user:10"));
  EXPECT_FALSE(glob_match("user:1", "user:"));
  EXPECT_FALSE(glob_match("User:1", "user:1"));
  EXPECT_TRUE(glob_match(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(glob_match(std::string("a\0b", 3), "a"));
}

TEST(GlobTest, StarMatchesAnyRunIncludingEmpty) {
  EXPECT_TRUE(glob_match("user:*", "user:"));
  EXPECT_TRUE(glob_match("user:*", "user:42:profile"));
  EXPECT_FALSE(glob_match("user:*", "users:42"));
  EXPECT_TRUE(glob_match("*:profile", "user:42:profile"));
  EXPECT_FALSE(glob_match("*:profile", "user:42:profile:x"));
  EXPECT_TRUE(glob_match("h*llo", "hllo"));
  EXPECT_TRUE(glob_match("h*llo", "heeeello"));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXbYbZ"));
  EXPECT_TRUE(glob_match("*a*", "banana"));
  EXPECT_TRUE(glob_match("*ana", "banana"));  // needs the star to give back what it took
  EXPECT_FALSE(glob_match("*anab", "banana"));
}

TEST(GlobTest, QuestionMarkMatchesExactlyOneByte) {
  EXPECT_TRUE(glob_match("h?llo", "hello"));
  EXPECT_TRUE(glob_match("h?llo", "hallo"));
  EXPECT_FALSE(glob_match("h?llo", "hllo"));
  EXPECT_FALSE(glob_match("h?llo", "heello"));
  EXPECT_TRUE(glob_match("??", "ab"));
  EXPECT_FALSE(glob_match("?", ""));
  EXPECT_TRUE(glob_match("*?", "a"));
  EXPECT_FALSE(glob_match("*??", "a"));
}

TEST(GlobTest, BracketSets) {
  EXPECT_TRUE(glob_match("h[ae]llo", "hello"));
  EXPECT_TRUE(glob_match("h[ae]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[ae]llo", "hillo"));
  EXPECT_FALSE(glob_match("h[ae]llo", "hllo"));
  EXPECT_TRUE(glob_match("[-a]", "-"));  // a leading dash is literal
  EXPECT_TRUE(glob_match("[-a]", "a"));
  EXPECT_FALSE(glob_match("[-a]", "b"));
}

TEST(GlobTest, BracketRanges) {
  EXPECT_TRUE(glob_match("h[a-b]llo", "hallo"));
  EXPECT_TRUE(glob_match("h[a-b]llo", "hbllo"));
  EXPECT_FALSE(glob_match("h[a-b]llo", "hcllo"));
  EXPECT_TRUE(glob_match("id:[0-9][0-9]", "id:42"));
  EXPECT_FALSE(glob_match("id:[0-9][0-9]", "id:4x"));
  EXPECT_TRUE(glob_match("[z-a]", "m"));  // reversed range, as in Redis
  EXPECT_TRUE(glob_match("[a-cx-z]", "y"));
  EXPECT_FALSE(glob_match("[a-cx-z]", "d"));
  EXPECT_TRUE(glob_match("[\x80-\xff]", "\xc3"));  // bytes compare unsigned
  EXPECT_FALSE(glob_match("[\x80-\xff]", "c"));
}

TEST(GlobTest, NegatedBrackets) {
  EXPECT_TRUE(glob_match("h[^e]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hllo"));  // still consumes exactly one byte
  EXPECT_TRUE(glob_match("[^a-c]", "d"));
  EXPECT_FALSE(glob_match("[^a-c]", "b"));
}

TEST(GlobTest, EscapesMakeSpecialsLiteral) {
  EXPECT_TRUE(glob_match("\\*", "*"));
  EXPECT_FALSE(glob_match("\\*", "a"));
  EXPECT_FALSE(glob_match("\\*", ""));
  EXPECT_TRUE(glob_match("a\\?", "a?"));
  EXPECT_FALSE(glob_match("a\\?", "ab"));
  EXPECT_TRUE(glob_match("\\[x]", "[x]"));
  EXPECT_TRUE(glob_match("\\\\", "\\"));
  EXPECT_TRUE(glob_match("\\a", "a"));  // escaping an ordinary byte is harmless
  EXPECT_TRUE(glob_match("[\\]]", "]"));
  EXPECT_TRUE(glob_match("[\\^]", "^"));
  EXPECT_FALSE(glob_match("[\\^]", "a"));
  EXPECT_TRUE(glob_match("a\\*b*", "a*bcd"));
  EXPECT_FALSE(glob_match("a\\*b*", "axbcd"));
}

TEST(GlobTest, TrailingBackslashMatchesABackslash) {
  EXPECT_TRUE(glob_match("a\\", "a\\"));
  EXPECT_FALSE(glob_match("a\\", "a"));
  EXPECT_FALSE(glob_match("a\\", "ab"));
}

TEST(GlobTest, UnterminatedBracketRunsToEndOfPattern) {
  EXPECT_TRUE(glob_match("[abc", "a"));
  EXPECT_TRUE(glob_match("[abc", "c"));
  EXPECT_FALSE(glob_match("[abc", "d"));
  EXPECT_FALSE(glob_match("[abc", "ab"));
  EXPECT_FALSE(glob_match("[", "["));
  EXPECT_FALSE(glob_match("[", ""));
  EXPECT_FALSE(glob_match("x[", "x"));
  EXPECT_TRUE(glob_match("[^", "q"));
  EXPECT_TRUE(glob_match("x[a-", "xa"));  // "a-" is not a range without an end: a and -
  EXPECT_TRUE(glob_match("x[a-", "x-"));
  EXPECT_TRUE(glob_match("[\\", "\\"));
}

TEST(GlobTest, EmptyBracketMatchesNothing) {
  EXPECT_FALSE(glob_match("[]", ""));
  EXPECT_FALSE(glob_match("[]", "]"));
  EXPECT_FALSE(glob_match("[]a", "a"));
  EXPECT_TRUE(glob_match("[^]", "x"));
}

TEST(GlobTest, PathologicalPatternsStayFastAndShallow) {
  const std::string text(10000, 'a');
  EXPECT_FALSE(glob_match("a*a*a*a*a*a*a*a*a*a*b", text));
  EXPECT_TRUE(glob_match("a*a*a*a*a*a*a*a*a*a*a", text));
  // A pattern that would recurse once per star in a recursive matcher.
  std::string stars;
  for (int i = 0; i < 100000; ++i) {
    stars += "*a";
  }
  EXPECT_FALSE(glob_match(stars, text));
  EXPECT_TRUE(glob_match(stars.substr(0, 2 * text.size()), text));
}

TEST(GlobTest, IsLiteral) {
  EXPECT_TRUE(glob_is_literal(""));
  EXPECT_TRUE(glob_is_literal("user:1"));
  EXPECT_FALSE(glob_is_literal("user:*"));
  EXPECT_FALSE(glob_is_literal("user:?"));
  EXPECT_FALSE(glob_is_literal("user:[1]"));
  EXPECT_FALSE(glob_is_literal("user\\:1"));
}

}  // namespace
}  // namespace seawall::policy
