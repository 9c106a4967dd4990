#include "seawall/policy/fallback.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "seawall/command/command_rules.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/util/ascii.hpp"

namespace seawall::policy {
namespace {

using util::iequals;

bool any_option(std::span<const std::string_view> args, std::size_t from,
                std::span<const std::string_view> options) {
  for (std::size_t i = from; i < args.size(); ++i) {
    for (std::string_view o : options) {
      if (iequals(args[i], o)) {
        return true;
      }
    }
  }
  return false;
}

// LPOS ... COUNT n.
constexpr std::array<std::string_view, 1> kCountOption{"count"};

std::string integer_reply(std::int64_t n) {
  std::string out;
  resp::append_integer(out, n);
  return out;
}

}  // namespace

std::string_view to_string(Source source) {
  switch (source) {
    case Source::Upstream:
      return "upstream";
    case Source::Journal:
      return "journal";
    case Source::L1Fresh:
      return "l1_fresh";
    case Source::L1Stale:
      return "l1_stale";
    case Source::L1Evicted:
      return "l1_evicted";
    case Source::L1Near:
      return "l1_near";
    case Source::Default:
      return "default";
    case Source::Miss:
      return "miss";
    case Source::Error:
      return "error";
  }
  return "unknown";
}

std::string miss_reply(const command::CommandInfo& info, std::span<const std::string_view> args) {
  using command::MissReply;
  const MissReply kind = command::rules(info).miss;
  std::size_t count = 0;
  std::string_view each;
  switch (kind) {
    case MissReply::Nil:
      return "$-1\r\n";
    case MissReply::Zero:
      return ":0\r\n";
    case MissReply::EmptyString:
      return "$0\r\n\r\n";
    case MissReply::TypeNone:
      return "+none\r\n";
    case MissReply::EmptyArray:
      return "*0\r\n";
    case MissReply::EmptyArrayIfCount:
      // LPOS without COUNT answers nil; with COUNT an array.
      return any_option(args, 3, kCountOption) ? "*0\r\n" : "$-1\r\n";
    case MissReply::NilPerKey:
      count = args.size() - 1;
      each = "$-1\r\n";
      break;
    case MissReply::NilPerField:
      count = args.size() >= 2 ? args.size() - 2 : 0;
      each = "$-1\r\n";
      break;
    case MissReply::NilArrayPerField:
      count = args.size() >= 2 ? args.size() - 2 : 0;
      each = "*-1\r\n";
      break;
    case MissReply::ZeroPerField:
      count = args.size() >= 2 ? args.size() - 2 : 0;
      each = ":0\r\n";
      break;
  }
  std::string out;
  resp::append_array_header(out, count);
  for (std::size_t i = 0; i < count; ++i) {
    out.append(each);
  }
  return out;
}

std::optional<std::string> acknowledgement(const command::CommandInfo& info,
                                           std::span<const std::string_view> args) {
  using command::Ack;
  const auto n = static_cast<std::int64_t>(args.size());
  switch (command::rules(info).ack) {
    case Ack::None:
      return std::nullopt;
    case Ack::Ok:
      return "+OK\r\n";
    case Ack::OkWithoutOptions:
      // NX/XX may not set, GET returns the old value: both depend on data.
      if (any_option(args, 3, command::kSetDataOptions)) {
        return std::nullopt;
      }
      return "+OK\r\n";
    case Ack::CountKeys:
      return integer_reply(n - 1);
    case Ack::CountFieldPairs:
      return integer_reply((n - 2) / 2);
    case Ack::CountMembers:
      return integer_reply(n - 2);
    case Ack::CountPairsWithoutFlags:
      if (any_option(args, 2, command::kZaddDataOptions)) {
        return std::nullopt;
      }
      return integer_reply((n - 2) / 2);
    case Ack::OneWithoutFlags:
      if (args.size() > 3) {
        return std::nullopt;  // NX/XX/GT/LT depend on the current TTL
      }
      return ":1\r\n";
    case Ack::One:
      return ":1\r\n";
  }
  return std::nullopt;
}

void make_resp3_cache_key(std::string& key) { key.insert(0, kResp3KeyPrefix); }

void make_get_cache_key(std::string_view key, bool resp3, std::string& out) {
  cache::make_cache_key(command::get_request(key), out);
  if (resp3) {
    make_resp3_cache_key(out);
  }
}

std::string_view resp2_key_of(std::string_view cache_key) {
  if (cache_key.substr(0, kResp3KeyPrefix.size()) == kResp3KeyPrefix) {
    cache_key.remove_prefix(kResp3KeyPrefix.size());
  }
  return cache_key;
}

cache::LookupResult Fallback::lookup(std::string_view cache_key,
                                     std::chrono::steady_clock::time_point now,
                                     resp::Protocol protocol, std::string& out,
                                     const CopyTrust& trust, bool near) {
  thread_local std::string reply;
  const auto trusted = [&](cache::LookupResult found) {
    if (!near || !trust.tracked || found.freshness == cache::Freshness::Miss) {
      return found;
    }
    if (!trust.live) {
      found.freshness = cache::Freshness::Stale;  // unverified since the link dropped
    } else if (found.filled == 0 || found.filled < trust.epoch) {
      found = cache::LookupResult{};  // Redis is reachable: an unverified copy may be older
    }
    return found;
  };
  cache::LookupResult found = trusted(cache_.lookup(cache_key, now, reply));
  if (found.freshness != cache::Freshness::Miss) {
    out.append(reply);
    return found;
  }
  const std::string_view resp2 = resp2_key_of(cache_key);
  if (protocol != resp::Protocol::Resp3 || resp2.size() == cache_key.size()) {
    return found;
  }
  found = trusted(cache_.lookup(resp2, now, reply));
  if (found.freshness != cache::Freshness::Miss && !resp::append_as_resp3(out, reply)) {
    found = cache::LookupResult{};
  }
  return found;
}

void Fallback::set_fallthrough(std::uint32_t per_second, std::uint32_t burst) {
  std::lock_guard lock(buckets_mutex_);
  buckets_.push_back(std::make_unique<TokenBucket>(per_second, burst));
  fallthrough_.store(buckets_.back().get(), std::memory_order_release);
}

bool Fallback::take_fallthrough(std::chrono::steady_clock::time_point now) {
  if (fallthrough_.load(std::memory_order_acquire)->try_take(now)) {
    return true;
  }
  counters_.fallthrough_denied.fetch_add(1, std::memory_order_relaxed);
  return false;
}

Source Fallback::answer_read(const command::CommandInfo& info,
                             std::span<const std::string_view> args, std::string_view cache_key,
                             const Policy& policy, const PolicyTable& policies,
                             std::chrono::steady_clock::time_point now,
                             std::string_view unavailable_error, std::string& out,
                             resp::Protocol protocol, KeyOverlay* overlay, const CopyTrust& trust) {
  const bool resp3 = protocol == resp::Protocol::Resp3;
  // Appends a RESP2 answer in the session's protocol.
  const auto append = [&out, resp3](std::string_view reply) {
    if (!resp3 || !resp::append_as_resp3(out, reply)) {
      out.append(reply);
    }
  };
  Source source = Source::Error;
  const command::CommandRules& rules = command::rules(info);
  if (rules.merge == command::Merge::Mget) {
    source = answer_mget(args, policies, now, unavailable_error, out, protocol, overlay, trust);
  } else {
    source = copy_or_default(policy, cache_key, now, protocol, out, trust);
    if (source == Source::Miss) {
      if (policy.on_unavailable == OnUnavailable::Miss && take_fallthrough(now)) {
        if (resp3 && rules.resp3_empty == command::Resp3Empty::Map) {
          out.append("%0\r\n");  // RESP3 types these replies as a map or a set
        } else if (resp3 && rules.resp3_empty == command::Resp3Empty::Set) {
          out.append("~0\r\n");
        } else {
          append(miss_reply(info, args));
        }
      } else {
        out.append(unavailable_error);
        source = Source::Error;
      }
    }
  }
  counters_.count(source);
  return source;
}

Source Fallback::copy_or_default(const Policy& policy, std::string_view cache_key,
                                 std::chrono::steady_clock::time_point now, resp::Protocol protocol,
                                 std::string& out, const CopyTrust& trust) {
  if (policy.l1.enabled && !cache_key.empty()) {
    const cache::LookupResult found =
        lookup(cache_key, now, protocol, out, trust, policy.l1.near());
    if (found.freshness != cache::Freshness::Miss) {
      return found.freshness == cache::Freshness::Fresh ? Source::L1Fresh : Source::L1Stale;
    }
  }
  if (policy.degraded_default) {
    if (protocol != resp::Protocol::Resp3 ||
        !resp::append_as_resp3(out, *policy.degraded_default)) {
      out.append(*policy.degraded_default);
    }
    return Source::Default;
  }
  return Source::Miss;
}

Source Fallback::answer_mget(std::span<const std::string_view> args, const PolicyTable& policies,
                             std::chrono::steady_clock::time_point now,
                             std::string_view unavailable_error, std::string& out,
                             resp::Protocol protocol, KeyOverlay* overlay, const CopyTrust& trust) {
  // Each key is answered like a GET of that key; the worst source names the whole answer.
  // Thread-local, not members: one Fallback serves every worker thread.
  thread_local std::string elements;
  thread_local std::string key;
  thread_local std::string overlaid;
  const bool resp3 = protocol == resp::Protocol::Resp3;
  elements.clear();
  Source worst = Source::Journal;
  bool needs_fallthrough = false;
  bool error = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const Policy& policy = policies.match(args[i]);
    if (overlay != nullptr) {
      overlaid.clear();
      const KeyOverlay::Result r = overlay->get(args[i], overlaid);
      if (r == KeyOverlay::Result::Answered) {
        if (!resp3 || !resp::append_as_resp3(elements, overlaid)) {
          elements.append(overlaid);
        }
        continue;  // Source::Journal, the best
      }
      if (r == KeyOverlay::Result::Unknown &&
          policy.writes_when_open != WritesWhenOpen::Invalidate) {
        error = true;
        break;
      }
    }
    key.clear();
    if (policy.l1.enabled) {
      make_get_cache_key(args[i], resp3, key);
    }
    Source s = copy_or_default(policy, key, now, protocol, elements, trust);
    if (s == Source::Miss) {
      if (policy.on_unavailable == OnUnavailable::Miss) {
        elements.append(resp3 ? "_\r\n" : "$-1\r\n");
        needs_fallthrough = true;
      } else {
        error = true;
        s = Source::Error;
      }
    }
    worst = std::max(worst, s);
  }
  if (error || (needs_fallthrough && !take_fallthrough(now))) {
    out.append(unavailable_error);
    return Source::Error;
  }
  resp::append_array_header(out, args.size() - 1);
  out.append(elements);
  return worst;
}

}  // namespace seawall::policy
