#include "seawall/proxy/client_auth.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "seawall/resp/replies.hpp"
#include "seawall/util/ascii.hpp"

namespace seawall::proxy {
namespace {

namespace replies = resp::replies;

using util::iequals;

// What Redis's string2ll accepts: an optional '-', digits, no leading zero, fits 64 bits.
bool is_redis_integer(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return false;
  }
  const std::string_view digits = text.front() == '-' ? text.substr(1) : text;
  return digits == "0" ? text.size() == 1 : digits.front() != '0';
}

AuthStep reply(std::string_view bytes, bool authenticated) {
  AuthStep step;
  step.action = AuthAction::Reply;
  step.reply.assign(bytes);
  step.authenticated = authenticated;
  return step;
}

}  // namespace

bool constant_time_equal(std::string_view given, std::string_view secret) {
  // Every byte of `given` is compared, against the secret repeated: the loop's length and the
  // operations in it never depend on the secret. An empty secret matches nothing.
  if (secret.empty()) {
    return false;
  }
  unsigned diff = given.size() == secret.size() ? 0u : 1u;
  for (std::size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned>(static_cast<unsigned char>(given[i]) ^
                                  static_cast<unsigned char>(secret[i % secret.size()]));
  }
  return diff == 0;
}

ClientAuth::ClientAuth(const AuthConfig& config) : users_(config.users) {}

bool ClientAuth::check(std::string_view user, std::string_view password) const {
  bool found = false;
  for (const AuthUser& u : users_) {
    // No early exit: the time does not tell which user exists or which one matched.
    const bool name_ok = constant_time_equal(user, u.name);
    const bool password_ok = constant_time_equal(password, u.password);
    found = found || (name_ok && password_ok);
  }
  return found;
}

AuthStep ClientAuth::step(std::span<const std::string_view> args, bool authenticated) const {
  if (args.empty()) {
    return AuthStep{AuthAction::Pass, {}, authenticated, false};
  }
  return step(command::Command::of(args[0]), args, authenticated);
}

AuthStep ClientAuth::step(command::Command cmd, std::span<const std::string_view> args,
                          bool authenticated) const {
  if (args.empty()) {
    return AuthStep{AuthAction::Pass, {}, authenticated, false};
  }
  switch (cmd.rule().state) {
    case command::State::Auth:
      return step_auth(args, authenticated);
    case command::State::Hello:
      return step_hello(args, authenticated);
    case command::State::Reset:
      // Redis's RESET also logs the connection out when the default user needs a password.
      return AuthStep{AuthAction::Pass, {}, false, false};
    case command::State::Quit:
      return AuthStep{AuthAction::Pass, {}, authenticated, false};
    default:
      break;
  }
  if (authenticated) {
    return AuthStep{AuthAction::Pass, {}, authenticated, false};
  }
  return reply(replies::kNoAuth, false);
}

AuthStep ClientAuth::step_auth(std::span<const std::string_view> args, bool authenticated) const {
  if (args.size() < 2) {
    return reply(replies::kAuthArity, authenticated);
  }
  if (args.size() > 3) {
    return reply(replies::kSyntaxError, authenticated);
  }
  const bool ok = args.size() == 2 ? check("default", args[1]) : check(args[1], args[2]);
  if (!ok) {
    AuthStep step = reply(replies::kWrongPass, authenticated);
    step.failed = true;
    return step;
  }
  return reply(replies::kOk, true);
}

AuthStep ClientAuth::step_hello(std::span<const std::string_view> args, bool authenticated) const {
  // The order of Redis's checks: protocol version, option syntax, then credentials.
  if (args.size() >= 2) {
    if (!is_redis_integer(args[1])) {
      return reply(replies::kHelloProtocolNotInteger, authenticated);
    }
    if (args[1] != "2" && args[1] != "3") {
      return reply(replies::kNoProto, authenticated);
    }
  }
  const std::string_view* user = nullptr;
  const std::string_view* password = nullptr;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::size_t more = args.size() - 1 - i;
    if (iequals(args[i], command::kAuthOption) && more >= 2) {
      user = &args[i + 1];  // the last AUTH option counts, as in Redis
      password = &args[i + 2];
      i += 2;
    } else if (iequals(args[i], command::kSetnameOption) && more >= 1) {
      i += 1;
    } else {
      AuthStep step = reply(replies::kHelloOptionPrefix, authenticated);
      step.reply.append(args[i]).append(replies::kHelloOptionSuffix);
      return step;
    }
  }
  if (user == nullptr) {
    if (!authenticated) {
      return reply(replies::kNoAuthHello, false);
    }
    return AuthStep{AuthAction::Pass, {}, true, false};
  }
  if (!check(*user, *password)) {
    AuthStep step = reply(replies::kWrongPass, authenticated);
    step.failed = true;
    return step;
  }
  return AuthStep{AuthAction::PassWithoutAuth, {}, true, false};
}

void remove_hello_auth(std::vector<std::string_view>& args) {
  std::size_t out = std::min<std::size_t>(args.size(), 2);
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::size_t more = args.size() - 1 - i;
    if (iequals(args[i], command::kAuthOption) && more >= 2) {
      i += 2;
      continue;
    }
    args[out++] = args[i];
    if (iequals(args[i], command::kSetnameOption) && more >= 1) {
      args[out++] = args[++i];  // a client name that reads "AUTH" is a name
    }
  }
  args.resize(out);
}

}  // namespace seawall::proxy
