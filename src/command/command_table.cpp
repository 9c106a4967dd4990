#include "seawall/command/command_table.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <system_error>

#include "seawall/util/ascii.hpp"

namespace seawall::command {
namespace {

#include "command_table_data.inc"

using util::iequals;
constexpr char to_lower(char c) { return util::ascii_lower(c); }

// FNV-1a: cheap, and the same function runs at compile time (index) and per lookup.
constexpr std::uint32_t kFnvOffset = 2166136261u;
constexpr std::uint32_t kFnvPrime = 16777619u;

constexpr std::uint32_t hash_step(std::uint32_t h, char c) {
  return (h ^ static_cast<unsigned char>(c)) * kFnvPrime;
}

constexpr std::uint32_t hash_name(std::string_view lower) {
  std::uint32_t h = kFnvOffset;
  for (char c : lower) {
    h = hash_step(h, c);
  }
  return h;
}

// Open addressing with linear probing over indexes into kCommands, built at compile time. At
// most half full, so a miss ends at an empty slot after a probe or two.
constexpr std::size_t kIndexSize = 512;
constexpr std::size_t kIndexMask = kIndexSize - 1;
constexpr std::uint16_t kEmptySlot = 0xFFFF;
static_assert(std::size(kCommands) * 2 <= kIndexSize, "grow kIndexSize");

using Index = std::array<std::uint16_t, kIndexSize>;

constexpr Index build_index() {
  Index index{};
  index.fill(kEmptySlot);
  for (std::size_t i = 0; i < std::size(kCommands); ++i) {
    std::size_t slot = hash_name(kCommands[i].name) & kIndexMask;
    while (index[slot] != kEmptySlot) {
      slot = (slot + 1) & kIndexMask;
    }
    index[slot] = static_cast<std::uint16_t>(i);
  }
  return index;
}

constexpr Index kIndex = build_index();

void push(std::vector<std::uint32_t>& out, std::size_t i) {
  out.push_back(static_cast<std::uint32_t>(i));
}

// The legacy first/last/step range; a negative last counts from the end. Clamped to argc.
void add_range(const CommandInfo& info, std::size_t argc, std::vector<std::uint32_t>& out) {
  if (info.first_key <= 0 || info.step <= 0) {
    return;
  }
  const auto first = static_cast<std::size_t>(info.first_key);
  const auto step = static_cast<std::size_t>(info.step);
  std::size_t end = 0;  // one past the last key
  if (info.last_key >= 0) {
    end = std::min(argc, static_cast<std::size_t>(info.last_key) + 1);
  } else {
    const auto from_end = static_cast<std::size_t>(-static_cast<std::int64_t>(info.last_key));
    if (argc < from_end) {
      return;
    }
    end = argc - from_end + 1;
  }
  for (std::size_t i = first; i < end; i += step) {
    push(out, i);
  }
}

// numkeys at `at`, then that many keys; a count larger than what follows yields what follows.
void add_numkeys(std::span<const std::string_view> args, std::size_t at,
                 std::vector<std::uint32_t>& out) {
  if (args.size() <= at) {
    return;
  }
  const std::string_view text = args[at];
  std::uint64_t count = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (text.empty() || end != text.data() + text.size()) {
    return;  // not a number (a sign, spaces or junk): Redis finds no keys either
  }
  if (ec == std::errc::result_out_of_range) {
    count = std::numeric_limits<std::uint64_t>::max();
  } else if (ec != std::errc{}) {
    return;
  }
  const std::size_t available = args.size() - at - 1;
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(count, available));
  for (std::size_t i = at + 1; i < at + 1 + n; ++i) {
    push(out, i);
  }
}

// XREAD [COUNT n] [BLOCK ms] STREAMS k... id...; XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK]
// STREAMS k... id.... Options are skipped by shape so a group or consumer named "streams" is
// not mistaken for the keyword. An unknown option or an odd tail yields no keys, as in Redis.
void add_streams(std::span<const std::string_view> args, std::vector<std::uint32_t>& out) {
  const std::size_t argc = args.size();
  std::size_t i = 1;
  while (i < argc) {
    const std::string_view a = args[i];
    if (iequals(a, "streams")) {
      const std::size_t rest = argc - i - 1;
      if (rest == 0 || rest % 2 != 0) {
        return;
      }
      for (std::size_t k = i + 1; k < i + 1 + rest / 2; ++k) {
        push(out, k);
      }
      return;
    }
    if (iequals(a, "count") || iequals(a, "block")) {
      i += 2;
    } else if (iequals(a, "group")) {
      i += 3;
    } else if (iequals(a, "noack")) {
      i += 1;
    } else {
      return;
    }
  }
}

// SORT key [BY p] [LIMIT o c] [GET p ...] [ASC|DESC] [ALPHA] [STORE dst]: the last STORE wins.
void add_sort_store(std::span<const std::string_view> args, std::vector<std::uint32_t>& out) {
  const std::size_t argc = args.size();
  std::size_t store = 0;
  for (std::size_t i = 2; i < argc; ++i) {
    const std::string_view a = args[i];
    if (iequals(a, "limit")) {
      i += 2;
    } else if (iequals(a, "by") || iequals(a, "get")) {
      i += 1;
    } else if (iequals(a, "store") && i + 1 < argc) {
      store = i + 1;
      i += 1;
    }
  }
  if (store != 0) {
    push(out, store);
  }
}

// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS k...]:
// KEYS counts only when the key argument is empty; AUTH arguments are skipped, so a password
// spelled "keys" is not the keyword.
void add_migrate(std::span<const std::string_view> args, std::vector<std::uint32_t>& out) {
  const std::size_t argc = args.size();
  constexpr std::size_t kKeyArg = 3;
  if (argc <= kKeyArg) {
    return;
  }
  if (args[kKeyArg].empty()) {
    for (std::size_t i = 6; i < argc; ++i) {
      const std::string_view a = args[i];
      if (iequals(a, "keys")) {
        for (std::size_t k = i + 1; k < argc; ++k) {
          push(out, k);
        }
        return;
      }
      if (iequals(a, "auth")) {
        i += 1;
      } else if (iequals(a, "auth2")) {
        i += 2;
      }
    }
  }
  push(out, kKeyArg);
}

// GEORADIUS key lon lat radius unit ... / GEORADIUSBYMEMBER key member radius unit ...: options
// start at index 5 or 6; every STORE / STOREDIST destination is a key (as COMMAND GETKEYS says).
void add_georadius_store(std::span<const std::string_view> args, std::vector<std::uint32_t>& out) {
  const std::size_t argc = args.size();
  for (std::size_t i = 5; i + 1 < argc; ++i) {
    if (iequals(args[i], "store") || iequals(args[i], "storedist")) {
      push(out, i + 1);
      i += 1;
    }
  }
}

}  // namespace

std::string_view flag_name(Flag f) {
  switch (f) {
    case kWrite:
      return "write";
    case kReadonly:
      return "readonly";
    case kAdmin:
      return "admin";
    case kBlocking:
      return "blocking";
    case kPubsub:
      return "pubsub";
    case kTransaction:
      return "transaction";
    case kConnectionState:
      return "connection_state";
    case kNoKey:
      return "no_key";
    case kMovableKeys:
      return "movablekeys";
    case kFast:
      return "fast";
    case kDenyOom:
      return "denyoom";
    case kNoScript:
      return "noscript";
    case kLoading:
      return "loading";
    case kStale:
      return "stale";
    case kNoAuth:
      return "no_auth";
    case kMayReplicate:
      return "may_replicate";
    case kScripting:
      return "scripting";
    case kNonDeterministicOutput:
      return "nondeterministic_output";
    case kSkipMonitor:
      return "skip_monitor";
    case kSkipSlowlog:
      return "skip_slowlog";
    case kAsking:
      return "asking";
    case kNoMandatoryKeys:
      return "no_mandatory_keys";
    case kNoAsyncLoading:
      return "no_async_loading";
    case kNoMulti:
      return "no_multi";
    case kAllowBusy:
      return "allow_busy";
  }
  return {};
}

const CommandInfo* lookup(std::string_view name) {
  if (name.empty() || name.size() > kMaxCommandNameLength) {
    return nullptr;
  }
  std::array<char, kMaxCommandNameLength> lower;
  std::uint32_t h = kFnvOffset;
  for (std::size_t i = 0; i < name.size(); ++i) {
    lower[i] = to_lower(name[i]);
    h = hash_step(h, lower[i]);
  }
  const std::string_view key(lower.data(), name.size());
  for (std::size_t slot = h & kIndexMask;; slot = (slot + 1) & kIndexMask) {
    const std::uint16_t i = kIndex[slot];
    if (i == kEmptySlot) {
      return nullptr;
    }
    if (kCommands[i].name == key) {
      return &kCommands[i];
    }
  }
}

const CommandInfo* lookup_subcommand(const CommandInfo& parent, std::string_view sub) {
  if (parent.subcommands.empty() || sub.empty() || sub.size() > kMaxSubcommandNameLength) {
    return nullptr;
  }
  std::array<char, kMaxSubcommandNameLength> lower;
  std::transform(sub.begin(), sub.end(), lower.begin(), to_lower);
  const std::string_view key(lower.data(), sub.size());
  // Subcommands are sorted by full name, and they all share the "parent|" prefix.
  const std::size_t prefix = parent.name.size() + 1;
  const auto suffix = [prefix](const CommandInfo& c) { return c.name.substr(prefix); };
  const auto it = std::lower_bound(
      parent.subcommands.begin(), parent.subcommands.end(), key,
      [&suffix](const CommandInfo& c, std::string_view k) { return suffix(c) < k; });
  if (it == parent.subcommands.end() || suffix(*it) != key) {
    return nullptr;
  }
  return &*it;
}

const CommandInfo* resolve(std::span<const std::string_view> args) {
  return args.empty() ? nullptr : resolve(lookup(args[0]), args);
}

const CommandInfo* resolve(const CommandInfo* top, std::span<const std::string_view> args) {
  if (top == nullptr || top->subcommands.empty() || args.size() < 2) {
    return top;
  }
  return lookup_subcommand(*top, args[1]);
}

bool arity_ok(const CommandInfo& info, std::size_t argc) {
  if (info.arity >= 0) {
    return argc == static_cast<std::size_t>(info.arity);
  }
  return argc >= static_cast<std::size_t>(-static_cast<std::int64_t>(info.arity));
}

void key_indexes(const CommandInfo& info, std::span<const std::string_view> args,
                 std::vector<std::uint32_t>& out) {
  const CommandInfo* cmd = &info;
  if (!info.subcommands.empty()) {
    if (args.size() < 2) {
      return;
    }
    cmd = lookup_subcommand(info, args[1]);
    if (cmd == nullptr) {
      return;
    }
  }
  // Indexes are 32-bit; no real request comes near, but never wrap.
  if (args.size() > std::numeric_limits<std::uint32_t>::max()) {
    args = args.first(std::numeric_limits<std::uint32_t>::max());
  }
  switch (cmd->special) {
    case KeySpecial::None:
      add_range(*cmd, args.size(), out);
      break;
    case KeySpecial::NumkeysAt1:
      add_numkeys(args, 1, out);
      break;
    case KeySpecial::NumkeysAt2:
    case KeySpecial::NumkeysAt3Block:
      add_numkeys(args, 2, out);
      break;
    case KeySpecial::NumkeysAt2Dest:
      add_range(*cmd, args.size(), out);
      add_numkeys(args, 2, out);
      break;
    case KeySpecial::Streams:
      add_streams(args, out);
      break;
    case KeySpecial::Sort:
      add_range(*cmd, args.size(), out);
      add_sort_store(args, out);
      break;
    case KeySpecial::Migrate:
      add_migrate(args, out);
      break;
    case KeySpecial::GeoradiusStore:
      add_range(*cmd, args.size(), out);
      add_georadius_store(args, out);
      break;
  }
}

std::span<const CommandInfo> all_commands() { return kCommands; }

}  // namespace seawall::command
