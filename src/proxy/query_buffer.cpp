#include "seawall/proxy/query_buffer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace seawall::proxy {

QueryBuffer::Read QueryBuffer::read_from(tcp::socket& socket, std::size_t bytes_hint) {
  if (buf_.empty()) {
    buf_ = pool_.acquire();
    begin_ = end_ = 0;
  }
  if (end_ == buf_.size() && !make_room(bytes_hint)) {
    return Read::TooLarge;
  }
  error_code ec;
  const std::size_t room = buf_.size() - end_;
  const std::size_t n = socket.read_some(asio::buffer(buf_.data() + end_, room), ec);
  drained_ = !ec && n < room;
  if (!ec) {
    end_ += n;
    return Read::Data;
  }
  // Compared by value (the common case, would_block, is a system error): cheaper than
  // error_code's operator== against each enumerator.
  const bool would_block = ec.category() == asio::error::get_system_category() &&
                           (ec.value() == EAGAIN || ec.value() == EWOULDBLOCK);
  if (!would_block) {
    return ec == asio::error::eof ? Read::Eof : Read::Reset;
  }
  if (begin_ == end_) {
    release();  // no incomplete command: nothing to keep while waiting
  }
  return Read::Wait;
}

bool QueryBuffer::make_room(std::size_t bytes_hint) {
  // Grow to what the current command needs (a large bulk is sized once), or double.
  const std::size_t used = end_ - begin_;
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, used);
    begin_ = 0;
    end_ = used;
  }
  if (end_ == buf_.size()) {
    const std::size_t want = std::max(buf_.size() * 2, bytes_hint + 16);
    if (want > kMaxBytes) {
      return false;
    }
    buf_.grow(want, end_);
  }
  return true;
}

void QueryBuffer::release() {
  begin_ = end_ = 0;
  pool_.release(buf_);
}

}  // namespace seawall::proxy
