#pragma once
// The ordered reply ring of a session: one slot per request in arrival order, numbered by a
// sequence number that only grows. A reply that completes before the ones ahead of it waits in
// its slot; the front is flushed, with every ready slot behind it, as soon as it completes
// (Envoy's ProxyFilter::onResponse). Sans-I/O: complete() appends to the caller's output.
//
// Memory: slots live in a power-of-two ring and are reused, so their strings and vectors keep
// their capacity: no allocation per request in steady state. The ring is empty until the first
// slot is pushed and grows by doubling; release() frees it while empty (an idle session).
//
// Requirements on Slot: default-constructible and movable, with `bool ready` and
// `std::string data`; an optional `void relocated()` is called on a slot after the ring grew
// and moved it (a slot holding views into its own strings points them at the new buffers).
// Thread safety: none; one session's thread.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seawall::proxy {

template <class Slot>
class ReplyQueue {
 public:
  // The ring's first size: it grows by doubling to what the client pipelines.
  static constexpr std::size_t kInitialSlots = 8;

  // A new slot at the back, as left by its last use (the caller resets what it needs); its
  // sequence number is back_seq().
  Slot& push() {
    if (count_ == ring_.size()) {
      grow();
    }
    Slot& slot = ring_[(head_ + count_) & mask_];
    ++count_;
    return slot;
  }

  // The slot of a request still waiting (front_seq() <= seq <= back_seq()).
  Slot& at(std::uint64_t seq) {
    return ring_[(head_ + static_cast<std::size_t>(seq - front_seq_)) & mask_];
  }
  Slot& front() { return ring_[head_]; }

  // The reply of request `seq`: at the front, appended to `out` with the replies ready behind
  // it, their slots freed; else kept in its slot until the front reaches it.
  void complete(std::uint64_t seq, std::string_view bytes, std::string& out) {
    if (seq != front_seq_) {
      Slot& slot = at(seq);
      slot.ready = true;
      slot.data.assign(bytes);
      return;
    }
    out.append(bytes);
    pop();
    while (count_ > 0 && ring_[head_].ready) {
      out.append(ring_[head_].data);
      pop();
    }
  }

  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  std::uint64_t front_seq() const { return front_seq_; }
  // The newest slot's sequence number (valid when not empty).
  std::uint64_t back_seq() const { return front_seq_ + count_ - 1; }

  // Every slot of the ring, waiting or free (for what they hold: heap bytes, writes to release).
  std::span<Slot> slots() { return ring_; }
  std::span<const Slot> slots() const { return ring_; }
  std::size_t capacity() const { return ring_.size(); }

  // Frees the ring's memory; only while empty.
  void release() {
    if (count_ == 0) {
      std::vector<Slot>().swap(ring_);
      head_ = 0;
      mask_ = 0;
    }
  }

 private:
  void pop() {
    head_ = (head_ + 1) & mask_;
    --count_;
    ++front_seq_;
  }

  void grow() {
    // Unroll the ring into a vector twice the size, front first.
    std::vector<Slot> bigger(std::max(kInitialSlots, ring_.size() * 2));
    for (std::size_t i = 0; i < count_; ++i) {
      Slot& moved = bigger[i];
      moved = std::move(ring_[(head_ + i) & mask_]);
      if constexpr (requires(Slot & s) { s.relocated(); }) {
        moved.relocated();
      }
    }
    ring_ = std::move(bigger);
    head_ = 0;
    mask_ = ring_.size() - 1;
  }

  std::vector<Slot> ring_;  // power-of-two sized, empty until the first slot is pushed
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::size_t mask_ = 0;
  std::uint64_t front_seq_ = 0;
};

}  // namespace seawall::proxy
