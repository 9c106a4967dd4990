#pragma once
// A set of commands named by the configuration ("keys", "config|set"): a whole command, or one
// subcommand of a container. Matching a request costs an array index, plus a short scan of the
// set's subcommands when its container has some of them in the set.
//
// Ownership: holds pointers into the static command table. Thread safety: immutable after it
// is built; share freely for reading.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "seawall/command/command_table.hpp"

namespace seawall::command {

// The table entry of "name" or "container|sub", case-insensitive; nullptr when there is none.
const CommandInfo* lookup_name(std::string_view name);

class CommandSet {
 public:
  CommandSet();

  // Adds a command or subcommand by name (see lookup_name). False, and nothing added, when the
  // table has no such entry.
  bool add(std::string_view name);
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  // The entry of this set that a request falls under: its command, or the subcommand named by
  // args[1]. `info` is lookup(args[0]). nullptr when none.
  const CommandInfo* match(const CommandInfo& info, std::span<const std::string_view> args) const;

 private:
  enum Mark : std::uint8_t { kNone = 0, kWhole = 1, kSome = 2 };

  std::vector<std::uint8_t> marks_;              // per all_commands() index
  std::vector<const CommandInfo*> subcommands_;  // members that are subcommands
  std::size_t size_ = 0;
};

}  // namespace seawall::command
