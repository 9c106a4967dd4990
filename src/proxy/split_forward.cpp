#include "seawall/proxy/split_forward.hpp"

#include <algorithm>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/cluster/slot_table.hpp"
#include "seawall/command/command_rules.hpp"
#include "seawall/policy/policy_table.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/upstream/cluster_topology.hpp"

namespace seawall::proxy {

namespace {
// A shard's SCAN reply when it has nothing (left) to return.
constexpr std::string_view kEmptyScan = "*2\r\n$1\r\n0\r\n*0\r\n";
}  // namespace

using command::CommandInfo;
using command::Merge;
using upstream::ReplyStatus;

bool SplitForward::forward(const CommandInfo& info, std::span<const std::string_view> args,
                           std::span<const std::uint32_t> keys) {
  const command::CommandRules& rules = command::rules(info);
  const Merge merge = rules.merge;
  const std::size_t step = rules.merge_step;
  if (merge == Merge::None) {
    return false;
  }
  std::uint64_t seq = 0;
  RequestSlot& slot = session_.push_request(seq);
  slot.info = &info;
  slot.merge = merge;
  slot.is_read = merge == Merge::Mget;
  slot.is_write = !slot.is_read;
  slot.copy_args(args);
  slot.keys.assign(keys.begin(), keys.end());
  slot.policy = &ctx_.snapshot->policies.match(args[1]);
  // MSET's values are what GET of its keys answers once every part was acknowledged, as after a
  // plain MSET.
  slot.fill = slot.is_write && cache_.writes_value(slot);

  // Grouped by upstream and, in a cluster, by slot (KeyRoute::part_key): part_upstream holds
  // part keys until they are turned back into upstreams below.
  thread_local std::vector<std::size_t> part_upstream;
  const std::optional<std::size_t> grouped = group_by_upstream(
      keys.size(),
      [&](std::size_t i) { return ctx_.snapshot->router.route_key(args[keys[i]]).part_key(); },
      slot.key_part, part_upstream);
  if (!grouped) {
    // More parts than a merge can hold (upstreams besides a cluster's every slot).
    session_.complete_request(seq, resp::replies::kCrossUpstream);
    return true;
  }
  for (std::size_t& up : part_upstream) {
    up = router::KeyRoute::upstream_of_part(up);
  }
  thread_local std::vector<std::vector<std::string_view>> requests;
  part_requests(slot.args, slot.keys, slot.key_part, step, part_upstream.size(), requests);
  send_parts(slot, seq, info, args, part_upstream,
             [&](std::size_t p) -> std::span<const std::string_view> { return requests[p]; });
  return true;
}

bool SplitForward::without_keys(const CommandInfo& info, std::span<const std::string_view> args) {
  const cluster::SlotTable* cluster =
      ctx_.snapshot->router.cluster_at(ctx_.snapshot->router.default_index());
  if (cluster == nullptr || !command::arity_ok(info, args.size())) {
    return false;  // Redis words an arity error
  }
  // SCRIPT LOAD and SCRIPT FLUSH fan out by their subcommand's row.
  const CommandInfo* resolved = info.subcommands.empty() ? &info : command::resolve(&info, args);
  const command::CommandRules& rules = command::rules_of(resolved);
  if (command::rules(info).cluster_only) {
    std::uint64_t seq = 0;
    session_.push_request(seq);
    session_.complete_request(seq, resp::replies::kClusterDisabled);
    return true;
  }
  if (rules.fanout == Merge::None) {
    return false;
  }
  fan_out(*resolved, args, cluster->shard_upstreams());
  return true;
}

bool SplitForward::spare(std::size_t up) const {
  return up < ctx_.config->upstreams.size() && upstream::spare_shard(ctx_.config->upstreams[up]);
}

void SplitForward::fan_out(const CommandInfo& info, std::span<const std::string_view> args,
                           std::span<const std::size_t> shards) {
  const Merge merge = command::rules(info).fanout;
  // RANDOMKEY's shards from a random one on; SCRIPT LOAD's all answer the same digest.
  const bool random_start =
      merge == Merge::FirstNonNil && info.name.find('|') == std::string_view::npos;
  std::uint64_t seq = 0;
  RequestSlot& slot = session_.push_request(seq);
  slot.info = &info;
  slot.merge = merge;
  slot.copy_args(args);
  slot.keys.clear();
  slot.key_part.clear();
  // FLUSHALL, FLUSHDB: writes, so that an open breaker answers them as writes and every L1 copy
  // goes (CacheEffects). Reads of no key are never cached or answered from the L1.
  slot.is_write = flushes_everything(info);
  slot.policy = &ctx_.snapshot->policies.fallback();
  thread_local std::vector<std::size_t> part_upstream;
  thread_local std::vector<std::string_view> request;
  thread_local std::string cursor;
  request.assign(slot.args.begin(), slot.args.end());
  part_upstream.clear();
  if (merge == Merge::Scan) {
    const std::optional<ShardCursor> at =
        args.size() >= 2 ? shard_cursor(args[1], shards.size()) : std::nullopt;
    if (!at) {
      session_.complete_request(seq, resp::replies::kInvalidCursor);
      return;
    }
    slot.scan_shard = static_cast<std::uint16_t>(at->shard);
    slot.scan_shards = static_cast<std::uint16_t>(shards.size());
    if (spare(shards[at->shard])) {
      // A spare shard holds no key: an empty batch, and the cursor of the next shard's start.
      std::string& out = session_.scratch_buffer();
      out.clear();
      scan_reply(kEmptyScan, at->shard, shards.size(), out);
      session_.complete_request(seq, out);
      return;
    }
    cursor = std::to_string(at->cursor);
    request[1] = cursor;
    part_upstream.push_back(shards[at->shard]);
  } else if (random_start) {
    // From a random shard on, so that RANDOMKEY does not favour the first shard's keys.
    thread_local std::minstd_rand random{std::random_device{}()};
    const std::size_t first = random() % shards.size();
    for (std::size_t i = 0; i < shards.size(); ++i) {
      if (!spare(shards[(first + i) % shards.size()])) {
        part_upstream.push_back(shards[(first + i) % shards.size()]);
      }
    }
  } else {
    std::copy_if(shards.begin(), shards.end(), std::back_inserter(part_upstream),
                 [&](std::size_t up) { return !spare(up); });
  }
  send_parts(slot, seq, info, args, part_upstream,
             [&](std::size_t) -> std::span<const std::string_view> { return request; });
}

template <class PartOf>
void SplitForward::send_parts(RequestSlot& slot, std::uint64_t seq, const CommandInfo& info,
                              std::span<const std::string_view> args,
                              std::span<const std::size_t> part_upstream, PartOf&& part) {
  SharedState& shared = *ctx_.shared;
  const std::size_t parts = part_upstream.size();
  const auto now = session_.last_activity();
  // A write of keys (MSET, DEL ...) whose policy journals: the parts of unavailable upstreams
  // are journaled there, each as a command of its own, and the others sent (one dead shard is
  // one dead shard). Anything else needs every part's upstream, or takes the fallback whole.
  const bool journals = slot.is_write && !slot.keys.empty() &&
                        slot.policy->writes_when_open != policy::WritesWhenOpen::Reject;
  thread_local std::vector<breaker::Permit> permits;
  thread_local std::vector<breaker::CircuitBreaker*> issuers;
  // An MGET's part may go to its shard's replica (read_from: prefer_replica).
  thread_local std::vector<std::size_t> send_to;
  permits.assign(parts, breaker::Permit{});
  issuers.assign(parts, nullptr);
  send_to.assign(part_upstream.begin(), part_upstream.end());
  std::size_t unavailable = 0;
  for (std::size_t p = 0; p < parts; ++p) {
    if (slot.is_read) {
      send_to[p] = session_.read_upstream(slot, part_upstream[p]);
    }
    upstream::UpstreamState& state = *shared.upstreams[send_to[p]];
    issuers[p] = &state.breaker();
    if (state.ready()) {
      permits[p] = issuers[p]->try_acquire(now);
    }
    if (!permits[p].allowed()) {
      ++unavailable;
      if (!journals) {
        break;
      }
    }
  }
  slot.upstream = static_cast<std::uint32_t>(part_upstream[0]);
  if (unavailable > 0 && !journals) {
    for (std::size_t p = 0; p < parts; ++p) {
      if (permits[p].allowed()) {
        issuers[p]->record(permits[p], breaker::Outcome::Ignored, {}, now);
      }
    }
    degraded_.answer_without_upstream(slot, seq);
    return;
  }
  if (slot.is_write) {
    cache_.withhold_keys(slot);
    // Ordered after every other sender's write of its keys (Session::write_must_wait waited
    // for them), and later ones wait for it: its values are then what Redis holds.
    slot.mark_writes(shared.writes_in_flight, WritesInFlight::owner_of(&session_));
  }
  if (slot.fill) {
    slot.ticket = shared.cache.begin_read();  // after the invalidation, before the send
  }
  slot.parts.resize(parts);
  slot.part_runs.assign(parts, RequestSlot::PartRun::Ran);
  slot.parts_pending = static_cast<std::uint32_t>(parts - unavailable);
  for (std::size_t p = 0; p < parts && unavailable > 0; ++p) {
    if (!permits[p].allowed()) {
      journal_part(slot, part(p), part_upstream[p], p);
    }
  }
  if (slot.parts_pending == 0) {
    complete(slot, seq);
    return;
  }
  for (std::size_t p = 0; p < parts; ++p) {
    if (permits[p].allowed()) {
      const SentTo to = send_to[p] == part_upstream[p] ? SentTo::Master : SentTo::Replica;
      session_.send_part(info, args, send_to[p], make_token(seq, static_cast<std::uint32_t>(p), to),
                         part(p), permits[p], *issuers[p], now);
    }
  }
}

void SplitForward::journal_part(RequestSlot& slot, std::span<const std::string_view> request,
                                std::size_t up, std::size_t part) {
  // The part as a write of its own, answered as one whose upstream is unavailable: journaled
  // (its acknowledgement is the part's reply) or refused (the part failed).
  thread_local RequestSlot alone;
  alone.reset();
  alone.info = slot.info;
  alone.is_write = true;
  alone.upstream = static_cast<std::uint32_t>(up);
  alone.copy_args(request);
  const std::size_t step = command::rules(*slot.info).merge_step;
  alone.keys.clear();
  for (std::size_t k = 1; k < alone.args.size(); k += step) {
    alone.keys.push_back(static_cast<std::uint32_t>(k));
  }
  alone.policy = &ctx_.snapshot->policies.match(alone.args[1]);
  const std::string_view reply = degraded_.answer(alone);
  // Journaled, it runs at the replay; refused, it never reached Redis.
  slot.part_runs[part] = !reply.empty() && reply[0] == '-' ? RequestSlot::PartRun::Unrun
                                                           : RequestSlot::PartRun::Journaled;
  if (!reply.empty() && reply[0] == '-') {
    if (!slot.part_failed) {
      slot.part_failed = true;
      slot.data.assign(reply);
    }
  } else {
    slot.parts[part].assign(reply);
  }
}

void SplitForward::on_part_reply(RequestSlot& slot, std::uint64_t seq, std::uint32_t part,
                                 ReplyStatus status, std::string_view bytes) {
  const bool answered = status == ReplyStatus::Ok || status == ReplyStatus::FailedReply;
  if (answered && breaker::refused_unrun(bytes)) {
    slot.part_runs[part] = RequestSlot::PartRun::Unrun;
  }
  if (status != ReplyStatus::Ok || bytes[0] == '-') {
    if (!slot.part_failed) {
      slot.part_failed = true;
      slot.data.assign(status == ReplyStatus::Ok || status == ReplyStatus::FailedReply
                           ? bytes
                           : std::string_view{});
    }
  } else {
    slot.parts[part].assign(bytes);
  }
  if (--slot.parts_pending == 0) {
    complete(slot, seq);
  }
}

void SplitForward::settle_write(RequestSlot& slot) {
  // A part that ran (or may have) drops its keys' copies again, as a plain write's reply does;
  // a journaled part's keys keep what the journal left; a part Redis refused unrun gets its
  // keys' copies back. The restore comes after the drops, so theirs are refused as raced.
  if (slot.info == nullptr || flushes_everything(*slot.info)) {
    cache_.invalidate_keys(slot);
    return;
  }
  bool unrun = false;
  for (std::size_t i = 0; i < slot.keys.size() && i < slot.key_part.size(); ++i) {
    switch (slot.part_runs[slot.key_part[i]]) {
      case RequestSlot::PartRun::Ran:
        ctx_.shared->cache.invalidate_key(slot.args[slot.keys[i]]);
        break;
      case RequestSlot::PartRun::Unrun:
        unrun = true;
        break;
      case RequestSlot::PartRun::Journaled:
        break;
    }
  }
  if (unrun) {
    ctx_.shared->cache.restore(slot.ticket, slot.withheld);
  }
  slot.withheld.clear();
}

void SplitForward::complete(RequestSlot& slot, std::uint64_t seq) {
  if (slot.is_write && slot.fill && !slot.part_failed) {
    cache_.fill_written(slot, std::chrono::steady_clock::now());
  } else if (slot.is_write) {
    settle_write(slot);
  }
  slot.release_writes(ctx_.shared->writes_in_flight);
  std::string& scratch = session_.scratch_buffer();
  scratch.clear();
  if (slot.part_failed) {
    upstream::UpstreamState& state = *ctx_.shared->upstreams[slot.upstream];
    if (slot.merge == Merge::Mget) {
      degraded_.read(slot, scratch);
    } else {
      const std::string_view unknown =
          slot.is_write ? state.write_unknown_error() : state.no_fallback_error();
      scratch.assign(slot.data.empty() ? unknown : std::string_view(slot.data));
    }
    session_.complete_request(seq, scratch);
    return;
  }
  ctx_.shared->fallback.counters().count(policy::Source::Upstream);
  if (slot.merge != Merge::Scan) {
    merge_parts(slot.merge, slot.parts, slot.key_part, session_.reply_protocol(), scratch);
  } else if (!scan_reply(slot.parts[0], slot.scan_shard, slot.scan_shards, scratch)) {
    scratch.assign(slot.parts[0]);  // not what SCAN answers: Redis's words as they are
  }
  session_.complete_request(seq, scratch);
}

}  // namespace seawall::proxy
