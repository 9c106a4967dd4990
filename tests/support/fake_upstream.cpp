#include "support/fake_upstream.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <deque>
#include <exception>
#include <future>
#include <utility>

#include "support/resp_builders.hpp"

namespace seawall::support {
namespace {

using Clock = std::chrono::steady_clock;

// Not a bare detached (STYLE.md section 3): an exception in the fake ends the test process
// loudly rather than leaving a connection silently unanswered.
void rethrow(std::exception_ptr e) {
  if (e) {
    std::rethrow_exception(e);
  }
}

// How often a hung reply looks whether the fake stopped hanging.
constexpr std::chrono::milliseconds kHangPoll{2};

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::string wrong_arity(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return error("ERR wrong number of arguments for '" + lower + "' command");
}

}  // namespace

std::string ReceivedCommand::name() const { return args.empty() ? std::string() : upper(args[0]); }

// One accepted connection: a reader that records commands as they arrive, and a writer that
// answers them in order, each as the behaviour it arrived under says. Fake thread only.
class FakeUpstream::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(FakeUpstream& owner, tcp::socket socket, std::uint64_t id)
      : owner_(owner),
        socket_(std::move(socket)),
        signal_(socket_.get_executor()),
        wait_(socket_.get_executor()),
        id_(id) {}

  void start() {
    auto self = shared_from_this();
    asio::co_spawn(socket_.get_executor(), self->read_loop(), rethrow);
    asio::co_spawn(socket_.get_executor(), self->write_loop(), rethrow);
  }

  void close() {
    if (closed_) {
      return;
    }
    closed_ = true;
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    signal_.cancel();
    wait_.cancel();
    owner_.connection_closed(this);
  }

 private:
  struct Pending {
    std::vector<std::string> args;
    Behaviour behaviour;
    Clock::time_point received;
  };

  awaitable<void> read_loop() {
    auto self = shared_from_this();  // lives as long as its loops
    std::string buffer;
    std::array<char, 4096> chunk{};
    while (!closed_) {
      auto [ec, n] = co_await socket_.async_read_some(asio::buffer(chunk), use_nothrow);
      if (ec) {
        break;
      }
      buffer.append(chunk.data(), n);
      std::size_t consumed = 0;
      bool malformed = false;
      while (auto args = parse_command(buffer, consumed, malformed)) {
        buffer.erase(0, consumed);
        const Clock::time_point now = Clock::now();
        Behaviour b = owner_.received_command(id_, *args);
        pending_.push_back(Pending{std::move(*args), std::move(b), now});
        signal_.cancel();
      }
      if (malformed) {
        break;
      }
    }
    close();
  }

  awaitable<void> write_loop() {
    auto self = shared_from_this();
    while (!closed_) {
      if (pending_.empty()) {
        signal_.expires_at(Clock::time_point::max());
        co_await signal_.async_wait(use_nothrow);
        continue;
      }
      Pending& p = pending_.front();
      std::string reply;
      switch (p.behaviour.mode) {
        case Mode::Close:
          close();
          co_return;
        case Mode::Hang:
          while (owner_.hanging() && !closed_) {
            wait_.expires_after(kHangPoll);
            co_await wait_.async_wait(use_nothrow);
          }
          reply = owner_.execute(p.args, queued_, id_);
          break;
        case Mode::Delay:
          wait_.expires_at(p.received + p.behaviour.delay);
          co_await wait_.async_wait(use_nothrow);
          reply = owner_.execute(p.args, queued_, id_);
          break;
        case Mode::Error:
          reply = error(p.behaviour.error_line);
          break;
        case Mode::Normal:
          reply = owner_.execute(p.args, queued_, id_);
          break;
      }
      if (closed_) {
        break;
      }
      pending_.pop_front();
      auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(reply), use_nothrow);
      if (ec) {
        break;
      }
    }
    close();
  }

  FakeUpstream& owner_;
  tcp::socket socket_;
  asio::steady_timer signal_;  // cancelled when a command arrives
  asio::steady_timer wait_;    // a delayed or hung reply's wait
  std::uint64_t id_;
  std::deque<Pending> pending_;
  std::optional<std::vector<std::vector<std::string>>> queued_;  // inside MULTI
  bool closed_ = false;
};

FakeUpstream::FakeUpstream() : work_(asio::make_work_guard(ioc_)) {
  open_acceptor();
  thread_ = std::thread([this] { ioc_.run(); });
}

FakeUpstream::~FakeUpstream() {
  run_on_thread([this] {
    if (acceptor_) {
      error_code ignored;
      acceptor_->close(ignored);
      acceptor_.reset();
    }
    auto conns = conns_;
    for (auto& c : conns) {
      c->close();
    }
  });
  // Every coroutine ends once its socket is closed; stop() only cuts short one that does not.
  work_.reset();
  const auto give_up = Clock::now() + std::chrono::seconds(2);
  while (!ioc_.stopped() && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ioc_.stop();
  thread_.join();
}

template <typename Fn>
void FakeUpstream::run_on_thread(Fn fn) {
  // An exception (a listener that cannot bind its port again) reaches the caller, not the
  // fake's thread.
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  asio::post(ioc_, [&] {
    try {
      fn();
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  finished.get();
}

void FakeUpstream::open_acceptor() {
  auto acceptor = std::make_shared<tcp::acceptor>(ioc_);
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port_.load());
  acceptor->open(endpoint.protocol());
  acceptor->set_option(tcp::acceptor::reuse_address(true));
  acceptor->bind(endpoint);
  acceptor->listen();
  port_ = acceptor->local_endpoint().port();
  acceptor_ = acceptor;
  asio::co_spawn(ioc_, accept_loop(std::move(acceptor)), rethrow);
}

awaitable<void> FakeUpstream::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
  while (acceptor->is_open()) {
    auto [ec, socket] = co_await acceptor->async_accept(use_nothrow);
    if (ec) {
      continue;  // closed: the loop ends; anything else: try again
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::uint64_t id = 0;
    {
      std::lock_guard lock(mutex_);
      id = ++accepted_;
      ++open_;
    }
    auto c = std::make_shared<Connection>(*this, std::move(socket), id);
    conns_.push_back(c);
    c->start();
  }
}

void FakeUpstream::connection_closed(const Connection* c) {
  std::erase_if(conns_, [c](const auto& p) { return p.get() == c; });
  std::lock_guard lock(mutex_);
  --open_;
}

void FakeUpstream::set_behaviour(Behaviour b) {
  std::lock_guard lock(mutex_);
  behaviour_ = std::move(b);
}

void FakeUpstream::answer_normally() { set_behaviour(Behaviour{}); }

void FakeUpstream::delay_replies(std::chrono::milliseconds delay) {
  set_behaviour(Behaviour{Mode::Delay, delay, {}});
}

void FakeUpstream::hang() { set_behaviour(Behaviour{Mode::Hang, {}, {}}); }

void FakeUpstream::reply_error(std::string_view line) {
  set_behaviour(Behaviour{Mode::Error, {}, std::string(line)});
}

void FakeUpstream::close_on_request() { set_behaviour(Behaviour{Mode::Close, {}, {}}); }

void FakeUpstream::refuse_connections(bool refuse) {
  run_on_thread([this, refuse] {
    if (refuse && acceptor_) {
      error_code ignored;
      acceptor_->close(ignored);
      acceptor_.reset();
    } else if (!refuse && !acceptor_) {
      open_acceptor();
    }
  });
}

void FakeUpstream::drop_connections() {
  run_on_thread([this] {
    auto conns = conns_;
    for (auto& c : conns) {
      c->close();
    }
  });
}

void FakeUpstream::set(const std::string& key, const std::string& value) {
  std::lock_guard lock(mutex_);
  data_[key] = value;
}

std::optional<std::string> FakeUpstream::get(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = data_.find(key);
  return it == data_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

std::vector<ReceivedCommand> FakeUpstream::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

std::size_t FakeUpstream::request_count() const {
  std::lock_guard lock(mutex_);
  return received_.size();
}

std::size_t FakeUpstream::request_count(std::string_view name) const {
  const std::string wanted = upper(name);
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(received_.begin(), received_.end(),
                                                [&](const auto& r) { return r.name() == wanted; }));
}

std::uint64_t FakeUpstream::connections_accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

std::size_t FakeUpstream::open_connections() const {
  std::lock_guard lock(mutex_);
  return open_;
}

FakeUpstream::Behaviour FakeUpstream::received_command(std::uint64_t connection,
                                                       std::vector<std::string> args) {
  std::lock_guard lock(mutex_);
  received_.push_back(ReceivedCommand{connection, std::move(args)});
  return behaviour_;
}

bool FakeUpstream::hanging() const {
  std::lock_guard lock(mutex_);
  return behaviour_.mode == Mode::Hang;
}

std::string FakeUpstream::execute(const std::vector<std::string>& args,
                                  std::optional<std::vector<std::vector<std::string>>>& queued,
                                  std::uint64_t connection) {
  const std::string name = upper(args[0]);
  if (name == "MULTI") {
    if (queued) {
      return error("ERR MULTI calls can not be nested");
    }
    queued.emplace();
    return simple("OK");
  }
  if (name == "EXEC" || name == "DISCARD") {
    if (!queued) {
      return error("ERR " + name + " without MULTI");
    }
    std::vector<std::vector<std::string>> commands = std::move(*queued);
    queued.reset();
    if (name == "DISCARD") {
      return simple("OK");
    }
    std::string out = "*" + std::to_string(commands.size()) + "\r\n";
    for (const auto& c : commands) {
      out += execute_one(c, connection);
    }
    return out;
  }
  if (queued) {
    queued->push_back(args);
    return simple("QUEUED");
  }
  return execute_one(args, connection);
}

std::string FakeUpstream::execute_one(const std::vector<std::string>& args,
                                      std::uint64_t connection) {
  const std::string name = upper(args[0]);
  const std::size_t argc = args.size();
  std::lock_guard lock(mutex_);
  if (name == "PING") {
    return argc > 1 ? bulk(args[1]) : simple("PONG");
  }
  if (name == "ECHO") {
    return argc == 2 ? bulk(args[1]) : wrong_arity(name);
  }
  if (name == "HELLO") {
    if (argc > 1 && args[1] != "2") {
      return error("NOPROTO sorry, this protocol version is not supported");
    }
    return "*6\r\n" + bulk("server") + bulk("redis") + bulk("version") + bulk("7.0.0") +
           bulk("proto") + integer(2);
  }
  if (name == "AUTH" || name == "SELECT") {
    return simple("OK");
  }
  if (name == "CLIENT") {
    const std::string sub = argc > 1 ? upper(args[1]) : std::string();
    if (sub == "ID") {
      return integer(static_cast<std::int64_t>(connection));
    }
    if (sub == "GETNAME") {
      return nil();
    }
    return simple("OK");
  }
  if (name == "INFO") {
    return bulk("# Server\r\nredis_version:7.0.0\r\n");
  }
  if (name == "GET") {
    if (argc != 2) {
      return wrong_arity(name);
    }
    auto it = data_.find(args[1]);
    return it == data_.end() ? nil() : bulk(it->second);
  }
  if (name == "SET") {
    if (argc < 3) {
      return wrong_arity(name);
    }
    data_[args[1]] = args[2];
    return simple("OK");
  }
  if (name == "MGET") {
    if (argc < 2) {
      return wrong_arity(name);
    }
    std::string out = "*" + std::to_string(argc - 1) + "\r\n";
    for (std::size_t i = 1; i < argc; ++i) {
      auto it = data_.find(args[i]);
      out += it == data_.end() ? nil() : bulk(it->second);
    }
    return out;
  }
  if (name == "DEL" || name == "EXISTS") {
    if (argc < 2) {
      return wrong_arity(name);
    }
    std::int64_t n = 0;
    for (std::size_t i = 1; i < argc; ++i) {
      n += name == "DEL" ? static_cast<std::int64_t>(data_.erase(args[i]))
                         : static_cast<std::int64_t>(data_.count(args[i]));
    }
    return integer(n);
  }
  if (name == "INCR") {
    if (argc != 2) {
      return wrong_arity(name);
    }
    std::string& value = data_[args[1]];
    std::int64_t n = 0;
    if (!value.empty()) {
      try {
        n = std::stoll(value);
      } catch (const std::exception&) {
        return error("ERR value is not an integer or out of range");
      }
    }
    value = std::to_string(++n);
    return integer(n);
  }
  std::string message = "ERR unknown command '" + args[0] + "', with args beginning with: ";
  for (std::size_t i = 1; i < argc; ++i) {
    message += "'" + args[i] + "' ";
  }
  return error(message);
}

}  // namespace seawall::support
