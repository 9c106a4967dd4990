#include "seawall/proxy/split_merge.hpp"

#include <cstdlib>

#include "seawall/resp/replies.hpp"
#include "seawall/resp/reply_framer.hpp"
#include "seawall/resp/writer.hpp"

namespace seawall::proxy {

void part_request(std::span<const std::string_view> args, std::span<const std::uint32_t> keys,
                  std::span<const std::uint8_t> key_part, std::size_t step, std::size_t part,
                  std::vector<std::string_view>& out) {
  out.clear();
  out.push_back(args[0]);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (key_part[i] == part) {
      for (std::size_t j = 0; j < step; ++j) {
        out.push_back(args[keys[i] + j]);
      }
    }
  }
}

void merge_parts(command::Merge merge, std::span<const std::string> parts,
                 std::span<const std::uint8_t> key_part, resp::Protocol protocol,
                 std::string& out) {
  switch (merge) {
    case command::Merge::SumIntegers: {
      std::int64_t sum = 0;
      for (const std::string& p : parts) {
        sum += std::strtoll(p.c_str() + 1, nullptr, 10);
      }
      resp::append_integer(out, sum);
      return;
    }
    case command::Merge::AllOk:
      out.append(resp::replies::kOk);
      return;
    case command::Merge::Mget:
    case command::Merge::None:
      break;
  }
  // MGET: each part answered its keys in order; put them back in the request's order.
  std::vector<std::vector<std::string_view>> elements(parts.size());
  for (std::size_t p = 0; p < parts.size(); ++p) {
    split_reply_array(parts[p], elements[p]);
  }
  std::vector<std::size_t> next(parts.size(), 0);
  resp::append_array_header(out, key_part.size());
  for (const std::uint8_t p : key_part) {
    if (next[p] < elements[p].size()) {
      out.append(elements[p][next[p]++]);
    } else {
      out.append(protocol == resp::Protocol::Resp3 ? "_\r\n" : "$-1\r\n");
    }
  }
}

bool split_reply_array(std::string_view reply, std::vector<std::string_view>& elements) {
  elements.clear();
  if (reply.empty() || reply[0] != '*') {
    return false;
  }
  const auto nl = reply.find("\r\n");
  if (nl == std::string_view::npos) {
    return false;
  }
  std::size_t pos = nl + 2;
  resp::ReplyFramer framer;
  while (pos < reply.size()) {
    resp::FramedReply element;
    if (framer.feed(reply.substr(pos), element) != resp::errc::ok) {
      return false;
    }
    elements.push_back(reply.substr(pos, element.length));
    pos += element.length;
  }
  return true;
}

}  // namespace seawall::proxy
