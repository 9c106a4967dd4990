#include "seawall/proxy/read_buffer_pool.hpp"

#include <cstring>

namespace seawall::proxy {

void ReadBuffer::grow(std::size_t size, std::size_t keep) {
  auto bigger = std::make_unique_for_overwrite<char[]>(size);
  if (keep > 0) {
    std::memcpy(bigger.get(), data_.get(), keep);
  }
  data_ = std::move(bigger);
  size_ = size;
}

ReadBufferPool::ReadBufferPool(std::size_t buffer_size, std::size_t max_spare)
    : buffer_size_(buffer_size), max_spare_(max_spare) {
  spare_.reserve(max_spare_);
}

}  // namespace seawall::proxy
