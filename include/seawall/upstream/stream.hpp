#pragma once
// The byte stream of one upstream connection: a plain TCP socket, or TLS over one. The
// connections read and write through it without knowing which; the choice is one branch on
// the variant's index per operation, no virtual call, so plain TCP costs what a bare socket does.
//
// Ownership: a member of its connection (Connection, Link). Thread safety: as a socket: one
// read and one write in flight at once (TLS included), all from the owner's thread.
#include <cstddef>
#include <tuple>
#include <variant>

#include <boost/asio/ssl.hpp>

#include "seawall/net.hpp"
#include "seawall/upstream/tls_context.hpp"

namespace seawall::upstream {

class Stream {
 public:
  using TlsStream = TlsContext::TlsStream;
  using IoResult = awaitable<std::tuple<error_code, std::size_t>>;

  // A plain socket, not open yet.
  explicit Stream(const asio::any_io_executor& ex) : impl_(std::in_place_type<tcp::socket>, ex) {}

  bool is_tls() const { return impl_.index() == 1; }

  // The TCP socket (under TLS, the one TLS runs over).
  tcp::socket& socket() {
    if (auto* plain = std::get_if<tcp::socket>(&impl_)) {
      return *plain;
    }
    return std::get_if<TlsStream>(&impl_)->next_layer();
  }
  TlsStream* tls() { return std::get_if<TlsStream>(&impl_); }

  bool is_open() { return socket().is_open(); }
  // Closes the socket at once, without a TLS close_notify: pending operations complete with
  // an error, which is how a connection's loops learn that it is down.
  void close() {
    error_code ignored;
    socket().close(ignored);
  }
  // Bytes the kernel holds for reading (under TLS: encrypted bytes, so a hint, not a count).
  std::size_t available(error_code& ec) { return socket().available(ec); }

  // Replaces a connected plain socket with a TLS stream over it, ready for the handshake.
  TlsStream& start_tls(const TlsContext& context) {
    return impl_.emplace<TlsStream>(context.start(std::move(socket())));
  }

  template <typename MutableBuffers>
  IoResult async_read_some(const MutableBuffers& buffers) {
    if (auto* plain = std::get_if<tcp::socket>(&impl_)) {
      return plain->async_read_some(buffers, use_nothrow);
    }
    return std::get_if<TlsStream>(&impl_)->async_read_some(buffers, use_nothrow);
  }

  // Writes all of `buffers` (asio::async_write).
  template <typename ConstBuffers>
  IoResult async_write(const ConstBuffers& buffers) {
    if (auto* plain = std::get_if<tcp::socket>(&impl_)) {
      return asio::async_write(*plain, buffers, use_nothrow);
    }
    return asio::async_write(*std::get_if<TlsStream>(&impl_), buffers, use_nothrow);
  }

 private:
  std::variant<tcp::socket, TlsStream> impl_;
};

}  // namespace seawall::upstream
