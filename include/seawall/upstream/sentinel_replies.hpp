#pragma once
// What Redis Sentinel and a master say, without I/O: the requests seawall sends to a sentinel
// (SENTINEL get-master-addr-by-name, SUBSCRIBE to the failover events), and the replies and
// messages it reads back (the master's address, ROLE's first element, a published event naming a
// master). Used by MasterResolver and connect_upstream; tested by feeding bytes.
// Thread safety: pure functions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seawall::upstream {

struct HostPort {
  std::string host;
  std::uint16_t port = 0;

  // "host:port", "[v6]:port" for an IPv6 literal.
  std::string to_string() const;
  bool operator==(const HostPort&) const = default;
};

// The channels seawall subscribes to on each sentinel, in the order kSubscribeRequest names them.
inline constexpr std::string_view kSwitchMasterChannel = "+switch-master";
// Published by the sentinel that leads a failover once it chose the replica to promote, a timer
// tick (about 100 ms) before it sends that replica REPLICAOF NO ONE: from then on, a write the
// old master accepts may be lost, so the upstream is held unavailable until the switch.
inline constexpr std::string_view kSelectedSlaveChannel = "+selected-slave";
// The failover gave up after selecting a replica: the old master stays.
inline constexpr std::string_view kAbortSlaveTimeoutChannel = "-failover-abort-slave-timeout";

// "SENTINEL get-master-addr-by-name NAME" as a RESP command.
std::string get_master_addr_command(std::string_view master);
// "SUBSCRIBE" with the three channels above, as a RESP command.
std::string subscribe_command();

enum class ParseStatus : std::uint8_t { NeedMore, Ok, Invalid };

// The reply to SENTINEL get-master-addr-by-name: a two-element array of host and port, or a nil
// (the sentinel does not know that master), or an error.
struct MasterAddrReply {
  ParseStatus status = ParseStatus::NeedMore;
  std::size_t length = 0;          // bytes of the reply, once complete
  std::optional<HostPort> master;  // Ok with an address; nullopt for nil or an error
  std::string error;               // the error line's text, when the sentinel answered one
};
MasterAddrReply parse_master_addr_reply(std::string_view bytes);

// ROLE's reply: the first element of its array ("master", "slave", "sentinel").
struct RoleReply {
  ParseStatus status = ParseStatus::NeedMore;
  std::size_t length = 0;
  std::string role;  // Ok: the role; an error reply gives "" (and Ok)
  // A replica's link to its master ("connect", "connecting", "sync", "connected"; its fourth
  // element); "" for other roles.
  std::string link;
};
RoleReply parse_role_reply(std::string_view bytes, std::size_t max_depth = 16);

// One message read from a subscribed connection: a RESP2 array or RESP3 push whose elements are
// strings or integers ("message", channel, payload; or "subscribe", channel, count).
struct PubSubFrame {
  ParseStatus status = ParseStatus::NeedMore;
  std::size_t length = 0;
  std::vector<std::string> elements;  // integers as their decimal text
};
PubSubFrame parse_pubsub_frame(std::string_view bytes);

// A failover event about one master, from the payload of a message on one of the channels above.
enum class FailoverEventKind : std::uint8_t { SwitchMaster, SelectedSlave, Aborted };
struct FailoverEvent {
  FailoverEventKind kind = FailoverEventKind::SwitchMaster;
  std::string master;  // the master's name
  HostPort from;       // SwitchMaster: the old address; others: the master's address
  HostPort to;         // SwitchMaster: the new address; SelectedSlave: the replica chosen
};
// nullopt when the channel is not one of ours or the payload does not parse.
//   +switch-master:  "<name> <old-ip> <old-port> <new-ip> <new-port>"
//   +selected-slave: "slave <ip>:<port> <ip> <port> @ <name> <master-ip> <master-port>"
//   the abort:       "master <name> <ip> <port>"
std::optional<FailoverEvent> parse_failover_event(std::string_view channel,
                                                  std::string_view payload);

}  // namespace seawall::upstream
