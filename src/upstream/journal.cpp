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
#include "upstream/journal_ops.hpp"

namespace seawall::upstream {
namespace {

using detail::answer_get;
using detail::answer_hget;
using detail::classify;
using detail::exists;
using detail::JournalKeyState;
using detail::JournalPiece;
using detail::live_text;
using detail::unix_ms;
using detail::update_state;
using Kind = JournalKeyState::Kind;
using CommandKind = command::Journaled;
using Op = JournalPiece::Op;

// Below this the file is never rewritten: a small file costs nothing to replay or keep.
constexpr std::uint64_t kRewriteMinBytes = 1024 * 1024;
constexpr auto kEverysec = std::chrono::seconds(1);

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

Journal::Journal(const JournalConfig& config) : config_(config) {}

Journal::~Journal() {
  if (fd_ >= 0) {
    if (dirty_ && config_.fsync != JournalFsync::No) {
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
  if (!detail::split_write(pieces_, scratch_, wall_ms, args, mode)) {
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
      if (!written || (config_.fsync == JournalFsync::Always && !sync_file())) {
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
  if (config_.fsync != JournalFsync::Everysec || fd_ < 0) {
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
  if (config_.fsync != JournalFsync::Everysec || !dirty_) {
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
  if (config_.fsync == JournalFsync::Always) {
    sync_file();
  }
}

}  // namespace seawall::upstream
