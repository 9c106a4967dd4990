// libFuzzer target: the request parser and the reply framer must never crash, read out of
// bounds or loop, whatever bytes arrive, and must agree with themselves whichever way the
// bytes are split into reads.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "seawall/resp/reply_framer.hpp"
#include "seawall/resp/request_parser.hpp"

namespace {

using seawall::resp::errc;

// Parses everything in `data`, split into reads at `split`; returns a digest of the outcome.
std::string run_requests(std::string_view data, std::size_t split) {
  seawall::resp::Limits limits;
  limits.max_bulk = 1 << 20;
  limits.max_array = 1 << 16;
  limits.max_inline = 1 << 12;
  seawall::resp::RequestParser parser(limits);
  seawall::resp::ParsedRequest request;
  std::string buffer;
  std::string digest;
  for (std::string_view chunk : {data.substr(0, split), data.substr(split)}) {
    buffer.append(chunk);
    while (!buffer.empty()) {
      const errc e = parser.parse(buffer, request);
      if (e == errc::need_more) {
        break;
      }
      if (e != errc::ok) {
        digest += "E" + std::to_string(static_cast<int>(e));
        return digest;
      }
      if (request.consumed == 0 || request.consumed > buffer.size()) {
        __builtin_trap();
      }
      digest += "C" + std::to_string(request.args.size());
      for (std::string_view a : request.args) {
        digest += ":" + std::to_string(a.size());
      }
      buffer.erase(0, request.consumed);
    }
  }
  return digest;
}

std::string run_replies(std::string_view data, std::size_t split) {
  seawall::resp::ReplyFramer framer(32);
  std::string buffer;
  std::string digest;
  for (std::string_view chunk : {data.substr(0, split), data.substr(split)}) {
    buffer.append(chunk);
    while (!buffer.empty()) {
      seawall::resp::FramedReply reply;
      const errc e = framer.feed(buffer, reply);
      if (e == errc::need_more) {
        break;
      }
      if (e != errc::ok) {
        digest += "E" + std::to_string(static_cast<int>(e));
        return digest;
      }
      if (reply.length == 0 || reply.length > buffer.size()) {
        __builtin_trap();
      }
      digest += "R" + std::to_string(reply.length);
      buffer.erase(0, reply.length);
    }
  }
  return digest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  const std::size_t split = size == 0 ? 0 : bytes[0] % (size + 1);
  // Splitting must not change the outcome (errors aside: a split may stop earlier input).
  const std::string whole_requests = run_requests(data, size);
  const std::string split_requests = run_requests(data, split);
  if (whole_requests.find('E') == std::string::npos && whole_requests != split_requests) {
    __builtin_trap();
  }
  const std::string whole_replies = run_replies(data, size);
  const std::string split_replies = run_replies(data, split);
  if (whole_replies.find('E') == std::string::npos && whole_replies != split_replies) {
    __builtin_trap();
  }
  return 0;
}
