#pragma once
// seawall's own client authentication: decides, for one command of a session, whether it may
// pass, or what seawall answers instead (AUTH and HELLO ... AUTH are checked here and never
// forwarded). Sans-I/O: the session applies the step it returns.
//
// Follows Redis 7.0 with `requirepass` / ACL users: before authenticating, only AUTH, HELLO
// (with its AUTH option), QUIT and RESET are accepted; everything else gets -NOAUTH. RESET
// ends the authentication. A failed AUTH leaves an authenticated session authenticated.
// Passwords are compared in constant time, and no step carries one.
//
// Ownership: copies the users from the config. Thread safety: immutable after construction;
// share freely for reading.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/command/command_rules.hpp"
#include "seawall/proxy/proxy_config.hpp"

namespace seawall::proxy {

// True when `given` equals `secret`. Its time depends on given.size() only: not on where the
// strings differ, nor on the secret's length.
bool constant_time_equal(std::string_view given, std::string_view secret);

enum class AuthAction : std::uint8_t {
  Pass,   // continue with the command as usual (deny list, pinning, forwarding)
  Reply,  // send `reply` instead; nothing reaches Redis
  // HELLO whose AUTH option was accepted: continue with the command without its AUTH options
  // (remove_hello_auth), which Redis then answers.
  PassWithoutAuth,
};

struct AuthStep {
  AuthAction action = AuthAction::Pass;
  std::string reply;           // Reply: a complete RESP error or "+OK\r\n"
  bool authenticated = false;  // the session's state after this command
  bool failed = false;         // credentials were given and rejected
};

class ClientAuth {
 public:
  explicit ClientAuth(const AuthConfig& config);

  // False when the config has no users: then every command passes (AUTH goes to Redis).
  bool enabled() const { return !users_.empty(); }
  // The step for one command (args[0] is the name, any case) of a session that is
  // `authenticated` or not. Only for enabled().
  AuthStep step(std::span<const std::string_view> args, bool authenticated) const;
  // The same, with the command already looked up (its row's State says AUTH, HELLO, ...).
  AuthStep step(command::Command cmd, std::span<const std::string_view> args,
                bool authenticated) const;
  // Whether `password` is the password of `user`. Checks every user, in constant time for each.
  bool check(std::string_view user, std::string_view password) const;

 private:
  AuthStep step_auth(std::span<const std::string_view> args, bool authenticated) const;
  AuthStep step_hello(std::span<const std::string_view> args, bool authenticated) const;

  std::vector<AuthUser> users_;
};

// Removes every "AUTH user password" option from a HELLO command's arguments.
void remove_hello_auth(std::vector<std::string_view>& args);

}  // namespace seawall::proxy
