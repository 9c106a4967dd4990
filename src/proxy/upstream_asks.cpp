#include "seawall/proxy/upstream_asks.hpp"

#include <array>
#include <charconv>
#include <memory>

#include "seawall/cluster/slot_table.hpp"
#include "seawall/command/command_rules.hpp"
#include "seawall/command/sent.hpp"
#include "seawall/proxy/info_keyspace.hpp"
#include "seawall/proxy/introspection.hpp"
#include "seawall/proxy/upstream_ask.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/upstream/cluster_topology.hpp"

namespace seawall::proxy {

namespace {
// Redis releases the clients of a pause that ran out at one of its periodic checks, not at the end
// itself: a request held only to the end timed out on a loaded machine (request_timeout 100ms).
constexpr std::chrono::milliseconds kPauseRelease{250};

}  // namespace

command::Seawall UpstreamAsks::asked(const command::CommandInfo* info,
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
      host_.multi_deferred() || host_.pinned_in_multi()) {
    return command::Seawall::None;  // Redis words the error, or queues it for EXEC
  }
  if (what == command::Seawall::Info) {
    // A RESP2 subscriber gets Redis's refusal.
    const bool subscribed = presence_.subscribed();
    if (ctx_.config->introspection.info != InfoMode::Merged ||
        (host_.pinned() && subscribed && presence_.record().protocol() == resp::Protocol::Resp2)) {
      return command::Seawall::None;
    }
  }
  return what;
}

awaitable<void> UpstreamAsks::ask(command::Seawall what, const command::CommandInfo* info,
                                  std::span<const std::string_view> args) const {
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
  const router::Router& router = ctx_.snapshot->router;
  const std::size_t up = router.default_index();
  upstream::UpstreamState& state = *ctx_.shared->upstreams[up];
  const auto sent = std::chrono::steady_clock::now();
  // INFO in front of a cluster: every other shard's too, for the keyspace (info_keyspace.hpp).
  std::vector<std::shared_ptr<UpstreamAsk>> shard_asks;
  if (const cluster::SlotTable* cluster = router.cluster_at(up);
      cluster != nullptr && what == command::Seawall::Info) {
    for (const std::size_t shard : cluster->shard_upstreams()) {
      if (shard != up && ctx_.shared->upstreams[shard]->available(sent) &&
          !upstream::spare_shard(ctx_.config->upstreams[shard])) {
        shard_asks.push_back(UpstreamAsk::send(host_.client_socket().get_executor(),
                                               ctx_.pools[shard]->pick(presence_.record().id()),
                                               args, sent));
      }
    }
  }
  if (state.available(sent)) {
    ask = UpstreamAsk::send(host_.client_socket().get_executor(),
                            ctx_.pools[up]->pick(presence_.record().id()), args, sent);
    co_await ask->wait();
  }
  for (const auto& shard_ask : shard_asks) {
    co_await shard_ask->wait();
  }
  if (host_.closed()) {
    co_return;
  }
  const std::optional<std::string>* reply = ask ? &ask->reply() : nullptr;
  const bool answered = reply != nullptr && reply->has_value();
  std::string out;
  if (what == command::Seawall::Info) {
    const introspection::InfoData data = presence_.info_data();
    std::optional<std::string_view> body =
        answered ? introspection::text_reply_body(**reply) : std::nullopt;
    std::string summed;
    if (body && !shard_asks.empty()) {
      std::vector<std::string_view> texts{*body};
      for (const auto& shard_ask : shard_asks) {
        const auto& shard_reply = shard_ask->reply();
        if (const auto text =
                shard_reply ? introspection::text_reply_body(*shard_reply) : std::nullopt) {
          texts.push_back(*text);
        }
      }
      summed = sum_keyspaces(texts);
      body = summed;
    }
    if (body) {
      introspection::append_text_reply(out, introspection::merge_info(*body, data, sections),
                                       presence_.record().protocol());
    } else if (answered) {
      out = **reply;  // Redis refused it: its own error, as direct
    } else {
      // Redis cannot answer: seawall's own sections.
      introspection::append_text_reply(out, introspection::render_info(data, sections),
                                       presence_.record().protocol());
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
  host_.answer_locally(out);
}

awaitable<std::vector<std::string>> UpstreamAsks::users_redis_knows(
    std::vector<std::string> users) const {
  std::vector<std::string> known;
  for (std::string& user : users) {
    // Looked up again after each wait: a reload may have replaced the snapshot and the pools.
    const std::size_t up = ctx_.snapshot->router.default_index();
    const auto sent = std::chrono::steady_clock::now();
    if (host_.closed() || !ctx_.shared->upstreams[up]->available(sent)) {
      break;
    }
    const std::array<std::string_view, 3> args{command::sent::kAcl, command::sent::kGetUser, user};
    const std::shared_ptr<UpstreamAsk> ask =
        UpstreamAsk::send(host_.client_socket().get_executor(),
                          ctx_.pools[up]->pick(presence_.record().id()), args, sent);
    co_await ask->wait();
    // The user's flags and rules (an array, a map in RESP3); a null when there is no such user.
    const std::optional<std::string>& reply = ask->reply();
    const bool has_user = reply && reply->size() > 1 &&
                          ((*reply)[0] == '*' || (*reply)[0] == '%') && (*reply)[1] != '-';
    if (!has_user) {
      break;
    }
    known.push_back(std::move(user));
  }
  co_return known;
}

}  // namespace seawall::proxy
