#pragma once
// What the journal knows about each command it stores: how a write splits into per-key pieces
// (with its RESP text, compacted per key), how a piece changes a key's state, and how that state
// answers the reads the journal answers meanwhile (read your writes). Journal (journal.cpp) keeps
// the entries, the file and the replay; this is the per-command semantics it applies.
// Thread safety: pure functions of their arguments.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/command/command_rules.hpp"
#include "seawall/upstream/journal.hpp"

namespace seawall::upstream::detail {

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

// The journal kind of a command (command::rules), or nullopt for one it neither stores nor
// answers.
std::optional<command::Journaled> classify(const command::CommandInfo* info);

// Milliseconds since the Unix epoch.
std::int64_t unix_ms(std::chrono::system_clock::time_point t);

// Splits `args` into pieces appended to `pieces`, their RESP text to `text`. False when `args`
// is not a write the journal can store (in `mode`).
bool split_write(std::vector<JournalPiece>& pieces, std::string& text, std::int64_t wall_ms,
                 std::span<const std::string_view> args, Journal::Mode mode);

// Applies one piece to its key's state.
void update_state(JournalKeyState& s, const JournalPiece& p, std::int64_t wall_ms);

// GET and HGET of a key from its state, appended to `out`; EXISTS as 0/1 or nullopt (unknown).
Journal::Overlay answer_get(const JournalKeyState& s, std::int64_t wall_ms, std::string& out);
Journal::Overlay answer_hget(const JournalKeyState& s, std::string_view field, std::int64_t wall_ms,
                             std::string& out);
std::optional<int> exists(const JournalKeyState& s, std::int64_t wall_ms);

// The RESP text of the pieces not superseded within their append.
std::string live_text(const std::vector<JournalPiece>& pieces, const std::string& text);

}  // namespace seawall::upstream::detail
