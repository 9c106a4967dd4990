#include "seawall/proxy/read_buffer_pool.hpp"

#include <utility>

namespace seawall::proxy {

ReadBufferPool::ReadBufferPool(std::size_t buffer_size, std::size_t max_spare)
    : buffer_size_(buffer_size), max_spare_(max_spare) {
  spare_.reserve(max_spare_);
}

std::string ReadBufferPool::acquire() {
  ++lent_;
  if (spare_.empty()) {
    return std::string(buffer_size_, '\0');
  }
  std::string buffer = std::move(spare_.back());
  spare_.pop_back();
  return buffer;
}

void ReadBufferPool::release(std::string& buffer) {
  if (buffer.empty()) {
    return;  // nothing lent: a lent buffer is never empty
  }
  std::string taken;
  taken.swap(buffer);
  if (lent_ > 0) {
    --lent_;
  }
  // Only standard buffers are kept: one that grew for a large command is freed here.
  if (taken.capacity() <= buffer_size_ && spare_.size() < max_spare_) {
    taken.resize(buffer_size_);
    spare_.push_back(std::move(taken));
  }
}

}  // namespace seawall::proxy
