#include "seawall/proxy/client_registry.hpp"

#include <algorithm>

namespace seawall::proxy {

ClientRecord::ClientRecord(std::uint64_t id, unsigned worker, std::string addr, std::string laddr,
                           int fd, Clock::time_point created, KillFn kill)
    : id_(id),
      worker_(worker),
      addr_(std::move(addr)),
      laddr_(std::move(laddr)),
      fd_(fd),
      created_(created),
      kill_(std::move(kill)),
      last_interaction_(created.time_since_epoch().count()) {}

void ClientRecord::set_flag(std::uint32_t flag, bool on) {
  // One writer: a load and a store, no read-modify-write needed.
  const std::uint32_t flags = flags_.load(std::memory_order_relaxed);
  flags_.store(on ? flags | flag : flags & ~flag, std::memory_order_relaxed);
}

void ClientRecord::set_name(std::string_view name) {
  std::lock_guard lock(mutex_);
  name_.assign(name);
}

void ClientRecord::set_lib_name(std::string_view lib_name) {
  std::lock_guard lock(mutex_);
  lib_name_.assign(lib_name);
}

void ClientRecord::set_lib_ver(std::string_view lib_ver) {
  std::lock_guard lock(mutex_);
  lib_ver_.assign(lib_ver);
}

void ClientRecord::set_user(std::string_view user) {
  std::lock_guard lock(mutex_);
  user_.assign(user);
}

introspection::ClientView ClientRecord::view(Clock::time_point now) const {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  introspection::ClientView v;
  v.id = id_;
  v.addr = addr_;
  v.laddr = laddr_;
  v.fd = fd_;
  v.age_seconds = duration_cast<seconds>(now - created_).count();
  const Clock::time_point last(Clock::duration(last_interaction_.load(std::memory_order_relaxed)));
  v.idle_seconds = std::max<std::int64_t>(0, duration_cast<seconds>(now - last).count());
  v.flags = flags();
  v.db = db_.load(std::memory_order_relaxed);
  v.multi = multi();
  v.sub = sub_.load(std::memory_order_relaxed);
  v.psub = psub_.load(std::memory_order_relaxed);
  v.ssub = ssub_.load(std::memory_order_relaxed);
  if (const command::CommandInfo* info = last_command_.load(std::memory_order_relaxed)) {
    v.cmd = info->name;
  }
  v.resp = protocol();
  std::lock_guard lock(mutex_);
  v.name = name_;
  v.lib_name = lib_name_;
  v.lib_ver = lib_ver_;
  v.user = user_;
  return v;
}

void ClientRegistry::add(std::shared_ptr<ClientRecord> record) {
  std::lock_guard lock(mutex_);
  const std::uint64_t id = record->id();
  records_.insert_or_assign(id, std::move(record));
  ++received_;
}

bool ClientRegistry::has_user(std::string_view user) const {
  std::lock_guard lock(mutex_);
  return std::any_of(records_.begin(), records_.end(), [user](const auto& entry) {
    const ClientRecord& record = *entry.second;
    std::lock_guard record_lock(record.mutex_);
    return !record.killed_ && record.user_ == user;
  });
}

void ClientRegistry::remove(const ClientRecord& record) {
  std::lock_guard lock(mutex_);
  const auto it = records_.find(record.id());
  if (it == records_.end() || it->second.get() != &record) {
    return;
  }
  closed_commands_ += record.commands();
  records_.erase(it);
}

std::vector<introspection::ClientView> ClientRegistry::list(Clock::time_point now) const {
  std::vector<introspection::ClientView> out;
  std::lock_guard lock(mutex_);
  out.reserve(records_.size());
  for (const auto& [id, record] : records_) {
    if (!record->killed_) {
      out.push_back(record->view(now));
    }
  }
  return out;
}

std::vector<introspection::ClientView> ClientRegistry::list_ids(std::span<const std::uint64_t> ids,
                                                                Clock::time_point now) const {
  std::vector<introspection::ClientView> out;
  std::lock_guard lock(mutex_);
  for (std::uint64_t id : ids) {
    const auto it = records_.find(id);
    if (it != records_.end() && !it->second->killed_) {
      out.push_back(it->second->view(now));
    }
  }
  return out;
}

std::uint64_t ClientRegistry::upstream_id_of(std::uint64_t id) const {
  std::lock_guard lock(mutex_);
  const auto it = records_.find(id);
  return it == records_.end() || it->second->killed_ ? 0 : it->second->upstream_id();
}

ClientRegistry::KillResult ClientRegistry::kill(const introspection::KillFilter& filter,
                                                std::uint64_t self_id, Clock::time_point now) {
  KillResult result;
  std::vector<ClientRecord::KillFn> kills;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, record] : records_) {
      if (record->killed_ || !filter.matches(record->view(now), id == self_id)) {
        continue;
      }
      ++result.killed;
      if (id == self_id) {
        result.self = true;
        continue;
      }
      record->killed_ = true;
      if (record->kill_) {
        kills.push_back(std::move(record->kill_));
      }
    }
  }
  // Outside the lock: a kill function may do anything, such as closing a session inline.
  for (auto& kill_fn : kills) {
    kill_fn();
  }
  return result;
}

std::size_t ClientRegistry::size() const {
  std::lock_guard lock(mutex_);
  return records_.size();
}

std::vector<std::uint64_t> ClientRegistry::clients_per_worker(std::size_t workers) const {
  std::vector<std::uint64_t> out(workers, 0);
  std::lock_guard lock(mutex_);
  for (const auto& [id, record] : records_) {
    if (!record->killed_ && record->worker() < workers) {
      ++out[record->worker()];
    }
  }
  return out;
}

std::uint64_t ClientRegistry::connections_received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

std::uint64_t ClientRegistry::total_commands() const {
  std::lock_guard lock(mutex_);
  std::uint64_t total = closed_commands_;
  for (const auto& [id, record] : records_) {
    total += record->commands();
  }
  return total;
}

}  // namespace seawall::proxy
