#include "config/binder.hpp"

#include <algorithm>
#include <charconv>

#include "config/units.hpp"
#include "seawall/util/ascii.hpp"

namespace seawall::config::detail {
namespace {

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  out += text;
  out += '"';
  return out;
}

std::string_view kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "an empty value";
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), util::ascii_lower);
  return out;
}

// Levenshtein distance, case-insensitive; only used on short key names.
std::size_t edit_distance(std::string_view a_text, std::string_view b_text) {
  const std::string a = lower(a_text);
  const std::string b = lower(b_text);
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "must be between 1 and 256, got 300". A maximum that is only the type's limit is named when
// it is exceeded, and a minimum of 0 is never named.
struct Range {
  bool has_min;       // min > 0
  bool explicit_max;  // max chosen by the field, not the type's limit
  bool positive;      // min is the smallest positive value: say "> 0"
  std::string min;
  std::string max;
};

std::string range_message(const Range& range, bool below, std::string_view got) {
  std::string message;
  if (range.has_min && range.explicit_max) {
    message = "must be between " + range.min + " and " + range.max;
  } else if (below) {
    message = range.positive ? "must be > 0" : "must be at least " + range.min;
  } else {
    message = "must be at most " + range.max;
  }
  return message + ", got " + std::string(got);
}

// A value with a unit (duration, size) parsed from `text`: stored in `out` when within
// [min, max], else the error. `type_max` is the type's limit (never named as a chosen maximum),
// `smallest` the smallest positive value (a minimum of it reads "> 0").
template <class Value, class Parsed, class Format>
std::string checked_unit(std::string_view text, const Parsed& parsed, UnitKind kind, Value min,
                         Value max, Value type_max, Value smallest, Format format, Value& out) {
  if (parsed.error != UnitError::None) {
    return std::string(kind == UnitKind::Duration ? "invalid duration " : "invalid size ") +
           quoted(text) + ": " + std::string(describe(parsed.error, kind));
  }
  if (parsed.value < min || parsed.value > max) {
    return range_message(
        Range{min > Value{0}, max != type_max, min == smallest, format(min), format(max)},
        parsed.value < min, text);
  }
  out = parsed.value;
  return std::string();
}

std::string join_names(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != 0) {
      out += i + 1 == names.size() ? " or " : ", ";
    }
    out += names[i];
  }
  return out;
}

}  // namespace

void Diagnostics::add(int line, std::string_view path, std::string_view message) {
  std::string text = source_;
  if (line > 0) {
    text += ':';
    text += std::to_string(line);
  }
  text += ": ";
  if (!path.empty()) {
    text += path;
    text += ": ";
  }
  text += message;
  entries_.push_back(Entry{line, std::move(text)});
}

std::vector<std::string> Diagnostics::take() {
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.line < b.line; });
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (Entry& entry : entries_) {
    out.push_back(std::move(entry.text));
  }
  entries_.clear();
  return out;
}

void Diagnostics::asked(std::string path) {
  if (std::find(keys_asked_.begin(), keys_asked_.end(), path) == keys_asked_.end()) {
    keys_asked_.push_back(std::move(path));
  }
}

int line_of(const YAML::Mark& mark) { return mark.line >= 0 ? mark.line + 1 : 0; }

std::string join_path(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) {
    out += '.';
  }
  out += key;
  return out;
}

std::string index_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

MapBinder::MapBinder(const YAML::Node& node, std::string path, int line, Diagnostics& diagnostics)
    : path_(std::move(path)), line_(line), diagnostics_(diagnostics) {
  if (node.IsNull() || !node.IsDefined()) {
    is_map_ = true;
    return;
  }
  if (!node.IsMap()) {
    diagnostics_.add(line_, path_, "expected a mapping, got " + std::string(kind_of(node)));
    return;
  }
  is_map_ = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const int key_line = line_of(it->first.Mark()) > 0 ? line_of(it->first.Mark()) : line_;
    if (!it->first.IsScalar()) {
      diagnostics_.add(key_line, path_, "keys must be plain strings");
      continue;
    }
    const std::string& key = it->first.Scalar();
    const bool duplicate =
        std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
    if (duplicate) {
      diagnostics_.add(key_line, join_path(path_, key), "duplicate key");
      continue;
    }
    entries_.push_back(Entry{key, key_line, it->second});
  }
}

bool MapBinder::has(std::string_view key) const {
  diagnostics_.asked(join_path(path_, key));
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.key == key; });
}

bool MapBinder::has_sequence(std::string_view key) const {
  diagnostics_.asked(join_path(path_, key));
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.key == key && e.value.IsSequence(); });
}

int MapBinder::line(std::string_view key) const {
  for (const Entry& entry : entries_) {
    if (entry.key == key) {
      return entry.line;
    }
  }
  return line_;
}

void MapBinder::error(std::string_view key, std::string_view message) {
  report(line(key), key, message);
}

void MapBinder::report(int line, std::string_view key, std::string_view message) {
  diagnostics_.add(line, join_path(path_, key), message);
}

bool MapBinder::raw(std::string_view key, const RawFn& bind, Presence presence) {
  bool absent_ok = false;
  Entry* entry = find_present(key, presence, absent_ok);
  if (entry == nullptr) {
    return absent_ok;
  }
  const std::size_t before = diagnostics_.count();
  bind(entry->value, join_path(path_, key), entry->line);
  return diagnostics_.count() == before;
}

MapBinder::Entry* MapBinder::find(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
    known_.emplace_back(key);
    diagnostics_.asked(join_path(path_, key));
  }
  for (Entry& entry : entries_) {
    if (entry.key == key) {
      entry.asked = true;
      return &entry;
    }
  }
  return nullptr;
}

MapBinder::Entry* MapBinder::find_present(std::string_view key, Presence presence,
                                          bool& absent_ok) {
  absent_ok = false;
  if (!is_map_) {
    return nullptr;
  }
  Entry* entry = find(key);
  if (entry == nullptr) {
    if (presence == Presence::Required) {
      report(line_, key, "is required");
      return nullptr;
    }
    absent_ok = true;
  }
  return entry;
}

MapBinder::Entry* MapBinder::find_scalar(std::string_view key, std::string_view expected,
                                         Presence presence, bool& usable) {
  Entry* entry = find_present(key, presence, usable);
  if (entry == nullptr) {
    return nullptr;
  }
  usable = false;
  if (entry->value.IsNull()) {
    report(entry->line, key, "missing value, expected " + std::string(expected));
    return nullptr;
  }
  if (!entry->value.IsScalar()) {
    report(entry->line, key,
           "expected " + std::string(expected) + ", got " + std::string(kind_of(entry->value)));
    return nullptr;
  }
  return entry;
}

bool MapBinder::scalar(std::string_view key, std::string_view expected, const ScalarParser& parse,
                       Presence presence) {
  bool usable = false;
  Entry* entry = find_scalar(key, expected, presence, usable);
  if (entry == nullptr) {
    return usable;
  }
  std::string message = parse(entry->value.Scalar());
  if (!message.empty()) {
    report(entry->line, key, message);
    return false;
  }
  return true;
}

bool MapBinder::string(std::string_view key, std::string& out, const ScalarParser& check,
                       Presence presence) {
  return scalar(
      key, "a string",
      [&](std::string_view text) {
        if (check) {
          std::string message = check(text);
          if (!message.empty()) {
            return message;
          }
        }
        out = text;
        return std::string();
      },
      presence);
}

bool MapBinder::boolean(std::string_view key, bool& out, Presence presence) {
  return scalar(
      key, "true or false",
      [&](std::string_view text) {
        // Only YAML 1.2's spelling: "yes", "on" and friends are too easy to write by accident.
        if (text == "true" || text == "false") {
          out = text == "true";
          return std::string();
        }
        return "expected true or false, got " + quoted(text);
      },
      presence);
}

bool MapBinder::uint_impl(std::string_view key, std::uint64_t& out, std::uint64_t min,
                          std::uint64_t max, bool explicit_max, Presence presence) {
  return scalar(
      key, "an unsigned integer",
      [&](std::string_view text) {
        std::string_view digits = text;
        const bool negative = !digits.empty() && digits.front() == '-';
        if (negative) {
          digits.remove_prefix(1);
        }
        std::uint64_t value = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        const bool all_digits = !digits.empty() && end == digits.data() + digits.size();
        if (!all_digits || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
          return "expected an unsigned integer, got " + quoted(text);
        }
        const bool below = negative || (ec == std::errc() && value < min);
        const bool above = !negative && (ec != std::errc() || value > max);
        if (below || above) {
          return range_message(
              Range{min > 0, explicit_max, min == 1, std::to_string(min), std::to_string(max)},
              below, text);
        }
        out = value;
        return std::string();
      },
      presence);
}

bool MapBinder::duration(std::string_view key, Millis& out, Millis min, Millis max,
                         Presence presence) {
  return scalar(
      key, "a duration such as 250ms or 2s",
      [&](std::string_view text) {
        return checked_unit(text, parse_duration_detailed(text), UnitKind::Duration, min, max,
                            kMaxDuration, Millis{1}, format_duration, out);
      },
      presence);
}

bool MapBinder::size(std::string_view key, std::uint64_t& out, std::uint64_t min, std::uint64_t max,
                     Presence presence) {
  return scalar(
      key, "a size such as 64kb or 512mb",
      [&](std::string_view text) {
        return checked_unit(text, parse_size_detailed(text), UnitKind::Size, min, max,
                            std::numeric_limits<std::uint64_t>::max(), std::uint64_t{1},
                            format_size, out);
      },
      presence);
}

bool MapBinder::choice(std::string_view key, std::string& out,
                       std::initializer_list<std::string_view> names, Presence presence) {
  return choice_impl(key, out, std::vector<std::string_view>(names), presence);
}

bool MapBinder::choice_impl(std::string_view key, std::string& out,
                            const std::vector<std::string_view>& names, Presence presence) {
  const std::string expected = "one of " + join_names(names);
  return scalar(
      key, expected,
      [&](std::string_view text) {
        if (std::find(names.begin(), names.end(), text) == names.end()) {
          return "must be " + expected + ", got " + quoted(text);
        }
        out = text;
        return std::string();
      },
      presence);
}

bool MapBinder::strings(std::string_view key, std::vector<std::string>& out,
                        const ScalarParser& check, Presence presence) {
  bool absent_ok = false;
  Entry* entry = find_present(key, presence, absent_ok);
  if (entry == nullptr) {
    return absent_ok;
  }
  const YAML::Node& node = entry->value;
  if (node.IsNull()) {
    out.clear();
    return true;
  }
  if (!node.IsSequence()) {
    report(entry->line, key, "expected a sequence of strings, got " + std::string(kind_of(node)));
    return false;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const int item_line = line_of(item.Mark()) > 0 ? line_of(item.Mark()) : entry->line;
    const std::string item_path = index_path(join_path(path_, key), i);
    if (!item.IsScalar()) {
      diagnostics_.add(item_line, item_path,
                       "expected a string, got " + std::string(kind_of(item)));
      ok = false;
      continue;
    }
    if (check) {
      std::string message = check(item.Scalar());
      if (!message.empty()) {
        diagnostics_.add(item_line, item_path, message);
        ok = false;
        continue;
      }
    }
    values.push_back(item.Scalar());
  }
  if (ok) {
    out = std::move(values);
  }
  return ok;
}

bool MapBinder::map(std::string_view key, const MapFn& bind, Presence presence) {
  bool absent_ok = false;
  Entry* entry = find_present(key, presence, absent_ok);
  if (entry == nullptr) {
    return absent_ok;
  }
  MapBinder child(entry->value, join_path(path_, key), entry->line, diagnostics_);
  if (!child.is_map()) {
    return false;
  }
  bind(child);
  child.finish();
  return true;
}

bool MapBinder::list(std::string_view key, const ListFn& bind, Presence presence) {
  bool absent_ok = false;
  Entry* entry = find_present(key, presence, absent_ok);
  if (entry == nullptr) {
    return absent_ok;
  }
  const YAML::Node& node = entry->value;
  if (node.IsNull()) {
    return true;
  }
  if (!node.IsSequence()) {
    report(entry->line, key, "expected a sequence, got " + std::string(kind_of(node)));
    return false;
  }
  bool ok = true;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const int item_line = line_of(item.Mark()) > 0 ? line_of(item.Mark()) : entry->line;
    MapBinder child(item, index_path(join_path(path_, key), i), item_line, diagnostics_);
    if (!child.is_map()) {
      ok = false;
      continue;
    }
    bind(child, i);
    child.finish();
  }
  return ok;
}

void MapBinder::finish() {
  if (finished_) {
    return;
  }
  finished_ = true;
  for (const Entry& entry : entries_) {
    if (entry.asked) {
      continue;
    }
    std::string message = "unknown key";
    const std::string* best = nullptr;
    std::size_t best_distance = 0;
    for (const std::string& known : known_) {
      const std::size_t distance = edit_distance(entry.key, known);
      if (best == nullptr || distance < best_distance) {
        best = &known;
        best_distance = distance;
      }
    }
    // A distance of at most 2 catches typos and plurals without suggesting unrelated keys.
    if (best != nullptr && best_distance <= 2 && best_distance < entry.key.size()) {
      message += " (did you mean " + *best + "?)";
    }
    report(entry.line, entry.key, message);
  }
}

}  // namespace seawall::config::detail
