#include "seawall/upstream/connect.hpp"

#include <openssl/crypto.h>

#include <array>
#include <vector>

namespace seawall::upstream {
namespace {

using namespace asio::experimental::awaitable_operators;

// Redis's replies to AUTH are a few dozen bytes; a longer line is not Redis.
constexpr std::size_t kMaxAuthReply = 1024;

std::string describe(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  std::string text = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return text + ":" + std::to_string(endpoint.port());
}

// One address: every step races the same deadline timer. Returns "" when the connection is
// ready for commands, else why not.
awaitable<std::string> attempt(const config::UpstreamConfig& config, const tcp::endpoint& endpoint,
                               Stream& stream, asio::steady_timer& deadline) {
  const std::string where = describe(endpoint);
  {
    auto result = co_await (stream.socket().async_connect(endpoint, use_nothrow) ||
                            deadline.async_wait(use_nothrow));
    if (result.index() == 1) {
      co_return "timed out connecting to " + where;
    }
    const auto [ec] = std::get<0>(result);
    if (ec || !stream.is_open()) {
      co_return "cannot connect to " + where + ": " + (ec ? ec.message() : std::string("closed"));
    }
    error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
  }

  if (config.tls.enabled) {
    if (!config.tls.context) {
      co_return "tls.enabled but no TLS context (the config was not built by config::load)";
    }
    Stream::TlsStream& tls = stream.start_tls(*config.tls.context);
    auto result = co_await (tls.async_handshake(asio::ssl::stream_base::client, use_nothrow) ||
                            deadline.async_wait(use_nothrow));
    if (result.index() == 1) {
      co_return "timed out in the TLS handshake with " + where;
    }
    if (const auto [ec] = std::get<0>(result); ec) {
      co_return "TLS handshake with " + where +
          " (server_name=" + config.tls.context->server_name() +
          ") failed: " + TlsContext::describe_failure(tls, ec);
    }
  }

  if (config.auth.enabled()) {
    std::string command = auth_command(config.auth.username, config.auth.password);
    auto written =
        co_await (stream.async_write(asio::buffer(command)) || deadline.async_wait(use_nothrow));
    OPENSSL_cleanse(command.data(), command.size());
    if (written.index() == 1) {
      co_return "timed out sending AUTH to " + where;
    }
    if (const auto [ec, n] = std::get<0>(written); ec) {
      co_return "cannot send AUTH to " + where + ": " + ec.message();
    }
    std::array<char, 256> chunk{};
    std::string received;
    while (true) {
      auto read = co_await (stream.async_read_some(asio::buffer(chunk)) ||
                            deadline.async_wait(use_nothrow));
      if (read.index() == 1) {
        co_return "timed out waiting for the reply to AUTH from " + where;
      }
      const auto [ec, n] = std::get<0>(read);
      if (ec) {
        co_return "no reply to AUTH from " + where + ": " + ec.message();
      }
      received.append(chunk.data(), n);
      const AuthReply reply = parse_auth_reply(received);
      const std::string user =
          config.auth.username.empty() ? std::string("default") : config.auth.username;
      switch (reply.status) {
        case AuthStatus::NeedMore:
          continue;
        case AuthStatus::Ok:
          if (reply.length != received.size()) {
            co_return "unexpected bytes after the reply to AUTH from " + where;
          }
          co_return "";
        case AuthStatus::Rejected:
          co_return "AUTH as user " + user + " rejected by " + where + ": " +
              redact(reply.message, config.auth.password);
        case AuthStatus::Unexpected:
          co_return "unexpected reply to AUTH from " + where;
      }
    }
  }
  co_return "";
}

}  // namespace

awaitable<ConnectResult> connect_upstream(asio::any_io_executor ex,
                                          const config::UpstreamConfig& config, Stream& stream) {
  ConnectResult result;
  std::vector<tcp::endpoint> endpoints;
  error_code ec;
  const auto address = asio::ip::make_address(config.host, ec);
  if (!ec) {
    endpoints.emplace_back(address, config.port);
  } else {
    tcp::resolver resolver(ex);
    auto [rec, resolved] =
        co_await resolver.async_resolve(config.host, std::to_string(config.port), use_nothrow);
    if (rec) {
      result.error = "cannot resolve " + config.host + ": " + rec.message();
      co_return result;
    }
    for (const auto& entry : resolved) {
      endpoints.push_back(entry.endpoint());
    }
  }
  for (const auto& endpoint : endpoints) {
    stream = Stream(ex);
    asio::steady_timer deadline(ex);
    deadline.expires_after(config.connect_timeout);
    result.error = co_await attempt(config, endpoint, stream, deadline);
    if (result.error.empty()) {
      result.ok = true;
      co_return result;
    }
    stream.close();
  }
  if (endpoints.empty()) {
    result.error = "no address for " + config.host;
  }
  co_return result;
}

std::string auth_command(std::string_view username, std::string_view password) {
  std::string out;
  auto bulk = [&out](std::string_view arg) {
    out.append("$").append(std::to_string(arg.size())).append("\r\n");
    out.append(arg).append("\r\n");
  };
  out.append(username.empty() ? "*2\r\n" : "*3\r\n");
  bulk("AUTH");
  if (!username.empty()) {
    bulk(username);
  }
  bulk(password);
  return out;
}

AuthReply parse_auth_reply(std::string_view bytes) {
  AuthReply reply;
  const auto end = bytes.find("\r\n");
  if (end == std::string_view::npos) {
    const bool plausible =
        bytes.size() < kMaxAuthReply && (bytes.empty() || bytes[0] == '+' || bytes[0] == '-');
    reply.status = plausible ? AuthStatus::NeedMore : AuthStatus::Unexpected;
    return reply;
  }
  reply.length = end + 2;
  const std::string_view line = bytes.substr(0, end);
  if (line == "+OK") {
    reply.status = AuthStatus::Ok;
  } else if (line.size() < kMaxAuthReply && !line.empty() && line[0] == '-') {
    reply.status = AuthStatus::Rejected;
    reply.message = line.substr(1);
  } else {
    reply.status = AuthStatus::Unexpected;
  }
  return reply;
}

std::string redact(std::string_view text, std::string_view secret) {
  std::string out;
  if (secret.empty()) {
    return std::string(text);
  }
  std::size_t from = 0;
  while (true) {
    const auto at = text.find(secret, from);
    out.append(
        text.substr(from, at == std::string_view::npos ? std::string_view::npos : at - from));
    if (at == std::string_view::npos) {
      return out;
    }
    out.append("<redacted>");
    from = at + secret.size();
  }
}

}  // namespace seawall::upstream
