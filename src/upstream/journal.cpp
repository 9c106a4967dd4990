#include "seawall/upstream/journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <unordered_set>

#include "seawall/command/command_rules.hpp"
#include "seawall/command/command_table.hpp"
#include "seawall/resp/request_parser.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/util/ascii.hpp"
#include "seawall/util/log.hpp"

namespace seawall::upstream {
namespace detail {

// One per-key command of an append: what the overlay applies, and where its RESP text is.
struct JournalPiece {
  enum class Op : std::uint8_t {
    Set,         // value, at_ms (0: no expiry)
    SetKeepTtl,  // value; the key's expiry stays
    Delete,
    Invalidate,  // a DEL whose key's value the application wrote but we do not know
    Hset,        // rest: field value ...
    Hdel,        // rest: field ...
    Add,         // SADD, ZADD
    Remove,      // SREM, ZREM
    ExpireAt,    // at_ms
    Persist,
  };
  std::string_view key;
  Op op = Op::Set;
  bool whole = false;  // supersedes the key's earlier entries
  bool dead = false;   // superseded by a later piece of the same append
  std::string_view value;
  std::int64_t at_ms = 0;
  std::span<const std::string_view> rest;
  std::size_t offset = 0;  // its command: scratch_[offset, offset + size)
  std::size_t size = 0;
};

}  // namespace detail

namespace {

using detail::JournalKeyState;
using detail::JournalPiece;
using Kind = JournalKeyState::Kind;
using Op = JournalPiece::Op;
using util::iequals;

// Below this the file is never rewritten: a small file costs nothing to replay or keep.
constexpr std::uint64_t kRewriteMinBytes = 1024 * 1024;
constexpr auto kEverysec = std::chrono::seconds(1);

// The writes the journal stores (policy::acknowledgement()'s set) and the reads it answers.
using CommandKind = command::Journaled;

std::optional<CommandKind> classify(const command::CommandInfo* info) {
  if (info == nullptr) {
    return std::nullopt;
  }
  const CommandKind kind = command::rules(*info).journaled;
  return kind == CommandKind::None ? std::nullopt : std::optional<CommandKind>(kind);
}

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

std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
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
        add({args[k], Op::Invalidate, true}, {"DEL", args[k]});
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
        add_with_rest({key, Op::Hset, false, args.subspan(2)}, "HSET");
        return true;
      case CommandKind::Del:
      case CommandKind::Unlink:
        for (std::size_t i = 1; i < n; ++i) {
          add({args[i], Op::Delete, true}, {*cmd == CommandKind::Del ? "DEL" : "UNLINK", args[i]});
        }
        return true;
      case CommandKind::Hdel:
        add_with_rest({key, Op::Hdel, false, args.subspan(2)}, "HDEL");
        return true;
      case CommandKind::Sadd:
        add_with_rest({key, Op::Add, false, args.subspan(2)}, "SADD");
        return true;
      case CommandKind::Srem:
        add_with_rest({key, Op::Remove, false, args.subspan(2)}, "SREM");
        return true;
      case CommandKind::Zadd:
        // Options come first; with them the reply (and the outcome) depends on the data.
        for (std::string_view flag : {"nx", "xx", "gt", "lt", "ch", "incr"}) {
          if (iequals(args[2], flag)) {
            return false;
          }
        }
        if (n % 2 != 0) {
          return false;
        }
        add_with_rest({key, Op::Add, false, args.subspan(2)}, "ZADD");
        return true;
      case CommandKind::Zrem:
        add_with_rest({key, Op::Remove, false, args.subspan(2)}, "ZREM");
        return true;
      case CommandKind::Expire:
      case CommandKind::Pexpire:
      case CommandKind::Expireat:
      case CommandKind::Pexpireat:
        return split_expire(*cmd, args);
      case CommandKind::Persist:
        add({key, Op::Persist, false}, {"PERSIST", key});
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
      add({args[1], Op::SetKeepTtl, false}, {"SET", args[1], args[2], "KEEPTTL"});
      pieces_.back().value = args[2];
      return true;
    }
    return add_set(args[1], args[2], at);
  }

  bool add_set(std::string_view key, std::string_view value, std::int64_t at) {
    if (at == 0) {
      add({key, Op::Set, true}, {"SET", key, value});
    } else {
      const NumberText when(at);
      add({key, Op::Set, true}, {"SET", key, value, "PXAT", when.view()});
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
    add({args[1], Op::ExpireAt, false}, {"PEXPIREAT", args[1], when.view()});
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

Kind kind_at(const JournalKeyState& s, std::int64_t wall_ms) {
  if (s.kind != Kind::Absent && s.expire_at_ms != 0 && wall_ms >= s.expire_at_ms) {
    return Kind::Absent;
  }
  return s.kind;
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

bool write_all(int fd, std::string_view data) {
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    written += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Journal::Journal(const config::JournalConfig& config) : config_(config) {}

Journal::~Journal() {
  if (fd_ >= 0) {
    if (dirty_ && config_.fsync != config::JournalFsync::No) {
      ::fdatasync(fd_);  // a clean shutdown keeps what everysec had not synced yet
    }
    ::close(fd_);
  }
}

std::string Journal::load(std::size_t& loaded, std::chrono::system_clock::time_point wall_now) {
  loaded = 0;
  if (config_.path.empty()) {
    return {};
  }
  std::lock_guard lock(mutex_);
  if (fd_ >= 0) {
    return config_.path + ": already loaded";  // loading twice would replay everything twice
  }
  fd_ = ::open(config_.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    return config_.path + ": " + std::strerror(errno);
  }
  std::string content;
  std::array<char, 65536> buffer{};
  ssize_t n = 0;
  while ((n = ::pread(fd_, buffer.data(), buffer.size(), static_cast<off_t>(content.size()))) > 0) {
    content.append(buffer.data(), static_cast<std::size_t>(n));
  }
  if (n < 0) {
    return config_.path + ": " + std::strerror(errno);
  }
  // Our own file: values as large as any client could send must load.
  resp::Limits limits;
  limits.max_bulk = std::numeric_limits<std::uint64_t>::max();
  limits.max_array = std::numeric_limits<std::int64_t>::max();  // compared as a signed count
  resp::RequestParser parser(limits);
  resp::ParsedRequest request;
  std::string_view rest = content;
  std::size_t skipped = 0;
  while (!rest.empty()) {
    if (parser.parse(rest, request) != resp::errc::ok) {
      break;
    }
    if (!request.args.empty() &&
        append_locked(request.args, Mode::Journal, wall_now, Source::File) != Append::Ok) {
      ++skipped;  // nothing this journal writes; replaying it blindly could reorder its keys
    }
    rest.remove_prefix(request.consumed);
  }
  file_bytes_ = content.size() - rest.size();
  auto log = util::logger("upstream");
  if (!rest.empty()) {
    // A torn last entry (crash mid-append) was never acknowledged. Cut it off: entries appended
    // after it would be unreadable at the next load.
    log->warn("journal {}: dropped {} unreadable bytes at its end (a torn last write)",
              config_.path, rest.size());
    if (::ftruncate(fd_, static_cast<off_t>(file_bytes_)) != 0) {
      return config_.path + ": " + std::strerror(errno);
    }
  }
  if (skipped > 0) {
    log->warn("journal {}: skipped {} commands that are not journal entries", config_.path,
              skipped);
  }
  if (rewrite_due()) {
    rewrite_file();
  }
  loaded = live_entries_;
  publish_counts();
  return {};
}

Journal::Append Journal::append(std::span<const std::string_view> args, Mode mode,
                                std::chrono::system_clock::time_point wall_now) {
  std::lock_guard lock(mutex_);
  return append_locked(args, mode, wall_now, Source::Client);
}

Journal::Append Journal::append_locked(std::span<const std::string_view> args, Mode mode,
                                       std::chrono::system_clock::time_point wall_now,
                                       Source source) {
  const std::int64_t wall_ms = unix_ms(wall_now);
  pieces_.clear();
  scratch_.clear();
  if (!Splitter(pieces_, scratch_, wall_ms).split(args, mode)) {
    return Append::Unsupported;
  }
  // A whole-value piece makes the earlier pieces of its key in this same write unnecessary.
  std::size_t dead = 0;
  if (pieces_.size() > 1) {
    std::unordered_set<std::string_view> whole_later;
    for (auto it = pieces_.rbegin(); it != pieces_.rend(); ++it) {
      if (whole_later.contains(it->key)) {
        it->dead = true;
        ++dead;
      } else if (it->whole) {
        whole_later.insert(it->key);
      }
    }
  }
  if (source == Source::Client) {
    // The bounds hold for what is live once this write is in: what it supersedes goes.
    std::uint64_t entries = live_entries_;
    std::uint64_t bytes = live_bytes_;
    for (const JournalPiece& p : pieces_) {
      if (p.dead) {
        continue;
      }
      ++entries;
      bytes += p.size;
      if (p.whole) {
        if (auto it = keys_.find(p.key); it != keys_.end()) {
          entries -= it->second.queued.size() + it->second.in_flight;
          bytes -= it->second.bytes;
        }
      }
    }
    if (entries > config_.max_entries || bytes > config_.max_bytes) {
      ++rejected_;
      return Append::Full;
    }
    if (fd_ >= 0) {
      const std::uint64_t before = file_bytes_;
      const bool written =
          dead == 0 ? write_file(scratch_) : write_file(live_text(pieces_, scratch_));
      if (!written || (config_.fsync == config::JournalFsync::Always && !sync_file())) {
        // Not acknowledged: take it out of the file too, so a restart does not replay it.
        if (::ftruncate(fd_, static_cast<off_t>(before)) == 0) {
          file_bytes_ = before;
        }
        ++rejected_;
        return Append::IoError;
      }
    }
  }
  for (const JournalPiece& p : pieces_) {
    if (!p.dead) {
      apply(p, wall_ms);
    }
  }
  superseded_ += dead;
  if (source == Source::Client) {
    appended_ += pieces_.size() - dead;
    if (fd_ >= 0) {
      sync_after_write(wall_now);
      if (rewrite_due()) {
        rewrite_file();
      }
    }
  }
  publish_counts();
  return Append::Ok;
}

void Journal::apply(const JournalPiece& piece, std::int64_t wall_ms) {
  auto it = keys_.find(piece.key);
  if (it == keys_.end()) {
    it = keys_.emplace(std::string(piece.key), KeyRecord{}).first;
  }
  KeyRecord& record = it->second;
  if (piece.whole) {
    supersede(record);
  }
  record.queued.emplace_back(scratch_, piece.offset, piece.size);
  record.bytes += piece.size;
  ++live_entries_;
  live_bytes_ += piece.size;
  // Replay order: keys by their last write.
  if (record.in_order) {
    order_.splice(order_.end(), order_, record.order_pos);
  } else {
    order_.push_back(&record);
    record.order_pos = std::prev(order_.end());
    record.in_order = true;
  }
  update_state(record.state, piece, wall_ms);
}

void Journal::supersede(KeyRecord& record) {
  const std::size_t n = record.queued.size() + record.in_flight;
  if (n == 0) {
    return;
  }
  superseded_ += n;
  live_entries_ -= n;
  live_bytes_ -= record.bytes;
  record.queued.clear();
  record.bytes = 0;
  if (record.in_flight > 0) {
    // Already sent, maybe applied: they stay until popped, but are not sent again.
    for (InFlight& e : in_flight_) {
      if (e.key == &record) {
        e.superseded = true;
      }
    }
    record.in_flight = 0;
  }
  if (record.in_order) {
    order_.erase(record.order_pos);
    record.in_order = false;
  }
}

void Journal::take_into_flight(std::size_t n) {
  while (in_flight_.size() < n && !order_.empty()) {
    KeyRecord& record = *order_.front();
    in_flight_.push_back(InFlight{std::move(record.queued.front()), &record});
    record.queued.pop_front();
    ++record.in_flight;
    if (record.queued.empty()) {
      order_.pop_front();
      record.in_order = false;
    }
  }
}

std::vector<std::string> Journal::front(std::size_t max) {
  std::lock_guard lock(mutex_);
  // Entries handed out before but not popped (that replay failed): the superseded ones need not
  // go again, a later entry of their key does.
  std::erase_if(in_flight_, [](const InFlight& e) { return e.superseded; });
  take_into_flight(max);
  std::vector<std::string> out;
  out.reserve(std::min(max, in_flight_.size()));
  for (std::size_t i = 0; i < in_flight_.size() && i < max; ++i) {
    out.push_back(in_flight_[i].command);
  }
  return out;
}

void Journal::pop(std::size_t n) {
  std::lock_guard lock(mutex_);
  take_into_flight(n);
  const std::size_t m = std::min(n, in_flight_.size());
  for (std::size_t i = 0; i < m; ++i) {
    InFlight& e = in_flight_.front();
    if (!e.superseded) {
      --e.key->in_flight;
      e.key->bytes -= e.command.size();
      --live_entries_;
      live_bytes_ -= e.command.size();
    }
    in_flight_.pop_front();
  }
  replayed_ += m;
  if (live_entries_ == 0) {
    // Everything reached Redis: reads go there again, and the file starts over.
    clear_all();
    truncate_file();
  }
  publish_counts();
}

void Journal::clear_all() {
  in_flight_.clear();
  order_.clear();
  keys_.clear();
  live_entries_ = 0;
  live_bytes_ = 0;
}

void Journal::publish_counts() {
  bytes_.store(live_bytes_, std::memory_order_relaxed);
  entries_count_.store(live_entries_, std::memory_order_release);
}

const JournalKeyState* Journal::find_state(std::string_view key) const {
  const auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &it->second.state;
}

Journal::Overlay Journal::read_get(std::string_view key,
                                   std::chrono::system_clock::time_point wall_now,
                                   std::string& out) const {
  if (empty()) {
    return Overlay::NotJournaled;  // the overlay is empty too: no lock on the common path
  }
  std::lock_guard lock(mutex_);
  const JournalKeyState* state = find_state(key);
  if (state == nullptr) {
    return Overlay::NotJournaled;
  }
  return answer_get(*state, unix_ms(wall_now), out);
}

Journal::Overlay Journal::read(std::span<const std::string_view> args,
                               std::chrono::system_clock::time_point wall_now,
                               std::string& out) const {
  if (empty() || args.empty()) {
    return Overlay::NotJournaled;
  }
  const command::CommandInfo* info = command::lookup(args[0]);
  if (info == nullptr) {
    return Overlay::NotJournaled;
  }
  std::vector<std::uint32_t> keys;
  command::key_indexes(*info, args, keys);
  const std::int64_t wall_ms = unix_ms(wall_now);
  std::lock_guard lock(mutex_);
  std::vector<const JournalKeyState*> states;
  states.reserve(keys.size());
  bool any = false;
  for (std::uint32_t k : keys) {
    states.push_back(find_state(args[k]));
    any = any || states.back() != nullptr;
  }
  if (!any) {
    return Overlay::NotJournaled;
  }
  const bool every =
      std::all_of(states.begin(), states.end(), [](auto* s) { return s != nullptr; });
  const std::optional<CommandKind> cmd =
      command::arity_ok(*info, args.size()) ? classify(info) : std::nullopt;
  if (!cmd || !every) {
    return Overlay::Unknown;
  }
  switch (*cmd) {
    case CommandKind::Get:
      return answer_get(*states[0], wall_ms, out);
    case CommandKind::Hget:
      return answer_hget(*states[0], args[2], wall_ms, out);
    case CommandKind::Mget: {
      std::string reply;
      resp::append_array_header(reply, states.size());
      for (const JournalKeyState* s : states) {
        if (answer_get(*s, wall_ms, reply) != Overlay::Answered) {
          return Overlay::Unknown;
        }
      }
      out.append(reply);
      return Overlay::Answered;
    }
    case CommandKind::Exists: {
      std::int64_t count = 0;
      for (const JournalKeyState* s : states) {
        const std::optional<int> e = exists(*s, wall_ms);
        if (!e) {
          return Overlay::Unknown;
        }
        count += *e;
      }
      resp::append_integer(out, count);
      return Overlay::Answered;
    }
    default:
      return Overlay::Unknown;
  }
}

void Journal::sync_if_due(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (config_.fsync != config::JournalFsync::Everysec || fd_ < 0) {
    return;
  }
  if (steady_stale_) {
    last_sync_steady_ = now;
    steady_stale_ = false;
    return;
  }
  if (dirty_ && now - last_sync_steady_ >= kEverysec) {
    sync_file();
    last_sync_steady_ = now;
    wall_stale_ = true;
  }
}

bool Journal::write_file(std::string_view data) {
  if (!write_all(fd_, data)) {
    return false;
  }
  file_bytes_ += data.size();
  dirty_ = true;
  return true;
}

bool Journal::sync_file() {
  if (!dirty_) {
    return true;
  }
  ++syncs_;
  if (::fdatasync(fd_) != 0) {
    ++sync_errors_;
    return false;
  }
  dirty_ = false;
  return true;
}

void Journal::sync_after_write(std::chrono::system_clock::time_point wall_now) {
  if (config_.fsync != config::JournalFsync::Everysec || !dirty_) {
    return;
  }
  if (wall_stale_) {
    last_sync_wall_ = wall_now;
    wall_stale_ = false;
    return;
  }
  // A wall clock stepped back counts as due: better one sync early than none for long.
  if (wall_now - last_sync_wall_ >= kEverysec || wall_now < last_sync_wall_) {
    sync_file();
    last_sync_wall_ = wall_now;
    steady_stale_ = true;
  }
}

bool Journal::rewrite_due() const {
  return fd_ >= 0 && file_bytes_ > kRewriteMinBytes && file_bytes_ > 2 * live_bytes_ &&
         file_bytes_ >= next_rewrite_at_;
}

void Journal::rewrite_file() {
  const std::string tmp = config_.path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  auto fail = [&] {
    if (fd >= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
    }
    // Keep the old file (it is complete); try again once it has doubled, not on every append.
    next_rewrite_at_ = 2 * file_bytes_;
  };
  if (fd < 0) {
    fail();
    return;
  }
  // In replay order, so that loading it rebuilds the same order.
  std::string chunk;
  std::uint64_t written = 0;
  bool ok = true;
  auto put = [&](const std::string& command) {
    chunk.append(command);
    if (chunk.size() >= 1024 * 1024) {
      ok = ok && write_all(fd, chunk);
      written += chunk.size();
      chunk.clear();
    }
  };
  for (const InFlight& e : in_flight_) {
    if (!e.superseded) {
      put(e.command);
    }
  }
  for (const KeyRecord* record : order_) {
    for (const std::string& command : record->queued) {
      put(command);
    }
  }
  ok = ok && write_all(fd, chunk);
  written += chunk.size();
  ++syncs_;
  // Synced before the rename whatever journal.fsync says: the old file may hold synced entries
  // that the new one must not lose in a crash.
  if (!ok || ::fdatasync(fd) != 0 || ::rename(tmp.c_str(), config_.path.c_str()) != 0) {
    fail();
    return;
  }
  const std::filesystem::path dir = std::filesystem::path(config_.path).parent_path();
  const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);  // the rename itself; if this fails, a crash leaves the old, complete file
    ::close(dir_fd);
  }
  ::close(fd_);
  fd_ = fd;
  file_bytes_ = written;
  next_rewrite_at_ = 0;
  dirty_ = false;
}

void Journal::truncate_file() {
  if (fd_ < 0) {
    return;
  }
  if (::ftruncate(fd_, 0) != 0) {
    return;  // keeping the old entries only means they are replayed again after a restart
  }
  file_bytes_ = 0;
  next_rewrite_at_ = 0;
  dirty_ = true;
  // With always, the truncation is synced too: replaying old entries after a machine crash,
  // over writes that reached Redis directly since, would take their keys back in time.
  if (config_.fsync == config::JournalFsync::Always) {
    sync_file();
  }
}

}  // namespace seawall::upstream
