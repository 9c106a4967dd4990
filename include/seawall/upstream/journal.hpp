#pragma once
// Writes accepted while an upstream is unavailable (writes_when_open: journal or invalidate),
// compacted per key and replayed to Redis before traffic resumes, so a value written during the
// outage is never overwritten by an older one afterwards; and, until Redis has them, what reads
// of those keys must see (the read overlay).
//
// Entries are per key. append() splits a multi-key write (MSET k1 v1 k2 v2 -> SET k1 v1, SET k2
// v2; DEL a b -> DEL a, DEL b) and makes relative expiries absolute with the caller's wall clock
// (SETEX, PSETEX, SET .. EX/PX/EXAT -> SET k v PXAT <unix ms>; EXPIRE, PEXPIRE, EXPIREAT ->
// PEXPIREAT), so that a TTL does not grow by the length of the outage. A whole-value write (SET
// without KEEPTTL, SETEX, PSETEX, MSET, DEL, UNLINK) supersedes every earlier entry of its key:
// they leave the journal and its counts and are never replayed. Partial writes (HSET, HMSET ->
// HSET, HDEL, SADD, SREM, ZADD, ZREM, the EXPIRE family, PERSIST, SET .. KEEPTTL) are kept after
// the key's earlier entries. So 16,000 SETs to 1,000 keys replay as 1,000 commands.
//
// Replay order: per key, entries keep the order they were written in. Across keys, keys replay
// in the order they were LAST written: a write to a key moves its not-yet-replayed entries to the
// back. (Any order across keys is correct: nothing else reaches Redis until the journal is
// empty.) front(max) hands out the next entries and remembers them; pop(n) drops the first n it
// handed out once they were replayed. An entry superseded while handed out stays until popped
// (it may already be in Redis), but is not handed out again and no longer counts as live.
//
// Bounds (max_entries, max_bytes) apply to live entries, after compaction: rewriting a key does
// not grow the journal. A write that would exceed them is refused whole (Append::Full), never
// partly stored. Entries loaded from the file are kept even beyond the bounds: they were
// acknowledged.
//
// File (journal.path): every entry (already split and rewritten) is appended as a raw RESP
// command and synced per journal.fsync (always: fdatasync before append returns Ok; everysec: at
// most one fdatasync a second, from append or sync_if_due(); no: the OS decides). load() runs the
// same compaction over the file, drops (and truncates away) a torn last entry, which was never
// acknowledged. When the file holds more than twice the live bytes (and over 1 MiB), it is
// rewritten with the live entries (temporary file, fsync, rename), so it stays proportional to
// the keys touched; it is truncated once the journal has been replayed completely. Replay is
// at-least-once (a restart during a replay replays the file again), which is why only
// idempotent writes are accepted. A write's entries go to the file together, and a write whose
// entries could not all be written (or synced, with always) is cut off the file again.
//
// Read overlay: while the journal holds writes, read()/read_get() answer reads of journaled keys
// from them (read your writes through the outage). A key's overlay state lives until the journal
// is completely empty, not just until its own entries are replayed: while other entries wait,
// reads still come here, and must not fall back to an older copy of a value in flight to Redis.
// It is computed as the writes arrive, each applied at its own wall time: an expiry that had
// passed when a later write came makes the key absent first; the last expiry is checked against
// the read's wall_now. What is known:
//   - after a whole-value write: the value (a string, or absent) and its expiry;
//   - after HSET/HDEL: the fields they touched (all fields when the key was absent before);
//   - after SADD/ZADD on an absent key: that it exists (members are not tracked).
//   - nothing after an invalidate-mode write (Mode::Invalidate): the key will be deleted, but the
//     value the application wrote is not known, so reads of it are Unknown, not nil. After a
//     restart the file holds only the DEL, so such a key then reads as deleted (nil).
//   - nothing after a write that Redis would refuse with WRONGTYPE (HSET on a string).
// Limitation: an expiry that passes after a later partial write to the same key was journaled
// but before the replay (PEXPIREAT k t, then HSET k f v, replayed after t) leaves the key in
// Redis without the expiry; the overlay answers as if the key had expired at t.
//
// Thread safety: every member is safe from any thread. One mutex guards everything (the journal
// is only used during outages); empty() is a lock-free atomic read for the hot path, and the
// overlay is not consulted at all while the journal is empty. With fsync: always, append()
// waits for the disk under that mutex; everysec's sync from append is at most once a second.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "seawall/upstream/journal_config.hpp"

namespace seawall::upstream {
namespace detail {

struct JournalPiece;  // one per-key command of an append (journal.cpp)

// What the journal knows of one key's value (see the overlay notes above).
struct JournalKeyState {
  enum class Kind : std::uint8_t {
    Before,   // only writes of unknown outcome: the value from before the outage is not known
    Absent,   // deleted (or expired)
    String,   // `value`
    Hash,     // `fields`; when `complete`, a field not in it does not exist
    Other,    // a set or sorted set created during the outage: exists, members not tracked
    Unknown,  // nothing can be answered
  };
  Kind kind = Kind::Before;
  bool complete = false;
  std::string value;
  std::int64_t expire_at_ms = 0;  // a journaled expiry (unix ms); 0: none known
  std::map<std::string, std::optional<std::string>, std::less<>> fields;  // nullopt: deleted
};

}  // namespace detail

class Journal {
 public:
  // Unsupported: not a write the journal can store: outside the set policy::acknowledgement()
  // accepts, or arguments Redis would refuse (an expiry that is not an integer in range, SET
  // with conflicting expiry options, an odd MSET). Nothing is stored.
  enum class Append : std::uint8_t { Ok, Full, IoError, Unsupported };
  // Journal: store the write itself. Invalidate: store a DEL of each of its keys instead.
  enum class Mode : std::uint8_t { Journal, Invalidate };
  // What a read should answer while the journal holds writes for its key(s). Answered: the RESP2
  // reply was appended to `out`. Unknown: a journaled write touched the key but this read's
  // reply cannot be computed from the journal (caller answers with an error, never with an older
  // copy). NotJournaled: no live journaled write touched the key (caller uses its normal
  // fallback).
  enum class Overlay : std::uint8_t { NotJournaled, Answered, Unknown };

  explicit Journal(const JournalConfig& config);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Loads entries left in the file by a previous run, compacted. Sets how many live entries
  // there are; returns an error message when the file cannot be opened or read. `wall_now`
  // rewrites relative expiries that a file from an older version may hold.
  std::string load(std::size_t& loaded, std::chrono::system_clock::time_point wall_now);
  std::string load(std::size_t& loaded) { return load(loaded, std::chrono::system_clock::now()); }

  // Stores `args` (the client's command; args[0] in any case) or, for Invalidate, a DEL of each
  // of its keys. `wall_now` makes relative expiries absolute.
  Append append(std::span<const std::string_view> args, Mode mode,
                std::chrono::system_clock::time_point wall_now);

  // The overlay for GET, MGET, HGET and EXISTS (see Overlay). MGET and EXISTS with several keys
  // are Answered only when every key is answered from the journal, NotJournaled when none is
  // journaled, and Unknown otherwise; a caller that can assemble MGET per key uses read_get()
  // for each key instead. Any other read touching a journaled key is Unknown.
  Overlay read(std::span<const std::string_view> args,
               std::chrono::system_clock::time_point wall_now, std::string& out) const;
  // GET `key`: on Answered, its bulk string or nil was appended to `out`.
  Overlay read_get(std::string_view key, std::chrono::system_clock::time_point wall_now,
                   std::string& out) const;

  // everysec: fdatasync when written data has waited a second since the last sync. Meant to be
  // called on every health-check tick; does nothing in the other modes.
  void sync_if_due(std::chrono::steady_clock::time_point now);

  // Live entries: appended, neither superseded nor replayed (popped).
  bool empty() const { return entries_count_.load(std::memory_order_acquire) == 0; }
  std::size_t entries() const { return entries_count_.load(std::memory_order_relaxed); }
  std::uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

  // Up to `max` entries in replay order, as raw RESP commands, for replay. Remembers them, so
  // that pop() drops exactly these even if writes arrive in between.
  std::vector<std::string> front(std::size_t max);
  // Drops the first `n` entries front() handed out after they were replayed (entries beyond
  // those handed out are taken in replay order). Once no live entry is left, the overlay is
  // cleared and the file truncated.
  void pop(std::size_t n);

  std::uint64_t appended_total() const { return appended_.load(std::memory_order_relaxed); }
  std::uint64_t replayed_total() const { return replayed_.load(std::memory_order_relaxed); }
  // Writes refused: full, or the file could not be written.
  std::uint64_t rejected_total() const { return rejected_.load(std::memory_order_relaxed); }
  // Entries dropped because a later whole-value write of their key made them unnecessary.
  std::uint64_t superseded_total() const { return superseded_.load(std::memory_order_relaxed); }
  // fdatasync calls on the file (rewrites included), and the ones that failed.
  std::uint64_t syncs_total() const { return syncs_.load(std::memory_order_relaxed); }
  std::uint64_t sync_errors_total() const { return sync_errors_.load(std::memory_order_relaxed); }

 private:
  struct KeyRecord;
  // An entry front() handed out and pop() has not dropped yet.
  struct InFlight {
    std::string command;
    KeyRecord* key;
    bool superseded = false;  // a later whole-value write made it unnecessary: not sent again
  };
  struct KeyRecord {
    std::deque<std::string> queued;  // live entries not handed out yet, in order
    std::size_t in_flight = 0;       // live entries of this key in in_flight_
    std::uint64_t bytes = 0;         // of its live entries, queued and in flight
    bool in_order = false;           // has an element in order_
    std::list<KeyRecord*>::iterator order_pos;
    detail::JournalKeyState state;
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Client: bounded, written to the file. File: loaded from it, kept whatever the bounds.
  enum class Source : std::uint8_t { Client, File };

  Append append_locked(std::span<const std::string_view> args, Mode mode,
                       std::chrono::system_clock::time_point wall_now, Source source);
  void apply(const detail::JournalPiece& piece, std::int64_t wall_ms);
  void supersede(KeyRecord& record);
  void take_into_flight(std::size_t n);
  const detail::JournalKeyState* find_state(std::string_view key) const;
  void clear_all();
  void publish_counts();

  bool write_file(std::string_view data);
  bool sync_file();
  void sync_after_write(std::chrono::system_clock::time_point wall_now);
  bool rewrite_due() const;
  void rewrite_file();
  void truncate_file();

  const JournalConfig config_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, KeyRecord, StringHash, std::equal_to<>> keys_;
  std::list<KeyRecord*> order_;  // keys with queued entries, least recently written first
  std::deque<InFlight> in_flight_;
  std::size_t live_entries_ = 0;
  std::uint64_t live_bytes_ = 0;
  std::vector<detail::JournalPiece> pieces_;  // scratch for append
  std::string scratch_;                       // the commands of one append, as written to the file

  int fd_ = -1;
  std::uint64_t file_bytes_ = 0;
  std::uint64_t next_rewrite_at_ = 0;  // after a failed rewrite: not again before this size
  bool dirty_ = false;                 // written since the last fdatasync
  // everysec: when the last sync happened, by each caller's clock. A sync from one caller marks
  // the other's time stale, and that caller then counts its second from its next call, so two
  // syncs are never less than a second apart whichever side did them.
  std::chrono::system_clock::time_point last_sync_wall_{};
  std::chrono::steady_clock::time_point last_sync_steady_{};
  bool wall_stale_ = true;
  bool steady_stale_ = true;

  std::atomic<std::size_t> entries_count_{0};
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<std::uint64_t> appended_{0};
  std::atomic<std::uint64_t> replayed_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> superseded_{0};
  std::atomic<std::uint64_t> syncs_{0};
  std::atomic<std::uint64_t> sync_errors_{0};
};

}  // namespace seawall::upstream
