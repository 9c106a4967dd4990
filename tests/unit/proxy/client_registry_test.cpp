#include "seawall/proxy/client_registry.hpp"

#include <array>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace seawall::proxy {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using namespace std::chrono_literals;
using Clock = ClientRegistry::Clock;

// Records whose kill function counts its calls, as a session posting its close would.
class ClientRegistryTest : public ::testing::Test {
 protected:
  std::shared_ptr<ClientRecord> add(std::uint64_t id, std::string addr = "127.0.0.1:1000") {
    auto record = std::make_shared<ClientRecord>(id, static_cast<unsigned>(id % 2), std::move(addr),
                                                 "127.0.0.1:6380", static_cast<int>(id + 10), t0_,
                                                 [this, id] { killed_.push_back(id); });
    registry_.add(record);
    return record;
  }

  static std::vector<std::uint64_t> ids(const std::vector<introspection::ClientView>& views) {
    std::vector<std::uint64_t> out;
    for (const auto& v : views) {
      out.push_back(v.id);
    }
    return out;
  }

  introspection::KillFilter by_id(std::uint64_t id) {
    introspection::KillFilter f;
    f.id = id;
    return f;
  }

  const Clock::time_point t0_ = Clock::time_point(1000s);
  ClientRegistry registry_{t0_};
  std::vector<std::uint64_t> killed_;
};

TEST_F(ClientRegistryTest, ListsClientsInConnectionOrder) {
  add(3);
  add(1);
  add(2);
  EXPECT_THAT(ids(registry_.list(t0_)), ElementsAre(1u, 2u, 3u));
  EXPECT_EQ(registry_.size(), 3u);
  EXPECT_EQ(registry_.connections_received(), 3u);
  EXPECT_THAT(registry_.clients_per_worker(3), ElementsAre(1u, 2u, 0u));
}

TEST_F(ClientRegistryTest, ViewShowsWhatTheSessionRecorded) {
  auto record = add(5, "10.0.0.1:4242");
  record->set_name("api");
  record->set_lib_name("redis-py");
  record->set_lib_ver("4.3.4");
  record->set_db(2);
  record->set_flag(introspection::kFlagMulti, true);
  record->set_multi(3);
  record->set_protocol(introspection::Protocol::Resp3);
  record->set_user("app");
  record->note_command(command::lookup("get"));
  record->touch(t0_ + 10s);
  const auto views = registry_.list(t0_ + 25s);
  ASSERT_EQ(views.size(), 1u);
  const introspection::ClientView& v = views[0];
  EXPECT_EQ(v.id, 5u);
  EXPECT_EQ(v.addr, "10.0.0.1:4242");
  EXPECT_EQ(v.laddr, "127.0.0.1:6380");
  EXPECT_EQ(v.fd, 15);
  EXPECT_EQ(v.name, "api");
  EXPECT_EQ(v.lib_name, "redis-py");
  EXPECT_EQ(v.lib_ver, "4.3.4");
  EXPECT_EQ(v.db, 2);
  EXPECT_EQ(v.flags, introspection::kFlagMulti);
  EXPECT_EQ(v.multi, 3);
  EXPECT_EQ(v.resp, introspection::Protocol::Resp3);
  EXPECT_EQ(v.user, "app");
  EXPECT_EQ(v.cmd, "get");
  EXPECT_EQ(v.age_seconds, 25);
  EXPECT_EQ(v.idle_seconds, 15);
  record->set_flag(introspection::kFlagMulti, false);
  EXPECT_EQ(record->flags(), 0u);
}

TEST_F(ClientRegistryTest, UnknownCommandShowsAsNull) {
  auto record = add(1);
  record->note_command(nullptr);
  EXPECT_EQ(registry_.list(t0_)[0].cmd, "");
}

TEST_F(ClientRegistryTest, ListIdsKeepsTheAskedOrderAndSkipsUnknownIds) {
  add(1);
  add(2);
  const std::array<std::uint64_t, 4> asked{2, 9, 1, 2};
  EXPECT_THAT(ids(registry_.list_ids(asked, t0_)), ElementsAre(2u, 1u, 2u));
}

TEST_F(ClientRegistryTest, KillCallsTheKillFunctionOfEachMatchOnce) {
  add(1);
  add(2);
  add(3);
  const auto result = registry_.kill(by_id(2), 1, t0_);
  EXPECT_EQ(result.killed, 1u);
  EXPECT_FALSE(result.self);
  EXPECT_THAT(killed_, ElementsAre(2u));
  // A killed client is gone from listings at once, and is not killed twice.
  EXPECT_THAT(ids(registry_.list(t0_)), ElementsAre(1u, 3u));
  EXPECT_EQ(registry_.kill(by_id(2), 1, t0_).killed, 0u);
  EXPECT_THAT(killed_, ElementsAre(2u));
}

TEST_F(ClientRegistryTest, KillNeverClosesTheCallerButReportsIt) {
  add(1);
  add(2);
  introspection::KillFilter everyone;
  everyone.skipme = false;
  const auto result = registry_.kill(everyone, 1, t0_);
  EXPECT_EQ(result.killed, 2u);
  EXPECT_TRUE(result.self);
  EXPECT_THAT(killed_, ElementsAre(2u));  // the caller closes itself after its reply

  introspection::KillFilter skipme;  // SKIPME yes (the default)
  killed_.clear();
  const auto skipped = registry_.kill(skipme, 1, t0_);
  EXPECT_EQ(skipped.killed, 0u);
  EXPECT_FALSE(skipped.self);
}

TEST_F(ClientRegistryTest, KillByAddressAndType) {
  add(1, "127.0.0.1:1001");
  auto subscriber = add(2, "127.0.0.1:1002");
  subscriber->set_flag(introspection::kFlagPubsub, true);
  introspection::KillFilter f;
  f.addr = "127.0.0.1:1002";
  EXPECT_EQ(registry_.kill(f, 0, t0_).killed, 1u);
  add(3, "127.0.0.1:1003");
  introspection::KillFilter normal;
  normal.type = introspection::ClientType::Normal;
  EXPECT_EQ(registry_.kill(normal, 0, t0_).killed, 2u);
  EXPECT_THAT(killed_, ElementsAre(2u, 1u, 3u));
  EXPECT_THAT(registry_.list(t0_), IsEmpty());
}

TEST_F(ClientRegistryTest, HasUserOfLiveClientsOnly) {
  auto alice = add(1);
  add(2);
  alice->set_user("alice");
  EXPECT_TRUE(registry_.has_user("alice"));
  EXPECT_TRUE(registry_.has_user("default"));  // client 2 never authenticated
  EXPECT_FALSE(registry_.has_user("bob"));
  EXPECT_FALSE(registry_.has_user("Alice"));  // user names are case-sensitive, as in Redis
  introspection::KillFilter f;
  f.user = "alice";
  EXPECT_EQ(registry_.kill(f, 2, t0_).killed, 1u);
  EXPECT_FALSE(registry_.has_user("alice"));  // killed: gone, as from listings
}

TEST_F(ClientRegistryTest, RemovedClientsStillCountTheirCommands) {
  auto a = add(1);
  auto b = add(2);
  a->note_command(command::lookup("get"));
  a->note_command(command::lookup("set"));
  b->note_command(command::lookup("get"));
  EXPECT_EQ(registry_.total_commands(), 3u);
  registry_.remove(*a);
  EXPECT_EQ(registry_.total_commands(), 3u);
  EXPECT_EQ(registry_.size(), 1u);
  registry_.remove(*a);  // twice: nothing more
  EXPECT_EQ(registry_.total_commands(), 3u);
  EXPECT_EQ(registry_.connections_received(), 2u);
}

TEST_F(ClientRegistryTest, SessionsOnOtherThreadsRegisterAndUpdateConcurrently) {
  // Writers on their own threads, as worker threads are; readers list meanwhile.
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const auto id = static_cast<std::uint64_t>(t * kPerThread + i + 1);
        auto record = std::make_shared<ClientRecord>(id, 0, "a", "b", 1, t0_, [] {});
        registry_.add(record);
        record->set_name("n" + std::to_string(i));
        record->note_command(command::lookup("ping"));
        (void)registry_.list(t0_);
        registry_.remove(*record);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(registry_.size(), 0u);
  EXPECT_EQ(registry_.connections_received(), std::uint64_t{kThreads * kPerThread});
  EXPECT_EQ(registry_.total_commands(), std::uint64_t{kThreads * kPerThread});
}

}  // namespace
}  // namespace seawall::proxy
