#pragma once
// Degraded defaults: the reply a policy serves for a read when Redis is unavailable and L1 has
// nothing, built once at config load into ready-to-send RESP2 bytes. RESP2 because every client
// understands it, RESP3 ones included (a map is sent as a flat array of key, value, ...).
//
// In YAML a default is a typed node:
//   {type: nil}                         $-1
//   {type: string, value: "x"}          $1 x        (a bulk string)
//   {type: status, value: OK}           +OK
//   {type: integer, value: 0}           :0
//   {type: error, value: "ERR x"}       -ERR x      (the whole line, code included)
//   {type: array, value: [a, ~, [b], {type: integer, value: 1}]}
//   {type: map, value: {field: a, other: {type: integer, value: 2}}}
// Inside array and map values: a scalar is a bulk string (as Redis returns list, set and hash
// members), `~` is nil, a sequence is a nested array, and a mapping is a typed node.
// Thread safety: pure functions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace YAML {
class Node;
}

namespace seawall::policy {

enum class ValueType : std::uint8_t { Nil, String, Status, Integer, Array, Map, Error };

// A typed description of a reply, for defaults built in code.
struct DefaultValue {
  ValueType type = ValueType::Nil;
  std::string text;                 // String, Status, Error
  std::int64_t number = 0;          // Integer
  std::vector<DefaultValue> items;  // Array: the elements; Map: key, value, key, value, ...

  static DefaultValue nil();
  static DefaultValue bulk(std::string text);
  static DefaultValue status(std::string text);
  static DefaultValue integer(std::int64_t number);
  static DefaultValue error(std::string text);
  static DefaultValue array(std::vector<DefaultValue> items);
  static DefaultValue map(std::vector<std::pair<DefaultValue, DefaultValue>> entries);
};

// Deepest nesting of arrays and maps a default may have.
inline constexpr int kMaxDefaultDepth = 16;

struct DefaultError {
  std::string path;     // key path of the offending node: "policies[2].default.value[1].type"
  std::string message;  // what is wrong with it
  int line = 0;         // 1-based line of that node in the YAML text; 0 when unknown
};

// Either the bytes or the error, never both.
struct DefaultResult {
  std::optional<std::string> bytes;
  std::optional<DefaultError> error;

  bool ok() const noexcept { return bytes.has_value(); }
};

// Encodes `value` as RESP2. Fails when a status or error contains CR or LF, an error is empty, a
// map has an odd number of items, or nesting exceeds kMaxDefaultDepth. `path` names `value` in
// error messages.
DefaultResult encode_default(const DefaultValue& value, std::string_view path = "default");

// Parses and encodes a typed YAML node (see the top of this file). `path` is the node's key path
// in the config file, used as the prefix of error paths. Never throws.
DefaultResult default_from_yaml(const YAML::Node& node, std::string_view path);

}  // namespace seawall::policy
