#include "seawall/proxy/info_keyspace.hpp"

#include <charconv>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace seawall::proxy {
namespace {

constexpr std::string_view kHeader = "# Keyspace\r\n";
constexpr std::string_view kAvgTtl = "avg_ttl";
constexpr std::string_view kExpires = "expires";

// One database's line, its fields in Redis's order.
using Fields = std::vector<std::pair<std::string, std::int64_t>>;

std::int64_t number(std::string_view s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::int64_t field(const Fields& fields, std::string_view name) {
  for (const auto& [k, v] : fields) {
    if (k == name) {
      return v;
    }
  }
  return 0;
}

// "keys=1,expires=0,avg_ttl=0" into its fields.
Fields parse_fields(std::string_view s) {
  Fields out;
  while (!s.empty()) {
    const std::size_t comma = s.find(',');
    const std::string_view item = s.substr(0, comma);
    const std::size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      out.emplace_back(std::string(item.substr(0, eq)), number(item.substr(eq + 1)));
    }
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
  }
  return out;
}

// The Keyspace section's body of `text`: from after its header to the blank line (or the end).
std::pair<std::size_t, std::size_t> section(std::string_view text) {
  const std::size_t header = text.find(kHeader);
  if (header == std::string_view::npos) {
    return {std::string_view::npos, std::string_view::npos};
  }
  const std::size_t begin = header + kHeader.size();
  const std::size_t blank = text.find("\r\n\r\n", begin > 2 ? begin - 2 : begin);
  std::size_t end = blank == std::string_view::npos ? text.size() : blank + 2;
  end = std::max(end, begin);
  return {begin, end};
}

}  // namespace

std::string sum_keyspaces(std::span<const std::string_view> texts) {
  if (texts.empty()) {
    return {};
  }
  const auto [begin, end] = section(texts[0]);
  if (begin == std::string_view::npos) {
    return std::string(texts[0]);
  }
  // Per database (ordered by number): summed fields, and the expiring keys' total ttl.
  struct Db {
    Fields fields;
    double ttl_total = 0;
  };
  std::map<std::int64_t, Db> dbs;
  for (const std::string_view text : texts) {
    const auto [b, e] = section(text);
    if (b == std::string_view::npos) {
      continue;
    }
    std::string_view body = text.substr(b, e - b);
    while (!body.empty()) {
      const std::size_t nl = body.find("\r\n");
      const std::string_view line = body.substr(0, nl);
      body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 2);
      const std::size_t colon = line.find(':');
      if (!line.starts_with("db") || colon == std::string_view::npos) {
        continue;
      }
      Db& db = dbs[number(line.substr(2, colon - 2))];
      const Fields fields = parse_fields(line.substr(colon + 1));
      db.ttl_total += static_cast<double>(field(fields, kAvgTtl)) *
                      static_cast<double>(field(fields, kExpires));
      for (const auto& [k, v] : fields) {
        auto it = db.fields.begin();
        while (it != db.fields.end() && it->first != k) {
          ++it;
        }
        if (it == db.fields.end()) {
          db.fields.emplace_back(k, v);
        } else if (k != kAvgTtl) {
          it->second += v;
        }
      }
    }
  }
  std::string out(texts[0].substr(0, begin));
  for (auto& [n, db] : dbs) {
    const std::int64_t expires = field(db.fields, kExpires);
    out.append("db").append(std::to_string(n)).append(":");
    bool first = true;
    for (const auto& [k, v] : db.fields) {
      const std::int64_t value =
          k == kAvgTtl
              ? (expires > 0
                     ? static_cast<std::int64_t>(db.ttl_total / static_cast<double>(expires))
                     : 0)
              : v;
      out.append(first ? "" : ",").append(k).append("=").append(std::to_string(value));
      first = false;
    }
    out.append("\r\n");
  }
  out.append(texts[0].substr(end));
  return out;
}

}  // namespace seawall::proxy
