// Session: commands seawall asks Redis itself, on a shared connection, and completes with what it
// knows (command::Seawall rows):
// - INFO with `introspection.info: merged` (the default). Redis's INFO is what client libraries
//   read (redis_version, role, keyspace ...), but its clients are seawall's shared connections:
//   Redis's sections come back with seawall's client count and a `# Seawall` section, or
//   seawall's sections alone when Redis cannot answer, so INFO works through an outage too.
// - CLIENT PAUSE / UNPAUSE. Redis holds seawall's shared connections for the pause; once it
//   confirmed one, every connection to that upstream lets its requests wait the pause out
//   (UpstreamState::note_pause) instead of timing out and tripping the breaker.
// The reader waits for Redis's answer, so it keeps its place among the replies.
// And MONITOR, which asks Redis nothing: seawall shows its clients' commands itself (MonitorHub).
#include <charconv>
#include <memory>

#include "seawall/command/command_rules.hpp"
#include "seawall/proxy/introspection.hpp"
#include "seawall/proxy/session.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/util/ascii.hpp"
#include "seawall/util/log.hpp"

namespace seawall::proxy {

namespace {
// Redis releases the clients of a pause that ran out at one of its periodic checks, not at the end
// itself: a request held only to the end timed out on a loaded machine (request_timeout 100ms).
constexpr std::chrono::milliseconds kPauseRelease{250};

// One command asked of Redis. The connection answers it exactly once (reply, deadline or drop)
// and holds a raw pointer until then, so it keeps itself alive until that call, whether or not
// the session still waits for it.
class UpstreamAsk final : public upstream::ReplyTarget {
 public:
  explicit UpstreamAsk(const asio::any_io_executor& ex) : signal_(ex) {}

  static std::shared_ptr<UpstreamAsk> send(const asio::any_io_executor& ex,
                                           upstream::Connection& connection,
                                           std::span<const std::string_view> args,
                                           std::chrono::steady_clock::time_point now) {
    auto ask = std::make_shared<UpstreamAsk>(ex);
    ask->self_ = ask;
    std::string command;
    resp::append_command(command, args);
    // No permit: seawall asks, and the answer says nothing about Redis the health check does
    // not (a PAUSE's own reply is not held, an INFO's may be).
    connection.submit(command, ask.get(), 0, now, breaker::Permit{}, nullptr);
    return ask;
  }

  // Returns once the reply (or failure) came, or the waiting coroutine was cancelled.
  awaitable<void> wait() {
    if (!done_) {
      co_await signal_.wait();
    }
  }

  // The reply, when Redis sent one.
  const std::optional<std::string>& reply() const { return reply_; }

  // ReplyTarget
  void on_reply(std::uint64_t /*token*/, std::string_view bytes, upstream::ReplyStatus status,
                std::chrono::steady_clock::time_point /*now*/) override {
    if (status == upstream::ReplyStatus::Ok || status == upstream::ReplyStatus::FailedReply) {
      reply_.emplace(bytes);
    }
    done_ = true;
    signal_.notify();
    self_.reset();  // last: may destroy this object
  }

 private:
  util::Signal signal_;
  std::optional<std::string> reply_;
  bool done_ = false;
  std::shared_ptr<UpstreamAsk> self_;
};

}  // namespace

command::Seawall Session::asked_by_seawall(const command::CommandInfo* info,
                                           std::span<const std::string_view> args) const {
  if (info == nullptr) {
    return command::Seawall::None;
  }
  // Every command passes here: a table index, and a subcommand lookup for containers only.
  const command::CommandInfo* resolved =
      info->subcommands.empty() ? info : command::resolve(info, args);
  if (resolved == nullptr) {
    return command::Seawall::None;
  }
  const command::Seawall what = command::rules(*resolved).seawall;
  if (what == command::Seawall::None || what == command::Seawall::Tracking ||
      what == command::Seawall::Select || !command::arity_ok(*resolved, args.size()) ||
      (pinned_ && pinned_->multi_deferred()) || (pinned() && link_state().in_multi())) {
    return command::Seawall::None;  // Redis words the error, or queues it for EXEC
  }
  if (what == command::Seawall::Info) {
    // A RESP2 subscriber gets Redis's refusal.
    const bool subscribed =
        subscribed_channels_ + subscribed_patterns_ + subscribed_shard_channels_ > 0;
    if (ctx_.config->introspection.info != InfoMode::Merged ||
        (pinned() && subscribed && record_->protocol() == resp::Protocol::Resp2)) {
      return command::Seawall::None;
    }
  }
  return what;
}

awaitable<void> Session::ask_upstream(command::Seawall what, const command::CommandInfo* info,
                                      std::span<const std::string_view> args) {
  auto self = shared_from_this();
  ctx_.shared->count_command(info);
  // Read now: the arguments are views into the read buffer, not to be read after a wait.
  const introspection::InfoSections sections =
      what == command::Seawall::Info ? introspection::parse_info_sections(args.subspan(1))
                                     : introspection::InfoSections{};
  std::int64_t pause_ms = 0;
  if (what == command::Seawall::Pause) {
    std::from_chars(args[2].data(), args[2].data() + args[2].size(), pause_ms);
  }
  std::shared_ptr<UpstreamAsk> ask;
  const std::size_t up = ctx_.snapshot->router.default_index();
  upstream::UpstreamState& state = *ctx_.shared->upstreams[up];
  const auto sent = std::chrono::steady_clock::now();
  if (state.available(sent)) {
    ask = UpstreamAsk::send(socket_.get_executor(), ctx_.pools[up]->pick(id_), args, sent);
    co_await ask->wait();
  }
  if (closed_) {
    co_return;
  }
  const std::optional<std::string>* reply = ask ? &ask->reply() : nullptr;
  const bool answered = reply != nullptr && reply->has_value();
  std::string out;
  if (what == command::Seawall::Info) {
    const introspection::InfoData data = info_data();
    const std::optional<std::string_view> body =
        answered ? introspection::text_reply_body(**reply) : std::nullopt;
    if (body) {
      introspection::append_text_reply(out, introspection::merge_info(*body, data, sections),
                                       record_->protocol());
    } else if (answered) {
      out = **reply;  // Redis refused it: its own error, as direct
    } else {
      // Redis cannot answer: seawall's own sections.
      introspection::append_text_reply(out, introspection::render_info(data, sections),
                                       record_->protocol());
    }
  } else if (!answered) {
    ctx_.shared->fallback.counters().count(policy::Source::Error);
    out = state.no_fallback_error();
  } else {
    out = **reply;
    if (out == resp::replies::kOk) {
      // From when the reply came: Redis started the pause no later (a pause counted from the
      // send could end before Redis's, and a request held to its end time out).
      const auto answered_at = std::chrono::steady_clock::now();
      state.note_pause(what == command::Seawall::Pause
                           ? answered_at +
                                 std::chrono::milliseconds(std::max<std::int64_t>(pause_ms, 0)) +
                                 kPauseRelease
                           : answered_at);
    }
  }
  answer_locally(out);
}

void Session::start_monitoring() {
  if (!monitoring_) {
    monitoring_ = true;
    record_->set_flag(introspection::kFlagMonitor, true);
    ctx_.shared->monitors.add(this, std::weak_ptr<MonitorSink>(shared_from_this()),
                              socket_.get_executor());
  }
  answer_locally(resp::replies::kOk);
}

void Session::stop_monitoring() {
  if (monitoring_) {
    monitoring_ = false;
    record_->set_flag(introspection::kFlagMonitor, false);
    ctx_.shared->monitors.remove(this);
  }
}

void Session::feed_monitors(const command::CommandInfo* info,
                            std::span<const std::string_view> args) {
  MonitorHub& hub = ctx_.shared->monitors;
  // As Redis: commands it would refuse before running them (unknown, wrong arity) are not shown.
  if (!hub.watched() || info == nullptr || !command::arity_ok(*info, args.size())) {
    return;
  }
  const command::CommandInfo* resolved = command::resolve(info, args);
  if (!monitor_shows(*info) || (resolved != nullptr && !monitor_shows(*resolved))) {
    return;
  }
  const introspection::ClientView view = record_->view(std::chrono::steady_clock::now());
  std::int64_t db = view.db;
  if (command::rules(*info).seawall == command::Seawall::Select && args.size() == 2) {
    // Redis shows a command once it ran: SELECT in the database it selected.
    std::from_chars(args[1].data(), args[1].data() + args[1].size(), db);
  }
  hub.publish(this, format_monitor_line(std::chrono::system_clock::now(), db, view.addr, args));
}

void Session::on_monitor_line(std::string_view line) {
  if (closed_ || !monitoring_) {
    return;
  }
  out_.append(line);
  if (output_bytes() > ctx_.config->limits.client_output_buffer) {
    close();
    return;
  }
  write_or_wake();
}

}  // namespace seawall::proxy
