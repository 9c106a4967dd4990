#include "config/binder.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace seawall::config::detail {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

enum class Mode { Reject, Invalidate, Journal };

// Binds `yaml` as the root of a file named "t.yaml"; returns the errors.
class BinderTest : public ::testing::Test {
 protected:
  std::vector<std::string> bind(const std::string& yaml, const MapBinder::MapFn& fn) {
    Diagnostics diagnostics("t.yaml");
    MapBinder root(YAML::Load(yaml), "", 1, diagnostics);
    fn(root);
    root.finish();
    return diagnostics.take();
  }
};

TEST_F(BinderTest, AbsentOptionalFieldsKeepTheirDefaults) {
  std::uint32_t count = 7;
  Millis wait{3};
  std::string name = "keep";
  bool all_usable = false;
  EXPECT_THAT(bind("{}",
                   [&](MapBinder& m) {
                     all_usable = m.uint("count", count, 1) && m.duration("wait", wait, 0ms) &&
                                  m.string("name", name);
                   }),
              IsEmpty());
  EXPECT_TRUE(all_usable);
  EXPECT_EQ(count, 7u);
  EXPECT_EQ(wait, 3ms);
  EXPECT_EQ(name, "keep");
}

TEST_F(BinderTest, InvalidFieldsLeaveTheOutputUnchanged) {
  std::uint32_t count = 7;
  bool usable = true;
  EXPECT_THAT(bind("count: 0", [&](MapBinder& m) { usable = m.uint("count", count, 1); }),
              ElementsAre("t.yaml:1: count: must be > 0, got 0"));
  EXPECT_FALSE(usable);
  EXPECT_EQ(count, 7u);
}

TEST_F(BinderTest, BindsBooleansInTheirYaml12Spelling) {
  bool on = false;
  bool off = true;
  EXPECT_THAT(bind("a: true\nb: false\nc: yes\n",
                   [&](MapBinder& m) {
                     m.boolean("a", on);
                     m.boolean("b", off);
                     bool ignored = false;
                     m.boolean("c", ignored);
                   }),
              ElementsAre("t.yaml:3: c: expected true or false, got \"yes\""));
  EXPECT_TRUE(on);
  EXPECT_FALSE(off);
}

TEST_F(BinderTest, BindsEnumsFromNames) {
  Mode mode = Mode::Reject;
  const auto bind_mode = [&](MapBinder& m) {
    m.choice("mode", mode,
             {Choice<Mode>{"reject", Mode::Reject}, Choice<Mode>{"invalidate", Mode::Invalidate},
              Choice<Mode>{"journal", Mode::Journal}});
  };
  EXPECT_THAT(bind("mode: journal", bind_mode), IsEmpty());
  EXPECT_EQ(mode, Mode::Journal);
  EXPECT_THAT(bind("mode: drop", bind_mode),
              ElementsAre("t.yaml:1: mode: must be one of reject, invalidate or journal, got "
                          "\"drop\""));
  EXPECT_EQ(mode, Mode::Journal);
}

TEST_F(BinderTest, BindsStringSequences) {
  std::vector<std::string> keys{"old"};
  const auto check = [](std::string_view text) {
    return text.empty() ? std::string("must not be empty") : std::string();
  };
  EXPECT_THAT(bind("keys: [a, b]", [&](MapBinder& m) { m.strings("keys", keys, check); }),
              IsEmpty());
  EXPECT_THAT(keys, ElementsAre("a", "b"));
  EXPECT_THAT(bind("keys:\n  - x\n  - ''\n  - [y]\n",
                   [&](MapBinder& m) { m.strings("keys", keys, check); }),
              ElementsAre("t.yaml:3: keys[1]: must not be empty",
                          "t.yaml:4: keys[2]: expected a string, got a sequence"));
  EXPECT_THAT(keys, ElementsAre("a", "b"));
  EXPECT_THAT(bind("keys: a", [&](MapBinder& m) { m.strings("keys", keys); }),
              ElementsAre("t.yaml:1: keys: expected a sequence of strings, got a scalar"));
}

TEST_F(BinderTest, RequiredFieldsAreReportedAtTheirMapping) {
  std::string name;
  EXPECT_THAT(bind("outer:\n  inner:\n    other: 1\n",
                   [&](MapBinder& root) {
                     root.map("outer", [&](MapBinder& outer) {
                       outer.map("inner", [&](MapBinder& inner) {
                         inner.string("name", name, {}, Presence::Required);
                         inner.string("other", name);
                       });
                       outer.map(
                           "missing", [](MapBinder&) {}, Presence::Required);
                     });
                   }),
              ElementsAre("t.yaml:1: outer.missing: is required",
                          "t.yaml:2: outer.inner.name: is required"));
}

TEST_F(BinderTest, AbsentOptionalSectionsAreNotVisited) {
  bool visited = false;
  EXPECT_THAT(
      bind("{}", [&](MapBinder& m) { m.map("section", [&](MapBinder&) { visited = true; }); }),
      IsEmpty());
  EXPECT_FALSE(visited);
}

TEST_F(BinderTest, ListsGiveEachElementItsIndexedPath) {
  std::vector<std::uint32_t> weights;
  EXPECT_THAT(bind("items:\n  - {weight: 1}\n  - {weight: 0}\n  - {weigth: 2}\n",
                   [&](MapBinder& m) {
                     m.list("items", [&](MapBinder& item, std::size_t index) {
                       EXPECT_EQ(item.path(), "items[" + std::to_string(index) + "]");
                       std::uint32_t weight = 5;
                       item.uint("weight", weight, 1, 10);
                       weights.push_back(weight);
                     });
                   }),
              ElementsAre("t.yaml:3: items[1].weight: must be between 1 and 10, got 0",
                          "t.yaml:4: items[2].weigth: unknown key (did you mean weight?)"));
  EXPECT_THAT(weights, ElementsAre(1u, 5u, 5u));
}

TEST_F(BinderTest, CrossFieldErrorsPointAtTheKey) {
  EXPECT_THAT(bind("a: 1\nb: 2\n",
                   [&](MapBinder& m) {
                     std::uint32_t a = 0;
                     std::uint32_t b = 0;
                     m.uint("a", a, 0);
                     m.uint("b", b, 0);
                     EXPECT_TRUE(m.has("b"));
                     EXPECT_FALSE(m.has("c"));
                     EXPECT_EQ(m.line("c"), 1);
                     m.error("b", "must be less than a");
                   }),
              ElementsAre("t.yaml:2: b: must be less than a"));
}

TEST_F(BinderTest, RejectsNonStringKeys) {
  EXPECT_THAT(bind("? [a]\n: 1\n", [](MapBinder&) {}),
              ElementsAre("t.yaml:1: keys must be plain strings"));
}

TEST_F(BinderTest, FinishReportsUnknownKeysOnce) {
  Diagnostics diagnostics("t.yaml");
  MapBinder root(YAML::Load("x: 1"), "", 1, diagnostics);
  root.finish();
  root.finish();
  EXPECT_THAT(diagnostics.take(), ElementsAre("t.yaml:1: x: unknown key"));
}

TEST(DiagnosticsTest, FormatsLinesAndPathsAndSortsByLine) {
  Diagnostics diagnostics("f.yaml");
  diagnostics.add(3, "a.b", "third");
  diagnostics.add(1, "", "first");
  diagnostics.add(0, "", "no line");
  diagnostics.add(3, "c", "also third");
  EXPECT_EQ(diagnostics.count(), 4u);
  EXPECT_THAT(diagnostics.take(), ElementsAre("f.yaml: no line", "f.yaml:1: first",
                                              "f.yaml:3: a.b: third", "f.yaml:3: c: also third"));
  EXPECT_TRUE(diagnostics.empty());
}

TEST(DiagnosticsTest, BuildsPaths) {
  EXPECT_EQ(join_path("", "threads"), "threads");
  EXPECT_EQ(join_path("limits", "max_bulk"), "limits.max_bulk");
  EXPECT_EQ(index_path("upstreams", 1), "upstreams[1]");
  EXPECT_EQ(join_path(index_path("upstreams", 0), "name"), "upstreams[0].name");
}

}  // namespace
}  // namespace seawall::config::detail
