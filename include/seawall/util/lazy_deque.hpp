#pragma once
// A FIFO that allocates nothing until its first push. libstdc++'s std::deque allocates its map
// and a 512-byte node when constructed, even empty: about 1 KB per idle session for queues that
// most sessions never use (they serve pinned sessions only). Once created, the deque keeps its
// nodes, so steady-state pushes allocate as std::deque's do; release() frees it for an idle
// sweep.
// Thread safety: none (an owner's thread).
#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

namespace seawall::util {

template <typename T>
class LazyDeque {
 public:
  using iterator = typename std::deque<T>::iterator;
  using const_iterator = typename std::deque<T>::const_iterator;

  bool empty() const { return !items_ || items_->empty(); }
  std::size_t size() const { return items_ ? items_->size() : 0; }
  // Precondition for front/back/pop_front/pop_back: !empty().
  T& front() { return items_->front(); }
  const T& front() const { return items_->front(); }
  T& back() { return items_->back(); }
  const T& back() const { return items_->back(); }
  void pop_front() { items_->pop_front(); }
  void pop_back() { items_->pop_back(); }
  void push_back(T value) {
    if (!items_) {
      items_ = std::make_unique<std::deque<T>>();
    }
    items_->push_back(std::move(value));
  }
  void clear() {
    if (items_) {
      items_->clear();
    }
  }
  // Frees the storage when empty; true if it held any.
  bool release() {
    if (!items_ || !items_->empty()) {
      return false;
    }
    items_.reset();
    return true;
  }
  bool allocated() const { return items_ != nullptr; }

  iterator begin() { return items_ ? items_->begin() : iterator(); }
  iterator end() { return items_ ? items_->end() : iterator(); }
  const_iterator begin() const { return items_ ? items_->cbegin() : const_iterator(); }
  const_iterator end() const { return items_ ? items_->cend() : const_iterator(); }

 private:
  std::unique_ptr<std::deque<T>> items_;
};

}  // namespace seawall::util
