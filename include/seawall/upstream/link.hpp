#pragma once
// A dedicated connection to one upstream for one client session that holds connection state
// (MULTI/WATCH, blocking commands, SUBSCRIBE, SELECT n, CLIENT TRACKING/REPLY, MONITOR, HELLO 3,
// SYNC/PSYNC; SCRIPT KILL and FUNCTION KILL/STATS for one reply).
// Unlike the shared pipelined connections it relays bytes both ways: whatever Redis sends (push
// messages, RESP3, no reply at all under CLIENT REPLY OFF) reaches the client unchanged, and
// there is no request deadline, since a blocking command may legitimately wait forever.
// It opens like the shared connections (connect_upstream: TCP, TLS, seawall's own AUTH); a
// client's AUTH afterwards is relayed to Redis like any other command.
//
// Ownership: shared_ptr held by the session and by its read coroutine.
// Thread safety: the session's worker thread only.
#include <memory>
#include <string>

#include "seawall/net.hpp"
#include "seawall/upstream/connect.hpp"
#include "seawall/upstream/script_registry.hpp"
#include "seawall/upstream/stream.hpp"
#include "seawall/upstream/upstream_config.hpp"
#include "seawall/util/signal.hpp"

namespace seawall::upstream {

class LinkSink {
 public:
  virtual ~LinkSink() = default;
  virtual void on_link_data(std::string_view bytes) = 0;
  // The upstream closed the connection or an I/O error happened; the link is unusable.
  virtual void on_link_closed() = 0;
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  // `protocol`: Resp3 for a session that said HELLO 3 to seawall (the link opens with HELLO 3);
  // None otherwise. `scripts` (may be null) are loaded once connected, before anything is sent.
  Link(asio::any_io_executor ex, const UpstreamConfig& config, LinkSink* sink,
       Protocol protocol = Protocol::None, const ScriptRegistry* scripts = nullptr);
  ~Link();

  // Connects within connect_timeout (TLS handshake and AUTH included). On success starts
  // relaying replies to the sink.
  awaitable<bool> open();
  void send(std::string_view bytes);
  // No more requests: once everything sent so far is written, shuts down the sending side, so
  // that Redis answers it all and then closes the connection (reported by on_link_closed).
  void finish();
  // Closes without notifying the sink (the session is done with it).
  void close();
  // Hands the replies still to come to another sink (a session leaving one in flight).
  void set_sink(LinkSink* sink) { sink_ = closed_ ? nullptr : sink; }

 private:
  awaitable<void> read_loop();
  awaitable<void> write_loop();
  void fail();

  asio::any_io_executor ex_;
  const UpstreamConfig& config_;
  LinkSink* sink_;
  Stream stream_;
  std::string wbuf_;
  std::string writing_;
  util::Signal write_signal_;
  bool closed_ = false;
  bool finishing_ = false;
  Protocol protocol_;
  const ScriptRegistry* scripts_;
};

}  // namespace seawall::upstream
