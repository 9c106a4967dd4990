#include "seawall/proxy/query_buffer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "seawall/net.hpp"
#include "seawall/proxy/read_buffer_pool.hpp"

namespace seawall::proxy {
namespace {

using namespace std::chrono_literals;

// A connected pair of loopback sockets: `client` writes, `server` is what a session reads.
struct SocketPair {
  asio::io_context io;
  tcp::socket client{io};
  tcp::socket server{io};

  SocketPair() {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    server.non_blocking(true);
  }
  void send(const std::string& bytes) { asio::write(client, asio::buffer(bytes)); }
  // Whether a wait for readability completes within `limit`.
  bool readable_within(std::chrono::milliseconds limit) {
    bool ready = false;
    server.async_wait(tcp::socket::wait_read, [&](const error_code& ec) { ready = !ec; });
    io.restart();
    io.run_for(limit);
    if (!ready) {
      server.cancel();
      io.restart();
      io.run_for(100ms);
    }
    return ready;
  }
};

TEST(QueryBufferTest, AShortReadSaysTheSocketWasDrained) {
  SocketPair pair;
  ReadBufferPool pool;
  QueryBuffer query(pool);
  pair.send("*1\r\n$4\r\nPING\r\n");
  // The bytes may take a moment to cross loopback.
  QueryBuffer::Read read = QueryBuffer::Read::Wait;
  for (int i = 0; i < 100 && read == QueryBuffer::Read::Wait; ++i) {
    read = query.read_from(pair.server, 0);
  }
  ASSERT_EQ(read, QueryBuffer::Read::Data);
  EXPECT_TRUE(query.drained());
  EXPECT_EQ(query.unparsed(), "*1\r\n$4\r\nPING\r\n");
}

// What the session relies on to skip the read that would only say would_block: a wait queued
// after data arrived (no edge since) still completes, because asio re-arms the registration.
TEST(QueryBufferTest, AWaitQueuedAfterDataArrivedStillCompletes) {
  SocketPair pair;
  ReadBufferPool pool;
  QueryBuffer query(pool);
  pair.send("*1\r\n$4\r\nPING\r\n");
  ASSERT_TRUE(pair.readable_within(2s));
  // Consumed, then more arrives before the next wait is queued.
  ASSERT_EQ(query.read_from(pair.server, 0), QueryBuffer::Read::Data);
  ASSERT_TRUE(query.drained());
  query.consume(query.unparsed().size());
  pair.send("*1\r\n$4\r\nPING\r\n");
  std::this_thread::sleep_for(50ms);  // the edge has come and gone before the wait
  query.release_if_empty();
  EXPECT_EQ(query.capacity(), 0u);  // an idle wait holds no buffer
  EXPECT_TRUE(pair.readable_within(2s));
  EXPECT_EQ(query.read_from(pair.server, 0), QueryBuffer::Read::Data);
  // Nothing more: a wait does not complete.
  EXPECT_FALSE(pair.readable_within(200ms));
}

TEST(QueryBufferTest, ReleaseIfEmptyKeepsAnIncompleteCommand) {
  SocketPair pair;
  ReadBufferPool pool;
  QueryBuffer query(pool);
  pair.send("*1\r\n$4\r\nPI");
  ASSERT_TRUE(pair.readable_within(2s));
  ASSERT_EQ(query.read_from(pair.server, 0), QueryBuffer::Read::Data);
  query.release_if_empty();
  EXPECT_EQ(query.unparsed(), "*1\r\n$4\r\nPI");
  EXPECT_FALSE(query.drained());
}

}  // namespace
}  // namespace seawall::proxy
