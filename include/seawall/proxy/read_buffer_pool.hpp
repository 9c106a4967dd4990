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
#include <memory>
#include <utility>
#include <vector>

namespace seawall::proxy {

// Bytes and their count, uninitialised; moving one is a pointer and a size (a std::string's move
// costs several times that, twice per wake-up of a session).
class ReadBuffer {
 public:
  ReadBuffer() = default;
  explicit ReadBuffer(std::size_t size)
      : data_(std::make_unique_for_overwrite<char[]>(size)), size_(size) {}
  ReadBuffer(ReadBuffer&& other) noexcept
      : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}
  ReadBuffer& operator=(ReadBuffer&& other) noexcept {
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
  ~ReadBuffer() = default;

  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Grows to `size` bytes (> size()), keeping the first `keep`.
  void grow(std::size_t size, std::size_t keep);
  void reset() {
    data_.reset();
    size_ = 0;
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

class ReadBufferPool {
 public:
  static constexpr std::size_t kBufferSize = 16 * 1024;
  static constexpr std::size_t kMaxSpare = 64;

  explicit ReadBufferPool(std::size_t buffer_size = kBufferSize, std::size_t max_spare = kMaxSpare);
  ReadBufferPool(const ReadBufferPool&) = delete;
  ReadBufferPool& operator=(const ReadBufferPool&) = delete;

  // A buffer of buffer_size() bytes, spare or new. Inline: a session takes and returns one per
  // wake-up.
  ReadBuffer acquire() {
    ++lent_;
    if (spare_.empty()) {
      return ReadBuffer(buffer_size_);
    }
    ReadBuffer buffer = std::move(spare_.back());
    spare_.pop_back();
    return buffer;
  }
  // Takes `buffer` back (its bytes are no longer needed) and leaves it empty. An empty buffer
  // (nothing lent) is ignored.
  void release(ReadBuffer& buffer) {
    if (buffer.empty()) {
      return;
    }
    --lent_;
    // Only standard buffers are kept: one that grew for a large command is freed here.
    if (buffer.size() == buffer_size_ && spare_.size() < max_spare_) {
      spare_.push_back(std::move(buffer));
    } else {
      buffer.reset();
    }
  }

  // Frees spare buffers beyond `keep` (the worker does before it returns memory to the system).
  void trim_spare(std::size_t keep) {
    if (spare_.size() > keep) {
      spare_.resize(keep);
    }
  }

  std::size_t buffer_size() const { return buffer_size_; }
  std::size_t spare() const { return spare_.size(); }
  std::size_t spare_bytes() const { return spare_.size() * buffer_size_; }
  // Buffers acquired and not released yet.
  std::size_t lent() const { return lent_; }

 private:
  std::size_t buffer_size_;
  std::size_t max_spare_;
  std::vector<ReadBuffer> spare_;
  std::size_t lent_ = 0;
};

}  // namespace seawall::proxy
