#pragma once
// Every client session of the process, across worker threads: what CLIENT LIST, CLIENT KILL and
// INFO answer from when seawall answers them itself.
//
// A session registers its ClientRecord when it starts and removes it when it closes: the only
// times the registry's mutex is taken on the data path. The session keeps its record current
// itself without touching other threads: per command with relaxed atomics (last command, count,
// last interaction), and under the record's own mutex for the rare string fields (name, library,
// user). A listing copies each record into an introspection::ClientView. A kill marks the records
// and calls their kill function, which posts the close to the session's own worker thread.
//
// Ownership: owned by SharedState; each record is shared by the registry and its session.
// Thread safety: every member function may be called from any thread; ClientRecord's setters
// belong to the owning session's thread (one writer), its getters to any thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "seawall/command/command_table.hpp"
#include "seawall/proxy/introspection.hpp"

namespace seawall::proxy {

// One client session as the registry knows it: what never changes (id, addresses, fd, creation
// time, how to close it) and what its session keeps current.
class ClientRecord {
 public:
  using Clock = std::chrono::steady_clock;
  // Closes the session, on its own thread (the function posts there). Called at most once.
  using KillFn = std::function<void()>;

  // `worker`: the index of the worker thread the session runs on.
  ClientRecord(std::uint64_t id, unsigned worker, std::string addr, std::string laddr, int fd,
               Clock::time_point created, KillFn kill);
  ClientRecord(const ClientRecord&) = delete;
  ClientRecord& operator=(const ClientRecord&) = delete;

  std::uint64_t id() const { return id_; }
  unsigned worker() const { return worker_; }

  // The owning session's thread. The per-command ones are two relaxed stores each.
  void note_command(const command::CommandInfo* info) {
    last_command_.store(info, std::memory_order_relaxed);
    commands_.store(commands_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void touch(Clock::time_point now) {
    last_interaction_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  }
  void set_flag(std::uint32_t flag, bool on);
  void set_db(std::int64_t db) { db_.store(db, std::memory_order_relaxed); }
  void set_multi(std::int64_t queued) { multi_.store(queued, std::memory_order_relaxed); }
  void set_subscriptions(std::int64_t sub, std::int64_t psub, std::int64_t ssub) {
    sub_.store(sub, std::memory_order_relaxed);
    psub_.store(psub, std::memory_order_relaxed);
    ssub_.store(ssub, std::memory_order_relaxed);
  }
  void set_protocol(introspection::Protocol protocol) {
    protocol_.store(protocol, std::memory_order_relaxed);
  }
  // Redis's id of the session's dedicated connection (0: none, or not known yet), so that a
  // CLIENT TRACKING ... REDIRECT naming this client's seawall id reaches that connection.
  void set_upstream_id(std::uint64_t id) { upstream_id_.store(id, std::memory_order_relaxed); }
  std::uint64_t upstream_id() const { return upstream_id_.load(std::memory_order_relaxed); }
  void set_name(std::string_view name);
  void set_lib_name(std::string_view lib_name);
  void set_lib_ver(std::string_view lib_ver);
  void set_user(std::string_view user);

  // Any thread.
  std::uint32_t flags() const { return flags_.load(std::memory_order_relaxed); }
  std::int64_t multi() const { return multi_.load(std::memory_order_relaxed); }
  introspection::Protocol protocol() const { return protocol_.load(std::memory_order_relaxed); }
  std::uint64_t commands() const { return commands_.load(std::memory_order_relaxed); }
  introspection::ClientView view(Clock::time_point now) const;

 private:
  friend class ClientRegistry;

  const std::uint64_t id_;
  const unsigned worker_;
  const std::string addr_;
  const std::string laddr_;
  const int fd_;
  const Clock::time_point created_;
  KillFn kill_;
  bool killed_ = false;  // guarded by the registry's mutex

  std::atomic<Clock::rep> last_interaction_;
  std::atomic<const command::CommandInfo*> last_command_{nullptr};
  std::atomic<std::uint64_t> commands_{0};
  std::atomic<std::uint32_t> flags_{0};
  std::atomic<std::int64_t> db_{0};
  std::atomic<std::int64_t> multi_{-1};
  std::atomic<std::int64_t> sub_{0};
  std::atomic<std::int64_t> psub_{0};
  std::atomic<std::int64_t> ssub_{0};
  std::atomic<introspection::Protocol> protocol_{introspection::Protocol::Resp2};
  std::atomic<std::uint64_t> upstream_id_{0};

  mutable std::mutex mutex_;  // the strings below
  std::string name_;
  std::string lib_name_;
  std::string lib_ver_;
  std::string user_ = "default";
};

// The live ClientRecords by id, and the totals that outlive them (connections, commands).
class ClientRegistry {
 public:
  using Clock = ClientRecord::Clock;

  explicit ClientRegistry(Clock::time_point started = Clock::now()) : started_(started) {}
  ClientRegistry(const ClientRegistry&) = delete;
  ClientRegistry& operator=(const ClientRegistry&) = delete;

  void add(std::shared_ptr<ClientRecord> record);
  // Forgets the record; its commands still count in total_commands().
  void remove(const ClientRecord& record);

  // Clients not killed, oldest (lowest id) first.
  std::vector<introspection::ClientView> list(Clock::time_point now) const;
  // The clients an ID list names, in its order, each time it is named (as Redis does).
  std::vector<introspection::ClientView> list_ids(std::span<const std::uint64_t> ids,
                                                  Clock::time_point now) const;

  struct KillResult {
    std::uint64_t killed = 0;  // matching clients, `self` included when it matched
    bool self = false;         // the asking client matched: it closes after its reply
  };
  // Kills every client the filter matches, except `self_id`, whose close is the caller's.
  KillResult kill(const introspection::KillFilter& filter, std::uint64_t self_id,
                  Clock::time_point now);

  std::size_t size() const;
  // Whether a live client is authenticated as `user` (ClientRecord::set_user).
  bool has_user(std::string_view user) const;
  // ClientRecord::upstream_id of the live client `id`; 0 when there is none.
  std::uint64_t upstream_id_of(std::uint64_t id) const;
  // Clients per worker thread, for `workers` threads (clients of a higher index are left out).
  std::vector<std::uint64_t> clients_per_worker(std::size_t workers) const;
  std::uint64_t connections_received() const;
  // Commands received from every client since start, closed ones included.
  std::uint64_t total_commands() const;
  Clock::time_point started() const { return started_; }

 private:
  const Clock::time_point started_;
  mutable std::mutex mutex_;
  std::map<std::uint64_t, std::shared_ptr<ClientRecord>> records_;  // by id: connection order
  std::uint64_t received_ = 0;
  std::uint64_t closed_commands_ = 0;
};

}  // namespace seawall::proxy
