#include "seawall/policy/defaults.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <exception>

namespace seawall::policy {

DefaultValue DefaultValue::nil() { return DefaultValue{}; }

DefaultValue DefaultValue::bulk(std::string text) {
  DefaultValue v;
  v.type = ValueType::String;
  v.text = std::move(text);
  return v;
}

DefaultValue DefaultValue::status(std::string text) {
  DefaultValue v;
  v.type = ValueType::Status;
  v.text = std::move(text);
  return v;
}

DefaultValue DefaultValue::integer(std::int64_t number) {
  DefaultValue v;
  v.type = ValueType::Integer;
  v.number = number;
  return v;
}

DefaultValue DefaultValue::error(std::string text) {
  DefaultValue v;
  v.type = ValueType::Error;
  v.text = std::move(text);
  return v;
}

DefaultValue DefaultValue::array(std::vector<DefaultValue> items) {
  DefaultValue v;
  v.type = ValueType::Array;
  v.items = std::move(items);
  return v;
}

DefaultValue DefaultValue::map(std::vector<std::pair<DefaultValue, DefaultValue>> entries) {
  DefaultValue v;
  v.type = ValueType::Map;
  v.items.reserve(entries.size() * 2);
  for (auto& [key, value] : entries) {
    v.items.push_back(std::move(key));
    v.items.push_back(std::move(value));
  }
  return v;
}

namespace {

constexpr std::string_view kCrlf = "\r\n";

void append_header(char prefix, std::size_t n, std::string& out) {
  out.push_back(prefix);
  out.append(std::to_string(n));
  out.append(kCrlf);
}

void append_line(char prefix, std::string_view text, std::string& out) {
  out.push_back(prefix);
  out.append(text);
  out.append(kCrlf);
}

bool has_line_break(std::string_view text) {
  return text.find_first_of(kCrlf) != std::string_view::npos;
}

// A message about a simple string (status or error) that RESP cannot carry, or "" when fine.
std::string_view simple_string_problem(ValueType type, std::string_view text) {
  if (has_line_break(text)) {
    return "must not contain CR or LF";
  }
  if (type == ValueType::Error && text.empty()) {
    return "must not be empty";
  }
  return {};
}

std::string indexed(std::string_view path, std::size_t i) {
  std::string out(path);
  out.push_back('[');
  out.append(std::to_string(i));
  out.push_back(']');
  return out;
}

std::string dotted(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) {
    out.push_back('.');
  }
  out.append(key);
  return out;
}

std::string too_deep_message() {
  return "arrays and maps nested deeper than " + std::to_string(kMaxDefaultDepth);
}

// Recursion is bounded by kMaxDefaultDepth.
bool encode_into(const DefaultValue& value, const std::string& path, int depth, std::string& out,
                 DefaultError& error) {
  switch (value.type) {
    case ValueType::Nil:
      out.append("$-1\r\n");
      return true;
    case ValueType::String:
      append_header('$', value.text.size(), out);
      out.append(value.text);
      out.append(kCrlf);
      return true;
    case ValueType::Status:
    case ValueType::Error:
      if (std::string_view problem = simple_string_problem(value.type, value.text);
          !problem.empty()) {
        error = {path, std::string(problem), 0};
        return false;
      }
      append_line(value.type == ValueType::Status ? '+' : '-', value.text, out);
      return true;
    case ValueType::Integer:
      append_line(':', std::to_string(value.number), out);
      return true;
    case ValueType::Array:
    case ValueType::Map:
      if (value.type == ValueType::Map && value.items.size() % 2 != 0) {
        error = {path, "a map needs an even number of items (key, value, ...)", 0};
        return false;
      }
      if (depth + 1 > kMaxDefaultDepth) {
        error = {path, too_deep_message(), 0};
        return false;
      }
      append_header('*', value.items.size(), out);
      for (std::size_t i = 0; i < value.items.size(); ++i) {
        if (!encode_into(value.items[i], indexed(path, i), depth + 1, out, error)) {
          return false;
        }
      }
      return true;
  }
  error = {path, "unknown value type", 0};
  return false;
}

// ---- YAML ----

int line_of(const YAML::Node& node) { return node.IsDefined() ? node.Mark().line + 1 : 0; }

struct YamlParser {
  DefaultError error;

  bool fail(const YAML::Node& node, std::string path, std::string message) {
    error = {std::move(path), std::move(message), line_of(node)};
    return false;
  }

  bool scalar_text(const YAML::Node& node, const std::string& path, std::string& out) {
    if (!node.IsDefined()) {
      return fail(node, path, "missing");
    }
    if (!node.IsScalar()) {
      return fail(node, path, "must be a scalar");
    }
    out = node.Scalar();
    return true;
  }

  // A typed node: {type: ..., value: ...}. `depth` counts the arrays and maps around it.
  bool typed(const YAML::Node& node, const std::string& path, int depth, DefaultValue& out) {
    if (!node.IsDefined() || node.IsNull()) {
      return fail(node, path, "missing");
    }
    if (!node.IsMap()) {
      return fail(node, path, "must be a mapping {type: ..., value: ...}");
    }
    // Copies of yaml-cpp nodes are handles; optional avoids Node::operator=, which rebinds.
    std::optional<YAML::Node> type_slot;
    std::optional<YAML::Node> value_slot;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string();
      if (key == "type" || key == "value") {
        std::optional<YAML::Node>& slot = key == "type" ? type_slot : value_slot;
        if (slot) {
          return fail(it->first, dotted(path, key), "duplicate key");
        }
        slot.emplace(it->second);
      } else {
        return fail(it->first, dotted(path, key.empty() ? "?" : key),
                    "unknown key (expected type, value)");
      }
    }
    const std::string type_path = dotted(path, "type");
    const std::string value_path = dotted(path, "value");
    if (!type_slot) {
      return fail(node, type_path, "missing");
    }
    const bool has_value = value_slot.has_value();
    const YAML::Node& type_node = *type_slot;
    const YAML::Node value_node = value_slot.value_or(YAML::Node());
    std::string type_name;
    if (!scalar_text(type_node, type_path, type_name)) {
      return false;
    }

    if (type_name == "nil") {
      if (has_value && !value_node.IsNull()) {
        return fail(value_node, value_path, "nil takes no value");
      }
      out = DefaultValue::nil();
      return true;
    }
    if (!has_value) {
      return fail(node, value_path, "missing");
    }
    if (type_name == "string" || type_name == "status" || type_name == "error") {
      const ValueType type = type_name == "string"   ? ValueType::String
                             : type_name == "status" ? ValueType::Status
                                                     : ValueType::Error;
      std::string text;
      if (value_node.IsNull()) {
        return fail(value_node, value_path,
                    "must be a string (quote it to send \"~\" or \"null\")");
      }
      if (!scalar_text(value_node, value_path, text)) {
        return false;
      }
      if (std::string_view problem = simple_string_problem(type, text); !problem.empty()) {
        return fail(value_node, value_path, std::string(problem));
      }
      out = DefaultValue{};
      out.type = type;
      out.text = std::move(text);
      return true;
    }
    if (type_name == "integer") {
      std::string text;
      if (!scalar_text(value_node, value_path, text)) {
        return false;
      }
      std::int64_t number = 0;
      const char* end = text.data() + text.size();
      const auto [ptr, ec] = std::from_chars(text.data(), end, number);
      if (text.empty() || ec != std::errc{} || ptr != end) {
        return fail(value_node, value_path,
                    "must be a 64-bit signed decimal integer, got '" + text + "'");
      }
      out = DefaultValue::integer(number);
      return true;
    }
    if (type_name == "array") {
      if (!value_node.IsSequence()) {
        return fail(value_node, value_path, "an array's value must be a sequence, e.g. []");
      }
      return sequence(value_node, value_path, depth, out);
    }
    if (type_name == "map") {
      if (!value_node.IsMap()) {
        return fail(value_node, value_path, "a map's value must be a mapping, e.g. {}");
      }
      if (depth + 1 > kMaxDefaultDepth) {
        return fail(value_node, value_path, too_deep_message());
      }
      out = DefaultValue{};
      out.type = ValueType::Map;
      for (auto it = value_node.begin(); it != value_node.end(); ++it) {
        if (!it->first.IsScalar()) {
          return fail(it->first, value_path, "map keys must be scalars");
        }
        const std::string& field = it->first.Scalar();
        DefaultValue item;
        if (!element(it->second, dotted(value_path, field), depth + 1, item)) {
          return false;
        }
        out.items.push_back(DefaultValue::bulk(field));
        out.items.push_back(std::move(item));
      }
      return true;
    }
    return fail(type_node, type_path,
                "unknown type '" + type_name +
                    "' (expected nil, string, status, integer, array, map or error)");
  }

  bool sequence(const YAML::Node& node, const std::string& path, int depth, DefaultValue& out) {
    if (depth + 1 > kMaxDefaultDepth) {
      return fail(node, path, too_deep_message());
    }
    out = DefaultValue{};
    out.type = ValueType::Array;
    out.items.reserve(node.size());
    std::size_t i = 0;
    for (auto it = node.begin(); it != node.end(); ++it, ++i) {
      DefaultValue item;
      if (!element(*it, indexed(path, i), depth + 1, item)) {
        return false;
      }
      out.items.push_back(std::move(item));
    }
    return true;
  }

  // An item of an array or a value of a map: shorthand scalars, nil and sequences, or typed.
  bool element(const YAML::Node& node, const std::string& path, int depth, DefaultValue& out) {
    if (node.IsNull()) {
      out = DefaultValue::nil();
      return true;
    }
    if (node.IsScalar()) {
      out = DefaultValue::bulk(node.Scalar());
      return true;
    }
    if (node.IsSequence()) {
      return sequence(node, path, depth, out);
    }
    return typed(node, path, depth, out);
  }
};

}  // namespace

DefaultResult encode_default(const DefaultValue& value, std::string_view path) {
  DefaultResult result;
  std::string bytes;
  DefaultError error;
  if (encode_into(value, std::string(path), 0, bytes, error)) {
    result.bytes = std::move(bytes);
  } else {
    result.error = std::move(error);
  }
  return result;
}

DefaultResult default_from_yaml(const YAML::Node& node, std::string_view path) {
  DefaultResult result;
  const std::string root(path);
  // yaml-cpp reports misuse by throwing; this runs at config load, so turn it into an error.
  try {
    YamlParser parser;
    DefaultValue value;
    if (!parser.typed(node, root, 0, value)) {
      result.error = std::move(parser.error);
      return result;
    }
    return encode_default(value, root);
  } catch (const std::exception& e) {
    result.error = DefaultError{root, std::string("invalid YAML node: ") + e.what(), 0};
    return result;
  }
}

}  // namespace seawall::policy
