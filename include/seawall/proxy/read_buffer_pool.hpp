#pragma once
// Read buffers lent to the sessions of one worker. A session holds one only while its client's
// bytes are arriving or a command of it is incomplete: an idle client holds none, as Redis frees
// an idle client's query buffer. The session grows the buffer it holds when a command needs more
// (a large bulk is sized once); given back larger than buffer_size it is freed, not kept, so one
// large request leaves nothing behind. Up to max_spare standard buffers wait here for the next
// reader, so a busy client takes and returns one per wake-up without allocating.
// Ownership: one per worker, in WorkerContext; buffers move in and out by value.
// Thread safety: the worker's thread only.
#include <cstddef>
#include <string>
#include <vector>

namespace seawall::proxy {

class ReadBufferPool {
 public:
  static constexpr std::size_t kBufferSize = 16 * 1024;
  static constexpr std::size_t kMaxSpare = 64;

  explicit ReadBufferPool(std::size_t buffer_size = kBufferSize, std::size_t max_spare = kMaxSpare);
  ReadBufferPool(const ReadBufferPool&) = delete;
  ReadBufferPool& operator=(const ReadBufferPool&) = delete;

  // A buffer of buffer_size() bytes (its size(), not only its capacity), spare or new.
  std::string acquire();
  // Takes `buffer` back (its bytes are no longer needed) and leaves it empty, holding no heap
  // storage. An empty string (nothing lent) is ignored.
  void release(std::string& buffer);

  std::size_t buffer_size() const { return buffer_size_; }
  std::size_t spare() const { return spare_.size(); }
  std::size_t spare_bytes() const { return spare_.size() * buffer_size_; }
  // Buffers acquired and not released yet.
  std::size_t lent() const { return lent_; }

 private:
  std::size_t buffer_size_;
  std::size_t max_spare_;
  std::vector<std::string> spare_;
  std::size_t lent_ = 0;
};

}  // namespace seawall::proxy
