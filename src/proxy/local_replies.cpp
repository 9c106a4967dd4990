#include "seawall/proxy/local_replies.hpp"

#include <algorithm>

#include "seawall/resp/replies.hpp"
#include "seawall/resp/writer.hpp"

namespace seawall::proxy {

void append_ping_reply(std::string& out, std::span<const std::string_view> args) {
  if (args.size() == 1) {
    out.append(resp::replies::kPong);
  } else {
    resp::append_bulk(out, args[1]);
  }
}

void append_unsubscribe_reply(std::string& out, std::string_view name,
                              std::span<const std::string_view> args, resp::Protocol protocol) {
  for (std::size_t i = 1; i < std::max<std::size_t>(args.size(), 2); ++i) {
    if (protocol == resp::Protocol::Resp3) {
      out.append(">3\r\n");  // a push in RESP3, as Redis sends it
    } else {
      resp::append_array_header(out, 3);
    }
    resp::append_bulk(out, name);
    if (i < args.size()) {
      resp::append_bulk(out, args[i]);
    } else {
      resp::append_null(out);
    }
    resp::append_integer(out, 0);
  }
}

void append_hello_reply(std::string& out, resp::Protocol protocol, std::int64_t id,
                        std::string_view version) {
  if (protocol == resp::Protocol::Resp3) {
    out.append("%7\r\n");
  } else {
    resp::append_array_header(out, 14);
  }
  resp::append_bulk(out, "server");
  resp::append_bulk(out, "redis");
  resp::append_bulk(out, "version");
  resp::append_bulk(out, version);
  resp::append_bulk(out, "proto");
  resp::append_integer(out, protocol == resp::Protocol::Resp3 ? 3 : 2);
  resp::append_bulk(out, "id");
  resp::append_integer(out, id);
  resp::append_bulk(out, "mode");
  resp::append_bulk(out, "standalone");
  resp::append_bulk(out, "role");
  resp::append_bulk(out, "master");
  resp::append_bulk(out, "modules");
  resp::append_array_header(out, 0);
}

}  // namespace seawall::proxy
