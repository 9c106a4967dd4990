// Prints the command table for tests/integration/test_command_table.py, which compares it with
// what a live redis-server reports.
//   command_table_dump                 one JSON object per top-level command, one per line:
//                                      name, arity, flags, first, last, step, special, subcommands
//   command_table_dump --keys ARG...   the key_indexes() of that command line as a JSON array,
//                                      or null for an unknown command
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/command/command_table.hpp"

namespace {

namespace cmd = seawall::command;

std::string_view special_name(cmd::KeySpecial s) {
  switch (s) {
    case cmd::KeySpecial::None:
      return "none";
    case cmd::KeySpecial::NumkeysAt1:
      return "numkeys_at_1";
    case cmd::KeySpecial::NumkeysAt2:
      return "numkeys_at_2";
    case cmd::KeySpecial::NumkeysAt2Dest:
      return "numkeys_at_2_dest";
    case cmd::KeySpecial::NumkeysAt3Block:
      return "numkeys_at_3_block";
    case cmd::KeySpecial::Streams:
      return "streams";
    case cmd::KeySpecial::Sort:
      return "sort";
    case cmd::KeySpecial::Migrate:
      return "migrate";
    case cmd::KeySpecial::GeoradiusStore:
      return "georadius_store";
  }
  return "unknown";
}

void append_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x",
                    static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_command(std::string& out, const cmd::CommandInfo& c) {
  out += "{\"name\":";
  append_string(out, c.name);
  out += ",\"arity\":" + std::to_string(c.arity);
  out += ",\"flags\":[";
  bool first = true;
  for (std::uint32_t bit = 0; bit < 32; ++bit) {
    const auto f = static_cast<cmd::Flag>(1u << bit);
    if (!c.has(f)) {
      continue;
    }
    if (!first) {
      out += ',';
    }
    first = false;
    const std::string_view name = cmd::flag_name(f);
    append_string(out, name.empty() ? "bit" + std::to_string(bit) : std::string(name));
  }
  out += "],\"first\":" + std::to_string(c.first_key);
  out += ",\"last\":" + std::to_string(c.last_key);
  out += ",\"step\":" + std::to_string(c.step);
  out += ",\"special\":";
  append_string(out, special_name(c.special));
  out += ",\"subcommands\":[";
  for (std::size_t i = 0; i < c.subcommands.size(); ++i) {
    if (i != 0) {
      out += ',';
    }
    append_command(out, c.subcommands[i]);
  }
  out += "]}";
}

int print_keys(const std::vector<std::string_view>& args) {
  const cmd::CommandInfo* info = args.empty() ? nullptr : cmd::lookup(args.front());
  if (info == nullptr) {
    std::puts("null");
    return 0;
  }
  std::vector<std::uint32_t> keys;
  cmd::key_indexes(*info, args, keys);
  std::string out = "[";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i != 0) {
      out += ',';
    }
    out += std::to_string(keys[i]);
  }
  out += ']';
  std::puts(out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (!args.empty() && args.front() == "--keys") {
    args.erase(args.begin());
    return print_keys(args);
  }
  if (!args.empty()) {
    std::fputs("usage: command_table_dump [--keys COMMAND ARG...]\n", stderr);
    return 2;
  }
  std::string line;
  for (const cmd::CommandInfo& c : cmd::all_commands()) {
    line.clear();
    append_command(line, c);
    std::puts(line.c_str());
  }
  return 0;
}
