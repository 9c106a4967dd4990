#include "seawall/proxy/request_slot.hpp"

#include <algorithm>

#include "seawall/util/heap_bytes.hpp"

namespace seawall::proxy {

void RequestSlot::reset() {
  ready = false;
  data.clear();
  is_read = is_write = fill = false;
  info = nullptr;
  policy = nullptr;
  merge = command::Merge::None;
  parts_pending = 0;
  part_failed = false;
  withheld.clear();
  writes_marked = parked = lease_wait = near_flight = false;
  redirects = 0;
  scan_shard = scan_shards = 0;
  mark = {};
}

void RequestSlot::relocated() {
  std::size_t offset = 0;
  for (std::string_view& arg : args) {
    arg = std::string_view(args_blob.data() + offset, arg.size());
    offset += arg.size();
  }
}

void RequestSlot::copy_args(std::span<const std::string_view> request_args) {
  std::size_t total = 0;
  for (std::string_view a : request_args) {
    total += a.size();
  }
  args_blob.clear();
  args_blob.reserve(total);
  for (std::string_view a : request_args) {
    args_blob.append(a);
  }
  args.clear();
  std::size_t offset = 0;
  for (std::string_view a : request_args) {
    args.emplace_back(args_blob.data() + offset, a.size());
    offset += a.size();
  }
}

const std::vector<std::string_view>& RequestSlot::key_views() const {
  thread_local std::vector<std::string_view> views;
  views.clear();
  for (std::uint32_t k : keys) {
    views.push_back(args[k]);
  }
  return views;
}

std::size_t RequestSlot::heap_bytes() const {
  using util::heap_bytes;
  std::size_t bytes = heap_bytes(data) + heap_bytes(args_blob) + heap_bytes(cache_key) +
                      heap_bytes(args) + heap_bytes(keys) + heap_bytes(parts) +
                      heap_bytes(key_part);
  for (const std::string& part : parts) {
    bytes += heap_bytes(part);
  }
  return bytes;
}

void RequestSlot::mark_writes(WritesInFlight& writes, WritesInFlight::Owner owner) {
  if (info == nullptr || command::rules(*info).flushes_all) {
    return;
  }
  mark = writes.mark_all(key_views(), owner);
  writes_marked = true;
}

void RequestSlot::release_writes(WritesInFlight& writes) {
  if (!writes_marked) {
    return;
  }
  writes_marked = false;
  writes.release_all(key_views());
}

bool RequestSlot::write_in_flight(const WritesInFlight& writes) const {
  const auto& views = key_views();
  return std::any_of(views.begin(), views.end(),
                     [&](std::string_view key) { return writes.any(key); });
}

}  // namespace seawall::proxy
