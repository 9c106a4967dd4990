#include "seawall/upstream/script_registry.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace seawall::upstream {
namespace {

std::string script_load(std::string_view body) {
  return "*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n$" + std::to_string(body.size()) + "\r\n" +
         std::string(body) + "\r\n";
}

void note(ScriptRegistry& scripts, std::vector<std::string_view> args) {
  scripts.note(command::lookup(args[0]), args);
}

TEST(ScriptRegistryTest, RemembersEvalAndScriptLoadBodiesOnceInOrder) {
  ScriptRegistry scripts;
  note(scripts, {"EVAL", "return 1", "0"});
  note(scripts, {"eval_ro", "return 2", "1", "k"});
  note(scripts, {"SCRIPT", "LOAD", "return 3"});
  note(scripts, {"EVAL", "return 1", "0"});  // seen before
  note(scripts, {"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"});
  note(scripts, {"GET", "k"});
  note(scripts, {"SCRIPT", "EXISTS", "return 4"});
  const ScriptRegistry::Preload preload = scripts.preload();
  EXPECT_EQ(preload.count, 3u);
  EXPECT_EQ(preload.commands,
            script_load("return 1") + script_load("return 2") + script_load("return 3"));
}

TEST(ScriptRegistryTest, ScriptFlushForgetsEverything) {
  ScriptRegistry scripts;
  note(scripts, {"SCRIPT", "LOAD", "return 1"});
  note(scripts, {"script", "flush", "async"});
  EXPECT_TRUE(scripts.empty());
  EXPECT_EQ(scripts.preload().count, 0u);
  note(scripts, {"EVAL", "return 1", "0"});  // remembered again after the flush
  EXPECT_EQ(scripts.size(), 1u);
}

TEST(ScriptRegistryTest, UnknownCommandsAndShortArgumentsAreIgnored) {
  ScriptRegistry scripts;
  scripts.note(nullptr, std::vector<std::string_view>{"NOSUCH", "x"});
  note(scripts, {"EVAL"});
  note(scripts, {"SCRIPT", "LOAD"});
  EXPECT_TRUE(scripts.empty());
}

TEST(ScriptRegistryTest, IsBoundedByCountAndBytes) {
  ScriptRegistry scripts;
  for (std::size_t i = 0; i < ScriptRegistry::kMaxScripts + 5; ++i) {
    scripts.remember("return " + std::to_string(i));
  }
  EXPECT_EQ(scripts.size(), ScriptRegistry::kMaxScripts);
  EXPECT_EQ(scripts.dropped(), 5u);
  // Every slot of the table is findable: the first body is still known, not remembered twice.
  scripts.remember("return 0");
  EXPECT_EQ(scripts.size(), ScriptRegistry::kMaxScripts);

  ScriptRegistry big;
  const std::string half(ScriptRegistry::kMaxBytes / 2, 'x');
  big.remember(half + "1");
  big.remember(half + "2");  // over kMaxBytes
  EXPECT_EQ(big.size(), 1u);
  EXPECT_EQ(big.dropped(), 1u);
}

TEST(ScriptRegistryTest, CountRepliesKeepsAPartialReplyForTheNextRead) {
  const std::string replies = "$40\r\n" + std::string(40, 'a') + "\r\n-ERR Error compiling\r\n";
  for (std::size_t split = 0; split <= replies.size(); ++split) {
    resp::ReplyFramer framer;
    std::string received = replies.substr(0, split);
    std::size_t consumed = 0;
    std::ptrdiff_t n = count_replies(received, framer, consumed);
    received.erase(0, consumed);
    received += replies.substr(split);
    const std::ptrdiff_t rest = count_replies(received, framer, consumed);
    EXPECT_EQ(n + rest, 2) << "split at " << split;
    EXPECT_EQ(consumed, received.size());
  }
  resp::ReplyFramer framer;
  std::size_t consumed = 0;
  EXPECT_EQ(count_replies("?x\r\n", framer, consumed), -1);
}

}  // namespace
}  // namespace seawall::upstream
