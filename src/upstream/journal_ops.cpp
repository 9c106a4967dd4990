#include "upstream/journal_ops.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>

#include "seawall/command/command_rules.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/command/sent.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/util/ascii.hpp"

namespace seawall::upstream::detail {
namespace {

using Kind = JournalKeyState::Kind;
using Op = JournalPiece::Op;
using util::iequals;
namespace sent = command::sent;
// The writes the journal stores (policy::acknowledgement()'s set) and the reads it answers.
using CommandKind = command::Journaled;

// An integer as Redis reads one (string2ll): an optional '-', digits, no leading zero, no '+'.
std::optional<std::int64_t> parse_int(std::string_view s) {
  const std::size_t digits = !s.empty() && s[0] == '-' ? 1 : 0;
  if (s.size() == digits || (s[digits] == '0' && s.size() != 1)) {
    return std::nullopt;
  }
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::int64_t> times_1000(std::int64_t v) {
  std::int64_t out = 0;
  if (__builtin_mul_overflow(v, std::int64_t{1000}, &out)) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::int64_t> plus(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) {
    return std::nullopt;
  }
  return out;
}

// Builds the pieces of one append; their RESP text goes to `text`, one command after another.
class Splitter {
 public:
  Splitter(std::vector<JournalPiece>& pieces, std::string& text, std::int64_t wall_ms)
      : pieces_(pieces), text_(text), wall_ms_(wall_ms) {}

  // False when `args` is not a write the journal can store.
  bool split(std::span<const std::string_view> args, Journal::Mode mode) {
    const command::CommandInfo* info = args.empty() ? nullptr : command::lookup(args[0]);
    if (info == nullptr || !command::arity_ok(*info, args.size())) {
      return false;
    }
    if (mode == Journal::Mode::Invalidate) {
      std::vector<std::uint32_t> keys;
      command::key_indexes(*info, args, keys);
      for (std::uint32_t k : keys) {
        add({args[k], Op::Invalidate, true}, {sent::kDel, args[k]});
      }
      return !keys.empty();
    }
    const std::optional<CommandKind> cmd = classify(info);
    if (!cmd) {
      return false;
    }
    const std::size_t n = args.size();
    const std::string_view key = args[1];
    switch (*cmd) {
      case CommandKind::Set:
        return split_set(args);
      case CommandKind::Setex:
      case CommandKind::Psetex: {
        std::optional<std::int64_t> ttl = parse_int(args[2]);
        if (ttl && *cmd == CommandKind::Setex) {
          ttl = times_1000(*ttl);
        }
        // Redis refuses a TTL <= 0 ("invalid expire time").
        const std::optional<std::int64_t> at =
            ttl && *ttl > 0 ? plus(wall_ms_, *ttl) : std::nullopt;
        if (!at) {
          return false;
        }
        return add_set(key, args[3], *at);
      }
      case CommandKind::Mset:
        if (n % 2 == 0) {
          return false;
        }
        for (std::size_t i = 1; i + 1 < n; i += 2) {
          add_set(args[i], args[i + 1], 0);
        }
        return true;
      case CommandKind::Hset:
      case CommandKind::Hmset:
        if (n % 2 != 0) {
          return false;
        }
        add_with_rest({key, Op::Hset, false, args.subspan(2)}, sent::kHset);
        return true;
      case CommandKind::Del:
      case CommandKind::Unlink:
        for (std::size_t i = 1; i < n; ++i) {
          add({args[i], Op::Delete, true},
              {*cmd == CommandKind::Del ? sent::kDel : sent::kUnlink, args[i]});
        }
        return true;
      case CommandKind::Hdel:
        add_with_rest({key, Op::Hdel, false, args.subspan(2)}, sent::kHdel);
        return true;
      case CommandKind::Sadd:
        add_with_rest({key, Op::Add, false, args.subspan(2)}, sent::kSadd);
        return true;
      case CommandKind::Srem:
        add_with_rest({key, Op::Remove, false, args.subspan(2)}, sent::kSrem);
        return true;
      case CommandKind::Zadd:
        // Options come first; with them the reply (and the outcome) depends on the data.
        for (std::string_view flag : command::kZaddDataOptions) {
          if (iequals(args[2], flag)) {
            return false;
          }
        }
        if (n % 2 != 0) {
          return false;
        }
        add_with_rest({key, Op::Add, false, args.subspan(2)}, sent::kZadd);
        return true;
      case CommandKind::Zrem:
        add_with_rest({key, Op::Remove, false, args.subspan(2)}, sent::kZrem);
        return true;
      case CommandKind::Expire:
      case CommandKind::Pexpire:
      case CommandKind::Expireat:
      case CommandKind::Pexpireat:
        return split_expire(*cmd, args);
      case CommandKind::Persist:
        add({key, Op::Persist, false}, {sent::kPersist, key});
        return true;
      case CommandKind::None:
      case CommandKind::Get:
      case CommandKind::Mget:
      case CommandKind::Hget:
      case CommandKind::Exists:
        return false;
    }
    return false;
  }

 private:
  struct Head {
    std::string_view key;
    Op op;
    bool whole;
    std::span<const std::string_view> rest = {};
  };

  bool split_set(std::span<const std::string_view> args) {
    std::int64_t at = 0;
    bool keep_ttl = false;
    for (std::size_t i = 3; i < args.size(); ++i) {
      const std::string_view option = args[i];
      if (iequals(option, "keepttl")) {
        if (keep_ttl || at != 0) {
          return false;
        }
        keep_ttl = true;
        continue;
      }
      const bool ex = iequals(option, "ex");
      const bool px = iequals(option, "px");
      const bool exat = iequals(option, "exat");
      const bool pxat = iequals(option, "pxat");
      // NX, XX and GET depend on the data; anything else is a syntax error in Redis.
      if (!(ex || px || exat || pxat) || i + 1 == args.size() || keep_ttl || at != 0) {
        return false;
      }
      std::optional<std::int64_t> v = parse_int(args[++i]);
      if (!v || *v <= 0) {
        return false;
      }
      if (ex || exat) {
        v = times_1000(*v);
      }
      if (v && (ex || px)) {
        v = plus(wall_ms_, *v);
      }
      if (!v) {
        return false;
      }
      at = *v;
    }
    if (keep_ttl) {
      add({args[1], Op::SetKeepTtl, false}, {sent::kSet, args[1], args[2], sent::kKeepTtl});
      pieces_.back().value = args[2];
      return true;
    }
    return add_set(args[1], args[2], at);
  }

  bool add_set(std::string_view key, std::string_view value, std::int64_t at) {
    if (at == 0) {
      add({key, Op::Set, true}, {sent::kSet, key, value});
    } else {
      const NumberText when(at);
      add({key, Op::Set, true}, {sent::kSet, key, value, sent::kPxAt, when.view()});
    }
    pieces_.back().value = value;
    pieces_.back().at_ms = at;
    return true;
  }

  bool split_expire(CommandKind cmd, std::span<const std::string_view> args) {
    if (args.size() != 3) {
      return false;  // NX/XX/GT/LT depend on the current TTL
    }
    std::optional<std::int64_t> at = parse_int(args[2]);
    if (at && (cmd == CommandKind::Expire || cmd == CommandKind::Expireat)) {
      at = times_1000(*at);
    }
    if (at && (cmd == CommandKind::Expire || cmd == CommandKind::Pexpire)) {
      at = plus(wall_ms_, *at);
    }
    if (!at) {
      return false;
    }
    const NumberText when(*at);
    add({args[1], Op::ExpireAt, false}, {sent::kPexpireat, args[1], when.view()});
    pieces_.back().at_ms = *at;
    return true;
  }

  struct NumberText {
    explicit NumberText(std::int64_t v) {
      size = static_cast<std::size_t>(
          std::to_chars(digits.data(), digits.data() + digits.size(), v).ptr - digits.data());
    }
    std::string_view view() const { return {digits.data(), size}; }
    std::array<char, 24> digits{};
    std::size_t size = 0;
  };

  void add(const Head& head, std::initializer_list<std::string_view> command) {
    JournalPiece& piece = start(head);
    resp::append_array_header(text_, command.size());
    for (std::string_view arg : command) {
      resp::append_bulk(text_, arg);
    }
    piece.size = text_.size() - piece.offset;
  }

  void add_with_rest(const Head& head, std::string_view name) {
    JournalPiece& piece = start(head);
    resp::append_array_header(text_, head.rest.size() + 2);
    resp::append_bulk(text_, name);
    resp::append_bulk(text_, head.key);
    for (std::string_view arg : head.rest) {
      resp::append_bulk(text_, arg);
    }
    piece.size = text_.size() - piece.offset;
  }

  JournalPiece& start(const Head& head) {
    JournalPiece& piece = pieces_.emplace_back();
    piece.key = head.key;
    piece.op = head.op;
    piece.whole = head.whole;
    piece.rest = head.rest;
    piece.offset = text_.size();
    return piece;
  }

  std::vector<JournalPiece>& pieces_;
  std::string& text_;
  std::int64_t wall_ms_;
};

void make_absent(JournalKeyState& s) {
  s.kind = Kind::Absent;
  s.complete = false;
  s.value.clear();
  s.fields.clear();
  s.expire_at_ms = 0;
}

void make_unknown(JournalKeyState& s) {
  s.kind = Kind::Unknown;
  s.complete = false;
  s.value.clear();
  s.fields.clear();
}

Kind kind_at(const JournalKeyState& s, std::int64_t wall_ms) {
  if (s.kind != Kind::Absent && s.expire_at_ms != 0 && wall_ms >= s.expire_at_ms) {
    return Kind::Absent;
  }
  return s.kind;
}

}  // namespace

std::optional<CommandKind> classify(const command::CommandInfo* info) {
  if (info == nullptr) {
    return std::nullopt;
  }
  const CommandKind kind = command::rules(*info).journaled;
  return kind == CommandKind::None ? std::nullopt : std::optional<CommandKind>(kind);
}

std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The overlay's view of one write, applied at its own wall time.
void update_state(JournalKeyState& s, const JournalPiece& p, std::int64_t wall_ms) {
  if (s.expire_at_ms != 0 && wall_ms >= s.expire_at_ms) {
    make_absent(s);  // the key had expired when this write came
  }
  switch (p.op) {
    case Op::Set:
      make_absent(s);
      if (p.at_ms == 0 || p.at_ms > wall_ms) {  // Redis deletes at once with an expiry past
        s.kind = Kind::String;
        s.value.assign(p.value);
        s.expire_at_ms = p.at_ms;
      }
      return;
    case Op::SetKeepTtl:
      // The TTL of a key from before the outage is not known: then none is assumed.
      s.kind = Kind::String;
      s.complete = false;
      s.fields.clear();
      s.value.assign(p.value);
      return;
    case Op::Delete:
      make_absent(s);
      return;
    case Op::Invalidate:
      make_unknown(s);
      s.expire_at_ms = 0;
      return;
    case Op::Hset:
    case Op::Hdel:
      if (s.kind == Kind::Absent && p.op == Op::Hdel) {
        return;
      }
      if (s.kind == Kind::Absent || s.kind == Kind::Before) {
        s.complete = s.kind == Kind::Absent;
        s.kind = Kind::Hash;
      } else if (s.kind != Kind::Hash) {
        make_unknown(s);  // Redis refuses it (WRONGTYPE), or nothing was known anyway
        return;
      }
      if (p.op == Op::Hset) {
        for (std::size_t i = 0; i + 1 < p.rest.size(); i += 2) {
          auto it = s.fields.find(p.rest[i]);
          if (it == s.fields.end()) {
            s.fields.emplace(std::string(p.rest[i]), std::string(p.rest[i + 1]));
          } else {
            it->second.emplace(p.rest[i + 1]);
          }
        }
        return;
      }
      for (std::string_view field : p.rest) {
        auto it = s.fields.find(field);
        if (s.complete) {
          if (it != s.fields.end()) {
            s.fields.erase(it);
          }
        } else if (it == s.fields.end()) {
          s.fields.emplace(std::string(field), std::nullopt);
        } else {
          it->second.reset();
        }
      }
      if (s.complete && s.fields.empty()) {
        make_absent(s);  // Redis deletes a hash whose last field goes
      }
      return;
    case Op::Add:
      if (s.kind == Kind::Absent) {
        s.kind = Kind::Other;
      } else if (s.kind != Kind::Other && s.kind != Kind::Before) {
        make_unknown(s);
      }
      return;
    case Op::Remove:
      if (s.kind == Kind::Other || s.kind == Kind::String || s.kind == Kind::Hash) {
        make_unknown(s);  // may have emptied it (members are not tracked), or WRONGTYPE
      }
      return;
    case Op::ExpireAt:
      if (s.kind == Kind::Absent) {
        return;
      }
      if (p.at_ms <= wall_ms) {
        make_absent(s);  // Redis deletes the key at once, whatever it held
      } else {
        s.expire_at_ms = p.at_ms;
      }
      return;
    case Op::Persist:
      if (s.kind != Kind::Absent) {
        s.expire_at_ms = 0;
      }
      return;
  }
}

Journal::Overlay answer_get(const JournalKeyState& s, std::int64_t wall_ms, std::string& out) {
  switch (kind_at(s, wall_ms)) {
    case Kind::Absent:
      resp::append_null(out);
      return Journal::Overlay::Answered;
    case Kind::String:
      resp::append_bulk(out, s.value);
      return Journal::Overlay::Answered;
    default:
      return Journal::Overlay::Unknown;  // a value from before, or WRONGTYPE
  }
}

Journal::Overlay answer_hget(const JournalKeyState& s, std::string_view field, std::int64_t wall_ms,
                             std::string& out) {
  const Kind kind = kind_at(s, wall_ms);
  if (kind == Kind::Absent) {
    resp::append_null(out);
    return Journal::Overlay::Answered;
  }
  if (kind != Kind::Hash) {
    return Journal::Overlay::Unknown;
  }
  const auto it = s.fields.find(field);
  if (it == s.fields.end()) {
    if (!s.complete) {
      return Journal::Overlay::Unknown;  // untouched field of a hash from before the outage
    }
    resp::append_null(out);
  } else if (it->second) {
    resp::append_bulk(out, *it->second);
  } else {
    resp::append_null(out);
  }
  return Journal::Overlay::Answered;
}

// 1 or 0 when the journal decides whether the key exists; nullopt otherwise.
std::optional<int> exists(const JournalKeyState& s, std::int64_t wall_ms) {
  switch (kind_at(s, wall_ms)) {
    case Kind::Absent:
      return 0;
    case Kind::String:
    case Kind::Other:
      return 1;
    case Kind::Hash:
      if (s.complete) {
        return 1;  // an emptied complete hash became Absent
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// Live entries of `pieces` in the order they are stored, as one buffer for the file.
std::string live_text(const std::vector<JournalPiece>& pieces, const std::string& text) {
  std::string out;
  for (const JournalPiece& p : pieces) {
    if (!p.dead) {
      out.append(text, p.offset, p.size);
    }
  }
  return out;
}

bool split_write(std::vector<JournalPiece>& pieces, std::string& text, std::int64_t wall_ms,
                 std::span<const std::string_view> args, Journal::Mode mode) {
  return Splitter(pieces, text, wall_ms).split(args, mode);
}

}  // namespace seawall::upstream::detail
