#pragma once
// FakeUpstream: an in-process Redis stand-in for component tests. It listens on 127.0.0.1:0 and
// answers, over RESP2, what seawall sends to an upstream: the connection setup (HELLO, AUTH,
// CLIENT ID/SETNAME, SELECT, PING) and GET/SET/MGET/DEL/EXISTS/INCR over an in-memory map, with
// MULTI/EXEC/DISCARD per connection. Anything else gets Redis's "unknown command" error. RESP2
// only (HELLO 3 is refused with -NOPROTO); SET's options are ignored.
//
// A test scripts how it behaves (answer normally, delay each reply, hang, answer an error, close
// the connection a request arrives on, refuse new connections) and reads what it received: every
// command with the connection it came on, so that it can assert that an open breaker sent
// nothing and that a half-open probe sent one request.
//
// Each command takes the behaviour in force when it arrives. Replies leave in request order on
// each connection; a delayed reply holds back the ones after it. A hung command is answered when
// the fake stops hanging (like a Redis resumed by SIGCONT), so replies never shift by one.
//
// Ownership: owns its io_context, thread, listener and connections; the destructor stops the
// thread and closes everything. Thread safety: every public member may be called from any thread
// (state is behind one mutex; socket operations are posted to the fake's own thread).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "seawall/net.hpp"

namespace seawall::support {

// One command the fake received, in arrival order.
struct ReceivedCommand {
  std::uint64_t connection = 0;   // 1, 2, ... in accept order
  std::vector<std::string> args;  // as sent; args[0] in the sender's case

  // args[0] in upper case.
  std::string name() const;
};

class FakeUpstream {
 public:
  FakeUpstream();
  ~FakeUpstream();
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  std::uint16_t port() const { return port_.load(); }

  // Behaviour for commands that arrive from now on.
  void answer_normally();
  void delay_replies(std::chrono::milliseconds delay);
  void hang();                              // no reply until the behaviour changes
  void reply_error(std::string_view line);  // "LOADING ..." -> "-LOADING ...\r\n" for all
  void close_on_request();                  // close the connection a command arrives on
  void refuse_connections(bool refuse);     // close (or reopen) the listening socket
  void drop_connections();                  // close every open connection now

  // The in-memory database, as GET and SET see it.
  void set(const std::string& key, const std::string& value);
  std::optional<std::string> get(const std::string& key) const;

  // What arrived so far.
  std::vector<ReceivedCommand> received() const;
  std::size_t request_count() const;
  // Commands named `name` (case-insensitive), e.g. "GET".
  std::size_t request_count(std::string_view name) const;
  std::uint64_t connections_accepted() const;
  std::size_t open_connections() const;

 private:
  enum class Mode { Normal, Delay, Hang, Error, Close };
  struct Behaviour {
    Mode mode = Mode::Normal;
    std::chrono::milliseconds delay{0};
    std::string error_line;
  };
  class Connection;

  awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor);
  void open_acceptor();  // fake thread
  // Runs `fn` on the fake's thread and waits for it.
  template <typename Fn>
  void run_on_thread(Fn fn);
  void set_behaviour(Behaviour b);
  // Records `args` as received on `connection`; returns the behaviour it gets.
  Behaviour received_command(std::uint64_t connection, std::vector<std::string> args);
  bool hanging() const;
  // The reply of a command run against the database; MULTI state lives in `queued`.
  std::string execute(const std::vector<std::string>& args,
                      std::optional<std::vector<std::vector<std::string>>>& queued,
                      std::uint64_t connection);
  std::string execute_one(const std::vector<std::string>& args, std::uint64_t connection);
  void connection_closed(const Connection* c);

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;  // runs while refusing too
  std::atomic<std::uint16_t> port_{0};              // a reopened listener binds the same port
  std::shared_ptr<tcp::acceptor> acceptor_;         // fake thread only
  std::vector<std::shared_ptr<Connection>> conns_;  // fake thread only
  mutable std::mutex mutex_;                        // guards everything below
  Behaviour behaviour_;
  std::map<std::string, std::string> data_;
  std::vector<ReceivedCommand> received_;
  std::uint64_t accepted_ = 0;
  std::size_t open_ = 0;
  std::thread thread_;
};

}  // namespace seawall::support
