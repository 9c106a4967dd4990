// libFuzzer target for resp::RequestParser, which reads whatever a client sends. Whatever the
// bytes, it must not crash, read out of bounds, overflow or loop, and:
// - every framed command consumes at least one byte and no more than the buffer holds, and a
//   multibulk command's arguments point inside the bytes it consumed;
// - the commands and the final outcome are the same whether the bytes arrive in one read, in
//   random reads, or one byte per read (the parser resumes from offsets, and the buffer moves
//   as it grows, as a session's does);
// - a framed command's bytes parsed again on their own give the same command;
// - bytes_hint() never exceeds what the command turns out to need.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "seawall/resp/request_parser.hpp"

namespace {

using seawall::fuzz::check;
using seawall::resp::errc;
using seawall::resp::ParsedRequest;
using seawall::resp::RequestKind;
using seawall::resp::RequestParser;

// Small enough that inputs of a few KB reach every limit.
seawall::resp::Limits fuzz_limits() {
  seawall::resp::Limits limits;
  limits.max_bulk = 1 << 16;
  limits.max_array = 1 << 10;
  limits.max_inline = 1 << 10;
  return limits;
}

struct Command {
  RequestKind kind = RequestKind::Multibulk;
  std::size_t consumed = 0;
  std::vector<std::string> args;
  bool operator==(const Command&) const = default;
};

struct Outcome {
  std::vector<Command> commands;
  errc last = errc::need_more;  // need_more when every byte was framed or is still incomplete
  bool operator==(const Outcome&) const = default;
};

Command to_command(const ParsedRequest& request, std::string_view buffer) {
  check(request.consumed > 0, "a framed command consumes at least one byte");
  check(request.consumed <= buffer.size(), "consumed <= bytes available");
  Command command{request.kind, request.consumed, {}};
  for (const std::string_view arg : request.args) {
    if (request.kind == RequestKind::Multibulk) {
      check(arg.data() >= buffer.data() &&
                arg.data() + arg.size() <= buffer.data() + request.consumed,
            "a multibulk argument lies inside the consumed bytes");
    }
    command.args.emplace_back(arg);
  }
  return command;
}

Outcome parse(std::string_view data, const std::vector<std::size_t>& reads) {
  RequestParser parser(fuzz_limits());
  ParsedRequest request;
  std::string buffer;
  std::size_t fed = 0;
  std::size_t hint = 0;  // the largest hint given for the command in progress
  Outcome outcome;
  for (const std::size_t n : reads) {
    buffer.append(data.substr(fed, n));
    fed += n;
    while (!buffer.empty()) {
      const errc e = parser.parse(buffer, request);
      if (e == errc::need_more) {
        hint = std::max(hint, parser.bytes_hint());
        break;
      }
      if (e != errc::ok) {
        outcome.last = e;
        return outcome;
      }
      outcome.commands.push_back(to_command(request, buffer));
      check(hint <= request.consumed, "bytes_hint() <= the command's size");
      hint = 0;
      buffer.erase(0, request.consumed);
    }
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  const Outcome whole = parse(data, seawall::fuzz::whole_read(data));
  check(parse(data, seawall::fuzz::random_reads(data, 0)) == whole, "random reads == one read");
  check(parse(data, seawall::fuzz::random_reads(data, 1)) == whole, "random reads == one read");
  if (size <= 1024) {  // a long inline line is rescanned per byte: keep executions fast
    check(parse(data, seawall::fuzz::byte_reads(data)) == whole, "byte reads == one read");
  }
  std::size_t offset = 0;
  for (const Command& command : whole.commands) {
    const std::string_view own = data.substr(offset, command.consumed);
    const Outcome again = parse(own, seawall::fuzz::whole_read(own));
    check(
        again.commands.size() == 1 && again.commands[0] == command && again.last == errc::need_more,
        "a command's own bytes parse to the same command");
    offset += command.consumed;
  }
  return 0;
}
