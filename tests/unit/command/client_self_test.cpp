#include "seawall/command/client_self.hpp"

#include <gtest/gtest.h>

#include <array>

namespace seawall::command {
namespace {

ClientSelf of(std::string_view sub) {
  const std::array<std::string_view, 2> args{"CLIENT", sub};
  return client_self(lookup("client"), args);
}

TEST(ClientSelfTest, SubcommandsAboutTheClientItself) {
  EXPECT_EQ(of("ID"), ClientSelf::Id);
  EXPECT_EQ(of("info"), ClientSelf::Info);
  EXPECT_EQ(of("GetName"), ClientSelf::GetName);
  EXPECT_EQ(of("setname"), ClientSelf::SetName);
  EXPECT_EQ(of("TRACKING"), ClientSelf::Tracking);
}

TEST(ClientSelfTest, SetinfoIsKnownByNameBeyondTheTable) {
  EXPECT_EQ(of("SETINFO"), ClientSelf::SetInfo);
  EXPECT_EQ(of("setinfo"), ClientSelf::SetInfo);
}

TEST(ClientSelfTest, OtherSubcommandsAreNotAboutTheClient) {
  EXPECT_EQ(of("list"), ClientSelf::None);
  EXPECT_EQ(of("kill"), ClientSelf::None);
  EXPECT_EQ(of("nosuch"), ClientSelf::None);
}

}  // namespace
}  // namespace seawall::command
