#pragma once
// Builds the TLS context of one upstream from its settings. Declared apart from TlsContext, with
// no Asio or OpenSSL header, so that the config loader can build contexts at load (a bad CA or
// key file is then a config error naming file, line and key) while config/ builds without Asio.
// Thread safety: reentrant; reads the files the settings name.
#include <memory>
#include <string>

#include "seawall/upstream/upstream_config.hpp"

namespace seawall::upstream {

struct TlsBuild {
  std::shared_ptr<const TlsContext> context;  // null on error
  std::string error_key;                      // the tls.* key at fault, e.g. "ca_file"
  std::string error;                          // why, for the config error message
};

// TlsContext::create: `host` is the upstream's host, the server name when config.server_name is
// empty. Reads ca_file, cert_file and key_file now; later changes to them are not seen.
TlsBuild build_tls_context(const UpstreamTlsConfig& config, const std::string& host);

}  // namespace seawall::upstream
