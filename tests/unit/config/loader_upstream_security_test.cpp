// The `auth:` and `tls:` sections of an upstream: the password is resolved and the TLS context
// built at load, so every problem with them is a config error naming file, line and key.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "seawall/config/loader.hpp"
#include "seawall/upstream/tls_context.hpp"

namespace seawall::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

// The auth or tls section goes at line 4, under upstreams[0].
LoadResult load_upstream_with(std::string_view section) {
  return load_string(
      "upstreams:\n"
      "  - name: main\n"
      "    address: 127.0.0.1:6379\n" +
          std::string(section),
      "test.yaml");
}

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("seawall_security_test_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name, std::string_view content) const {
    const std::string path = (path_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

Key make_key() {
  // EVP_EC_gen, spelled out: the macro's C cast breaks -Wold-style-cast.
  return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

// A self-signed certificate: enough for loading as a CA and as a client certificate.
Cert make_cert(EVP_PKEY* key, const char* common_name) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_sign(cert.get(), key, EVP_sha256());
  return cert;
}

std::string write_pem_cert(const std::string& path, X509* cert) {
  FILE* out = std::fopen(path.c_str(), "w");
  PEM_write_X509(out, cert);
  std::fclose(out);
  return path;
}

std::string write_pem_key(const std::string& path, EVP_PKEY* key) {
  FILE* out = std::fopen(path.c_str(), "w");
  PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(out);
  return path;
}

// ---- auth ---------------------------------------------------------------------------------------

TEST(LoaderUpstreamAuthTest, AbsentMeansNoAuthAndNoTls) {
  const LoadResult result = load_upstream_with("");
  ASSERT_THAT(result.errors, IsEmpty());
  const UpstreamConfig& upstream = result.config->upstreams[0];
  EXPECT_FALSE(upstream.auth.enabled());
  EXPECT_EQ(upstream.auth, UpstreamAuthConfig{});
  EXPECT_FALSE(upstream.tls.enabled);
  EXPECT_TRUE(upstream.tls.verify);
  EXPECT_EQ(upstream.tls.context, nullptr);
  EXPECT_EQ(upstream.tls, UpstreamTlsConfig{});
}

TEST(LoaderUpstreamAuthTest, ReadsThePasswordFromTheEnvironment) {
  ScopedEnv env("SEAWALL_TEST_PASSWORD_A", "s3cret pass");
  const LoadResult result =
      load_upstream_with("    auth: {password_env: SEAWALL_TEST_PASSWORD_A}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  const UpstreamAuthConfig& auth = result.config->upstreams[0].auth;
  EXPECT_TRUE(auth.enabled());
  EXPECT_EQ(auth.username, "");
  EXPECT_EQ(auth.password_env, "SEAWALL_TEST_PASSWORD_A");
  EXPECT_EQ(auth.password, "s3cret pass");
}

TEST(LoaderUpstreamAuthTest, ReadsTheUsername) {
  ScopedEnv env("SEAWALL_TEST_PASSWORD_B", "pw");
  const LoadResult result = load_upstream_with(
      "    auth:\n"
      "      username: alice\n"
      "      password_env: SEAWALL_TEST_PASSWORD_B\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->upstreams[0].auth.username, "alice");
  EXPECT_EQ(result.config->upstreams[0].auth.password, "pw");
}

TEST(LoaderUpstreamAuthTest, ReadsThePasswordFileDroppingOneTrailingNewline) {
  TempDir dir;
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"plain", "plain"},         {"lf\n", "lf"},
      {"crlf\r\n", "crlf"},       {"two\n\n", "two\n"},
      {" spaced \n", " spaced "}, {"cr-only\r", "cr-only\r"},
  };
  for (const auto& [content, expected] : cases) {
    const std::string path = dir.file("password", content);
    const LoadResult result = load_upstream_with("    auth: {password_file: " + path + "}\n");
    ASSERT_THAT(result.errors, IsEmpty()) << content;
    EXPECT_EQ(result.config->upstreams[0].auth.password, expected);
    EXPECT_EQ(result.config->upstreams[0].auth.password_file, path);
  }
}

TEST(LoaderUpstreamAuthTest, AMissingOrEmptyVariableIsAnError) {
  unsetenv("SEAWALL_TEST_PASSWORD_UNSET");
  EXPECT_THAT(load_upstream_with("    auth: {password_env: SEAWALL_TEST_PASSWORD_UNSET}\n").errors,
              ElementsAre("test.yaml:4: upstreams[0].auth.password_env: environment variable "
                          "SEAWALL_TEST_PASSWORD_UNSET is not set"));
  ScopedEnv env("SEAWALL_TEST_PASSWORD_EMPTY", "");
  EXPECT_THAT(
      load_upstream_with("    auth:\n      password_env: SEAWALL_TEST_PASSWORD_EMPTY\n").errors,
      ElementsAre("test.yaml:5: upstreams[0].auth.password_env: environment variable "
                  "SEAWALL_TEST_PASSWORD_EMPTY is empty"));
}

TEST(LoaderUpstreamAuthTest, AnUnusablePasswordFileIsAnError) {
  TempDir dir;
  const std::string missing = dir.path("missing");
  EXPECT_THAT(load_upstream_with("    auth: {password_file: " + missing + "}\n").errors,
              ElementsAre("test.yaml:4: upstreams[0].auth.password_file: cannot read " + missing +
                          ": No such file or directory"));
  const std::string empty = dir.file("empty", "\n");
  EXPECT_THAT(
      load_upstream_with("    auth: {password_file: " + empty + "}\n").errors,
      ElementsAre("test.yaml:4: upstreams[0].auth.password_file: file " + empty + " is empty"));
  const std::string directory = dir.path("");
  EXPECT_THAT(load_upstream_with("    auth: {password_file: " + directory + "}\n").errors,
              ElementsAre("test.yaml:4: upstreams[0].auth.password_file: cannot read " + directory +
                          ": is a directory"));
  const std::string huge = dir.file("huge", std::string(65 * 1024, 'x'));
  EXPECT_THAT(load_upstream_with("    auth: {password_file: " + huge + "}\n").errors,
              ElementsAre("test.yaml:4: upstreams[0].auth.password_file: file " + huge +
                          " is larger than 64 KiB: not a password file"));
}

TEST(LoaderUpstreamAuthTest, NeedsExactlyOnePasswordSource) {
  EXPECT_THAT(load_upstream_with("    auth: {username: alice}\n").errors,
              ElementsAre("test.yaml:4: upstreams[0].auth: needs password_env or password_file"));
  ScopedEnv env("SEAWALL_TEST_PASSWORD_C", "pw");
  TempDir dir;
  const std::string file = dir.file("password", "pw");
  EXPECT_THAT(load_upstream_with("    auth:\n"
                                 "      password_env: SEAWALL_TEST_PASSWORD_C\n"
                                 "      password_file: " +
                                 file + "\n")
                  .errors,
              ElementsAre("test.yaml:6: upstreams[0].auth.password_file: set either "
                          "password_env or password_file, not both"));
}

TEST(LoaderUpstreamAuthTest, TakesNoPasswordInTheConfigText) {
  EXPECT_THAT(load_upstream_with("    auth: {password: hunter2}\n").errors,
              ElementsAre("test.yaml:4: upstreams[0].auth: needs password_env or password_file",
                          "test.yaml:4: upstreams[0].auth.password: unknown key"));
}

TEST(LoaderUpstreamAuthTest, RejectsAMalformedVariableName) {
  EXPECT_THAT(load_upstream_with("    auth: {password_env: \"MY-PASSWORD\"}\n").errors,
              ElementsAre("test.yaml:4: upstreams[0].auth.password_env: must be an environment "
                          "variable name (letters, digits and '_', not starting with a digit), "
                          "got \"MY-PASSWORD\""));
  EXPECT_THAT(load_upstream_with("    auth: {password_env: 1PASSWORD}\n").errors, SizeIs(1));
}

TEST(LoaderUpstreamAuthTest, ErrorsNeverContainThePassword) {
  ScopedEnv env("SEAWALL_TEST_PASSWORD_D", "pw-that-must-not-leak");
  TempDir dir;
  const std::string file = dir.file("password", "pw-that-must-not-leak");
  const LoadResult result = load_upstream_with(
      "    auth:\n"
      "      username: [alice]\n"
      "      password_env: SEAWALL_TEST_PASSWORD_D\n"
      "      password_file: " +
      file + "\n");
  ASSERT_THAT(result.errors, Not(IsEmpty()));
  for (const std::string& error : result.errors) {
    EXPECT_THAT(error, Not(HasSubstr("pw-that-must-not-leak")));
  }
}

// ---- tls ----------------------------------------------------------------------------------------

class LoaderTlsTest : public ::testing::Test {
 protected:
  LoaderTlsTest()
      : key_(make_key()),
        other_key_(make_key()),
        cert_(make_cert(key_.get(), "seawall test")),
        ca_file_(write_pem_cert(dir_.path("ca.pem"), cert_.get())),
        key_file_(write_pem_key(dir_.path("key.pem"), key_.get())),
        other_key_file_(write_pem_key(dir_.path("other.pem"), other_key_.get())) {}

  TempDir dir_;
  Key key_;
  Key other_key_;
  Cert cert_;
  std::string ca_file_;
  std::string key_file_;
  std::string other_key_file_;
};

TEST_F(LoaderTlsTest, ADisabledSectionReadsNoFile) {
  const LoadResult result = load_upstream_with(
      "    tls: {enabled: false, ca_file: /nonexistent/ca.pem, cert_file: /nonexistent/c.pem, "
      "key_file: /nonexistent/k.pem}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_FALSE(result.config->upstreams[0].tls.enabled);
  EXPECT_EQ(result.config->upstreams[0].tls.context, nullptr);
}

TEST_F(LoaderTlsTest, BuildsTheContextWithTheHostAsDefaultServerName) {
  const LoadResult result =
      load_upstream_with("    tls: {enabled: true, ca_file: " + ca_file_ + "}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  const UpstreamTlsConfig& tls = result.config->upstreams[0].tls;
  EXPECT_TRUE(tls.enabled);
  EXPECT_EQ(tls.ca_file, ca_file_);
  EXPECT_EQ(tls.server_name, "");
  ASSERT_NE(tls.context, nullptr);
  EXPECT_EQ(tls.context->server_name(), "127.0.0.1");
  EXPECT_TRUE(tls.context->verify());
}

TEST_F(LoaderTlsTest, ReadsEveryField) {
  const LoadResult result = load_upstream_with(
      "    tls:\n"
      "      enabled: true\n"
      "      ca_file: " +
      ca_file_ +
      "\n"
      "      server_name: redis.internal\n"
      "      verify: false\n"
      "      cert_file: " +
      ca_file_ +
      "\n"
      "      key_file: " +
      key_file_ + "\n");
  ASSERT_THAT(result.errors, IsEmpty());
  const UpstreamTlsConfig& tls = result.config->upstreams[0].tls;
  EXPECT_EQ(tls.server_name, "redis.internal");
  EXPECT_FALSE(tls.verify);
  EXPECT_EQ(tls.cert_file, ca_file_);
  EXPECT_EQ(tls.key_file, key_file_);
  ASSERT_NE(tls.context, nullptr);
  EXPECT_EQ(tls.context->server_name(), "redis.internal");
  EXPECT_FALSE(tls.context->verify());
}

TEST_F(LoaderTlsTest, WithoutCaFileUsesTheSystemTrustStore) {
  const LoadResult result = load_upstream_with("    tls: {enabled: true}\n");
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_NE(result.config->upstreams[0].tls.context, nullptr);
}

TEST_F(LoaderTlsTest, AMissingOrInvalidCaFileIsAnError) {
  const std::string missing = dir_.path("missing.pem");
  EXPECT_THAT(load_upstream_with("    tls: {enabled: true, ca_file: " + missing + "}\n").errors,
              ElementsAre("test.yaml:4: upstreams[0].tls.ca_file: cannot read " + missing +
                          ": No such file or directory"));
  const std::string garbage = dir_.file("garbage.pem", "not a certificate\n");
  const LoadResult result =
      load_upstream_with("    tls:\n      enabled: true\n      ca_file: " + garbage + "\n");
  ASSERT_THAT(result.errors, SizeIs(1));
  EXPECT_THAT(result.errors[0], HasSubstr("test.yaml:6: upstreams[0].tls.ca_file: no PEM CA "
                                          "certificate in " +
                                          garbage + ": "));
}

TEST_F(LoaderTlsTest, CertAndKeyGoTogether) {
  EXPECT_THAT(load_upstream_with("    tls: {enabled: true, cert_file: " + ca_file_ + "}\n").errors,
              ElementsAre("test.yaml:4: upstreams[0].tls.cert_file: cert_file and key_file go "
                          "together: set both or neither"));
  EXPECT_THAT(load_upstream_with("    tls: {enabled: false, key_file: " + key_file_ + "}\n").errors,
              ElementsAre("test.yaml:4: upstreams[0].tls.key_file: cert_file and key_file go "
                          "together: set both or neither"));
}

TEST_F(LoaderTlsTest, AKeyThatDoesNotMatchTheCertificateIsAnError) {
  const LoadResult result =
      load_upstream_with("    tls: {enabled: true, ca_file: " + ca_file_ +
                         ", cert_file: " + ca_file_ + ", key_file: " + other_key_file_ + "}\n");
  ASSERT_THAT(result.errors, SizeIs(1));
  EXPECT_THAT(result.errors[0], HasSubstr("test.yaml:4: upstreams[0].tls.key_file: "));
}

TEST_F(LoaderTlsTest, AMissingKeyFileIsAnError) {
  const std::string missing = dir_.path("missing-key.pem");
  EXPECT_THAT(load_upstream_with("    tls: {enabled: true, cert_file: " + ca_file_ +
                                 ", key_file: " + missing + "}\n")
                  .errors,
              ElementsAre("test.yaml:4: upstreams[0].tls.key_file: cannot read " + missing +
                          ": No such file or directory"));
}

TEST_F(LoaderTlsTest, RejectsABadServerNameAndVerify) {
  EXPECT_THAT(
      load_upstream_with("    tls:\n      server_name: \"bad name\"\n      verify: yes\n").errors,
      ElementsAre("test.yaml:5: upstreams[0].tls.server_name: must be a DNS name or an "
                  "IP address, got \"bad name\"",
                  "test.yaml:6: upstreams[0].tls.verify: expected true or false, got "
                  "\"yes\""));
}

TEST_F(LoaderTlsTest, AnInvalidAddressBuildsNoContext) {
  const LoadResult result = load_string(
      "upstreams:\n"
      "  - name: main\n"
      "    address: nowhere\n"
      "    tls: {enabled: true, ca_file: " +
          dir_.path("missing.pem") + "}\n",
      "test.yaml");
  ASSERT_THAT(result.errors, SizeIs(1));
  EXPECT_THAT(result.errors[0], HasSubstr("upstreams[0].address: missing port"));
}

}  // namespace
}  // namespace seawall::config
