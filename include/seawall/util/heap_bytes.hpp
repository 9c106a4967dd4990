#pragma once
// Heap bytes behind standard containers, for the memory gauges (capacities, not sizes).
#include <cstddef>
#include <string>
#include <vector>

namespace seawall::util {

// None while the string fits in its inline (small-string) storage.
inline std::size_t heap_bytes(const std::string& s) {
  return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}

template <typename T>
std::size_t heap_bytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

}  // namespace seawall::util
