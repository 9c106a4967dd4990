#include "seawall/policy/defaults.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <string>

namespace seawall::policy {
namespace {

std::string encoded(const DefaultValue& value) {
  const DefaultResult r = encode_default(value);
  EXPECT_TRUE(r.ok()) << (r.error ? r.error->path + ": " + r.error->message : "");
  EXPECT_EQ(r.bytes.has_value(), !r.error.has_value());
  return r.bytes.value_or("<error>");
}

DefaultError encode_error(const DefaultValue& value) {
  const DefaultResult r = encode_default(value, "policies[0].default");
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.bytes.has_value());
  return r.error.value_or(DefaultError{});
}

DefaultResult from_yaml(const std::string& text) {
  return default_from_yaml(YAML::Load(text), "policies[0].default");
}

std::string yaml_bytes(const std::string& text) {
  const DefaultResult r = from_yaml(text);
  EXPECT_TRUE(r.ok()) << text << " -> " << (r.error ? r.error->path + ": " + r.error->message : "");
  return r.bytes.value_or("<error>");
}

DefaultError yaml_error(const std::string& text) {
  const DefaultResult r = from_yaml(text);
  EXPECT_FALSE(r.ok()) << text << " -> " << r.bytes.value_or("");
  EXPECT_FALSE(r.bytes.has_value());
  return r.error.value_or(DefaultError{});
}

TEST(DefaultsTest, EncodesScalars) {
  EXPECT_EQ(encoded(DefaultValue::nil()), "$-1\r\n");
  EXPECT_EQ(encoded(DefaultValue::bulk("abc")), "$3\r\nabc\r\n");
  EXPECT_EQ(encoded(DefaultValue::bulk("")), "$0\r\n\r\n");
  EXPECT_EQ(encoded(DefaultValue::bulk("a\r\nb")), "$4\r\na\r\nb\r\n");  // bulk is binary-safe
  EXPECT_EQ(encoded(DefaultValue::status("OK")), "+OK\r\n");
  EXPECT_EQ(encoded(DefaultValue::integer(0)), ":0\r\n");
  EXPECT_EQ(encoded(DefaultValue::integer(-42)), ":-42\r\n");
  EXPECT_EQ(encoded(DefaultValue::integer(std::numeric_limits<std::int64_t>::min())),
            ":-9223372036854775808\r\n");
  EXPECT_EQ(encoded(DefaultValue::error("ERR x")), "-ERR x\r\n");
}

TEST(DefaultsTest, EncodesArraysAndNesting) {
  EXPECT_EQ(encoded(DefaultValue::array({})), "*0\r\n");
  EXPECT_EQ(encoded(DefaultValue::array(
                {DefaultValue::bulk("a"), DefaultValue::integer(1), DefaultValue::nil()})),
            "*3\r\n$1\r\na\r\n:1\r\n$-1\r\n");
  EXPECT_EQ(encoded(DefaultValue::array(
                {DefaultValue::array({DefaultValue::array({}), DefaultValue::bulk("x")}),
                 DefaultValue::status("OK")})),
            "*2\r\n*2\r\n*0\r\n$1\r\nx\r\n+OK\r\n");
}

TEST(DefaultsTest, EncodesMapAsFlatArray) {
  EXPECT_EQ(encoded(DefaultValue::map({})), "*0\r\n");
  EXPECT_EQ(encoded(DefaultValue::map({{DefaultValue::bulk("f"), DefaultValue::bulk("v")},
                                       {DefaultValue::bulk("n"), DefaultValue::integer(7)}})),
            "*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\nn\r\n:7\r\n");
}

TEST(DefaultsTest, RefusesWhatRespCannotCarry) {
  DefaultError e = encode_error(DefaultValue::status("two\r\nlines"));
  EXPECT_EQ(e.path, "policies[0].default");
  EXPECT_NE(e.message.find("CR or LF"), std::string::npos);

  e = encode_error(DefaultValue::array({DefaultValue::bulk("ok"), DefaultValue::error("")}));
  EXPECT_EQ(e.path, "policies[0].default[1]");
  EXPECT_EQ(e.message, "must not be empty");

  DefaultValue odd = DefaultValue::map({});
  odd.type = ValueType::Map;
  odd.items.push_back(DefaultValue::bulk("lonely key"));
  e = encode_error(odd);
  EXPECT_NE(e.message.find("even"), std::string::npos);
}

TEST(DefaultsTest, LimitsNestingDepth) {
  DefaultValue value = DefaultValue::array({});
  for (int i = 1; i < kMaxDefaultDepth; ++i) {
    value = DefaultValue::array({std::move(value)});
  }
  EXPECT_TRUE(encode_default(value).ok());
  value = DefaultValue::array({std::move(value)});
  const DefaultError e = encode_error(value);
  EXPECT_NE(e.message.find("nested deeper"), std::string::npos);
}

TEST(DefaultsYamlTest, EachType) {
  EXPECT_EQ(yaml_bytes("{type: nil}"), "$-1\r\n");
  EXPECT_EQ(yaml_bytes("{type: nil, value: ~}"), "$-1\r\n");
  EXPECT_EQ(yaml_bytes("{type: string, value: \"x\"}"), "$1\r\nx\r\n");
  EXPECT_EQ(yaml_bytes("{type: string, value: \"\"}"), "$0\r\n\r\n");
  EXPECT_EQ(yaml_bytes("{type: string, value: 123}"), "$3\r\n123\r\n");
  EXPECT_EQ(yaml_bytes("{type: string, value: \"~\"}"), "$1\r\n~\r\n");
  EXPECT_EQ(yaml_bytes("{type: status, value: OK}"), "+OK\r\n");
  EXPECT_EQ(yaml_bytes("{type: integer, value: 0}"), ":0\r\n");
  EXPECT_EQ(yaml_bytes("{type: integer, value: -17}"), ":-17\r\n");
  EXPECT_EQ(yaml_bytes("{type: error, value: ERR cache unavailable}"),
            "-ERR cache unavailable\r\n");
  EXPECT_EQ(yaml_bytes("{type: array, value: []}"), "*0\r\n");
  EXPECT_EQ(yaml_bytes("{type: map, value: {}}"), "*0\r\n");
}

TEST(DefaultsYamlTest, ArrayElements) {
  EXPECT_EQ(yaml_bytes("{type: array, value: [a, \"b c\", 3, ~]}"),
            "*4\r\n$1\r\na\r\n$3\r\nb c\r\n$1\r\n3\r\n$-1\r\n");
  EXPECT_EQ(yaml_bytes("{type: array, value: [[], [x, [y]], {type: integer, value: 5}]}"),
            "*3\r\n*0\r\n*2\r\n$1\r\nx\r\n*1\r\n$1\r\ny\r\n:5\r\n");
  EXPECT_EQ(yaml_bytes("type: array\n"
                       "value:\n"
                       "  - {type: array, value: [{type: status, value: QUEUED}]}\n"
                       "  - {type: map, value: {k: v}}\n"),
            "*2\r\n*1\r\n+QUEUED\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
}

TEST(DefaultsYamlTest, MapKeepsDocumentOrder) {
  EXPECT_EQ(yaml_bytes("type: map\n"
                       "value:\n"
                       "  zeta: 1\n"
                       "  alpha: {type: integer, value: 2}\n"
                       "  mid: ~\n"
                       "  list: [a]\n"),
            "*8\r\n$4\r\nzeta\r\n$1\r\n1\r\n$5\r\nalpha\r\n:2\r\n$3\r\nmid\r\n$-1\r\n"
            "$4\r\nlist\r\n*1\r\n$1\r\na\r\n");
}

TEST(DefaultsYamlTest, ErrorsNameTheKeyAndLine) {
  DefaultError e = yaml_error("value: 1\ntype: lst\n");
  EXPECT_EQ(e.path, "policies[0].default.type");
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(e.message.find("unknown type 'lst'"), std::string::npos);

  e = yaml_error("type: array\nvalue:\n  - a\n  - {type: integer, value: abc}\n");
  EXPECT_EQ(e.path, "policies[0].default.value[1].value");
  EXPECT_EQ(e.line, 4);
  EXPECT_NE(e.message.find("'abc'"), std::string::npos);

  e = yaml_error("type: map\nvalue:\n  f: {type: error, value: \"\"}\n");
  EXPECT_EQ(e.path, "policies[0].default.value.f.value");
  EXPECT_EQ(e.message, "must not be empty");
}

TEST(DefaultsYamlTest, RejectsMalformedNodes) {
  EXPECT_EQ(yaml_error("just a string").message, "must be a mapping {type: ..., value: ...}");
  EXPECT_EQ(yaml_error("[1, 2]").path, "policies[0].default");
  EXPECT_EQ(yaml_error("~").message, "missing");
  EXPECT_EQ(yaml_error("{value: 1}").path, "policies[0].default.type");
  EXPECT_EQ(yaml_error("{type: [string]}").message, "must be a scalar");

  DefaultError e = yaml_error("{type: string, value: x, ttl: 5}");
  EXPECT_EQ(e.path, "policies[0].default.ttl");
  EXPECT_NE(e.message.find("unknown key"), std::string::npos);

  e = yaml_error("{type: string}");
  EXPECT_EQ(e.path, "policies[0].default.value");
  EXPECT_EQ(e.message, "missing");

  e = yaml_error("{type: string, value: ~}");
  EXPECT_EQ(e.path, "policies[0].default.value");

  e = yaml_error("{type: string, value: [a]}");
  EXPECT_EQ(e.message, "must be a scalar");

  e = yaml_error("{type: nil, value: 0}");
  EXPECT_EQ(e.message, "nil takes no value");

  e = yaml_error("{type: status, value: \"a\\nb\"}");
  EXPECT_NE(e.message.find("CR or LF"), std::string::npos);

  e = yaml_error("{type: array, value: x}");
  EXPECT_EQ(e.path, "policies[0].default.value");

  e = yaml_error("{type: map, value: [a, b]}");
  EXPECT_EQ(e.path, "policies[0].default.value");

  e = yaml_error("{type: map, value: {[a]: b}}");
  EXPECT_EQ(e.message, "map keys must be scalars");

  e = yaml_error("{type: array, value: [{value: 1}]}");
  EXPECT_EQ(e.path, "policies[0].default.value[0].type");
}

TEST(DefaultsYamlTest, RejectsDuplicateKeys) {
  const DefaultError e = yaml_error("{type: string, value: a, value: b}");
  EXPECT_EQ(e.path, "policies[0].default.value");
  EXPECT_EQ(e.message, "duplicate key");
}

TEST(DefaultsYamlTest, RejectsBadIntegers) {
  for (const char* bad : {"1.5", "0x10", "12abc", "99999999999999999999", "\"\"", "+1", " "}) {
    const std::string text = std::string("{type: integer, value: ") + bad + "}";
    const DefaultError e = yaml_error(text);
    EXPECT_EQ(e.path, "policies[0].default.value") << bad;
  }
  EXPECT_EQ(yaml_bytes("{type: integer, value: 9223372036854775807}"), ":9223372036854775807\r\n");
}

TEST(DefaultsYamlTest, LimitsNestingDepth) {
  // The array's value is the outermost level, so n brackets are n levels.
  auto nested = [](int levels) {
    const auto n = static_cast<std::size_t>(levels);
    return "{type: array, value: " + std::string(n, '[') + std::string(n, ']') + "}";
  };
  EXPECT_TRUE(from_yaml(nested(kMaxDefaultDepth)).ok());
  const DefaultError e = yaml_error(nested(kMaxDefaultDepth + 1));
  EXPECT_NE(e.message.find("nested deeper"), std::string::npos);
  EXPECT_EQ(e.path.rfind("policies[0].default.value[0]", 0), 0u);
}

TEST(DefaultsYamlTest, UndefinedNodeIsAnErrorNotAThrow) {
  const YAML::Node doc = YAML::Load("other: 1");
  const DefaultResult r = default_from_yaml(doc["default"], "policies[0].default");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->message, "missing");
}

}  // namespace
}  // namespace seawall::policy
