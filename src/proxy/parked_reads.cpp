#include "seawall/proxy/parked_reads.hpp"

#include <algorithm>

#include "seawall/proxy/session.hpp"

namespace seawall::proxy {

void ParkedReads::park(Session* session, std::uint64_t seq, Clock::time_point deadline) {
  entries_.push_back(Entry{session, seq, deadline});
  arm();
}

void ParkedReads::forget(const Session* session) {
  std::erase_if(entries_, [session](const Entry& e) { return e.session == session; });
  for (Entry& e : due_) {
    if (e.session == session) {
      e.session = nullptr;  // destroyed in the middle of a tick
    }
  }
}

void ParkedReads::arm() {
  if (armed_ || entries_.empty()) {
    return;
  }
  armed_ = true;
  timer_.expires_after(std::chrono::milliseconds(1));
  timer_.async_wait([this](const error_code& ec) {
    if (ec) {
      return;  // cancelled: this object is being destroyed
    }
    armed_ = false;
    tick();
  });
}

void ParkedReads::tick() {
  const auto now = Clock::now();
  // A session's retry may complete replies, write, even close it: work on a copy, so that
  // entries it adds or forgets meanwhile do not disturb the walk.
  due_.swap(entries_);
  entries_.clear();
  for (const Entry& e : due_) {
    if (e.session != nullptr && !e.session->retry_parked(e.seq, now >= e.deadline)) {
      entries_.push_back(e);
    }
  }
  due_.clear();
  arm();
}

}  // namespace seawall::proxy
