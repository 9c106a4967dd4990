#include "seawall/upstream/master_resolver.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>

#include "seawall/upstream/connect.hpp"
#include "seawall/util/bugs.hpp"
#include "seawall/util/log.hpp"

namespace seawall::upstream {
namespace {

using namespace asio::experimental::awaitable_operators;

util::LogRateLimiter& resolve_log_limiter() {
  static util::LogRateLimiter limiter(std::chrono::seconds(10), 3);
  return limiter;
}

std::string describe(const SentinelAddress& sentinel) {
  return HostPort{sentinel.host, sentinel.port}.to_string();
}

// Connects `socket` to the sentinel within the deadline; "" or why not.
awaitable<std::string> connect_sentinel(asio::any_io_executor ex, tcp::socket& socket,
                                        asio::steady_timer& deadline,
                                        const SentinelAddress& sentinel) {
  std::vector<tcp::endpoint> endpoints;
  error_code ec;
  const auto address = asio::ip::make_address(sentinel.host, ec);
  if (!ec) {
    endpoints.emplace_back(address, sentinel.port);
  } else {
    tcp::resolver resolver(ex);
    auto [rec, resolved] =
        co_await resolver.async_resolve(sentinel.host, std::to_string(sentinel.port), use_nothrow);
    if (rec) {
      co_return "cannot resolve " + sentinel.host + ": " + rec.message();
    }
    for (const auto& entry : resolved) {
      endpoints.push_back(entry.endpoint());
    }
  }
  std::string error = "no address for " + sentinel.host;
  for (const auto& endpoint : endpoints) {
    socket = tcp::socket(ex);
    auto result =
        co_await (socket.async_connect(endpoint, use_nothrow) || deadline.async_wait(use_nothrow));
    if (result.index() == 1) {
      co_return "timed out connecting to sentinel " + describe(sentinel);
    }
    if (const auto [cec] = std::get<0>(result); cec) {
      error = "cannot connect to sentinel " + describe(sentinel) + ": " + cec.message();
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    co_return "";
  }
  co_return error;
}

// Sends `request`, then reads into `received` until `complete` says the reply is whole (or
// invalid). "" or why not.
template <typename Complete>
awaitable<std::string> exchange(tcp::socket& socket, asio::steady_timer& deadline,
                                std::string_view request, std::string& received,
                                Complete complete) {
  auto written = co_await (asio::async_write(socket, asio::buffer(request), use_nothrow) ||
                           deadline.async_wait(use_nothrow));
  if (written.index() == 1) {
    co_return "timed out sending";
  }
  if (const auto [ec, n] = std::get<0>(written); ec) {
    co_return "cannot send: " + ec.message();
  }
  std::array<char, 512> chunk{};
  while (!complete(received)) {
    auto read = co_await (socket.async_read_some(asio::buffer(chunk), use_nothrow) ||
                          deadline.async_wait(use_nothrow));
    if (read.index() == 1) {
      co_return "timed out waiting for the reply";
    }
    const auto [ec, n] = std::get<0>(read);
    if (ec) {
      co_return "no reply: " + ec.message();
    }
    received.append(chunk.data(), n);
  }
  co_return "";
}

// AUTH to a sentinel when configured; "" or why not.
awaitable<std::string> authenticate(tcp::socket& socket, asio::steady_timer& deadline,
                                    const UpstreamAuthConfig& auth) {
  if (!auth.enabled()) {
    co_return "";
  }
  std::string command = auth_command(auth.username, auth.password);
  std::string received;
  // Named, not a temporary in the co_await: GCC 12 destroys such temporaries twice.
  const auto complete = [](const std::string& r) {
    return parse_line_reply(r).status != LineStatus::NeedMore;
  };
  std::string error = co_await exchange(socket, deadline, command, received, complete);
  OPENSSL_cleanse(command.data(), command.size());
  if (!error.empty()) {
    co_return "AUTH: " + error;
  }
  const LineReply reply = parse_line_reply(received);
  if (reply.status == LineStatus::Simple) {
    co_return "";
  }
  co_return "AUTH rejected: " + redact(reply.text, auth.password);
}

}  // namespace

MasterResolver::MasterResolver(std::string upstream, SentinelConfig config,
                               std::chrono::milliseconds timeout)
    : upstream_(std::move(upstream)) {
  sentinels_ = Sentinels{std::move(config.sentinels), std::move(config.master),
                         std::move(config.auth), timeout};
}

void MasterResolver::reconfigure(SentinelConfig config, std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mutex_);
    sentinels_ = Sentinels{std::move(config.sentinels), std::move(config.master),
                           std::move(config.auth), timeout};
    current_.reset();
    answered_at_ = {};
    hold_until_.reset();
    demoted_.clear();
  }
  if (control_) {
    asio::post(*control_, [self = shared_from_this()] {
      if (!self->stopped_) {
        self->close_subscribers();
        self->start_subscribers();
      }
    });
  }
}

std::string MasterResolver::master_name() const {
  std::lock_guard lock(mutex_);
  return sentinels_.master;
}

std::optional<HostPort> MasterResolver::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

bool MasterResolver::failover_in_progress() const {
  std::lock_guard lock(mutex_);
  return held(Clock::now());
}

std::uint64_t MasterResolver::switches() const {
  std::lock_guard lock(mutex_);
  return switches_;
}

std::uint64_t MasterResolver::resolve_failures() const {
  std::lock_guard lock(mutex_);
  return resolve_failures_;
}

bool MasterResolver::held(Clock::time_point now) const { return hold_until_ && now < *hold_until_; }

bool MasterResolver::demoted(const HostPort& at, Clock::time_point now) const {
  const auto it = demoted_.find(at.to_string());
  return it != demoted_.end() && now < it->second;
}

awaitable<MasterResolver::Candidate> MasterResolver::resolve(asio::any_io_executor ex) {
  Sentinels how;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    if (held(now)) {
      co_return Candidate{std::nullopt, "failover of master " + sentinels_.master +
                                            " in progress (sentinel chose a replica to promote)"};
    }
    if (current_ && now - answered_at_ < kAnswerReuse) {
      co_return Candidate{current_, ""};
    }
    how = sentinels_;
  }
  std::string errors;
  for (const SentinelAddress& sentinel : how.addresses) {
    std::string error;
    const MasterAddrReply reply = co_await ask(ex, sentinel, how, error);
    if (error.empty() && !reply.master) {
      error = reply.error.empty() ? "does not know master " + how.master : reply.error;
    }
    if (error.empty()) {
      std::lock_guard lock(mutex_);
      const auto now = Clock::now();
      if (how.master != sentinels_.master) {
        break;  // reconfigured meanwhile: this answer is about another master
      }
      if (held(now)) {
        co_return Candidate{std::nullopt, "failover of master " + how.master + " in progress"};
      }
      if (demoted(*reply.master, now)) {
        error = "names " + reply.master->to_string() + ", which a +switch-master demoted";
      } else {
        std::optional<Change> change;
        if (!current_) {
          change = Change::Learned;
        } else if (*current_ != *reply.master) {
          change = Change::Reconnect;
          ++switches_;
          util::logger("upstream")
              ->warn("upstream={} master={} sentinel {} names a new master: {} (was {})", upstream_,
                     how.master, describe(sentinel), reply.master->to_string(),
                     current_->to_string());
        }
        current_ = reply.master;
        answered_at_ = now;
        // The sentinel that answered goes first next time (Redis's clients do the same).
        auto& list = sentinels_.addresses;
        const auto it = std::find(list.begin(), list.end(), sentinel);
        if (it != list.end() && it != list.begin()) {
          std::rotate(list.begin(), it, it + 1);
        }
        if (change) {
          changed(*change);
        }
        co_return Candidate{reply.master, ""};
      }
    }
    errors += (errors.empty() ? "" : "; ") + ("sentinel " + describe(sentinel) + ": " + error);
  }
  {
    std::lock_guard lock(mutex_);
    ++resolve_failures_;
  }
  co_return Candidate{std::nullopt, "no sentinel named master " + how.master + " (" + errors + ")"};
}

awaitable<MasterAddrReply> MasterResolver::ask(asio::any_io_executor ex,
                                               const SentinelAddress& sentinel,
                                               const Sentinels& how, std::string& error) {
  tcp::socket socket(ex);
  asio::steady_timer deadline(ex);
  deadline.expires_after(how.timeout);
  MasterAddrReply reply;
  error = co_await connect_sentinel(ex, socket, deadline, sentinel);
  if (error.empty()) {
    error = co_await authenticate(socket, deadline, how.auth);
  }
  if (error.empty()) {
    std::string received;
    const std::string request = get_master_addr_command(how.master);
    const auto complete = [&reply](const std::string& r) {
      reply = parse_master_addr_reply(r);
      return reply.status != ParseStatus::NeedMore;
    };
    error = co_await exchange(socket, deadline, request, received, complete);
    if (error.empty() && reply.status != ParseStatus::Ok) {
      error = "unexpected reply to SENTINEL get-master-addr-by-name";
    }
  }
  error_code ignored;
  socket.close(ignored);
  co_return reply;
}

void MasterResolver::not_master(const HostPort& at, std::string_view why) {
  bool was_current = false;
  {
    std::lock_guard lock(mutex_);
    if (current_ && *current_ == at) {
      current_.reset();
      answered_at_ = {};
      was_current = true;
    }
  }
  if (was_current) {
    util::logger("upstream")
        ->warn("upstream={} {} is not the master ({}): asking the sentinels again", upstream_,
               at.to_string(), why);
    changed(Change::Reconnect);
  }
}

void MasterResolver::connect_failed(const HostPort& at) {
  std::lock_guard lock(mutex_);
  if (current_ && *current_ == at) {
    answered_at_ = {};
  }
}

bool MasterResolver::on_message(std::string_view channel, std::string_view payload,
                                Clock::time_point now) {
  const std::optional<FailoverEvent> event = parse_failover_event(channel, payload);
  auto log = util::logger("upstream");
  std::lock_guard lock(mutex_);
  if (!event || event->master != sentinels_.master) {
    return false;
  }
  switch (event->kind) {
    case FailoverEventKind::SelectedSlave:
      if (held(now)) {
        return false;
      }
      hold_until_ = now + kFailoverHoldMax;
      current_.reset();
      answered_at_ = {};
      log->warn(
          "upstream={} master={} failover started (promoting {}): holding the upstream "
          "unavailable until +switch-master",
          upstream_, event->master, event->to.to_string());
      return true;
    case FailoverEventKind::SwitchMaster: {
      const bool was_held = hold_until_.has_value();
      hold_until_.reset();
      demoted_.erase(event->to.to_string());
      if (event->from != event->to) {
        demoted_[event->from.to_string()] = now + kDemotedFor;
      }
      if (current_ && *current_ == event->to && !was_held) {
        return false;  // another sentinel's report of a switch already followed
      }
      if (!current_ || *current_ != event->to) {
        ++switches_;
      }
      current_ = event->to;
      answered_at_ = now;
      log->warn("upstream={} master={} +switch-master {} -> {}", upstream_, event->master,
                event->from.to_string(), event->to.to_string());
      return true;
    }
    case FailoverEventKind::Aborted:
      if (!hold_until_) {
        return false;
      }
      hold_until_.reset();
      log->warn("upstream={} master={} failover aborted: the master stays {}", upstream_,
                event->master, event->from.to_string());
      return true;
  }
  return false;
}

void MasterResolver::start(asio::any_io_executor control, std::function<void(Change)> on_change) {
  control_ = control;
  on_change_ = std::move(on_change);
  asio::post(control, [self = shared_from_this()] {
    self->stopped_ = false;
    self->start_subscribers();
  });
}

void MasterResolver::stop() {
  if (!control_) {
    return;
  }
  asio::post(*control_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->close_subscribers();
  });
}

void MasterResolver::release_after_stop() {
  stopped_ = true;
  close_subscribers();
  on_change_ = nullptr;
}

void MasterResolver::changed(Change change) {
  if (control_ && on_change_) {
    asio::post(*control_, [self = shared_from_this(), change] {
      if (!self->stopped_ && self->on_change_) {
        self->on_change_(change);
      }
    });
  }
}

void MasterResolver::start_subscribers() {
  std::vector<SentinelAddress> addresses;
  {
    std::lock_guard lock(mutex_);
    addresses = sentinels_.addresses;
  }
  for (const SentinelAddress& sentinel : addresses) {
    asio::co_spawn(
        *control_,
        [self = shared_from_this(), generation = generation_, sentinel] {
          return self->subscribe_loop(generation, sentinel);
        },
        util::on_coroutine_done("upstream", "sentinel subscriber"));
  }
}

void MasterResolver::close_subscribers() {
  ++generation_;
  for (const auto& socket : sockets_) {
    error_code ignored;
    socket->close(ignored);
  }
  sockets_.clear();
}

awaitable<void> MasterResolver::subscribe_loop(std::uint64_t generation, SentinelAddress sentinel) {
  auto ex = *control_;
  auto log = util::logger("upstream");
  bool logged_failure = false;
  while (!stopped_ && generation == generation_) {
    auto socket = std::make_shared<tcp::socket>(ex);
    sockets_.push_back(socket);
    Sentinels how;
    {
      std::lock_guard lock(mutex_);
      how = sentinels_;
    }
    std::string error;
    {
      asio::steady_timer deadline(ex);
      deadline.expires_after(how.timeout);
      error = co_await connect_sentinel(ex, *socket, deadline, sentinel);
      if (error.empty()) {
        error = co_await authenticate(*socket, deadline, how.auth);
      }
      if (error.empty()) {
        const std::string request = subscribe_command();
        auto [ec, n] = co_await asio::async_write(*socket, asio::buffer(request), use_nothrow);
        if (ec) {
          error = "cannot subscribe: " + ec.message();
        }
      }
    }
    if (error.empty()) {
      if (logged_failure) {
        log->info("upstream={} subscribed to sentinel {} again", upstream_, describe(sentinel));
      }
      logged_failure = false;
      std::string received;
      std::array<char, 1024> chunk{};
      while (generation == generation_) {
        auto [ec, n] = co_await socket->async_read_some(asio::buffer(chunk), use_nothrow);
        if (ec) {
          error = "connection lost: " + ec.message();
          break;
        }
        received.append(chunk.data(), n);
        bool bad = false;
        while (!received.empty()) {
          const PubSubFrame frame = parse_pubsub_frame(received);
          if (frame.status == ParseStatus::NeedMore) {
            break;
          }
          if (frame.status == ParseStatus::Invalid) {
            bad = true;
            break;
          }
          const auto& e = frame.elements;
          if (e.size() == 3 && e[0] == "message" && on_message(e[1], e[2], Clock::now())) {
            changed(Change::Reconnect);
          }
          received.erase(0, frame.length);
        }
        if (bad) {
          error = "unexpected message";
          break;
        }
      }
    }
    error_code ignored;
    socket->close(ignored);
    std::erase(sockets_, socket);
    if (stopped_ || generation != generation_) {
      break;
    }
    if (!logged_failure) {
      std::uint64_t suppressed = 0;
      if (resolve_log_limiter().allow(suppressed)) {
        log->warn("upstream={} sentinel {} subscription: {}; retrying (suppressed={})", upstream_,
                  describe(sentinel), error, suppressed);
      }
      logged_failure = true;
    }
    asio::steady_timer wait(ex);
    wait.expires_after(kSubscribeRetry);
    co_await wait.async_wait(use_nothrow);
  }
}

}  // namespace seawall::upstream
