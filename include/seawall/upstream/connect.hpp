#pragma once
// Opening a connection to an upstream, one function for the pipelined Connection, the pinned
// Link and (through Connection) the health checker: TCP, then the TLS handshake when
// tls.enabled, then AUTH when auth is set. A connection counts as open only once all of them
// succeeded, so no request ever reaches a server that has not authenticated seawall.
// Thread safety: connect_upstream runs on the caller's executor and uses only its arguments; the
// other functions are pure.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "seawall/net.hpp"
#include "seawall/upstream/sentinel_replies.hpp"
#include "seawall/upstream/stream.hpp"
#include "seawall/upstream/upstream_config.hpp"

namespace seawall::upstream {

struct ConnectResult {
  bool ok = false;
  std::string error;  // when !ok: the step that failed and why; never contains the password
  std::string server_version;  // from the HELLO reply, when a protocol was asked for
  HostPort address;            // the address connected to (or last tried)
  bool not_master = false;     // sentinel-managed or cluster: ROLE said the node is not the master
  bool not_replica = false;    // a cluster shard's replica upstream: ROLE said it is no replica
  // A spare cluster shard no master has taken yet: nothing to connect to, and no failure either;
  // callers wait quietly and try again (ClusterTopology::spare).
  bool dormant = false;
};

// Which protocol the connection speaks. None sends no HELLO (health checks, and links whose
// client sends its own); Resp2 and Resp3 send HELLO 2 / HELLO 3 after AUTH and learn the
// server's version from its reply (a Redis without HELLO, before 6.0, is fine for Resp2).
enum class Protocol : std::uint8_t { None, Resp2, Resp3 };

// Connects `stream` to the upstream of `config`, trying each resolved address in turn. A
// sentinel-managed upstream (config.resolver set) takes the address from its MasterResolver, and
// once connected (TLS, AUTH, HELLO done) asks the node ROLE: a node that is not "master" is
// reported to the resolver and another address is asked for (at most three nodes per call), so
// no request ever reaches a replica. A cluster shard's upstream asks the cluster's topology for
// the shard's master the same way; its replica upstream (ShardRole::Replica) asks for the
// shard's replicas instead (at most three per call), checks that ROLE says replica with its link
// to the master up (a replica still syncing would answer from an empty or old dataset), and
// sends READONLY, so that the replica answers reads of its master's slots. Each
// address gets one connect_timeout for all its steps: TCP connect, TLS handshake, then AUTH and
// its reply, or, under TLS without AUTH, a PING and its reply (any reply, even an error): a
// TLS 1.3 server refuses a client certificate only after the client finished its handshake, and
// that must fail the connect, not drop a connection already counted as up. `stream` is the
// caller's member, so that closing it meanwhile (stop, close) aborts the attempt. On failure
// `stream` is closed.
awaitable<ConnectResult> connect_upstream(asio::any_io_executor ex, const UpstreamConfig& config,
                                          Stream& stream, Protocol protocol = Protocol::None);

// The value of "version" in a HELLO reply (RESP2 array or RESP3 map of name/value pairs), or ""
// when there is none.
std::string hello_version(std::string_view reply);

// ---- the exchanges of a connect, without I/O ----------------------------------------------------

// "AUTH [username] password" as a RESP command.
std::string auth_command(std::string_view username, std::string_view password);

enum class LineStatus { NeedMore, Simple, Error, Unexpected };

// The reply to AUTH or PING: one simple string or error line.
struct LineReply {
  LineStatus status = LineStatus::NeedMore;
  std::size_t length = 0;  // bytes of the reply, once complete
  std::string_view text;   // Simple, Error: the line without its type byte and CRLF
};

// Judges the bytes received so far in reply to AUTH or PING: a simple string ("+OK", "+PONG"),
// an error, or anything else (including a line longer than Redis would ever send).
LineReply parse_line_reply(std::string_view bytes);

// `text` with every occurrence of `secret` replaced by "<redacted>": what Redis said about a
// rejected AUTH is logged, and must not carry the password even if some server echoed it.
std::string redact(std::string_view text, std::string_view secret);

}  // namespace seawall::upstream
