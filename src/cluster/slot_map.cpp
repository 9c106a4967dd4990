#include "seawall/cluster/slot_map.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "seawall/resp/reply_framer.hpp"

namespace seawall::cluster {
namespace {

// A CLUSTER SLOTS reply of a 1000-node cluster with every slot in its own range is a few MB;
// anything larger is not one.
constexpr std::size_t kMaxReply = 16 * 1024 * 1024;
constexpr std::uint32_t kMaxDepth = 8;

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// Reads the values of one complete, framed reply in order. Each read returns nullopt when the
// value there is not of the kind asked for; the reply is then not a CLUSTER SLOTS reply.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  std::optional<std::int64_t> array_header() { return header('*'); }

  std::optional<std::int64_t> integer() { return header(':'); }

  // A bulk or simple string.
  std::optional<std::string_view> text() {
    if (pos_ >= bytes_.size()) {
      return std::nullopt;
    }
    if (bytes_[pos_] == '+') {
      const auto end = bytes_.find("\r\n", pos_);
      const std::string_view out = bytes_.substr(pos_ + 1, end - pos_ - 1);
      pos_ = end + 2;
      return out;
    }
    const auto length = header('$');
    if (!length || *length < 0 || pos_ + static_cast<std::size_t>(*length) + 2 > bytes_.size()) {
      return std::nullopt;
    }
    const std::string_view out = bytes_.substr(pos_, static_cast<std::size_t>(*length));
    pos_ += static_cast<std::size_t>(*length) + 2;
    return out;
  }

  // Steps over one value of any kind (a node entry's metadata: its hostname map, ...).
  bool skip() {
    resp::ReplyFramer framer(kMaxDepth);
    resp::FramedReply framed;
    if (framer.feed(bytes_.substr(pos_), framed) != resp::errc::ok) {
      return false;
    }
    pos_ += framed.length;
    return true;
  }

 private:
  std::optional<std::int64_t> header(char type) {
    if (pos_ >= bytes_.size() || bytes_[pos_] != type) {
      return std::nullopt;
    }
    const auto end = bytes_.find("\r\n", pos_);
    if (end == std::string_view::npos) {
      return std::nullopt;
    }
    const auto value = parse_int(bytes_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 2;
    return value;
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
};

// One node entry: [host, port, id, metadata...]. `node` is nullopt for an entry without a usable
// address ("?": the node does not know its own endpoint); false when the entry does not parse.
bool read_node(Reader& reader, const NodeAddress& asked, std::optional<NodeAddress>& node) {
  const auto fields = reader.array_header();
  if (!fields || *fields < 2) {
    return false;
  }
  const auto host = reader.text();
  const auto port = reader.integer();
  if (!host || !port) {
    return false;
  }
  for (std::int64_t i = 2; i < *fields; ++i) {
    if (!reader.skip()) {
      return false;
    }
  }
  node.reset();
  if (*host == "?" || *port < 1 || *port > 65535) {
    return true;
  }
  node = NodeAddress{host->empty() ? asked.host : std::string(*host),
                     static_cast<std::uint16_t>(*port)};
  return true;
}

bool parse_ranges(std::string_view whole, const NodeAddress& asked, SlotMap& out) {
  Reader reader(whole);
  const auto count = reader.array_header();
  if (!count || *count < 0) {
    return false;
  }
  for (std::int64_t i = 0; i < *count; ++i) {
    const auto fields = reader.array_header();
    if (!fields || *fields < 3) {
      return false;
    }
    const auto first = reader.integer();
    const auto last = reader.integer();
    if (!first || !last || *first < 0 || *last < *first || *last >= kSlots) {
      return false;
    }
    SlotRange range;
    range.first = static_cast<std::uint16_t>(*first);
    range.last = static_cast<std::uint16_t>(*last);
    std::optional<NodeAddress> master;
    if (!read_node(reader, asked, master)) {
      return false;
    }
    for (std::int64_t r = 3; r < *fields; ++r) {
      std::optional<NodeAddress> replica;
      if (!read_node(reader, asked, replica)) {
        return false;
      }
      if (replica) {
        range.replicas.push_back(std::move(*replica));
      }
    }
    if (master) {
      range.master = std::move(*master);
      out.ranges.push_back(std::move(range));
    }
  }
  std::sort(out.ranges.begin(), out.ranges.end(),
            [](const SlotRange& a, const SlotRange& b) { return a.first < b.first; });
  return true;
}

bool contains(const std::vector<NodeAddress>& nodes, const NodeAddress& node) {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

// The map's masters, in the order of their lowest slot, each with the replicas listed for it.
std::vector<ShardNodes> masters_of(const SlotMap& map) {
  std::vector<ShardNodes> out;
  for (const SlotRange& range : map.ranges) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const ShardNodes& s) { return s.master == range.master; });
    if (it == out.end()) {
      out.push_back(ShardNodes{range.master, {}});
      it = out.end() - 1;
    }
    for (const NodeAddress& replica : range.replicas) {
      if (!contains(it->replicas, replica)) {
        it->replicas.push_back(replica);
      }
    }
  }
  return out;
}

}  // namespace

std::string NodeAddress::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<NodeAddress> parse_node_address(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return std::nullopt;
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  // Redis 7 may append the bus port ("host:port@cport") in some replies; MOVED does not.
  std::string_view port_text = text.substr(colon + 1);
  port_text = port_text.substr(0, port_text.find('@'));
  const auto port = parse_int(port_text);
  if (!port || *port < 1 || *port > 65535) {
    return std::nullopt;
  }
  return NodeAddress{std::string(host), static_cast<std::uint16_t>(*port)};
}

std::size_t SlotMap::covered() const {
  std::size_t total = 0;
  for (const SlotRange& range : ranges) {
    total += static_cast<std::size_t>(range.last - range.first) + 1;
  }
  return total;
}

bool SlotMap::same_owners(const SlotMap& other) const {
  return std::equal(ranges.begin(), ranges.end(), other.ranges.begin(), other.ranges.end(),
                    [](const SlotRange& a, const SlotRange& b) {
                      return a.first == b.first && a.last == b.last && a.master == b.master;
                    });
}

SlotsReply parse_cluster_slots(std::string_view bytes, const NodeAddress& asked) {
  SlotsReply out;
  resp::ReplyFramer framer(kMaxDepth);
  resp::FramedReply framed;
  const resp::errc e = framer.feed(bytes, framed);
  if (e == resp::errc::need_more) {
    out.status = bytes.size() > kMaxReply ? ParseStatus::Invalid : ParseStatus::NeedMore;
    return out;
  }
  if (e != resp::errc::ok) {
    out.status = ParseStatus::Invalid;
    return out;
  }
  out.length = framed.length;
  const std::string_view whole = bytes.substr(0, framed.length);
  if (framed.type == '-') {
    out.status = ParseStatus::Ok;
    out.error = std::string(whole.substr(1, whole.size() - 3));
    return out;
  }
  out.status = parse_ranges(whole, asked, out.map) ? ParseStatus::Ok : ParseStatus::Invalid;
  return out;
}

std::optional<std::size_t> majority_view(std::span<const SlotMap> views) {
  std::optional<std::size_t> best;
  std::size_t best_votes = 0;
  for (std::size_t i = 0; i < views.size(); ++i) {
    std::size_t votes = 0;
    for (const SlotMap& other : views) {
      votes += views[i].same_owners(other) ? 1U : 0U;
    }
    if (!best || votes > best_votes ||
        (votes == best_votes && views[i].covered() > views[*best].covered())) {
      best = i;
      best_votes = votes;
    }
  }
  return best;
}

std::vector<ShardNodes> initial_shards(const SlotMap& map) { return masters_of(map); }

Assignment assign_shards(std::span<const ShardNodes> shards,
                         std::span<const std::uint16_t> current_slots, const SlotMap& map) {
  Assignment out;
  out.shards.assign(shards.begin(), shards.end());
  out.slots.assign(current_slots.begin(), current_slots.end());
  out.slots.resize(kSlots, kNoShard);
  const std::vector<ShardNodes> masters = masters_of(map);
  std::vector<std::uint16_t> shard_of(masters.size(), kNoShard);
  std::vector<bool> taken(shards.size(), false);
  const auto take = [&](std::size_t m, std::size_t s) {
    shard_of[m] = static_cast<std::uint16_t>(s);
    taken[s] = true;
  };
  // Rule 1, then rule 2, each over every master before the next rule, so that a master keeping
  // its shard is never displaced by a replica's claim on it.
  for (std::size_t m = 0; m < masters.size(); ++m) {
    for (std::size_t s = 0; s < shards.size(); ++s) {
      if (!taken[s] && shards[s].master == masters[m].master) {
        take(m, s);
        break;
      }
    }
  }
  for (std::size_t m = 0; m < masters.size(); ++m) {
    for (std::size_t s = 0; s < shards.size() && shard_of[m] == kNoShard; ++s) {
      if (!taken[s] && contains(shards[s].replicas, masters[m].master)) {
        take(m, s);
      }
    }
  }
  // Rule 3: the shard whose slots it serves most of.
  for (std::size_t m = 0; m < masters.size(); ++m) {
    if (shard_of[m] != kNoShard) {
      continue;
    }
    std::map<std::uint16_t, std::size_t> overlap;
    for (const SlotRange& range : map.ranges) {
      if (range.master != masters[m].master) {
        continue;
      }
      for (std::size_t slot = range.first; slot <= range.last; ++slot) {
        const std::uint16_t s = out.slots[slot];
        if (s < shards.size() && !taken[s]) {
          ++overlap[s];
        }
      }
    }
    const auto best = std::max_element(overlap.begin(), overlap.end(),
                                       [](auto& a, auto& b) { return a.second < b.second; });
    if (best != overlap.end()) {
      take(m, best->first);
    }
  }
  // Rule 4: a spare shard (one that never had a master), in order.
  for (std::size_t m = 0; m < masters.size(); ++m) {
    for (std::size_t s = 0; s < shards.size() && shard_of[m] == kNoShard; ++s) {
      if (!taken[s] && shards[s].master.host.empty()) {
        take(m, s);
      }
    }
  }
  for (std::size_t m = 0; m < masters.size(); ++m) {
    if (shard_of[m] == kNoShard) {
      out.unassigned.push_back(masters[m].master);
      continue;
    }
    out.shards[shard_of[m]] = masters[m];
  }
  for (const SlotRange& range : map.ranges) {
    const auto m = static_cast<std::size_t>(
        std::find_if(masters.begin(), masters.end(),
                     [&](const ShardNodes& s) { return s.master == range.master; }) -
        masters.begin());
    if (shard_of[m] == kNoShard) {
      continue;
    }
    std::fill(out.slots.begin() + range.first, out.slots.begin() + range.last + 1, shard_of[m]);
  }
  return out;
}

}  // namespace seawall::cluster
