#include "seawall/command/command_set.hpp"

#include <algorithm>

namespace seawall::command {
namespace {

std::size_t index_of(const CommandInfo& info) {
  return static_cast<std::size_t>(&info - all_commands().data());
}

// The container a subcommand entry belongs to ("config|set" -> CONFIG).
const CommandInfo* container_of(const CommandInfo& sub) {
  const std::size_t bar = sub.name.find('|');
  return bar == std::string_view::npos ? nullptr : lookup(sub.name.substr(0, bar));
}

}  // namespace

const CommandInfo* lookup_name(std::string_view name) {
  const std::size_t bar = name.find('|');
  if (bar == std::string_view::npos) {
    return lookup(name);
  }
  const CommandInfo* container = lookup(name.substr(0, bar));
  if (container == nullptr) {
    return nullptr;
  }
  return lookup_subcommand(*container, name.substr(bar + 1));
}

CommandSet::CommandSet() : marks_(all_commands().size(), kNone) {}

bool CommandSet::add(std::string_view name) {
  const CommandInfo* info = lookup_name(name);
  if (info == nullptr) {
    return false;
  }
  if (const CommandInfo* container = container_of(*info)) {
    if (std::find(subcommands_.begin(), subcommands_.end(), info) == subcommands_.end()) {
      subcommands_.push_back(info);
      ++size_;
    }
    std::uint8_t& mark = marks_[index_of(*container)];
    if (mark == kNone) {
      mark = kSome;
    }
    return true;
  }
  std::uint8_t& mark = marks_[index_of(*info)];
  if (mark != kWhole) {
    mark = kWhole;
    ++size_;
  }
  return true;
}

const CommandInfo* CommandSet::match(const CommandInfo& info,
                                     std::span<const std::string_view> args) const {
  const std::size_t index = index_of(info);
  if (index >= marks_.size()) {
    return nullptr;  // not a top-level table entry
  }
  const std::uint8_t mark = marks_[index];
  if (mark == kWhole) {
    return &info;
  }
  if (mark == kNone || args.size() < 2) {
    return nullptr;
  }
  const CommandInfo* sub = lookup_subcommand(info, args[1]);
  if (sub != nullptr &&
      std::find(subcommands_.begin(), subcommands_.end(), sub) != subcommands_.end()) {
    return sub;
  }
  return nullptr;
}

}  // namespace seawall::command
