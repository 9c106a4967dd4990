#pragma once
// A client's query buffer: the bytes read from its socket and not parsed yet. Its storage is lent
// by the worker's ReadBufferPool while the client sends and given back once no incomplete command
// is left in it, so an idle client holds none (Redis shrinks an idle client's query buffer
// likewise). One command may need at most kMaxBytes, as Redis's client-query-buffer-limit.
// Ownership: one per session; the buffer it holds goes back to `pool` at release() or its end.
// Thread safety: the session's worker thread.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "seawall/net.hpp"
#include "seawall/proxy/read_buffer_pool.hpp"

namespace seawall::proxy {

class QueryBuffer {
 public:
  static constexpr std::size_t kMaxBytes = 1024ull * 1024 * 1024;

  explicit QueryBuffer(ReadBufferPool& pool) : pool_(pool) {}
  ~QueryBuffer() { release(); }
  QueryBuffer(const QueryBuffer&) = delete;
  QueryBuffer& operator=(const QueryBuffer&) = delete;

  enum class Read : std::uint8_t {
    Data,      // bytes were appended
    Wait,      // nothing to read yet; the buffer went back unless it holds an incomplete command
    Eof,       // the client closed its side
    Reset,     // a read error (connection reset): nobody is left to read replies
    TooLarge,  // the current command would need more than kMaxBytes
  };
  // One non-blocking read from `socket` (borrowing a buffer first if none is held).
  // `bytes_hint`: what the parser knows the current command still needs (a large bulk is sized
  // once instead of doubling towards it).
  Read read_from(tcp::socket& socket, std::size_t bytes_hint);
  // The last read returned less than the room it had: the socket was most likely emptied, and
  // another read now would only return would_block (a system call per request for nothing).
  bool drained() const { return drained_; }
  // Waiting without a read first: lets the buffer go, as a Wait from read_from does, unless it
  // holds an incomplete command.
  void release_if_empty() {
    drained_ = false;
    if (begin_ == end_ && !buf_.empty()) {
      release();
    }
  }

  std::string_view unparsed() const { return {buf_.data() + begin_, end_ - begin_}; }
  // `n` bytes at the front were parsed.
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) {
      begin_ = end_ = 0;
    }
  }
  bool has_unparsed() const { return begin_ != end_; }
  std::size_t unparsed_size() const { return end_ - begin_; }
  std::size_t capacity() const { return buf_.size(); }
  // Gives the storage back to the pool; what was unparsed is dropped.
  void release();

 private:
  // The buffer is full: room at its end for more of the current command; false past kMaxBytes.
  bool make_room(std::size_t bytes_hint);

  ReadBufferPool& pool_;
  ReadBuffer buf_;  // empty while nothing is lent
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool drained_ = false;
};

}  // namespace seawall::proxy
