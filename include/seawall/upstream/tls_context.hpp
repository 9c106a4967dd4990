#pragma once
// The TLS client side of one upstream: an OpenSSL context (TLS 1.2 or later, the trusted CAs, an
// optional client certificate) and the name sent as SNI and checked against the server's
// certificate. Built once, by the config loader (through upstream/tls_build.hpp), so that a bad CA
// or key file is a config error; every connection to the upstream, on every thread, then starts its
// TLS session from it.
//
// Ownership: shared_ptr held by the config snapshot (UpstreamTlsConfig::context).
// Thread safety: immutable after create(). OpenSSL lets many threads create sessions (SSL_new)
// from one SSL_CTX at once provided none of them changes it, so nothing changes it after
// create(); the one non-const use, by start(), only creates a session.
#include <memory>
#include <string>

#include <boost/asio/ssl.hpp>

#include "seawall/net.hpp"
#include "seawall/upstream/tls_build.hpp"
#include "seawall/upstream/upstream_config.hpp"

namespace seawall::upstream {

class TlsContext {
 public:
  using TlsStream = asio::ssl::stream<tcp::socket>;

  using Result = TlsBuild;

  // `host` is the upstream's host, the server name when config.server_name is empty.
  // Reads ca_file, cert_file and key_file now; later changes to them are not seen.
  static Result create(const UpstreamTlsConfig& config, const std::string& host);

  const std::string& server_name() const { return server_name_; }
  bool verify() const { return verify_; }

  // A TLS stream over `socket`, ready for async_handshake(client): SNI set (unless the name is
  // an IP address, which SNI cannot carry) and, when verifying, the certificate's name checked
  // against server_name. An OpenSSL failure here (out of memory) throws, as asio does.
  TlsStream start(tcp::socket&& socket) const;

  // Why a handshake failed: OpenSSL's reason and, when the certificate was refused, the
  // verification error ("unable to get local issuer certificate", "hostname mismatch").
  static std::string describe_failure(TlsStream& stream, const error_code& ec);

  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

 private:
  TlsContext(asio::ssl::context&& context, std::string server_name, bool verify);

  mutable asio::ssl::context context_;  // mutable only because ssl::stream takes context&
  std::string server_name_;
  bool verify_;
  bool sni_;
};

}  // namespace seawall::upstream
