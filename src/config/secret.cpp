#include "config/secret.hpp"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

namespace seawall::config::detail {

std::string check_env_name(std::string_view name) {
  const auto letter = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  bool ok = !name.empty() && letter(name.front());
  for (char c : name) {
    ok = ok && (letter(c) || digit(c));
  }
  if (!ok) {
    return "must be an environment variable name (letters, digits and '_', not starting with a "
           "digit), got \"" +
           std::string(name) + "\"";
  }
  return {};
}

std::string secret_from_env(const std::string& name, std::string& out) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return "environment variable " + name + " is not set";
  }
  if (*value == '\0') {
    return "environment variable " + name + " is empty";
  }
  out = value;
  return {};
}

std::string secret_from_file(const std::string& path, std::string& out) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return "cannot read " + path + ": is a directory";
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return "cannot read " + path + ": " + std::error_code(errno, std::generic_category()).message();
  }
  std::string text;
  char buffer[4096];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxSecretFile) {
      return "file " + path + " is larger than 64 KiB: not a password file";
    }
  }
  if (in.bad()) {
    return "cannot read " + path + ": I/O error";
  }
  if (!text.empty() && text.back() == '\n') {
    text.pop_back();
    if (!text.empty() && text.back() == '\r') {
      text.pop_back();
    }
  }
  if (text.empty()) {
    return "file " + path + " is empty";
  }
  out = std::move(text);
  return {};
}

}  // namespace seawall::config::detail
