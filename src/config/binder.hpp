#pragma once
// Field binding for the config loader. A MapBinder wraps one YAML mapping and its key path; each
// bind call handles one field: it looks the key up, checks type and range, stores the value into
// the config struct, or records "file:line: key.path: message" in Diagnostics. finish() reports
// every key that no call asked for as unknown. A config section is then one short function:
//
//   void bind_limits(MapBinder& m, LimitsConfig& out) {
//     m.uint("max_clients", out.max_clients, 1);
//     m.size("max_bulk", out.max_bulk, 1);
//     m.duration("idle_timeout", out.idle_timeout, Millis{0});
//   }
//   root.map("limits", [&](MapBinder& m) { bind_limits(m, config.limits); });
//
// Ownership: a binder refers to its Diagnostics, which must outlive it; it copies the YAML node
// handles it reads (cheap, reference-counted).
// Thread safety: none; one load owns its Diagnostics and binders.
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "seawall/config/config.hpp"

namespace seawall::config::detail {

// Errors of one load. Each reads "source:line: path: message"; the line is 1-based, and the
// parts without a value are left out ("source: message" for a file that cannot be read).
class Diagnostics {
 public:
  explicit Diagnostics(std::string source) : source_(std::move(source)) {}

  // `line` 0 = unknown.
  void add(int line, std::string_view path, std::string_view message);
  bool empty() const { return entries_.empty(); }
  std::size_t count() const { return entries_.size(); }
  // The errors in line order; errors on one line keep the order they were found in.
  std::vector<std::string> take();
  // Every key path a binder looked up ("limits.max_bulk", "upstreams[0].address"), once each, in
  // the order first asked, whether or not the file set it: the keys the loader knows.
  void asked(std::string path);
  const std::vector<std::string>& keys_asked() const { return keys_asked_; }

 private:
  struct Entry {
    int line;
    std::string text;
  };
  std::string source_;
  std::vector<Entry> entries_;
  std::vector<std::string> keys_asked_;
};

// 1-based line of a yaml-cpp mark (which counts from 0), or 0 when the mark is unknown.
int line_of(const YAML::Mark& mark);
// ("limits", "max_bulk") -> "limits.max_bulk"; ("", "threads") -> "threads".
std::string join_path(std::string_view parent, std::string_view key);
// ("upstreams", 1) -> "upstreams[1]".
std::string index_path(std::string_view parent, std::size_t index);

enum class Presence { Optional, Required };

template <typename T>
struct Choice {
  std::string_view name;
  T value;
};

// Longest duration any field accepts unless it says otherwise: keeps `now + timeout` far from
// overflowing a steady_clock time_point.
inline constexpr Millis kMaxDuration = std::chrono::hours(24 * 365);

class MapBinder {
 public:
  // Checks a scalar's text; returns "" when it is fine, else the error message. A parser passed
  // to scalar() also stores the value.
  using ScalarParser = std::function<std::string(std::string_view text)>;
  using MapFn = std::function<void(MapBinder&)>;
  using ListFn = std::function<void(MapBinder&, std::size_t index)>;

  // `node` should be a mapping; null (an empty section, or an empty file) counts as an empty
  // mapping. Anything else is reported at `line`, and every bind call then does nothing.
  MapBinder(const YAML::Node& node, std::string path, int line, Diagnostics& diagnostics);
  MapBinder(const MapBinder&) = delete;
  MapBinder& operator=(const MapBinder&) = delete;

  const std::string& path() const { return path_; }
  bool is_map() const { return is_map_; }
  bool has(std::string_view key) const;
  // True when `key` is present and a sequence (for a key that takes one value or a list).
  bool has_sequence(std::string_view key) const;
  // Line of `key`, or of this mapping when the key is absent.
  int line(std::string_view key) const;
  // Records an error on `key` found by a check across fields.
  void error(std::string_view key, std::string_view message);

  // Every bind call returns true when the field can be used: it was valid and has been stored,
  // or it was absent and optional so `out` keeps its default. On false an error has been
  // recorded and `out` is unchanged. Ranges are inclusive.
  bool string(std::string_view key, std::string& out, const ScalarParser& check = {},
              Presence presence = Presence::Optional);
  bool boolean(std::string_view key, bool& out, Presence presence = Presence::Optional);
  template <std::unsigned_integral T>
  bool uint(std::string_view key, T& out, std::type_identity_t<T> min,
            std::type_identity_t<T> max = std::numeric_limits<T>::max(),
            Presence presence = Presence::Optional) {
    // A 16-bit type's limit is a number people know (ports), so it is named like a chosen one.
    const bool explicit_max = max != std::numeric_limits<T>::max() || sizeof(T) <= 2;
    std::uint64_t value = out;
    if (!uint_impl(key, value, min, max, explicit_max, presence)) {
      return false;
    }
    out = static_cast<T>(value);
    return true;
  }
  bool duration(std::string_view key, Millis& out, Millis min, Millis max = kMaxDuration,
                Presence presence = Presence::Optional);
  bool size(std::string_view key, std::uint64_t& out, std::uint64_t min,
            std::uint64_t max = std::numeric_limits<std::uint64_t>::max(),
            Presence presence = Presence::Optional);
  // One of a fixed list of names, stored as the name itself.
  bool choice(std::string_view key, std::string& out, std::initializer_list<std::string_view> names,
              Presence presence = Presence::Optional);
  // One of a fixed list of names, stored as the value paired with it.
  template <typename T>
  bool choice(std::string_view key, T& out, std::initializer_list<Choice<T>> choices,
              Presence presence = Presence::Optional) {
    std::vector<std::string_view> names;
    for (const Choice<T>& c : choices) {
      names.push_back(c.name);
    }
    std::string name;
    if (!choice_impl(key, name, names, presence)) {
      return false;
    }
    for (const Choice<T>& c : choices) {
      if (c.name == name) {
        out = c.value;
      }
    }
    return true;
  }
  // A scalar whose parsing the caller supplies; `parse` stores the value when it succeeds.
  // `expected` names the form in type errors, e.g. "host:port".
  bool scalar(std::string_view key, std::string_view expected, const ScalarParser& parse,
              Presence presence = Presence::Optional);
  // A sequence of strings, each passed through `check` when given. Replaces `out` when present.
  bool strings(std::string_view key, std::vector<std::string>& out, const ScalarParser& check = {},
               Presence presence = Presence::Optional);
  // A nested mapping: `bind` gets its binder, whose unknown keys are reported afterwards. An
  // absent optional section is not visited.
  bool map(std::string_view key, const MapFn& bind, Presence presence = Presence::Optional);
  // A sequence of mappings: `bind` gets each element's binder ("key[i]") and index.
  bool list(std::string_view key, const ListFn& bind, Presence presence = Presence::Optional);

  // Hands the raw YAML node of `key` (when present) to `bind`, with its full path and line, for
  // values whose shape the caller parses itself (e.g. a policy's default reply).
  using RawFn = std::function<void(const YAML::Node& node, const std::string& path, int line)>;
  bool raw(std::string_view key, const RawFn& bind, Presence presence = Presence::Optional);
  // Records an error at an explicit line and full path (for errors found inside a raw node).
  void report_at(int line, std::string_view full_path, std::string_view message) {
    diagnostics_.add(line, full_path, message);
  }

  // Reports every key no bind call asked for, suggesting a close known key. Called by map() and
  // list() for their children; the loader calls it on the root. Idempotent.
  void finish();

 private:
  struct Entry {
    std::string key;
    int line;
    YAML::Node value;
    bool asked = false;
  };

  // Marks `key` as known and returns its entry, or nullptr when absent.
  Entry* find(std::string_view key);
  // The entry of `key` in this map, or nullptr: then `absent_ok` tells whether that is fine (an
  // optional key left out) or an error was reported (not a map; a required key missing).
  Entry* find_present(std::string_view key, Presence presence, bool& absent_ok);
  // Looks up a field that must be a scalar. Returns the entry when there is text to parse;
  // otherwise nullptr with `usable` set as the bind call should return it.
  Entry* find_scalar(std::string_view key, std::string_view expected, Presence presence,
                     bool& usable);
  bool uint_impl(std::string_view key, std::uint64_t& out, std::uint64_t min, std::uint64_t max,
                 bool explicit_max, Presence presence);
  bool choice_impl(std::string_view key, std::string& out,
                   const std::vector<std::string_view>& names, Presence presence);
  void report(int line, std::string_view key, std::string_view message);

  std::string path_;
  int line_;
  Diagnostics& diagnostics_;
  bool is_map_ = false;
  bool finished_ = false;
  std::vector<Entry> entries_;
  std::vector<std::string> known_;  // every key asked for, for "did you mean"
};

}  // namespace seawall::config::detail
