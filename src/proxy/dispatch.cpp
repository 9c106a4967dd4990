// Session: the dispatch decision for each request (answered here, refused, or forwarded) and
// the forward path to the request's upstream, with the replies that come back. A command split
// across upstreams goes to SplitForward; what a request gets when its upstream cannot answer, to
// DegradedReplies; what replies and writes do to the L1, to CacheEffects. See session.hpp for
// the ordering and lifetime rules.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "seawall/command/command_rules.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/command/sent.hpp"
#include "seawall/fault/fault_injector.hpp"
#include "seawall/proxy/local_replies.hpp"
#include "seawall/proxy/session.hpp"
#include "seawall/proxy/write_order.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/util/ascii.hpp"
#include "seawall/util/log.hpp"

namespace seawall::proxy {
namespace {

namespace replies = resp::replies;
using command::CommandInfo;
using upstream::ReplyStatus;
using util::iequals;

// HELLO's version before any connection learned Redis's: the oldest Redis with HELLO 3.
constexpr std::string_view kUnknownVersion = "6.0.0";

util::LogRateLimiter& auth_log_limiter() {
  static util::LogRateLimiter limiter(std::chrono::seconds(10), 5);
  return limiter;
}

// The fault configured for this request, if one applies, counted here: the caller applies it
// (a delayed command whose connection turns out to be down fails unsent instead, as it would
// have without the fault).
const fault::Fault* pick_fault(WorkerContext& ctx, const CommandInfo* info,
                               std::span<const std::string_view> args, std::size_t up) {
  const fault::FaultInjector& faults = ctx.snapshot->faults;
  if (faults.empty()) {
    return nullptr;
  }
  const fault::Fault* fault = faults.pick(info, args, up, ctx.fault_random);
  if (fault != nullptr) {
    ctx.shared->upstreams[up]->count_injected_fault(fault->type);
  }
  return fault;
}

std::chrono::milliseconds delay_of(const fault::Fault* fault) {
  return fault != nullptr && fault->type == fault::FaultType::Delay ? fault->delay
                                                                    : std::chrono::milliseconds{0};
}

// An injected error takes the place of Redis's reply, where a connection would deliver one: the
// breaker records a failure with the permit it gave, and the target gets a FailedReply, as for
// -LOADING, so everything after it (fallback chain, journal, metrics) is what a real failure
// gets. The command is not sent.
void inject_error(upstream::ReplyTarget& target, const fault::Fault& fault, std::uint64_t token,
                  const breaker::Permit& permit, breaker::CircuitBreaker& issuer,
                  std::chrono::steady_clock::time_point now) {
  if (permit.allowed()) {
    issuer.record(permit, breaker::Outcome::Failure, {}, now);
  }
  target.on_reply(token, fault.error_reply, ReplyStatus::FailedReply, now);
  target.on_batch_end();
}

// The reply to an ASKING sent ahead of a redirected command: +OK, of no interest to anyone.
upstream::ReplyTarget& ignored_reply() {
  struct Ignored final : upstream::ReplyTarget {
    void on_reply(std::uint64_t, std::string_view, ReplyStatus,
                  std::chrono::steady_clock::time_point) override {}
  };
  static Ignored target;
  return target;
}

}  // namespace

Session::Next Session::dispatch(const resp::ParsedRequest& request, std::string_view raw,
                                command::Command cmd) {
  const CommandInfo* info = cmd.info;
  const auto& args = request.args;
  ctx_.shared->count_command(info);
  if (iequals(args[0], "post") || iequals(args[0], "host:")) {
    // An HTTP request sent to the Redis port (cross-protocol scripting). Redis drops such a
    // connection; forwarded, it would make Redis drop a shared connection of other clients.
    util::logger("proxy")->warn("client={} sent '{}': possible cross-protocol attack, closing", id_,
                                iequals(args[0], "post") ? "POST" : "Host:");
    close();
    return Next::StopReading;
  }
  if (info == nullptr || !command::arity_ok(*info, args.size())) {
    // Redis itself answers unknown commands and wrong arity, with its exact wording.
    forward(request, raw, info);
    return Next::Continue;
  }
  using command::Local;
  const Local local = cmd.rule().local;
  if (local == Local::Ping && args.size() <= 2) {  // more arguments: Redis words the arity error
    scratch_.clear();
    append_ping_reply(scratch_, args);
    reply_now(scratch_);
    return Next::Continue;
  }
  if (local == Local::Echo) {
    scratch_.clear();
    resp::append_bulk(scratch_, args[1]);
    reply_now(scratch_);
    return Next::Continue;
  }
  if (local == Local::Quit) {
    reply_now(replies::kOk);
    return Next::StopReading;
  }
  if (local == Local::Reset) {
    note_reset();
    protocol_ = resp::Protocol::Resp2;
    presence_.record().set_protocol(protocol_);
    reply_now(replies::kReset);
    return Next::Continue;
  }
  if (local == Local::Unsubscribe) {
    // This session subscribes to nothing (SUBSCRIBE pins it), so Redis's answer is known: one
    // reply per channel named, or one for none. Forwarded, those several replies to a single
    // request would be taken for the replies of other clients on the shared connection.
    scratch_.clear();
    append_unsubscribe_reply(scratch_, info->name, args, protocol_);
    reply_now(scratch_);
    return Next::Continue;
  }
  if (local == Local::Select) {
    reply_now(replies::kOk);  // SELECT 0; any other database pins the session
    return Next::Continue;
  }
  if (local == Local::Client) {
    return dispatch_client_subcommand(request, raw, info);
  }
  if (local == Local::Hello) {
    answer_hello(args);
    return Next::Continue;
  }
  forward(request, raw, info);
  return Next::Continue;
}

bool Session::answered_locally(resp::ParsedRequest& request, command::Command cmd) {
  SharedState& shared = *ctx_.shared;
  const auto& args = request.args;
  const auto count = [&] { shared.count_command(cmd.info); };
  if (shared.client_auth.enabled()) {
    const AuthStep step = shared.client_auth.step(cmd, args, authenticated_);
    if (step.failed) {
      std::uint64_t suppressed = 0;
      if (auth_log_limiter().allow(suppressed)) {
        // Neither the user name nor the password: either may be the secret typed in.
        util::logger("proxy")->info("client={} authentication failed (suppressed={})", id_,
                                    suppressed);
      }
    }
    if (pinned() && link_state().in_multi() && step.action != AuthAction::Pass &&
        (cmd.rule().state == command::State::Auth || step.action == AuthAction::PassWithoutAuth ||
         step.failed)) {
      // Redis would queue it for EXEC; seawall cannot, so it refuses it as a queueing error.
      count();
      answer_locally(replies::kAuthInMulti);
      return true;
    }
    if (step.authenticated && !step.failed && step.action != AuthAction::Pass) {
      presence_.note_authenticated_user(cmd, args);
    }
    authenticated_ = step.authenticated;
    if (step.action == AuthAction::Reply) {
      count();
      answer_locally(step.reply);
      return true;
    }
    if (step.action == AuthAction::PassWithoutAuth) {
      // Redis answers the rest of the HELLO (protocol, SETNAME); the credentials stay here.
      remove_hello_auth(request.args);
      request.kind = resp::RequestKind::Inline;  // re-encoded from args when sent
    }
  }
  if (shared.denied.empty()) {
    return false;
  }
  const CommandInfo* hit = cmd.info == nullptr ? nullptr : shared.denied.match(*cmd.info, args);
  if (hit == nullptr) {
    return false;
  }
  count();
  std::string reply(replies::kDeniedPrefix);
  for (char c : hit->name) {
    reply += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  reply.append(replies::kDeniedSuffix);
  answer_locally(reply);
  return true;
}

void Session::answer_locally(std::string_view bytes) {
  if (pinned_ && pinned_->relayed_local(bytes)) {
    return;
  }
  reply_now(bytes);
}

Session::Next Session::dispatch_client_subcommand(const resp::ParsedRequest& request,
                                                  std::string_view raw, const CommandInfo* client) {
  // Per client, so answered here: Redis would describe seawall's shared connection (INFO, ID) or
  // keep a name for all its clients (SETNAME, SETINFO: client libraries announce themselves).
  scratch_.clear();
  if (request.args.size() >= 2 &&
      presence_.client_subcommand_reply(client, request.args, scratch_)) {
    reply_now(scratch_);
    return Next::Continue;
  }
  forward(request, raw, client);
  return Next::Continue;
}

void Session::answer_hello(std::span<const std::string_view> args) {
  // Redis's checks, in its order: the protocol version, then the options.
  resp::Protocol protocol = protocol_;
  if (args.size() >= 2) {
    std::int64_t version = 0;
    const auto [end, ec] =
        std::from_chars(args[1].data(), args[1].data() + args[1].size(), version);
    if (ec != std::errc() || end != args[1].data() + args[1].size()) {
      reply_now(replies::kHelloProtocolNotInteger);
      return;
    }
    if (version != 2 && version != 3) {
      reply_now(replies::kNoProto);
      return;
    }
    protocol = version == 3 ? resp::Protocol::Resp3 : resp::Protocol::Resp2;
  }
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (iequals(args[i], command::kSetnameOption) && i + 1 < args.size()) {
      if (!introspection::valid_client_attribute(args[i + 1])) {
        reply_now(replies::kClientNameInvalid);
        return;
      }
      ++i;
      continue;
    }
    scratch_.assign(replies::kHelloOptionPrefix);
    scratch_.append(args[i]).append(replies::kHelloOptionSuffix);
    reply_now(scratch_);
    return;
  }
  for (std::size_t i = 2; i + 1 < args.size(); ++i) {
    if (iequals(args[i], command::kSetnameOption)) {
      presence_.set_client_name(args[++i]);
    }
  }
  protocol_ = protocol;
  presence_.record().set_protocol(protocol);
  // The fields Redis 7 answers, about this client: its seawall id, the server's version as a
  // shared connection's HELLO reported it.
  const std::string& learned = ctx_.pools[ctx_.snapshot->router.default_index()]->server_version();
  const std::string_view version = learned.empty() ? std::string_view(kUnknownVersion) : learned;
  scratch_.clear();
  append_hello_reply(scratch_, protocol_, static_cast<std::int64_t>(id_), version);
  reply_now(scratch_);
}

awaitable<void> Session::open_resp3_connections() {
  // A worker opens its RESP3 connections for its first RESP3 client; until they are up, that
  // client's commands would find none and take the fallback. Waits at most connect_timeout.
  asio::steady_timer timer(socket_.get_executor());
  const auto give_up = std::chrono::steady_clock::now() + ctx_.config->upstreams[0].connect_timeout;
  for (std::size_t up = 0; up < ctx_.pools.size(); ++up) {
    while (!ctx_.pools[up]->connected(id_, upstream::Protocol::Resp3) && !closed_ &&
           std::chrono::steady_clock::now() < give_up &&
           ctx_.shared->upstreams[up]->breaker().state(std::chrono::steady_clock::now()) !=
               breaker::State::Open) {
      timer.expires_after(std::chrono::milliseconds(2));
      co_await timer.async_wait(use_nothrow);
    }
  }
}

void Session::describe(Slot& slot, const CommandInfo* info, std::span<const std::string_view> args,
                       std::size_t up) {
  slot.upstream = static_cast<std::uint32_t>(up);
  slot.info = info;
  if (info != nullptr) {
    slot.is_write = is_write_command(*info);
    slot.is_read = !slot.is_write && info->has(command::kReadonly) && !key_indexes_.empty();
  }
  if (slot.is_read || slot.is_write) {
    slot.copy_args(args);
    slot.keys.assign(key_indexes_.begin(), key_indexes_.end());
    slot.policy = &ctx_.snapshot->policies.match(args[key_indexes_.empty() ? 0 : key_indexes_[0]]);
  } else if (info != nullptr && flushes_everything(*info)) {
    slot.is_write = true;
    slot.args.clear();
    slot.keys.clear();
    slot.policy = &ctx_.snapshot->policies.fallback();
  }
  if (slot.is_read) {
    // The normalised command names the L1 entry; without an l1 policy it is never looked at.
    slot.cache_key.clear();
    if (slot.policy->l1.enabled) {
      cache::make_cache_key(slot.args, slot.cache_key);
      if (protocol_ == resp::Protocol::Resp3) {
        policy::make_resp3_cache_key(slot.cache_key);
      }
    }
    slot.fill = slot.policy->l1.enabled && !info->has(command::kNonDeterministicOutput);
  }
}

void Session::forward(const resp::ParsedRequest& request, std::string_view raw,
                      const CommandInfo* info) {
  SharedState& shared = *ctx_.shared;
  const auto& args = request.args;
  const router::Router& router = ctx_.snapshot->router;
  std::size_t up = router.default_index();
  if (key_indexes_.empty() && info != nullptr && split_.without_keys(*info, args)) {
    return;
  }
  if (!key_indexes_.empty()) {
    const router::KeyRoute first = router.route_key(args[key_indexes_[0]]);
    up = first.upstream;
    if (!router.single_upstream()) {
      for (std::uint32_t k : key_indexes_) {
        // Keys of two cluster slots need two requests even on one node (Redis: -CROSSSLOT).
        if (router.route_key(args[k]) != first) {
          if (!split_.forward(*info, args, key_indexes_)) {
            reply_now(first.slot == router::KeyRoute::kNoSlot ? resp::replies::kCrossUpstream
                                                              : resp::replies::kCrossSlot);
          }
          return;
        }
      }
    }
  }

  std::string_view bytes = raw;
  if (request.kind == resp::RequestKind::Inline) {
    scratch_.clear();
    resp::append_command(scratch_, args);
    bytes = scratch_;
  }

  Slot& slot = push_slot();
  const std::uint64_t seq = replies_.back_seq();
  describe(slot, info, args, up);
  const NearReads::Step near_step = std::exchange(near_step_, NearReads::Step::Forward);
  slot.near_flight = near_step == NearReads::Step::Lead;
  if (!slot.is_read && !slot.is_write && ctx_.config->upstreams[up].topology != nullptr) {
    slot.copy_args(args);  // a cluster shard may redirect it (ClusterRedirects)
  }
  const auto now = last_activity_;
  // A read may go to its shard's replica (read_from: prefer_replica); slot.upstream stays `up`.
  const std::size_t to = read_upstream(slot, up);
  const SentTo sent_to = to == up ? SentTo::Master : SentTo::Replica;
  upstream::UpstreamState& state = *shared.upstreams[to];
  breaker::CircuitBreaker& breaker = state.breaker();  // one breaker per request, across reloads
  breaker::Permit permit;
  bool send = state.ready();
  if (send) {
    permit = breaker.try_acquire(now);
    send = permit.allowed();
  }
  if (!send) {
    end_near_flight(slot);
    degraded_.answer_without_upstream(slot, seq);
    return;
  }
  upstream::Connection& connection = connection_for(to);
  if (slot.is_write) {
    cache_effects_.withhold_keys(slot);
    slot.mark_writes(shared.writes_in_flight, WritesInFlight::owner_of(&connection));
    // A plain SET or MSET leaves its value in the L1 once Redis acknowledged it, so the key can
    // still be read during an outage that follows (the ticket catches any write racing it).
    slot.fill = cache_effects_.writes_value(slot);
  }
  if (slot.fill) {
    // A replica may not have applied the latest writes yet (ReplicaReads::ticket).
    slot.ticket = sent_to == SentTo::Replica ? ctx_.replica_reads.ticket(shared.cache, now)
                                             : shared.cache.begin_read();
  }
  ++in_upstream_;
  const fault::Fault* fault = pick_fault(ctx_, info, args, to);
  if (fault != nullptr && fault->type == fault::FaultType::Error) {
    inject_error(*this, *fault, make_token(seq, 0), permit, breaker, now);
    return;
  }
  if (near_step == NearReads::Step::Verify) {
    // Copied first, as below.
    const cache::ReadTicket ticket = slot.ticket;
    thread_local std::vector<std::string> keys;
    keys.resize(slot.keys.size());
    for (std::size_t i = 0; i < slot.keys.size(); ++i) {
      keys[i].assign(slot.args[slot.keys[i]]);
    }
    connection.submit(bytes, this, make_token(seq, 0), now, permit, &breaker, delay_of(fault));
    ctx_.near_verify->send_keys(connection, ticket, keys, protocol_, now);
    return;
  }
  if (!slot.near_flight) {
    connection.submit(bytes, this, make_token(seq, 0, sent_to), now, permit, &breaker,
                      delay_of(fault));
    return;
  }
  // A near miss that others wait for: its copy is verified, and the flight ended, by the PTTL
  // sent behind it (NearVerify), which owns the flight from here. Copied first: the slot may
  // be answered (NotSent) inside submit.
  slot.near_flight = false;
  const cache::ReadTicket ticket = slot.ticket;
  thread_local std::string cache_key;
  thread_local std::string key;
  cache_key.assign(slot.cache_key);
  key.assign(slot.args[slot.keys.front()]);
  const auto ttl = slot.policy->l1.ttl;
  connection.submit(bytes, this, make_token(seq, 0), now, permit, &breaker, delay_of(fault));
  ctx_.near_verify->send(connection, ticket, cache_key, key, ttl, now);
}

void Session::send_part(const CommandInfo& info, std::span<const std::string_view> args,
                        std::size_t up, std::uint64_t token, std::span<const std::string_view> part,
                        const breaker::Permit& permit, breaker::CircuitBreaker& issuer,
                        std::chrono::steady_clock::time_point now) {
  ++in_upstream_;
  const fault::Fault* fault = pick_fault(ctx_, &info, args, up);
  if (fault != nullptr && fault->type == fault::FaultType::Error) {
    // The injected error is the reply (not a replica's failure for the master to answer).
    inject_error(*this, *fault, make_token(token_seq(token), token_part(token)), permit, issuer,
                 now);
    return;
  }
  scratch_.clear();
  resp::append_command(scratch_, part);
  connection_for(up).submit(scratch_, this, token, now, permit, &issuer, delay_of(fault));
}

std::size_t Session::read_upstream(const RequestSlot& slot, std::size_t up) {
  return ReplicaReads::target(ctx_, up, slot, id_, upstream_protocol(), last_activity_);
}

void Session::resend(std::size_t up, std::uint64_t token, std::span<const std::string_view> command,
                     bool asking, const breaker::Permit& permit, breaker::CircuitBreaker& issuer,
                     std::chrono::steady_clock::time_point now) {
  ++in_upstream_;
  scratch_.clear();
  resp::append_command(scratch_, command);
  upstream::Connection& connection = connection_for(up);
  if (asking) {
    // Same connection, right before: ASKING admits only the next command to the importing slot.
    connection.submit(command::sent::kAskingRequest, &ignored_reply(), 0, now);
  }
  connection.submit(scratch_, this, token, now, permit, &issuer);
}

void Session::find_keys(const CommandInfo* info, std::span<const std::string_view> args) {
  key_indexes_.clear();
  if (info != nullptr) {
    command::key_indexes(*info, args, key_indexes_);
  }
}

upstream::Connection& Session::connection_for(std::size_t up) {
  if (moved_to_ != nullptr) {
    if ((in_upstream_ > 0 || move_fresh_) && up == moved_up_) {
      move_fresh_ = false;
      // A reload may have replaced the pool since: then the move is over.
      for (const auto& c : ctx_.pools[up]->group(upstream_protocol())) {
        if (c.get() == moved_to_) {
          return *moved_to_;
        }
      }
    }
    if (in_upstream_ == 0) {
      moved_to_ = nullptr;
    }
  }
  return ctx_.pools[up]->pick(id_, upstream_protocol());
}

std::optional<std::size_t> Session::write_must_wait(const CommandInfo* info,
                                                    std::span<const std::string_view> args) {
  // A blocking write (BLPOP) may wait for ever: nobody waits for it (see note_pinned_write), and
  // the L1 keeps database 0 only.
  if (info == nullptr || info->has(command::kBlocking) || link_state().db_nonzero()) {
    return std::nullopt;
  }
  // Queued commands run, and are ordered, at EXEC.
  const bool runs_queued = pinned() && link_state().in_multi() && command::rules(*info).runs_queued;
  if (!runs_queued &&
      (link_state().in_multi() || !is_write_command(*info) || flushes_everything(*info))) {
    return std::nullopt;
  }
  thread_local std::vector<std::string_view> keys;
  keys.clear();
  if (runs_queued) {
    keys.assign(pinned_->multi_keys().begin(), pinned_->multi_keys().end());
  } else {
    for (std::uint32_t k : key_indexes_) {
      keys.push_back(args[k]);
    }
  }
  if (keys.empty()) {
    return std::nullopt;
  }
  const router::Router& router = ctx_.snapshot->router;
  const std::size_t up = pinned() ? pinned_->upstream() : router.route(keys[0]);
  bool split = false;
  if (!pinned() && !router.single_upstream()) {
    const router::KeyRoute first = router.route_key(keys[0]);
    split = std::any_of(keys.begin(), keys.end(),
                        [&](std::string_view key) { return router.route_key(key) != first; });
  }
  // A split write's parts go on several connections: it is marked as this session's (see
  // SplitForward::send_parts) and waits for every other sender's write of its keys.
  const WritesInFlight::Owner me =
      pinned() ? pinned_->write_owner()
               : (split ? WritesInFlight::owner_of(static_cast<const PartSender*>(this))
                        : WritesInFlight::owner_of(&connection_for(up)));
  const WriteOrderPlan plan =
      plan_write(ctx_.shared->writes_in_flight, keys, me, !pinned() && !split && in_upstream_ == 0);
  if (plan.order == WriteOrder::Move) {
    // Only a connection of this worker's pool for the client's protocol can be followed.
    for (const auto& c : ctx_.pools[up]->group(upstream_protocol())) {
      if (WritesInFlight::owner_of(c.get()) == plan.owner) {
        ctx_.shared->writes_in_flight.moved.fetch_add(1, std::memory_order_relaxed);
        moved_to_ = c.get();
        moved_up_ = static_cast<std::uint32_t>(up);
        move_fresh_ = true;
        return std::nullopt;
      }
    }
  }
  return plan.order == WriteOrder::Send ? std::nullopt : std::optional<std::size_t>(up);
}

awaitable<void> Session::wait_write_order(const CommandInfo* info, std::size_t up) {
  // The other write's outcome comes within its request deadline; past that (a pinned write has
  // none), this one goes anyway, and the two are as unordered as before. Once the upstream is
  // unavailable the wait ends at once: this write then takes the fallback chain, whose journal
  // keeps it after the other's outcome (the replay waits for requests still in doubt).
  const auto& upstreams = ctx_.config->upstreams;
  const auto wait = up < upstreams.size() ? upstreams[up].request_timeout : upstream::Millis{100};
  const auto deadline = std::chrono::steady_clock::now() + wait + std::chrono::milliseconds(50);
  upstream::UpstreamState& state = *ctx_.shared->upstreams[up];
  asio::steady_timer timer(socket_.get_executor());
  ctx_.shared->writes_in_flight.waited.fetch_add(1, std::memory_order_relaxed);
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(use_nothrow);
    const auto now = std::chrono::steady_clock::now();
    if (closed_ || now >= deadline || !state.available(now) ||
        !write_must_wait(info, request_.args).has_value()) {
      co_return;
    }
  }
}

void Session::on_reply(std::uint64_t token, std::string_view bytes, ReplyStatus status,
                       std::chrono::steady_clock::time_point now) {
  --in_upstream_;
  if (status != ReplyStatus::Ok && token_sent_to(token) == SentTo::Replica && !closed_ &&
      redirects_.to_master(slot_at(token_seq(token)), token_seq(token), token_part(token), now) ==
          ClusterRedirects::Outcome::Resent) {
    return;  // a read the replica failed: the master answers it
  }
  if (status == ReplyStatus::Ok && !closed_ && bytes.size() > 1 && bytes[0] == '-') {
    Slot& redirected = slot_at(token_seq(token));
    switch (redirects_.follow(redirected, token_seq(token), token_part(token), bytes, now)) {
      case ClusterRedirects::Outcome::Resent:
        return;
      case ClusterRedirects::Outcome::NotSent:
        status = ReplyStatus::NotSent;
        bytes = {};
        break;
      case ClusterRedirects::Outcome::NotRedirect:
        break;
    }
  }
  // Ok and FailedReply come from a read of Redis's output; on_batch_end follows after its last
  // reply, so the writer need not be woken per reply (see wake_writer).
  defer_wake_ = status == ReplyStatus::Ok || status == ReplyStatus::FailedReply;
  const std::uint64_t seq = token_seq(token);
  Slot& slot = slot_at(seq);
  if (closed_) {
    end_near_flight(slot);
    slot.release_writes(ctx_.shared->writes_in_flight);
    if (in_upstream_ == 0) {
      write_signal_.notify();  // the writer keeps this session alive until now
    }
    return;
  }
  if (status == ReplyStatus::Ok) {
    // Peak-hold estimate of reply sizes, for the backpressure estimate (see should_pause).
    avg_reply_bytes_ = std::max(bytes.size(), avg_reply_bytes_ - avg_reply_bytes_ / 8);
  }
  if (slot.merge != Merge::None) {
    split_.on_part_reply(slot, seq, token_part(token), status, bytes);
    return;
  }
  if (status != ReplyStatus::Ok) {
    end_near_flight(slot);
  }
  if (status == ReplyStatus::NotSent) {
    // It never reached Redis: answer exactly as if the breaker had been open.
    degraded_.answer_without_upstream(slot, seq);
    return;
  }
  if (status != ReplyStatus::Ok) {
    degraded_.answer_failed(slot, seq, status, bytes);
    return;
  }
  if (slot.is_write) {
    // Again at the reply: a read that raced this write must not leave an older value cached.
    // Unless Redis refused it unrun: then the copies are still right, and go back.
    if (slot.fill && bytes == resp::replies::kOk) {
      cache_effects_.fill_written(slot, now);
    } else if (!cache_effects_.restore_withheld(slot, bytes)) {
      cache_effects_.invalidate_keys(slot);
    }
    slot.withheld.clear();
    slot.release_writes(ctx_.shared->writes_in_flight);
    ctx_.shared->miss_leases.release(slot.key_views(), now);
  } else if (slot.fill && bytes[0] != '-') {
    if (cache_effects_.evicted_copy(slot, bytes, protocol_, now, scratch_)) {
      end_near_flight(slot);
      ctx_.shared->fallback.counters().count(policy::Source::L1Evicted);
      complete(seq, scratch_);
      return;
    }
    cache_effects_.fill_cache(slot, bytes, protocol_, now);
    if (slot.policy->l1.near() && slot.policy->miss_lease.count() > 0 &&
        resp::replies::is_nil(bytes)) {
      // The reader Redis gave a nil gets it and the key's lease: near readers of the key wait
      // for its write-back instead of reading the database too.
      ctx_.shared->miss_leases.take(slot.key_views().front(), now, slot.policy->miss_lease);
    }
    end_near_flight(slot);  // after the fill: the waiters look again
  }
  ctx_.shared->fallback.counters().count(policy::Source::Upstream);
  complete(seq, bytes);
}

void Session::end_near_flight(Slot& slot) {
  if (slot.near_flight) {
    slot.near_flight = false;
    ctx_.shared->near_flights.release(slot.cache_key, std::chrono::steady_clock::now());
  }
}

bool Session::retry_parked(std::uint64_t seq, bool expired) {
  const Slot& slot = slot_at(seq);
  if (!closed_ && !expired &&
      (slot.write_in_flight(ctx_.shared->writes_in_flight) ||
       (slot.lease_wait && ctx_.shared->miss_leases.held(slot.key_views().front(),
                                                         std::chrono::steady_clock::now())))) {
    return false;
  }
  --in_upstream_;
  --parked_;
  if (closed_) {
    if (in_upstream_ == 0) {
      write_signal_.notify();  // the writer keeps this session alive until now
    }
    return true;
  }
  defer_wake_ = false;
  last_activity_ = std::chrono::steady_clock::now();
  degraded_.complete_read(slot_at(seq), seq);
  return true;
}

void Session::park_read(std::uint64_t seq, std::chrono::steady_clock::time_point deadline) {
  ++in_upstream_;  // keeps the session, like a request still with Redis
  ++parked_;
  ctx_.parked->park(this, seq, deadline);
}

}  // namespace seawall::proxy
