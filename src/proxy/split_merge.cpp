#include "seawall/proxy/split_merge.hpp"

#include <charconv>
#include <cstdlib>
#include <limits>

#include "seawall/resp/replies.hpp"
#include "seawall/resp/reply_framer.hpp"
#include "seawall/resp/writer.hpp"

namespace seawall::proxy {

void part_request(std::span<const std::string_view> args, std::span<const std::uint32_t> keys,
                  std::span<const std::uint16_t> key_part, std::size_t step, std::size_t part,
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

void part_requests(std::span<const std::string_view> args, std::span<const std::uint32_t> keys,
                   std::span<const std::uint16_t> key_part, std::size_t step, std::size_t parts,
                   std::vector<std::vector<std::string_view>>& out) {
  if (out.size() < parts) {
    out.resize(parts);
  }
  for (std::size_t p = 0; p < parts; ++p) {
    out[p].clear();
    out[p].push_back(args[0]);
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::vector<std::string_view>& part = out[key_part[i]];
    for (std::size_t j = 0; j < step; ++j) {
      part.push_back(args[keys[i] + j]);
    }
  }
}

namespace {

void concat_arrays(std::span<const std::string> parts, std::string& out) {
  std::vector<std::string_view> elements;
  std::size_t count = 0;
  std::string body;
  for (const std::string& p : parts) {
    split_reply_array(p, elements);
    count += elements.size();
    for (const std::string_view e : elements) {
      body.append(e);
    }
  }
  resp::append_array_header(out, count);
  out.append(body);
}

}  // namespace

void merge_parts(command::Merge merge, std::span<const std::string> parts,
                 std::span<const std::uint16_t> key_part, resp::Protocol protocol,
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
    case command::Merge::Concat:
      concat_arrays(parts, out);
      return;
    case command::Merge::FirstNonNil:
      for (const std::string& p : parts) {
        if (!resp::replies::is_nil(p)) {
          out.append(p);
          return;
        }
      }
      out.append(parts.empty() ? std::string_view("$-1\r\n") : std::string_view(parts[0]));
      return;
    case command::Merge::Mget:
    case command::Merge::Scan:  // scan_reply
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
  for (const std::uint16_t p : key_part) {
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

namespace seawall::proxy {

std::optional<ShardCursor> shard_cursor(std::string_view cursor, std::size_t shards) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), value);
  if (ec != std::errc() || end != cursor.data() + cursor.size() || shards == 0) {
    return std::nullopt;
  }
  return ShardCursor{static_cast<std::size_t>(value % shards), value / shards};
}

bool scan_reply(std::string_view reply, std::size_t shard, std::size_t shards, std::string& out) {
  std::vector<std::string_view> elements;
  if (!split_reply_array(reply, elements) || elements.size() != 2 || elements[0].empty() ||
      elements[0][0] != '$') {
    return false;
  }
  const std::string_view first = elements[0];
  const std::size_t nl = first.find("\r\n");
  const std::string_view digits = first.substr(nl + 2, first.size() - nl - 4);
  std::uint64_t next = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), next);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return false;
  }
  std::uint64_t cursor = 0;
  if (next != 0) {
    // The shard's cursor must survive the round trip: (next * shards + shard) / shards.
    if (next > (std::numeric_limits<std::uint64_t>::max() - shard) / shards) {
      return false;
    }
    cursor = next * shards + shard;
  } else if (shard + 1 < shards) {
    cursor = shard + 1;  // the next shard from its start
  }
  resp::append_array_header(out, 2);
  resp::append_bulk(out, std::to_string(cursor));
  out.append(elements[1]);
  return true;
}

}  // namespace seawall::proxy
