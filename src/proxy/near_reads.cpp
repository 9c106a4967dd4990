#include "seawall/proxy/near_reads.hpp"

#include <array>
#include <charconv>

#include "seawall/breaker/circuit_breaker.hpp"
#include "seawall/cache/reply_cache.hpp"
#include "seawall/command/sent.hpp"
#include "seawall/policy/fallback.hpp"
#include "seawall/proxy/cache_effects.hpp"
#include "seawall/proxy/near_links.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/resp/writer.hpp"

namespace seawall::proxy {

void NearVerify::send(upstream::Connection& connection, cache::ReadTicket ticket,
                      std::string_view cache_key, std::string_view key,
                      std::chrono::milliseconds ttl, std::chrono::steady_clock::time_point now) {
  send_one(connection, Pending{ticket, std::string(cache_key), std::string(key), ttl, now});
}

void NearVerify::send_keys(upstream::Connection& connection, cache::ReadTicket ticket,
                           std::span<const std::string> keys, resp::Protocol protocol,
                           std::chrono::steady_clock::time_point now) {
  for (const std::string& key : keys) {
    const policy::Policy& policy = ctx_.snapshot->policies.match(key);
    if (!policy.l1.near()) {
      continue;
    }
    Pending pending{ticket, {}, key, policy.l1.ttl, now, /*flight=*/false};
    policy::make_get_cache_key(key, protocol == resp::Protocol::Resp3, pending.cache_key);
    send_one(connection, std::move(pending));
  }
}

void NearVerify::send_one(upstream::Connection& connection, Pending pending) {
  const std::uint64_t token = next_token_++;
  const std::array<std::string_view, 2> pttl{command::sent::kPttl, pending.key};
  command_.clear();
  resp::append_command(command_, pttl);
  const auto now = pending.sent;
  pending_.emplace(token, std::move(pending));
  // Outside the breaker's permits, like the cache repair's GET: seawall's, not the client's.
  // May answer at once (NotSent), which ends the flight: nothing of it is used after this.
  connection.submit(command_, this, token, now, breaker::Permit{}, nullptr);
}

void NearVerify::on_reply(std::uint64_t token, std::string_view bytes, upstream::ReplyStatus status,
                          std::chrono::steady_clock::time_point) {
  const auto found = pending_.find(token);
  if (found == pending_.end()) {
    return;
  }
  const Pending p = std::move(found->second);
  pending_.erase(found);
  std::int64_t remaining = -1;
  if (status == upstream::ReplyStatus::Ok && bytes.size() > 3 && bytes[0] == ':' &&
      std::from_chars(bytes.data() + 1, bytes.data() + bytes.size() - 2, remaining).ec ==
          std::errc()) {
    // -1: no expiry; -2: no key (the read answered its miss); >= 0: milliseconds left.
    auto fresh = p.ttl;
    if (remaining >= 0) {
      fresh = std::min(fresh, std::chrono::milliseconds(remaining));
    }
    ctx_.shared->cache.verify(p.ticket, p.cache_key, p.key, p.sent + fresh);
  }
  if (p.flight) {
    ctx_.shared->near_flights.release(p.cache_key, std::chrono::steady_clock::now());
  }
}

bool NearReads::wanted(const command::CommandInfo* info, std::span<const std::string_view> args,
                       std::span<const std::uint32_t> key_indexes) {
  mget_keys_ = {};
  if (ctx_.near == nullptr || ctx_.snapshot->policies.near_prefixes().empty() ||
      key_indexes.empty() || info == nullptr || !info->has(command::kReadonly) ||
      info->has(command::kNonDeterministicOutput) || info->has(command::kBlocking) ||
      is_write_command(*info)) {
    return false;
  }
  const policy::PolicyTable& policies = ctx_.snapshot->policies;
  policy_ = &policies.match(args[key_indexes[0]]);
  if (command::rules(*info).merge != command::Merge::Mget) {
    return key_indexes.size() == 1 && policy_->l1.near();
  }
  // One barrier and one request: every key near, on the first key's upstream and slot (an MGET
  // across slots is split, see SplitForward).
  const router::Router& router = ctx_.snapshot->router;
  const router::KeyRoute first = router.route_key(args[key_indexes[0]]);
  for (const std::uint32_t k : key_indexes) {
    if (!policies.match(args[k]).l1.near() ||
        (!router.single_upstream() && router.route_key(args[k]) != first)) {
      return false;
    }
  }
  mget_keys_ = args.subspan(1);
  return true;
}

NearReads::Step NearReads::start(std::span<const std::string_view> args,
                                 std::span<const std::uint32_t> key_indexes,
                                 resp::Protocol protocol,
                                 std::chrono::steady_clock::time_point arrived) {
  // The args are views into the query buffer, which stays as it is while the session waits in
  // finish(): it reads nothing else until this request is dispatched.
  key_ = args[key_indexes[0]];
  up_ = ctx_.snapshot->router.route(key_);
  link_ = ctx_.near->link(up_).get();
  hold_.reset();
  if (link_ == nullptr || !(link_->live() || link_->stalled())) {
    return Step::Forward;
  }
  protocol_ = protocol;
  cache::make_cache_key(args, cache_key_);
  if (protocol == resp::Protocol::Resp3) {
    policy::make_resp3_cache_key(cache_key_);
  }
  timeout_ = up_ < ctx_.config->upstreams.size() ? ctx_.config->upstreams[up_].request_timeout
                                                 : std::chrono::milliseconds(100);
  lease_waited_ = flight_waited_ = false;
  arrived_ = arrived;
  if (link_->stalled()) {
    return stalled();
  }
  if (!link_->passed(arrived)) {
    return wait_for(Pending::Barrier, {});
  }
  return step();
}

NearReads::Step NearReads::stalled() {
  const auto now = std::chrono::steady_clock::now();
  if (ctx_.shared->upstreams[up_]->breaker().state(now) == breaker::State::Open || flight_waited_ ||
      !mget_keys_.empty()) {
    return Step::Forward;
  }
  return take_flight(now, Pending::Stalled);
}

NearReads::Step NearReads::take_flight(std::chrono::steady_clock::time_point now, Pending then) {
  SharedState& shared = *ctx_.shared;
  const policy::MissLeases::Result flight = shared.near_flights.take(cache_key_, now, timeout_);
  if (flight.take == policy::MissLeases::Take::Granted) {
    return Step::Lead;
  }
  if (flight.take == policy::MissLeases::Take::Full) {
    return Step::Forward;
  }
  flight_waited_ = true;
  return wait_for(then, flight.until);
}

NearReads::Step NearReads::wait_for(Pending pending, std::chrono::steady_clock::time_point until) {
  pending_ = pending;
  until_ = until;
  if (hold_ == nullptr) {
    // Held while waiting: a reload may replace the link meanwhile.
    hold_ = ctx_.near->link(up_);
    if (hold_.get() != link_) {
      return Step::Forward;
    }
  }
  return Step::Wait;
}

NearReads::Step NearReads::step() {
  if (!mget_keys_.empty()) {
    return step_mget();
  }
  SharedState& shared = *ctx_.shared;
  if (shared.writes_in_flight.any(key_)) {
    // A write of the key (maybe this client's own, just before in its pipeline) has no outcome
    // yet: the read goes to Redis behind it, as Redis would order them.
    return Step::Forward;
  }
  const auto now = std::chrono::steady_clock::now();
  const cache::LookupResult found = shared.cache.lookup(cache_key_, now, reply_);
  if (found.freshness == cache::Freshness::Fresh && found.filled != 0 &&
      found.filled >= link_->epoch()) {
    if (!lease_waited_ && policy_->miss_lease.count() > 0 && resp::replies::is_nil(reply_)) {
      const policy::MissLeases::Result lease =
          shared.miss_leases.take(key_, now, policy_->miss_lease);
      if (lease.take == policy::MissLeases::Take::Held) {
        // Another reader has this miss and is reading the database: wait for its write.
        lease_waited_ = true;
        return wait_for(Pending::Lease, lease.until);
      }
    }
    shared.fallback.counters().count(policy::Source::L1Near);
    return Step::Answer;
  }
  if (flight_waited_) {
    return Step::Forward;  // the read it waited for left no copy: go to Redis
  }
  return take_flight(now, Pending::Flight);
}

NearReads::Step NearReads::step_mget() {
  SharedState& shared = *ctx_.shared;
  const auto now = std::chrono::steady_clock::now();
  thread_local std::string cache_key;
  reply_.clear();
  resp::append_array_header(reply_, mget_keys_.size());
  for (const std::string_view key : mget_keys_) {
    if (shared.writes_in_flight.any(key)) {
      return Step::Forward;  // behind the write, as for one key
    }
    policy::make_get_cache_key(key, protocol_ == resp::Protocol::Resp3, cache_key);
    const cache::LookupResult found = shared.cache.lookup(cache_key, now, element_);
    if (found.freshness != cache::Freshness::Fresh || found.filled == 0 ||
        found.filled < link_->epoch()) {
      return Step::Verify;
    }
    if (resp::replies::is_nil(element_) &&
        ctx_.snapshot->policies.match(key).miss_lease.count() > 0) {
      return Step::Verify;  // a miss under a lease: Redis, whose nil takes it (one key's way)
    }
    reply_.append(element_);
  }
  shared.fallback.counters().count(policy::Source::L1Near);
  return Step::Answer;
}

template <typename Busy>
awaitable<void> NearReads::poll_while(Busy busy, std::chrono::steady_clock::time_point until) {
  // Polled: what it waits for may be decided on another thread.
  asio::steady_timer timer(ex_);
  while (std::chrono::steady_clock::now() < until && busy(std::chrono::steady_clock::now())) {
    timer.expires_after(kPoll);
    co_await timer.async_wait(use_nothrow);
  }
}

awaitable<NearReads::Step> NearReads::finish() {
  const std::shared_ptr<upstream::TrackingLink> hold = hold_;  // this frame's own reference
  SharedState& shared = *ctx_.shared;
  const auto flight_held = [&](auto now) { return shared.near_flights.held(cache_key_, now); };
  for (;;) {
    switch (pending_) {
      case Pending::Barrier:
        if (!co_await hold->barrier(arrived_)) {
          if (hold->stalled()) {
            if (const Step next = stalled(); next != Step::Wait) {
              co_return next;
            }
            continue;
          }
          co_return Step::Forward;
        }
        break;
      case Pending::Stalled: {
        // The other read's reply first, then a barrier of this read's own: Redis answering the
        // one usually ends the stall too. Bounded by the upstream's request_timeout.
        const auto deadline = std::chrono::steady_clock::now() + timeout_;
        co_await poll_while(flight_held, until_);
        co_await poll_while([&](auto) { return hold->stalled(); }, deadline);
        if (!co_await hold->barrier(arrived_)) {
          co_return Step::Forward;
        }
        break;
      }
      case Pending::Lease:
        co_await poll_while([&](auto now) { return shared.miss_leases.held(key_, now); }, until_);
        break;
      case Pending::Flight:
        co_await poll_while(flight_held, until_);
        break;
    }
    const Step next = step();
    if (next != Step::Wait) {
      co_return next;
    }
  }
}

}  // namespace seawall::proxy
