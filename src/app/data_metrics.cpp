#include "seawall/app/data_metrics.hpp"

#include "seawall/breaker/breaker_metrics.hpp"
#include "seawall/cache/cache_metrics.hpp"
#include "seawall/fault/fault_metrics.hpp"
#include "seawall/policy/policy_metrics.hpp"
#include "seawall/proxy/proxy_metrics.hpp"
#include "seawall/upstream/upstream_metrics.hpp"

namespace seawall::app {

void register_data_metrics(metrics::Registry& registry, proxy::SharedState& shared) {
  auto& fallback = shared.fallback;
  for (std::size_t i = 0; i < policy::kSourceCount; ++i) {
    const auto source = static_cast<policy::Source>(i);
    registry.counter(policy::kAnswers)
        .with_callback({policy::to_string(source)}, [&fallback, source] {
          return static_cast<double>(fallback.counters().get(source));
        });
  }
  auto& c = fallback.counters();
  registry.counter(policy::kWritesUnavailable).with_callback({"rejected"}, [&c] {
    return static_cast<double>(c.writes_rejected.load(std::memory_order_relaxed));
  });
  registry.counter(policy::kWritesUnavailable).with_callback({"journaled"}, [&c] {
    return static_cast<double>(c.writes_journaled.load(std::memory_order_relaxed));
  });
  registry.counter(policy::kWritesUnavailable).with_callback({"invalidated"}, [&c] {
    return static_cast<double>(c.writes_invalidated.load(std::memory_order_relaxed));
  });
  auto& writes = shared.writes_in_flight;
  registry.counter(proxy::kWritesOrdered).with_callback({"moved"}, [&writes] {
    return static_cast<double>(writes.moved.load(std::memory_order_relaxed));
  });
  registry.counter(proxy::kWritesOrdered).with_callback({"waited"}, [&writes] {
    return static_cast<double>(writes.waited.load(std::memory_order_relaxed));
  });
  registry.counter(policy::kFallthroughDenied).with_callback({}, [&c] {
    return static_cast<double>(c.fallthrough_denied.load(std::memory_order_relaxed));
  });
  auto& leases = shared.miss_leases;
  registry.counter(policy::kMissLeases).with_callback({"granted"}, [&leases] {
    return static_cast<double>(leases.granted());
  });
  registry.counter(policy::kMissLeases).with_callback({"waited"}, [&leases] {
    return static_cast<double>(leases.waited());
  });
  auto& near = shared.near;
  registry.counter(proxy::kNearInvalidations).with_callback({}, [&near] {
    return static_cast<double>(near.invalidations.load(std::memory_order_relaxed));
  });
  registry.gauge(proxy::kNearLinks).with_callback({}, [&near] {
    return static_cast<double>(near.links.load(std::memory_order_relaxed));
  });
  // The flights table counts them as leases: granted is led, waited is waited.
  auto& flights = shared.near_flights;
  registry.counter(proxy::kNearFlights).with_callback({"led"}, [&flights] {
    return static_cast<double>(flights.granted());
  });
  registry.counter(proxy::kNearFlights).with_callback({"waited"}, [&flights] {
    return static_cast<double>(flights.waited());
  });
  auto& evicted = shared.evicted_keys;
  registry.counter(policy::kEvictedKeys).with_callback({}, [&evicted] {
    return static_cast<double>(evicted.events());
  });

  for (auto& state_ptr : shared.upstreams) {
    upstream::UpstreamState& state = *state_ptr;
    const std::string& name = state.name();
    // Read at each scrape: the state from the live breaker (a reload may have replaced it), the
    // counters summed over every breaker the upstream has had, so they never go backwards.
    auto* s = &state;
    registry.gauge(breaker::kBreakerState).with_callback({name}, [s] {
      switch (s->breaker().state(breaker::Clock::now())) {
        case breaker::State::Closed:
          return 0.0;
        case breaker::State::Open:
          return 1.0;
        case breaker::State::HalfOpen:
          return 2.0;
      }
      return 0.0;
    });
    const auto counter = [&registry, s](const metrics::Spec& spec,
                                        std::initializer_list<std::string_view> labels,
                                        std::uint64_t (*read)(const breaker::BreakerCounters&)) {
      registry.counter(spec).with_callback(
          labels, [s, read] { return static_cast<double>(read(s->breaker_counters())); });
    };
    using C = breaker::BreakerCounters;
    counter(breaker::kBreakerTransitions, {name}, [](const C& b) { return b.transitions; });
    counter(breaker::kBreakerOpened, {name}, [](const C& b) { return b.opened; });
    counter(breaker::kBreakerCalls, {name, "success"}, [](const C& b) { return b.successes; });
    counter(breaker::kBreakerCalls, {name, "failure"},
            [](const C& b) { return b.failures - b.timeouts; });
    counter(breaker::kBreakerCalls, {name, "timeout"}, [](const C& b) { return b.timeouts; });
    counter(breaker::kBreakerCalls, {name, "slow"}, [](const C& b) { return b.slow_calls; });
    counter(breaker::kBreakerCalls, {name, "rejected"}, [](const C& b) { return b.rejected; });
    registry.gauge(upstream::kInDoubt).with_callback({name}, [s] {
      return static_cast<double>(s->in_doubt_requests());
    });
    upstream::MasterResolver* resolver = state.resolver().get();
    registry.counter(upstream::kSentinelSwitches).with_callback({name}, [resolver] {
      return static_cast<double>(resolver->switches());
    });
    registry.counter(upstream::kSentinelResolveFailures).with_callback({name}, [resolver] {
      return static_cast<double>(resolver->resolve_failures());
    });
    registry.gauge(upstream::kSentinelFailover).with_callback({name}, [resolver] {
      return resolver->failover_in_progress() ? 1.0 : 0.0;
    });
    auto& j = state.journal();
    registry.gauge(upstream::kJournalEntries).with_callback({name}, [&j] {
      return static_cast<double>(j.entries());
    });
    registry.gauge(upstream::kJournalBytes).with_callback({name}, [&j] {
      return static_cast<double>(j.bytes());
    });
    registry.counter(upstream::kJournalOps).with_callback({name, "appended"}, [&j] {
      return static_cast<double>(j.appended_total());
    });
    registry.counter(upstream::kJournalOps).with_callback({name, "replayed"}, [&j] {
      return static_cast<double>(j.replayed_total());
    });
    registry.counter(upstream::kJournalOps).with_callback({name, "rejected"}, [&j] {
      return static_cast<double>(j.rejected_total());
    });
    registry.counter(upstream::kJournalOps).with_callback({name, "superseded"}, [&j] {
      return static_cast<double>(j.superseded_total());
    });
    for (const auto& [type, label] : {std::pair{fault::FaultType::Delay, "delay"},
                                      std::pair{fault::FaultType::Error, "error"}}) {
      registry.counter(fault::kFaultsInjected).with_callback({name, label}, [s, type = type] {
        return static_cast<double>(s->injected_faults(type));
      });
    }
  }

  auto& cache = shared.cache;
  registry.gauge(cache::kCacheBytes).with_callback({}, [&cache] {
    return static_cast<double>(cache.stats().bytes);
  });
  registry.gauge(cache::kCacheEntries).with_callback({}, [&cache] {
    return static_cast<double>(cache.stats().entries);
  });
  const std::array<std::pair<std::string_view, std::uint64_t cache::ReplyCacheStats::*>, 10> events{
      {{"hit_fresh", &cache::ReplyCacheStats::hits_fresh},
       {"hit_stale", &cache::ReplyCacheStats::hits_stale},
       {"miss", &cache::ReplyCacheStats::misses},
       {"insert", &cache::ReplyCacheStats::inserts},
       {"eviction", &cache::ReplyCacheStats::evictions},
       {"expiration", &cache::ReplyCacheStats::expirations},
       {"invalidation", &cache::ReplyCacheStats::invalidations},
       {"rejected_too_large", &cache::ReplyCacheStats::rejected_too_large},
       {"rejected_raced", &cache::ReplyCacheStats::rejected_raced},
       {"rejected_admission", &cache::ReplyCacheStats::rejected_admission}}};
  for (const auto& [event, member] : events) {
    registry.counter(cache::kCacheEvents).with_callback({event}, [&cache, member = member] {
      return static_cast<double>(cache.stats().*member);
    });
  }
  registry.gauge(proxy::kPinned).with_callback({}, [&shared] {
    return static_cast<double>(shared.pinned.load(std::memory_order_relaxed));
  });
  registry.gauge(proxy::kSessionBufferBytes).with_callback({}, [&shared] {
    return static_cast<double>(shared.session_buffer_bytes.load(std::memory_order_relaxed));
  });
}

}  // namespace seawall::app
