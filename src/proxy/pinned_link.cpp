// PinnedLink: a session's pinned mode (see pinned_link.hpp). While pinned, every command is
// relayed in order and every byte Redis sends comes back unchanged, so transactions, blocking
// commands, pub/sub, MONITOR, RESP3 and CLIENT REPLY work exactly as against Redis.
//
// Replies seawall answers itself while pinned (NOAUTH, a denied command, an AUTH checked here)
// must take their place among the replies Redis still owes. Such a reply is sent as a marker: a
// command Redis does not know, "seawall-local-reply-<id>", relayed in the command's place. Redis
// answers it, in order, with "-ERR unknown command 'seawall-local-reply-<id>', ...", which
// on_link_data replaces with the local reply. Inside MULTI that error is a queueing error, so
// Redis answers the EXEC with -EXECABORT, exactly as it treats a command it refuses itself.
// The id keeps replies matched when Redis sends none for a marker (CLIENT REPLY OFF or SKIP).
#include "seawall/proxy/pinned_link.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "seawall/command/command_rules.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/command/sent.hpp"
#include "seawall/proxy/client_presence.hpp"
#include "seawall/proxy/cluster_redirects.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/upstream/cluster_topology.hpp"
#include "seawall/util/ascii.hpp"
#include "seawall/util/heap_bytes.hpp"
#include "seawall/util/log.hpp"

namespace seawall::proxy {
namespace {

namespace replies = resp::replies;
using command::CommandInfo;
using util::iequals;

// What a std::deque allocates when first used: its map and one node.
constexpr std::size_t kDequeBytes = 8 * sizeof(void*) + 512;

bool any_arg(std::span<const std::string_view> args, std::size_t from, std::string_view word) {
  for (std::size_t i = from; i < args.size(); ++i) {
    if (iequals(args[i], word)) {
      return true;
    }
  }
  return false;
}

constexpr std::string_view kMarkerPrefix = "seawall-local-reply-";
// Redis echoes at most 128 bytes of an unknown command's name; its whole error stays short.
constexpr std::size_t kMaxMarkerReply = 512;

// The id in Redis's error reply to a marker command, or false when the reply is not one.
bool marker_id(std::string_view reply, std::uint64_t& id) {
  if (reply.size() > kMaxMarkerReply) {
    return false;
  }
  const auto it =
      std::search(reply.begin(), reply.end(), kMarkerPrefix.begin(), kMarkerPrefix.end(),
                  [](char a, char b) { return util::ascii_lower(a) == b; });
  if (it == reply.end()) {
    return false;
  }
  const char* first = &*it + kMarkerPrefix.size();
  const char* last = reply.data() + reply.size();
  const auto [end, ec] = std::from_chars(first, last, id);
  return ec == std::errc() && end != first;
}

}  // namespace

PinnedLink::PinnedLink(PinnedHost& host, WorkerContext& ctx, asio::any_io_executor executor,
                       std::uint64_t client_id)
    : host_(host), ctx_(ctx), executor_(std::move(executor)), client_id_(client_id) {}

PinnedLink::~PinnedLink() {
  if (link_) {
    link_->close();  // no more calls to this sink
  }
}

bool PinnedLink::wanted(const PinnedLink* link, std::span<const std::string_view> args,
                        command::Command cmd) {
  return (link != nullptr && link->multi_deferred_) || needs_pin(args, cmd);
}

awaitable<PinnedLink::Step> PinnedLink::pin_or_answer(std::span<const std::string_view> args,
                                                      command::Command cmd) {
  const CommandInfo* info = cmd.info;
  if (deferred_multi_answered(args, cmd)) {
    co_return Step::Answered;
  }
  // Everything sent before must have run before the dedicated connection takes over.
  co_await host_.wait_until_idle();
  if (host_.closed()) {
    co_return Step::Stop;
  }
  const std::string_view error = co_await pin(args, cmd);
  if (host_.closed()) {
    co_return Step::Stop;
  }
  if (!error.empty() && multi_deferred_ && error != replies::kTooManyPinned &&
      queued_locally(args, cmd, Reach::Failed)) {
    // Its upstream could not take the transaction (the pin's connection failed, or the
    // breaker refused it): queued here and journaled at EXEC, as if it had been open.
    co_return Step::Answered;
  }
  if (!error.empty() && error != replies::kTooManyPinned && !multi_deferred_ && info != nullptr &&
      (info->has(command::kPubsub) || cmd.rule().pin == command::Pin::NonZeroDb)) {
    // State only a dedicated connection holds, and nothing of seawall's can stand in for it,
    // asked for while Redis is down (typically by a client library that just reconnected):
    // closed, as direct Redis would refuse the connection. Refused, client libraries give a
    // subscription up (ioredis's resubscribe rejects), or count their SELECT n as done and
    // resend their commands, which then fail (the L1 and the journal hold database 0 only).
    // Closed, they reconnect with their backoff, select and subscribe again and resend what
    // was unanswered once Redis is back, as they do direct.
    util::logger("proxy")->debug("client={} pin failed for a {} while unavailable: closing",
                                 client_id_, info->name);
    host_.close();
    co_return Step::Stop;
  }
  if (!error.empty()) {
    // Inside a deferred MULTI this is a queueing error: EXEC will abort.
    multi_aborted_ = multi_deferred_;
    if (multi_deferred_) {
      multi_pin_error_.assign(error);
    }
    host_.reply_now(error);
    co_return Step::Answered;
  }
  if (multi_deferred_) {
    send_deferred_multi();
  }
  co_return Step::Relay;
}

bool PinnedLink::relayed_local(std::string_view bytes) {
  if (multi_deferred_ && !bytes.empty() && bytes[0] == '-') {
    multi_aborted_ = true;  // a queueing error, as Redis counts a command it refuses
  }
  if (!link_) {
    return false;
  }
  relay_local(bytes);
  return true;
}

void PinnedLink::close_link() {
  if (link_) {
    unpin();
  }
}

void PinnedLink::upstream_moved(std::size_t index) {
  if (link_ && link_upstream_ == index) {
    link_->close();  // no more bytes from the old master reach the client
    on_link_closed();
  }
}

void PinnedLink::finish_if_uncountable() {
  if (link_ && link_state_.sticky() && !link_state_.quit_relayed()) {
    link_->finish();
  }
}

bool PinnedLink::owes_replies() const {
  return link_ && (link_state_.quit_relayed() || link_state_.sticky() || link_outstanding_ > 0);
}

std::size_t PinnedLink::heap_bytes() const {
  return util::heap_bytes(link_buf_) +
         (pinned_slot_ ? sizeof(Slot) + pinned_slot_->heap_bytes() : 0) +
         (link_local_.allocated() ? kDequeBytes : 0) +
         (link_invalidations_.allocated() ? kDequeBytes : 0) +
         pending_users_.capacity() * sizeof(PendingUser);
}

void PinnedLink::trim() {
  if (link_buf_.empty()) {
    std::string().swap(link_buf_);
  }
  pinned_slot_.reset();
  link_local_.release();
  link_invalidations_.release();
  if (multi_fills_.empty()) {
    std::vector<QueuedFill>().swap(multi_fills_);
  }
  if (local_tx_.empty()) {
    std::vector<QueuedFill>().swap(local_tx_);
  }
  if (multi_keys_.empty()) {
    std::vector<std::string>().swap(multi_keys_);
  }
  if (pending_users_.empty()) {
    std::vector<PendingUser>().swap(pending_users_);
  }
}

bool PinnedLink::needs_pin(std::span<const std::string_view> args, command::Command cmd) {
  const command::CommandInfo* info = cmd.info;
  if (info == nullptr || !command::arity_ok(*info, args.size())) {
    return false;
  }
  using command::Pin;
  switch (cmd.rule().pin) {
    case Pin::Always:
      // SYNC/PSYNC turn the connection into a replication stream: never a shared one.
      return true;
    case Pin::WithBlockArg:
      return any_arg(args, 1, command::kBlockOption);
    case Pin::ByFlags:
      break;
    case Pin::NonZeroDb:
    case Pin::WithAuthArg:
    case Pin::BusySubcommand:
    case Pin::BySubcommand:
      if (info->has(command::kBlocking)) {
        return true;
      }
      return pins_by_arguments(cmd.rule().pin, info, args);
  }
  return info->has(command::kBlocking);
}

bool PinnedLink::pins_by_arguments(command::Pin pin, const command::CommandInfo* info,
                                   std::span<const std::string_view> args) {
  using command::Pin;
  switch (pin) {
    case Pin::NonZeroDb:
      return args[1] != "0";
    case Pin::WithAuthArg:
      // The client's own AUTH (seawall's auth: took its AUTH out already) makes the connection
      // its user's; without AUTH, HELLO is answered by the session in either protocol.
      return any_arg(args, 2, command::kAuthOption);
    case Pin::BusySubcommand: {
      if (args.size() < 2) {
        return false;
      }
      // SCRIPT KILL, FUNCTION KILL and FUNCTION STATS are what Redis runs while a script is
      // busy: on a shared connection they would queue behind that very script (perhaps forever).
      const command::CommandInfo* sub = command::resolve(info, args);
      return sub != nullptr && sub->has(command::kAllowBusy);
    }
    case Pin::BySubcommand: {
      if (args.size() < 2) {
        return false;
      }
      const command::CommandInfo* sub = command::resolve(info, args);
      return sub != nullptr && command::rules(*sub).pin == Pin::Always;
    }
    case Pin::ByFlags:
    case Pin::Always:
    case Pin::WithBlockArg:
      break;
  }
  return false;
}

awaitable<std::string_view> PinnedLink::pin(std::span<const std::string_view> args,
                                            command::Command cmd) {
  SharedState& shared = *ctx_.shared;
  if (shared.pinned.fetch_add(1, std::memory_order_relaxed) >= ctx_.config->limits.max_pinned) {
    shared.pinned.fetch_sub(1, std::memory_order_relaxed);
    co_return resp::replies::kTooManyPinned;
  }
  // A blocking command's key decides the upstream; keyless state (MULTI, SUBSCRIBE) goes to
  // the default upstream.
  std::size_t up = ctx_.snapshot->router.default_index();
  if (!host_.key_indexes().empty()) {
    up = ctx_.snapshot->router.route(args[host_.key_indexes()[0]]);
  }
  upstream::UpstreamState& state = *shared.upstreams[up];
  const auto now = std::chrono::steady_clock::now();
  breaker::CircuitBreaker& breaker = state.breaker();
  breaker::Permit permit;
  if (state.ready()) {
    permit = breaker.try_acquire(now);
  }
  if (!permit.allowed()) {
    shared.pinned.fetch_sub(1, std::memory_order_relaxed);
    shared.fallback.counters().count(policy::Source::Error);
    co_return std::string_view(state.no_fallback_error());
  }
  // A RESP3 session's dedicated connection speaks RESP3 from the start (its HELLO 3 was
  // answered by seawall, not relayed).
  auto link = std::make_shared<upstream::Link>(executor_, ctx_.config->upstreams[up], this,
                                               host_.protocol() == resp::Protocol::Resp3
                                                   ? upstream::Protocol::Resp3
                                                   : upstream::Protocol::None,
                                               &state.scripts());
  const bool opened = co_await link->open();
  breaker.record(permit, opened ? breaker::Outcome::Success : breaker::Outcome::Failure,
                 std::chrono::steady_clock::now() - now, std::chrono::steady_clock::now());
  if (!opened || host_.closed()) {
    link->close();
    shared.pinned.fetch_sub(1, std::memory_order_relaxed);
    co_return host_.closed() ? std::string_view() : std::string_view(state.no_fallback_error());
  }
  link_ = std::move(link);
  ++link_generation_;
  journalable_exec_ = 0;
  link_upstream_ = up;
  link_outstanding_ = 0;
  link_buf_.clear();
  link_emitted_ = 0;
  link_local_.clear();
  link_framer_.reset();
  link_swallow_ = 0;
  link_replies_ = 0;
  pending_users_.clear();
  flush_link_invalidations();
  multi_keys_.clear();
  link_state_.opened();
  // Redis's id for this connection, for a CLIENT TRACKING REDIRECT to this client (its reply is
  // swallowed: the client never asked). Not before an admin command (SYNC, PSYNC): Redis refuses
  // SYNC while a reply is still pending, and such a connection is never a redirect target.
  if (cmd.info == nullptr || !cmd.info->has(command::kAdmin)) {
    link_->send(command::sent::kClientIdRequest);
    ++link_outstanding_;
    ++link_swallow_;
    link_id_wanted_ = true;
  }
  co_return std::string_view();
}

void PinnedLink::unpin() {
  host_.record().set_upstream_id(0);
  flush_link_invalidations();
  link_->close();
  link_.reset();
  ctx_.shared->pinned.fetch_sub(1, std::memory_order_relaxed);
}

void PinnedLink::maybe_unpin() {
  if (link_ && link_outstanding_ == 0 && link_swallow_ == 0 && !link_state_.holds_state()) {
    unpin();
  }
}

PinnedLink::Next PinnedLink::relay(const resp::ParsedRequest& request, std::string_view raw,
                                   command::Command cmd) {
  const auto& args = request.args;
  const command::CommandInfo* looked_up = cmd.info;
  ctx_.shared->count_command(looked_up);
  if (answered_while_unavailable(cmd, args)) {
    return Next::Continue;
  }
  const bool cluster_shard = link_upstream_ < ctx_.config->upstreams.size() &&
                             ctx_.config->upstreams[link_upstream_].topology != nullptr;
  if ((link_state_.in_multi() || cluster_shard) && looked_up != nullptr &&
      !ctx_.snapshot->router.single_upstream()) {
    // A transaction runs on one upstream, as one on Redis Cluster runs in one slot: a key of
    // another upstream is refused at queueing, so Redis aborts the EXEC. Outside one, a command
    // of another shard went there (ShardDetour) unless it starts or ends state on this
    // connection (WATCH, SSUBSCRIBE ...) or blocks: the node would answer MOVED, which a plain
    // client cannot follow, so seawall says why instead.
    for (std::uint32_t k : host_.key_indexes()) {
      if (ctx_.snapshot->router.route(args[k]) != link_upstream_) {
        relay_local(link_state_.in_multi() ? resp::replies::kCrossUpstream
                                           : resp::replies::kKeyOfAnotherShard);
        return Next::Continue;
      }
    }
  }
  note_pinned_write(cmd, args);
  std::string_view bytes = raw;
  if (request.kind == resp::RequestKind::Inline) {
    host_.scratch().clear();
    resp::append_command(host_.scratch(), args);
    bytes = host_.scratch();
  }
  if (redirect_translated(looked_up, args)) {
    bytes = host_.scratch();
  }
  // Track the state Redis now holds for this connection, to know when it ends.
  Next next = Next::Continue;
  if (looked_up != nullptr) {
    const bool client_pins = cmd.rule().state == command::State::Client && needs_pin(args, cmd);
    const LinkChange change = link_state_.relayed(cmd, args, client_pins);
    if (cmd.rule().state == command::State::EndsMulti) {
      multi_keys_.clear();
    }
    host_.apply_link_change(change);
    if (change.stop_reading) {
      next = Next::StopReading;
    }
  }
  note_relayed_auth(cmd, args);
  ++link_outstanding_;
  link_->send(bytes);
  return next;
}

void PinnedLink::note_relayed_auth(command::Command cmd, std::span<const std::string_view> args) {
  if (link_state_.in_multi()) {
    return;  // queued: it runs, if at all, at EXEC
  }
  if (const auto user = ClientPresence::authenticating_user(cmd, args)) {
    pending_users_.push_back(
        PendingUser{link_replies_ + link_outstanding_ + 1, std::string(*user)});
  }
}

void PinnedLink::note_auth_reply(std::string_view reply) {
  while (!pending_users_.empty() && pending_users_.front().reply <= link_replies_) {
    // Redis's error (WRONGPASS, NOPERM, ...) leaves the connection's user as it was.
    if (pending_users_.front().reply == link_replies_ && !reply.empty() && reply[0] != '-') {
      host_.record().set_user(pending_users_.front().user);
    }
    pending_users_.erase(pending_users_.begin());
  }
}

void PinnedLink::relay_local(std::string_view bytes) {
  if (link_outstanding_ == 0 && link_local_.empty() && link_buf_.empty() &&
      !link_state_.in_multi() && !link_state_.sticky()) {
    // Redis owes nothing, and no state makes the reply count drift: answer at once.
    host_.output().append(bytes);
    host_.notify_writer();
    return;
  }
  const std::uint64_t id = next_local_id_++;
  link_local_.push_back(LocalReply{id, std::string(bytes)});
  std::array<char, kMarkerPrefix.size() + 20> name{};
  std::copy(kMarkerPrefix.begin(), kMarkerPrefix.end(), name.begin());
  const auto [end, ec] =
      std::to_chars(name.data() + kMarkerPrefix.size(), name.data() + name.size(), id);
  const std::array<std::string_view, 1> marker{
      std::string_view(name.data(), static_cast<std::size_t>(end - name.data()))};
  host_.scratch().clear();
  resp::append_command(host_.scratch(), marker);
  ++link_outstanding_;
  link_->send(host_.scratch());
}

bool PinnedLink::replace_local(std::string_view reply) {
  std::uint64_t id = 0;
  if (!marker_id(reply, id)) {
    return false;
  }
  // Markers before this one got no reply (CLIENT REPLY OFF/SKIP): neither do their commands.
  while (!link_local_.empty() && link_local_.front().id < id) {
    link_local_.pop_front();
  }
  if (link_local_.empty() || link_local_.front().id != id) {
    return false;  // not a marker of ours: the client sent that name itself
  }
  host_.output().append(link_local_.front().bytes);
  link_local_.pop_front();
  return true;
}

void PinnedLink::on_link_data(std::string_view bytes) {
  if (host_.closed()) {
    return;
  }
  // While local replies wait for their markers, only complete replies go out, so a marker's
  // reply can be swapped; so on a cluster shard, whose redirects are swapped; otherwise bytes
  // stream through as they come.
  upstream::ClusterTopology* const topology =
      link_upstream_ < ctx_.config->upstreams.size()
          ? ctx_.config->upstreams[link_upstream_].topology.get()
          : nullptr;
  const bool hold = !link_local_.empty() || link_swallow_ > 0 || topology != nullptr;
  link_buf_.append(bytes);
  if (!hold) {
    host_.output().append(bytes);
    link_emitted_ = link_buf_.size();
  }
  // Count complete replies so the session can leave pinned mode once its state has ended.
  std::size_t consumed = 0;
  while (consumed < link_buf_.size()) {
    resp::FramedReply reply;
    const resp::errc e = link_framer_.feed(std::string_view(link_buf_).substr(consumed), reply);
    if (e != resp::errc::ok) {
      if (e != resp::errc::need_more) {
        // Cannot follow the stream: pass it on unchanged and stay pinned until the client
        // leaves. Local replies still waiting are lost with the reply count.
        link_state_.stick();
        host_.output().append(
            std::string_view(link_buf_).substr(std::max(consumed, link_emitted_)));
        link_local_.clear();
        link_buf_.clear();
        link_emitted_ = 0;
        consumed = 0;
      }
      break;
    }
    if (hold && link_swallow_ > 0) {
      --link_swallow_;  // a reply to a command seawall sent on the client's behalf
      note_swallowed_reply(std::string_view(link_buf_).substr(consumed, reply.length));
    } else if (hold) {
      const std::string_view whole = std::string_view(link_buf_).substr(consumed, reply.length);
      thread_local std::string retry;
      if (reply.type == '-' && topology != nullptr && link_emitted_ <= consumed &&
          ClusterRedirects::pinned_retry(whole, *topology, retry)) {
        host_.output().append(retry);
      } else if (reply.type != '-' || !replace_local(whole)) {
        // A reply that began streaming before the hold keeps its bytes already sent.
        const std::size_t sent = link_emitted_ > consumed ? link_emitted_ - consumed : 0;
        host_.output().append(whole.substr(std::min(sent, whole.size())));
      }
    }
    if (reply.type == '*' || reply.type == '>') {
      host_.note_subscription_reply(std::string_view(link_buf_).substr(consumed, reply.length));
    }
    consumed += reply.length;
    if (link_outstanding_ > 0) {
      --link_outstanding_;
    }
    on_link_reply_counted(
        std::string_view(link_buf_).substr(consumed - reply.length, reply.length));
    if (!pending_users_.empty()) {
      note_auth_reply(std::string_view(link_buf_).substr(consumed - reply.length, reply.length));
    }
  }
  link_buf_.erase(0, consumed);
  link_emitted_ = link_emitted_ > consumed ? link_emitted_ - consumed : 0;
  if (hold && link_local_.empty() && link_swallow_ == 0 &&
      (topology == nullptr || link_buf_.empty() || link_buf_[0] != '-')) {
    // Nothing left to swap (an error of a cluster shard may be a redirect: it waits whole): the
    // incomplete reply streams again.
    host_.output().append(std::string_view(link_buf_).substr(link_emitted_));
    link_emitted_ = link_buf_.size();
  }
  if (host_.output_bytes() > ctx_.config->limits.client_output_buffer) {
    host_.close();
    return;
  }
  host_.write_or_wake();
  maybe_unpin();
  host_.maybe_resume();
}

void PinnedLink::on_link_closed() {
  // Redis closed the dedicated connection (QUIT, CLIENT KILL, restart): the client is told the
  // same way, so client libraries reconnect and resubscribe.
  if (link_ && journalable_exec_ != 0 && exec_answerable(journalable_exec_)) {
    // Only a transaction of plain SETs was in flight: journaled, the session goes on unpinned.
    journal_unanswered_exec(false);
    if (!link_) {
      return;
    }
  }
  if (link_) {
    host_.record().set_upstream_id(0);
    flush_link_invalidations();
    link_.reset();
    ctx_.shared->pinned.fetch_sub(1, std::memory_order_relaxed);
  }
  host_.begin_drain();
  // After a relayed QUIT reading has already stopped (begin_drain does nothing then): the
  // writer must still look again, flush the last replies and close.
  host_.notify_writer();
}

void PinnedLink::note_swallowed_reply(std::string_view reply) {
  if (!link_id_wanted_) {
    return;
  }
  link_id_wanted_ = false;
  if (reply.size() > 3 && reply[0] == ':') {
    std::uint64_t id = 0;
    const auto [end, ec] = std::from_chars(reply.data() + 1, reply.data() + reply.size() - 2, id);
    if (ec == std::errc()) {
      host_.record().set_upstream_id(id);
    }
  }
}

bool PinnedLink::redirect_translated(const command::CommandInfo* info,
                                     std::span<const std::string_view> args) {
  if (info == nullptr || info->subcommands.empty()) {
    return false;
  }
  const command::CommandInfo* sub = command::resolve(info, args);
  if (sub == nullptr || command::rules(*sub).seawall != command::Seawall::Tracking) {
    return false;
  }
  for (std::size_t i = 3; i + 1 < args.size(); ++i) {
    if (!util::iequals(args[i], "redirect")) {
      continue;
    }
    std::uint64_t target = 0;
    const std::string_view id = args[i + 1];
    const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), target);
    // An id seawall never gave out goes to Redis as it is (Redis refuses one it does not know).
    const std::uint64_t upstream = ec == std::errc() && end == id.data() + id.size()
                                       ? ctx_.shared->registry.upstream_id_of(target)
                                       : 0;
    if (upstream == 0) {
      return false;
    }
    const std::string upstream_text = std::to_string(upstream);
    std::vector<std::string_view> rewritten(args.begin(), args.end());
    rewritten[i + 1] = upstream_text;
    host_.scratch().clear();
    resp::append_command(host_.scratch(), rewritten);
    return true;
  }
  return false;
}

}  // namespace seawall::proxy
