#include "seawall/proxy/replica_reads.hpp"

#include <optional>

#include "seawall/proxy/request_slot.hpp"
#include "seawall/proxy/worker_context.hpp"
#include "seawall/router/replica_read.hpp"

namespace seawall::proxy {

std::size_t ReplicaReads::target(WorkerContext& ctx, std::size_t up, const RequestSlot& slot,
                                 std::uint64_t affinity, upstream::Protocol protocol,
                                 TimePoint now) {
  const std::optional<std::size_t> replica = ctx.snapshot->router.replica_of(up);
  if (!replica || !slot.is_read || *replica >= ctx.pools.size()) {
    return up;
  }
  SharedState& shared = *ctx.shared;
  router::ReplicaReadFacts facts;
  facts.has_replica = true;
  facts.replica_closed = shared.upstreams[*replica]->breaker().state(now) == breaker::State::Closed;
  facts.replica_connected = ctx.pools[*replica]->connected(affinity, protocol);
  facts.master_ready = shared.upstreams[up]->ready();
  facts.near = slot.policy != nullptr && slot.policy->l1.near();
  facts.write_in_flight = slot.write_in_flight(shared.writes_in_flight);
  return router::read_target(facts) == router::ReadTarget::Replica ? *replica : up;
}

cache::ReadTicket ReplicaReads::ticket(const cache::ReplyCache& cache, TimePoint now) {
  history_.note(now, cache.begin_read().epoch);
  return cache::ReadTicket{history_.epoch_at(now - kLagGuard)};
}

}  // namespace seawall::proxy
