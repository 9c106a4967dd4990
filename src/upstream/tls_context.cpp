#include "seawall/upstream/tls_context.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace seawall::upstream {
namespace {

// A file OpenSSL is about to read, checked first so that the error names the cause plainly
// ("No such file or directory") rather than as an OpenSSL reason code.
std::string check_readable(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return "cannot read " + path + ": " + std::strerror(errno);
  }
  return {};
}

// asio's host_name_verification, which also records a name mismatch as the verification error,
// so that the log says "hostname mismatch" rather than only "certificate verify failed".
class NameCheck {
 public:
  explicit NameCheck(const std::string& name, bool is_ip) : check_(name), is_ip_(is_ip) {}

  bool operator()(bool preverified, asio::ssl::verify_context& ctx) {
    if (check_(preverified, ctx)) {
      return true;
    }
    if (preverified) {
      X509_STORE_CTX_set_error(ctx.native_handle(), is_ip_ ? X509_V_ERR_IP_ADDRESS_MISMATCH
                                                           : X509_V_ERR_HOSTNAME_MISMATCH);
    }
    return false;
  }

 private:
  asio::ssl::host_name_verification check_;
  bool is_ip_;
};

bool is_ip_address(const std::string& name) {
  error_code ec;
  asio::ip::make_address(name, ec);
  return !ec;
}

}  // namespace

TlsContext::TlsContext(asio::ssl::context&& context, std::string server_name, bool verify)
    : context_(std::move(context)),
      server_name_(std::move(server_name)),
      verify_(verify),
      sni_(!is_ip_address(server_name_)) {}

TlsContext::Result TlsContext::create(const UpstreamTlsConfig& config, const std::string& host) {
  Result result;
  auto fail = [&](std::string key, std::string message) {
    result.error_key = std::move(key);
    result.error = std::move(message);
    return result;
  };
  asio::ssl::context context(asio::ssl::context::tls_client);
  SSL_CTX* native = context.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return fail("enabled", "OpenSSL refused to require TLS 1.2 or later");
  }
  error_code ec;
  if (!config.ca_file.empty()) {
    if (std::string problem = check_readable(config.ca_file); !problem.empty()) {
      return fail("ca_file", problem);
    }
    context.load_verify_file(config.ca_file, ec);
    if (ec) {
      return fail("ca_file", "no PEM CA certificate in " + config.ca_file + ": " + ec.message());
    }
  } else if (config.verify) {
    context.set_default_verify_paths(ec);
    if (ec) {
      return fail("ca_file",
                  "no ca_file, and the system trust store cannot be loaded: " + ec.message());
    }
  }
  context.set_verify_mode(config.verify ? asio::ssl::verify_peer : asio::ssl::verify_none, ec);
  if (ec) {
    return fail("verify", "cannot set the verification mode: " + ec.message());
  }
  if (!config.cert_file.empty()) {
    if (std::string problem = check_readable(config.cert_file); !problem.empty()) {
      return fail("cert_file", problem);
    }
    if (std::string problem = check_readable(config.key_file); !problem.empty()) {
      return fail("key_file", problem);
    }
    context.use_certificate_chain_file(config.cert_file, ec);
    if (ec) {
      return fail("cert_file", "no PEM certificate in " + config.cert_file + ": " + ec.message());
    }
    context.use_private_key_file(config.key_file, asio::ssl::context::pem, ec);
    if (ec) {
      return fail("key_file", "no PEM private key in " + config.key_file + ": " + ec.message());
    }
    if (SSL_CTX_check_private_key(native) != 1) {
      return fail("key_file", config.key_file + " is not the key of " + config.cert_file);
    }
  }
  std::string name = config.server_name.empty() ? host : config.server_name;
  result.context = std::shared_ptr<const TlsContext>(
      new TlsContext(std::move(context), std::move(name), config.verify));
  return result;
}

TlsContext::TlsStream TlsContext::start(tcp::socket&& socket) const {
  TlsStream stream(std::move(socket), context_);
  if (sni_) {
    // SSL_set_tlsext_host_name, spelled out: the macro's C cast breaks -Wold-style-cast. The
    // name was checked at load, so only a failed allocation could make this fail.
    SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(server_name_.c_str()));
  }
  if (verify_) {
    // Per stream, not on the shared context: set_verify_callback would modify the SSL_CTX.
    stream.set_verify_callback(NameCheck(server_name_, !sni_));
  }
  return stream;
}

std::string TlsContext::describe_failure(TlsStream& stream, const error_code& ec) {
  std::string text = ec.message();
  const long result = SSL_get_verify_result(stream.native_handle());
  if (result != X509_V_OK) {
    text += " (";
    text += X509_verify_cert_error_string(result);
    text += ")";
  }
  return text;
}

TlsBuild build_tls_context(const UpstreamTlsConfig& config, const std::string& host) {
  return TlsContext::create(config, host);
}

}  // namespace seawall::upstream
