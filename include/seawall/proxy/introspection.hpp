#pragma once
// Connection introspection that seawall answers itself, in Redis's formats: the CLIENT INFO /
// CLIENT LIST line (Redis 7.0's fields, then 7.2's lib-name and lib-ver), the CLIENT LIST and
// CLIENT KILL arguments with Redis 7.0's errors, and INFO text with seawall's own sections.
// Pure functions of their inputs: no I/O, no clock, no registry; client_registry.hpp supplies
// the clients and session code the numbers.
// Thread safety: stateless.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "seawall/resp/resp3.hpp"

namespace seawall::proxy::introspection {

// The protocol a client speaks: text replies are a bulk string in RESP2, a verbatim string in
// RESP3 (as Redis sends CLIENT LIST and INFO).
using Protocol = resp::Protocol;

// Appends `text` as Redis replies CLIENT INFO, CLIENT LIST and INFO.
void append_text_reply(std::string& out, std::string_view text, Protocol protocol);

// Connection state CLIENT LIST shows as flags, as far as seawall knows it.
enum ClientFlag : std::uint32_t {
  kFlagMonitor = 1u << 0,   // O: MONITOR
  kFlagReplica = 1u << 1,   // S: SYNC / PSYNC
  kFlagPubsub = 1u << 2,    // P: subscribed
  kFlagMulti = 1u << 3,     // x: inside MULTI
  kFlagTracking = 1u << 4,  // t: CLIENT TRACKING on
};

// CLIENT LIST / CLIENT KILL TYPE. A MONITOR client is Normal, as in Redis.
enum class ClientType : std::uint8_t { Normal, Replica, Pubsub, Master };

// One client as CLIENT INFO and CLIENT LIST show it.
struct ClientView {
  std::uint64_t id = 0;
  std::string addr;   // the client's address as ip:port ([v6]:port)
  std::string laddr;  // seawall's address it connected to
  int fd = -1;
  std::string name;
  std::int64_t age_seconds = 0;
  std::int64_t idle_seconds = 0;
  std::uint32_t flags = 0;  // ClientFlag bits
  std::int64_t db = 0;
  std::int64_t sub = 0;
  std::int64_t psub = 0;
  std::int64_t ssub = 0;
  std::int64_t multi = -1;  // commands queued in MULTI, -1 outside
  // Known for the client asking only (its command is in its read buffer); 0 for the others.
  std::int64_t qbuf = 0;       // bytes in the read buffer, the current command included
  std::int64_t qbuf_free = 0;  // the rest of the read buffer
  std::int64_t argv_mem = 0;   // bytes of the current command's arguments
  std::string_view cmd;        // the last command's full name ("client|list"); "" = unknown
  std::string user = "default";
  Protocol resp = Protocol::Resp2;
  std::string lib_name;
  std::string lib_ver;
};

ClientType type_of(const ClientView& client);
// normal, replica (or slave), pubsub, master: case-insensitive. nullopt when unknown.
std::optional<ClientType> parse_client_type(std::string_view name);
// "ip:port", or "[ip]:port" for IPv6, as Redis writes addr and laddr.
std::string format_address(std::string_view ip, std::uint16_t port);

// A confirmation of SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE or SUNSUBSCRIBE
// (one per channel), as relayed from Redis: which kind and the count it reports after it. That
// count is channels + patterns for the first four, shard channels for the last two.
struct SubscriptionReply {
  enum class Kind : std::uint8_t { Channel, Pattern, Shard };
  Kind kind = Kind::Channel;
  std::int64_t count = 0;
};
// One complete reply (RESP2 array or RESP3 push); nullopt for anything else.
std::optional<SubscriptionReply> parse_subscription_reply(std::string_view reply);

// Appends the client's line, without the newline that ends it in a CLIENT LIST.
void append_client_line(std::string& out, const ClientView& client);

// Redis's check of a client name, lib-name or lib-ver: every byte printable, no space.
bool valid_client_attribute(std::string_view value);

// A parse of CLIENT LIST or CLIENT KILL arguments: the request, or the complete RESP error
// reply Redis 7.0 gives for them.
template <typename T>
struct Parsed {
  T value{};
  std::string error;  // "-ERR ...\r\n"; empty when value is usable

  bool ok() const { return error.empty(); }
};

// CLIENT LIST [TYPE type] | [ID id [id ...]].
struct ListRequest {
  std::optional<ClientType> type;
  bool by_id = false;
  std::vector<std::uint64_t> ids;  // in the order given; repeats list a client again

  // Whether `client` is listed (ID lists are handled in order by the caller).
  bool matches(const ClientView& client) const;
};
// `args` is the whole command, "CLIENT" "LIST" included.
Parsed<ListRequest> parse_client_list(std::span<const std::string_view> args);

// CLIENT KILL ip:port (old form), or CLIENT KILL [ID id] [TYPE type] [ADDR ip:port]
// [LADDR ip:port] [USER name] [SKIPME yes|no] (new form; options may repeat, the last wins).
struct KillFilter {
  bool old_form = false;
  std::optional<std::string> addr;
  std::optional<std::string> laddr;
  std::optional<ClientType> type;
  std::uint64_t id = 0;  // 0 = any
  std::optional<std::string> user;
  bool skipme = true;  // false for the old form: a client may kill itself

  // Whether `client` matches every given option; `is_self` is the client asking.
  bool matches(const ClientView& client, bool is_self) const;
};
// `user_exists` says whether a USER name is a user (Redis refuses unknown ones).
Parsed<KillFilter> parse_client_kill(std::span<const std::string_view> args,
                                     const std::function<bool(std::string_view)>& user_exists);
// Redis's reply to a kill of `killed` clients: +OK or -ERR No such client for the old form, the
// count for the new one.
std::string kill_reply(const KillFilter& filter, std::uint64_t killed);

// What seawall's INFO shows. Sections and fields are seawall's own; the format is Redis's.
struct InfoData {
  // Server
  std::string_view version;
  std::int64_t process_id = 0;
  std::uint16_t tcp_port = 0;
  std::int64_t uptime_seconds = 0;
  std::uint32_t threads = 0;
  std::string config_file;
  // Clients
  std::uint64_t connected_clients = 0;
  std::uint64_t maxclients = 0;
  std::uint64_t pinned_clients = 0;  // holding a dedicated upstream connection
  std::uint64_t max_pinned = 0;
  std::vector<std::uint64_t> clients_per_thread;  // by worker thread, in order
  // Stats
  std::uint64_t total_connections_received = 0;
  std::uint64_t total_commands_processed = 0;
  std::vector<std::pair<std::string_view, std::uint64_t>> answers;  // by source, in order
  // Upstreams
  struct Upstream {
    std::string name;
    std::string address;
    std::string_view breaker;  // closed, open, half_open
  };
  std::vector<Upstream> upstreams;
};

// Which sections an INFO asks for.
struct InfoSections {
  bool server = false;
  bool clients = false;
  bool stats = false;
  bool upstreams = false;
  // `seawall`: the `# Seawall` section of a merged INFO (render_info, which has no such
  // section, gives all of its own for it).
  bool seawall = false;
};
// `args` are INFO's arguments after the name: none (or default, all, everything) is every
// section; names are case-insensitive; unknown names select nothing, as in Redis.
InfoSections parse_info_sections(std::span<const std::string_view> args);
// The INFO text: "# Server\r\nkey:value\r\n...", sections separated by an empty line.
std::string render_info(const InfoData& data, const InfoSections& sections);

// The text of a bulk string ($) or verbatim string (=, its "txt:" prefix removed) reply, as
// Redis sends INFO; nullopt for any other reply.
std::optional<std::string_view> text_reply_body(std::string_view reply);
// A merged INFO: Redis's `redis_text` as Redis gave it, except that its connected_clients
// counts seawall's clients, then the `# Seawall` section when selected: seawall's version,
// clients, answers by source and upstreams.
std::string merge_info(std::string_view redis_text, const InfoData& data,
                       const InfoSections& sections);

}  // namespace seawall::proxy::introspection
