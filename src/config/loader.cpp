#include "seawall/config/loader.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/binder.hpp"
#include "config/sections.hpp"
#include "config/units.hpp"
#include "seawall/command/command_set.hpp"
#include "seawall/policy/defaults.hpp"
#include "seawall/util/ascii.hpp"

namespace seawall::config {
namespace {

using detail::bind_password;
using detail::bind_upstreams;
using detail::canonical_ip;
using detail::check_ip_literal;
using detail::check_upstream_name;
using detail::Choice;
using detail::kPositive;
using detail::MapBinder;
using detail::Presence;
using detail::real_in;

constexpr std::uint32_t kMaxThreads = 256;
constexpr std::uint32_t kMaxReplyDepth = 1024;
// Redis itself refuses a multibulk longer than this.
constexpr std::uint64_t kMaxArrayElements = 2147483647;
constexpr std::uint32_t kMaxAdminConnections = 1024;
// Below this not even a scraper's headers fit; above it the admin port only invites abuse.
constexpr std::uint64_t kMinAdminRequestSize = 1024;
constexpr std::uint64_t kMaxAdminRequestSize = 1024 * 1024;

bool is_wildcard(const std::string& address) {
  const std::string ip = canonical_ip(address);
  return ip == "0.0.0.0" || ip == "::";
}

// Several addresses: each once, and a wildcard alone (it takes the others' connections already,
// and two sockets on overlapping addresses would split them).
void check_listen_addresses(MapBinder& m, const std::vector<std::string>& addresses) {
  if (addresses.empty()) {
    m.error("address", "needs at least one address");
    return;
  }
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    if (addresses.size() > 1 && is_wildcard(addresses[i])) {
      m.error("address", addresses[i] +
                             " accepts connections on every interface already: list it "
                             "alone");
      return;
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (canonical_ip(addresses[j]) == canonical_ip(addresses[i])) {
        m.error("address", "lists " + addresses[i] + " twice");
        return;
      }
    }
  }
}

void bind_listen(MapBinder& m, ListenConfig& out) {
  // One address, or a list of them as Redis's bind takes.
  if (m.has_sequence("address")) {
    if (m.strings("address", out.addresses, check_ip_literal)) {
      check_listen_addresses(m, out.addresses);
    }
  } else {
    std::string address = out.addresses.front();
    if (m.string("address", address, check_ip_literal)) {
      out.addresses = {address};
    }
  }
  m.uint("port", out.port, 1, 65535);
}

void bind_routes(MapBinder& root, Config& config) {
  root.list("routes", [&](MapBinder& m, std::size_t) {
    config.routes.emplace_back();
    RouteConfig& route = config.routes.back();
    m.string("prefix", route.prefix, {}, Presence::Required);
    m.string("upstream", route.upstream, check_upstream_name, Presence::Required);
  });
  root.string("default_upstream", config.default_upstream, check_upstream_name);
  // Names resolve to indexes once every upstream is known.
  auto index_of = [&](const std::string& name) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < config.upstreams.size(); ++i) {
      if (config.upstreams[i].name == name) {
        return i;
      }
    }
    return std::nullopt;
  };
  for (std::size_t i = 0; i < config.routes.size(); ++i) {
    RouteConfig& route = config.routes[i];
    if (route.upstream.empty()) {
      continue;
    }
    if (auto index = index_of(route.upstream)) {
      route.upstream_index = *index;
    } else {
      root.report_at(root.line("routes"), detail::index_path("routes", i) + ".upstream",
                     "no upstream named \"" + route.upstream + "\"");
    }
  }
  if (!config.default_upstream.empty()) {
    if (auto index = index_of(config.default_upstream)) {
      config.default_upstream_index = *index;
    } else {
      root.error("default_upstream", "no upstream named \"" + config.default_upstream + "\"");
    }
  }
}

void bind_cache(MapBinder& m, CacheConfig& out) {
  m.size("max_bytes", out.max_bytes, 0);
  m.size("max_entry_bytes", out.max_entry_bytes, 1);
}

void bind_protect_database(MapBinder& m, ProtectDatabaseConfig& out) {
  m.uint("fallthrough_per_second", out.fallthrough_per_second, 0);
  m.uint("burst", out.burst, 0);
}

void bind_policy(MapBinder& m, policy::PolicyRule& rule) {
  m.string("match", rule.pattern, {}, Presence::Required);
  rule.policy.name = rule.pattern;
  if (m.has("l1")) {
    rule.policy.l1 = policy::L1Policy{true, Millis{5000}, Millis{60000}};
    m.map("l1", [&](MapBinder& l1) {
      l1.boolean("enabled", rule.policy.l1.enabled);
      l1.duration("ttl", rule.policy.l1.ttl, Millis{0});
      l1.duration("max_stale", rule.policy.l1.max_stale, Millis{0});
      l1.boolean("serve_evicted", rule.policy.l1.serve_evicted);
      l1.choice("admission", rule.policy.l1.admission,
                {Choice<cache::Admission>{"tinylfu", cache::Admission::TinyLfu},
                 Choice<cache::Admission>{"always", cache::Admission::Always}});
      l1.choice("mode", rule.policy.l1.mode,
                {Choice<policy::L1Mode>{"fallback", policy::L1Mode::Fallback},
                 Choice<policy::L1Mode>{"near", policy::L1Mode::Near}});
      if (rule.policy.l1.mode == policy::L1Mode::Near && rule.policy.l1.enabled &&
          !policy::tracking_prefix(rule.pattern)) {
        // Redis tracks keys for near mode by prefix (BCAST): a pattern it cannot express would
        // leave some cached keys without invalidations.
        l1.report_at(l1.line("mode"), l1.path() + ".mode",
                     "near needs a match pattern that is \"*\" or a literal prefix followed by "
                     "one \"*\" (got \"" +
                         rule.pattern + "\")");
      }
    });
  }
  m.raw("default", [&](const YAML::Node& node, const std::string& path, int line) {
    policy::DefaultResult result = policy::default_from_yaml(node, path);
    if (result.error) {
      m.report_at(result.error->line > 0 ? result.error->line : line, result.error->path,
                  result.error->message);
    } else {
      rule.policy.degraded_default = std::move(result.bytes);
    }
  });
  m.choice("on_unavailable", rule.policy.on_unavailable,
           {Choice<policy::OnUnavailable>{"miss", policy::OnUnavailable::Miss},
            Choice<policy::OnUnavailable>{"error", policy::OnUnavailable::Error}});
  m.choice("writes_when_open", rule.policy.writes_when_open,
           {Choice<policy::WritesWhenOpen>{"reject", policy::WritesWhenOpen::Reject},
            Choice<policy::WritesWhenOpen>{"invalidate", policy::WritesWhenOpen::Invalidate},
            Choice<policy::WritesWhenOpen>{"journal", policy::WritesWhenOpen::Journal}});
  // Readers wait that long for another client's database read: seconds would be an outage of
  // their own.
  m.duration("miss_lease", rule.policy.miss_lease, Millis{0}, Millis{10000});
}

void bind_journal(MapBinder& m, JournalConfig& out) {
  m.uint("max_entries", out.max_entries, 1);
  m.size("max_bytes", out.max_bytes, 1);
  m.string("path", out.path);
  m.choice("fsync", out.fsync,
           {Choice<JournalFsync>{"always", JournalFsync::Always},
            Choice<JournalFsync>{"everysec", JournalFsync::Everysec},
            Choice<JournalFsync>{"no", JournalFsync::No}});
}

void bind_limits(MapBinder& m, LimitsConfig& out) {
  m.uint("max_clients", out.max_clients, 1);
  m.size("max_bulk", out.max_bulk, 1);
  m.uint("max_array", out.max_array, 1, kMaxArrayElements);
  m.size("max_inline", out.max_inline, 1);
  m.uint("max_depth", out.max_depth, 1, kMaxReplyDepth);
  m.size("client_output_buffer", out.client_output_buffer, 1);
  m.uint("max_pipeline", out.max_pipeline, 1);
  m.uint("max_pinned", out.max_pinned, 0);
  m.duration("idle_timeout", out.idle_timeout, Millis{0});
}

void bind_log(MapBinder& m, LogConfig& out) {
  m.choice("level", out.level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
  m.choice(
      "format", out.format,
      {Choice<LogFormat>{"text", LogFormat::Text}, Choice<LogFormat>{"json", LogFormat::Json}});
}

void bind_shutdown(MapBinder& m, ShutdownConfig& out) {
  // 0 is meaningful: cancel sessions at once.
  m.duration("drain_timeout", out.drain_timeout, Millis{0});
}

void bind_admin(MapBinder& m, AdminConfig& out) {
  m.boolean("enabled", out.enabled);
  m.string("address", out.address, check_ip_literal);
  m.uint("port", out.port, 1, 65535);
  m.uint("max_connections", out.max_connections, 1, kMaxAdminConnections);
  m.size("max_request_size", out.max_request_size, kMinAdminRequestSize, kMaxAdminRequestSize);
  m.duration("read_timeout", out.read_timeout, kPositive);
}

// The user `password_env` alone stands for: what AUTH <password> authenticates as in Redis.
constexpr std::string_view kDefaultUser = "default";

// User names travel in AUTH and HELLO arguments and appear in error messages: printable ASCII
// without spaces, like Redis's ACL user names.
std::string check_user_name(std::string_view text) {
  if (text.empty()) {
    return "must not be empty";
  }
  for (char c : text) {
    if (c <= ' ' || c > '~') {
      return "may contain only printable ASCII characters without spaces";
    }
  }
  return {};
}

void bind_auth(MapBinder& m, AuthConfig& out) {
  if (!m.is_map()) {
    return;
  }
  const bool has_users = m.has("users");
  AuthUser single{std::string(kDefaultUser), {}};
  std::string env;
  std::string file;
  const bool has_single = bind_password(m, single.password, env, file);
  if (has_users && has_single) {
    m.error("users",
            "set either one password (password_env or password_file, for the user "
            "\"default\") or users, not both");
  }
  if (has_single && !single.password.empty()) {
    out.users.push_back(std::move(single));
  }
  if (!has_users) {
    if (!has_single) {
      m.report_at(m.line(""), m.path(),
                  "set password_env or password_file (one password), or users (names and "
                  "passwords)");
    }
    return;
  }
  std::map<std::string, int, std::less<>> name_lines;
  std::vector<AuthUser> users;
  const bool ok = m.list("users", [&](MapBinder& u, std::size_t) {
    AuthUser user;
    u.string("name", user.name, check_user_name, Presence::Required);
    if (!bind_password(u, user.password, env, file) && u.is_map()) {
      u.report_at(u.line(""), u.path(), "needs password_env or password_file");
    }
    if (!user.name.empty()) {
      const auto [it, inserted] = name_lines.emplace(user.name, u.line("name"));
      if (!inserted) {
        u.error("name", "duplicate user name \"" + user.name + "\" (first at line " +
                            std::to_string(it->second) + ")");
      }
    }
    users.push_back(std::move(user));
  });
  if (ok && users.empty()) {
    m.error("users", "at least one user is required");
  }
  if (!has_single) {
    out.users = std::move(users);
  }
}

// Names resolve against the command table; they are stored lowercase.
void bind_deny_commands(MapBinder& root, std::vector<std::string>& out) {
  root.strings("deny_commands", out, [](std::string_view name) -> std::string {
    if (command::lookup_name(name) != nullptr) {
      return {};
    }
    const std::size_t bar = name.find('|');
    const command::CommandInfo* container =
        bar == std::string_view::npos ? nullptr : command::lookup(name.substr(0, bar));
    if (container != nullptr && container->subcommands.empty()) {
      return "\"" + std::string(name.substr(0, bar)) + "\" has no subcommands";
    }
    if (container != nullptr) {
      return "unknown subcommand \"" + std::string(name) + "\" (write the container alone, \"" +
             std::string(name.substr(0, bar)) + "\", to deny all of its subcommands)";
    }
    return "unknown command \"" + std::string(name) + "\"";
  });
  for (std::string& name : out) {
    std::transform(name.begin(), name.end(), name.begin(), util::ascii_lower);
  }
}

void bind_introspection(MapBinder& m, IntrospectionConfig& out) {
  m.choice("client_list", out.client_list,
           {Choice<AnsweredBy>{"upstream", AnsweredBy::Upstream},
            Choice<AnsweredBy>{"seawall", AnsweredBy::Seawall}});
  m.choice("info", out.info,
           {Choice<InfoMode>{"merged", InfoMode::Merged},
            Choice<InfoMode>{"upstream", InfoMode::Upstream},
            Choice<InfoMode>{"seawall", InfoMode::Seawall}});
}

// Error lines go to clients as they are written: one line of printable text, so that no client
// parser is thrown off by what was meant as a rehearsal.
std::string check_fault_message(std::string_view text) {
  if (text.empty()) {
    return "must not be empty (leave it out for the default, \"ERR seawall injected fault\")";
  }
  for (char c : text) {
    if (c < ' ' || c > '~') {
      return "may contain only printable ASCII characters on one line";
    }
  }
  return {};
}

// A command name of `commands`, known to the command table (as in deny_commands).
std::string check_fault_command(std::string_view name) {
  if (command::lookup_name(name) != nullptr) {
    return {};
  }
  return "unknown command \"" + std::string(name) + "\"";
}

void bind_fault(MapBinder& m, fault::FaultConfig& out,
                const std::vector<UpstreamConfig>& upstreams) {
  const bool type_ok = m.choice("type", out.type,
                                {Choice<fault::FaultType>{"delay", fault::FaultType::Delay},
                                 Choice<fault::FaultType>{"error", fault::FaultType::Error}},
                                Presence::Required);
  // A delay of 0 would be a fault that does nothing; more than a day is a typo.
  m.duration("delay", out.delay, kPositive);
  m.scalar("percent", "a percentage", real_in(out.percent, 0.0, 100.0), Presence::Required);
  m.strings("commands", out.commands, check_fault_command);
  for (std::string& name : out.commands) {
    std::transform(name.begin(), name.end(), name.begin(), util::ascii_lower);
  }
  if (m.string("upstream", out.upstream, check_upstream_name) && !out.upstream.empty()) {
    const auto it = std::find_if(upstreams.begin(), upstreams.end(),
                                 [&](const UpstreamConfig& u) { return u.name == out.upstream; });
    if (it == upstreams.end()) {
      m.error("upstream", "no upstream named \"" + out.upstream + "\"");
    } else {
      out.upstream_index = static_cast<std::size_t>(it - upstreams.begin());
    }
  }
  m.string("message", out.message, check_fault_message);
  if (!type_ok || !m.has("type")) {
    return;
  }
  if (out.type == fault::FaultType::Delay) {
    if (!m.has("delay")) {
      m.error("delay", "is required for type: delay");
    }
    if (m.has("message")) {
      m.error("message", "applies only to type: error");
    }
  } else if (m.has("delay")) {
    m.error("delay", "applies only to type: delay");
  }
}

// The admin server and the Redis listener would bind one port on overlapping addresses: one of
// them would fail at startup with "address in use", so say so at load instead.
bool admin_port_conflicts(const Config& config) {
  const AdminConfig& admin = config.admin;
  const ListenConfig& listen = config.listen;
  return admin.enabled && admin.port == listen.port &&
         std::any_of(listen.addresses.begin(), listen.addresses.end(), [&](const std::string& a) {
           return canonical_ip(admin.address) == canonical_ip(a) || is_wildcard(admin.address) ||
                  is_wildcard(a);
         });
}

void bind_config(MapBinder& root, Config& config) {
  root.map("listen", [&](MapBinder& m) { bind_listen(m, config.listen); });
  root.uint("threads", config.threads, 1, kMaxThreads);
  bind_upstreams(root, config.upstreams);
  bind_routes(root, config);
  root.map("cache", [&](MapBinder& m) { bind_cache(m, config.cache); });
  root.map("protect_database",
           [&](MapBinder& m) { bind_protect_database(m, config.protect_database); });
  root.map("journal", [&](MapBinder& m) { bind_journal(m, config.journal); });
  root.list("policies", [&](MapBinder& m, std::size_t) {
    config.policies.emplace_back();
    bind_policy(m, config.policies.back());
  });
  root.map("limits", [&](MapBinder& m) { bind_limits(m, config.limits); });
  root.map("log", [&](MapBinder& m) { bind_log(m, config.log); });
  root.map("shutdown", [&](MapBinder& m) { bind_shutdown(m, config.shutdown); });
  root.map("auth", [&](MapBinder& m) { bind_auth(m, config.auth); });
  bind_deny_commands(root, config.deny_commands);
  root.map("introspection", [&](MapBinder& m) { bind_introspection(m, config.introspection); });
  root.list("faults", [&](MapBinder& m, std::size_t) {
    bind_fault(m, config.faults.emplace_back(), config.upstreams);
  });
  const std::string conflict =
      "port " + std::to_string(config.listen.port) + " is also the listen port (listen.port)";
  if (root.has("admin")) {
    root.map("admin", [&](MapBinder& m) {
      bind_admin(m, config.admin);
      if (admin_port_conflicts(config)) {
        m.error(m.has("port") ? "port" : "address", conflict);
      }
    });
  } else if (admin_port_conflicts(config)) {
    root.error("admin",
               "the default admin " + conflict + "; set admin.port, or admin.enabled: false");
  }
  root.finish();
}

// Where each YAML document's first node is, from parser events, without building nodes.
// YAML::LoadAll is not used: for some malformed streams, "," for one, yaml-cpp 0.7 (Debian 12's)
// returns an endless run of empty documents (jbeder/yaml-cpp#1040, fixed upstream in 2024 by
// #1319; found here by tests/fuzz/config_loader_fuzz), and LoadAll allocates until the process
// is killed. Such a document starts where the one before it did, since the parser consumed
// nothing: that is a syntax error, and the scan stops there.
struct DocumentScan {
  std::vector<YAML::Mark> starts;  // the first node of each document
  bool stalled = false;            // the last start repeats the one before it
};

DocumentScan scan_documents(const std::string& text) {
  class FirstNodes final : public YAML::EventHandler {
   public:
    explicit FirstNodes(std::vector<YAML::Mark>& starts) : starts_(starts) {}

    // YAML::EventHandler
    void OnDocumentStart(const YAML::Mark& /*mark*/) override { want_ = true; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { node(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { node(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  const std::string& /*value*/) override {
      node(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/,
                         YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {
      node(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                    YAML::EmitterStyle::value /*style*/) override {
      node(mark);
    }
    void OnMapEnd() override {}

   private:
    void node(const YAML::Mark& mark) {
      if (want_) {
        starts_.push_back(mark);
        want_ = false;
      }
    }
    std::vector<YAML::Mark>& starts_;
    bool want_ = false;
  };

  DocumentScan scan;
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  FirstNodes handler(scan.starts);
  while (parser.HandleNextDocument(handler)) {
    const std::size_t n = scan.starts.size();
    if (n >= 2 && scan.starts[n - 1].pos == scan.starts[n - 2].pos) {
      scan.stalled = true;
      break;
    }
  }
  return scan;
}

}  // namespace

namespace {

// Binds `text` into `config`, reporting every problem in `diagnostics`; false when the text is
// not one YAML document that could be bound.
bool bind_text(std::string_view text, const std::string& source_name,
               detail::Diagnostics& diagnostics, Config& config) {
  try {
    const std::string yaml(text);
    const DocumentScan scan = scan_documents(yaml);
    if (scan.stalled) {
      diagnostics.add(detail::line_of(scan.starts.back()), "", "invalid YAML: unknown token");
    } else if (scan.starts.size() > 1) {
      diagnostics.add(detail::line_of(scan.starts[1]), "", "only one YAML document is allowed");
    } else {
      config.source_path = source_name;
      // The scan has checked the syntax of the one document, so this parse cannot stall.
      const YAML::Node root = scan.starts.empty() ? YAML::Node() : YAML::Load(yaml);
      MapBinder binder(root, "", 1, diagnostics);
      bind_config(binder, config);
      return true;
    }
  } catch (const YAML::Exception& e) {
    diagnostics.add(detail::line_of(e.mark), "", "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    diagnostics.add(0, "", std::string("cannot load: ") + e.what());
  }
  return false;
}

}  // namespace

LoadResult load_string(std::string_view text, const std::string& source_name) {
  LoadResult result;
  detail::Diagnostics diagnostics(source_name);
  Config config;
  if (bind_text(text, source_name, diagnostics, config) && diagnostics.empty()) {
    result.config = std::move(config);
  }
  result.errors = diagnostics.take();
  return result;
}

std::vector<std::string> keys_read(std::string_view text) {
  detail::Diagnostics diagnostics("keys");
  Config config;
  bind_text(text, "keys", diagnostics, config);
  return diagnostics.keys_asked();
}

LoadResult load_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    LoadResult result;
    result.errors.push_back(path + ": cannot read: is a directory");
    return result;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const std::error_code open_error(errno, std::generic_category());
    LoadResult result;
    result.errors.push_back(path + ": cannot read: " + open_error.message());
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    LoadResult result;
    result.errors.push_back(path + ": cannot read: I/O error");
    return result;
  }
  return load_string(text.str(), path);
}

std::optional<Millis> parse_duration(std::string_view text) {
  detail::ParsedDuration parsed = detail::parse_duration_detailed(text);
  if (parsed.error != detail::UnitError::None) {
    return std::nullopt;
  }
  return parsed.value;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  detail::ParsedSize parsed = detail::parse_size_detailed(text);
  if (parsed.error != detail::UnitError::None) {
    return std::nullopt;
  }
  return parsed.value;
}

}  // namespace seawall::config
