#include "seawall/upstream/sentinel_replies.hpp"

#include <charconv>

#include "seawall/command/sent.hpp"
#include "seawall/resp/reply_framer.hpp"
#include "seawall/resp/writer.hpp"

namespace seawall::upstream {
namespace {

constexpr std::size_t kMaxReply = 64 * 1024;

// Frames the reply at the start of `bytes`: Ok with its length, NeedMore, or Invalid.
ParseStatus frame(std::string_view bytes, std::size_t max_depth, resp::FramedReply& out) {
  resp::ReplyFramer framer(static_cast<std::uint32_t>(max_depth));
  const resp::errc e = framer.feed(bytes, out);
  if (e == resp::errc::need_more) {
    return bytes.size() > kMaxReply ? ParseStatus::Invalid : ParseStatus::NeedMore;
  }
  return e == resp::errc::ok ? ParseStatus::Ok : ParseStatus::Invalid;
}

// The text of a simple string, bulk string or integer that `whole` (one framed value) is;
// nullopt for anything else (null, aggregates).
std::optional<std::string_view> scalar_text(std::string_view whole) {
  if (whole.size() < 3) {
    return std::nullopt;
  }
  const auto line_end = whole.find("\r\n");
  if (whole[0] == '+' || whole[0] == ':') {
    return whole.substr(1, line_end - 1);
  }
  if (whole[0] == '$' && whole[1] != '-') {
    const std::size_t body = line_end + 2;
    if (whole.size() < body + 2) {
      return std::nullopt;
    }
    return whole.substr(body, whole.size() - body - 2);
  }
  return std::nullopt;
}

// The elements of the aggregate (array or push) `whole`, each as its framed bytes; nullopt when
// `whole` is not one.
std::optional<std::vector<std::string_view>> elements_of(std::string_view whole,
                                                         std::size_t max_depth) {
  if (whole.empty() || (whole[0] != '*' && whole[0] != '>')) {
    return std::nullopt;
  }
  const auto line_end = whole.find("\r\n");
  std::int64_t count = 0;
  const auto [end, ec] = std::from_chars(whole.data() + 1, whole.data() + line_end, count);
  if (ec != std::errc() || end != whole.data() + line_end || count < 0) {
    return std::nullopt;
  }
  std::vector<std::string_view> out;
  std::size_t pos = line_end + 2;
  for (std::int64_t i = 0; i < count; ++i) {
    resp::FramedReply element;
    if (frame(whole.substr(pos), max_depth, element) != ParseStatus::Ok) {
      return std::nullopt;
    }
    out.push_back(whole.substr(pos, element.length));
    pos += element.length;
  }
  return out;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || port < 1 ||
      port > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(port);
}

std::optional<HostPort> host_port(std::string_view host, std::string_view port_text) {
  const auto port = parse_port(port_text);
  if (host.empty() || !port) {
    return std::nullopt;
  }
  return HostPort{std::string(host), *port};
}

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto start = text.find_first_not_of(' ', pos);
    if (start == std::string_view::npos) {
      break;
    }
    const auto end = std::min(text.find(' ', start), text.size());
    out.push_back(text.substr(start, end - start));
    pos = end;
  }
  return out;
}

}  // namespace

std::string HostPort::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string get_master_addr_command(std::string_view master) {
  std::string out;
  resp::append_array_header(out, 3);
  resp::append_bulk(out, command::sent::kSentinel);
  resp::append_bulk(out, command::sent::kGetMasterAddrByName);
  resp::append_bulk(out, master);
  return out;
}

std::string subscribe_command() {
  std::string out;
  resp::append_array_header(out, 4);
  resp::append_bulk(out, command::sent::kSubscribe);
  resp::append_bulk(out, kSwitchMasterChannel);
  resp::append_bulk(out, kSelectedSlaveChannel);
  resp::append_bulk(out, kAbortSlaveTimeoutChannel);
  return out;
}

MasterAddrReply parse_master_addr_reply(std::string_view bytes) {
  MasterAddrReply reply;
  resp::FramedReply framed;
  reply.status = frame(bytes, 4, framed);
  if (reply.status != ParseStatus::Ok) {
    return reply;
  }
  reply.length = framed.length;
  const std::string_view whole = bytes.substr(0, framed.length);
  if (whole[0] == '-' || whole[0] == '!') {
    reply.error = std::string(whole.substr(1, whole.find("\r\n") - 1));
    return reply;
  }
  if (whole == "*-1\r\n" || whole == "$-1\r\n" || whole == "_\r\n") {
    return reply;  // the sentinel does not know this master
  }
  const auto elements = elements_of(whole, 4);
  if (!elements || elements->size() != 2) {
    reply.status = ParseStatus::Invalid;
    return reply;
  }
  const auto host = scalar_text((*elements)[0]);
  const auto port = scalar_text((*elements)[1]);
  if (!host || !port) {
    reply.status = ParseStatus::Invalid;
    return reply;
  }
  reply.master = host_port(*host, *port);
  if (!reply.master) {
    reply.status = ParseStatus::Invalid;
  }
  return reply;
}

RoleReply parse_role_reply(std::string_view bytes, std::size_t max_depth) {
  RoleReply reply;
  resp::FramedReply framed;
  reply.status = frame(bytes, max_depth, framed);
  if (reply.status != ParseStatus::Ok) {
    return reply;
  }
  reply.length = framed.length;
  const std::string_view whole = bytes.substr(0, framed.length);
  if (whole[0] == '-' || whole[0] == '!') {
    return reply;  // e.g. -NOPERM: the role is unknown, never "master"
  }
  const auto elements = elements_of(whole, max_depth);
  if (!elements || elements->empty()) {
    reply.status = ParseStatus::Invalid;
    return reply;
  }
  const auto role = scalar_text(elements->front());
  if (!role) {
    reply.status = ParseStatus::Invalid;
    return reply;
  }
  reply.role = std::string(*role);
  if (reply.role == "slave" && elements->size() >= 4) {
    if (const auto link = scalar_text((*elements)[3])) {
      reply.link = std::string(*link);
    }
  }
  return reply;
}

PubSubFrame parse_pubsub_frame(std::string_view bytes) {
  PubSubFrame out;
  resp::FramedReply framed;
  out.status = frame(bytes, 4, framed);
  if (out.status != ParseStatus::Ok) {
    return out;
  }
  out.length = framed.length;
  const auto elements = elements_of(bytes.substr(0, framed.length), 4);
  if (!elements) {
    out.status = ParseStatus::Invalid;
    return out;
  }
  for (std::string_view element : *elements) {
    const auto text = scalar_text(element);
    if (!text) {
      out.status = ParseStatus::Invalid;
      out.elements.clear();
      return out;
    }
    out.elements.emplace_back(*text);
  }
  return out;
}

std::optional<FailoverEvent> parse_failover_event(std::string_view channel,
                                                  std::string_view payload) {
  const std::vector<std::string_view> w = words(payload);
  FailoverEvent event;
  if (channel == kSwitchMasterChannel) {
    if (w.size() != 5) {
      return std::nullopt;
    }
    const auto from = host_port(w[1], w[2]);
    const auto to = host_port(w[3], w[4]);
    if (!from || !to) {
      return std::nullopt;
    }
    event.kind = FailoverEventKind::SwitchMaster;
    event.master = std::string(w[0]);
    event.from = *from;
    event.to = *to;
    return event;
  }
  if (channel == kSelectedSlaveChannel) {
    // slave <ip>:<port> <ip> <port> @ <name> <master-ip> <master-port>
    if (w.size() != 8 || w[0] != "slave" || w[4] != "@") {
      return std::nullopt;
    }
    const auto to = host_port(w[2], w[3]);
    const auto from = host_port(w[6], w[7]);
    if (!from || !to) {
      return std::nullopt;
    }
    event.kind = FailoverEventKind::SelectedSlave;
    event.master = std::string(w[5]);
    event.from = *from;
    event.to = *to;
    return event;
  }
  if (channel == kAbortSlaveTimeoutChannel) {
    // master <name> <ip> <port>
    if (w.size() != 4 || w[0] != "master") {
      return std::nullopt;
    }
    const auto at = host_port(w[2], w[3]);
    if (!at) {
      return std::nullopt;
    }
    event.kind = FailoverEventKind::Aborted;
    event.master = std::string(w[1]);
    event.from = *at;
    return event;
  }
  return std::nullopt;
}

}  // namespace seawall::upstream
