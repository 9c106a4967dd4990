#include "seawall/proxy/session.hpp"

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "seawall/command/command_table.hpp"
#include "seawall/proxy/shard_detour.hpp"
#include "seawall/proxy/upstream_asks.hpp"
#include "seawall/resp/replies.hpp"
#include "seawall/resp/writer.hpp"
#include "seawall/util/bugs.hpp"
#include "seawall/util/heap_bytes.hpp"
#include "seawall/util/log.hpp"

namespace seawall::proxy {
namespace {

namespace replies = resp::replies;
using command::CommandInfo;

// A written batch larger than this is freed after its write rather than kept for the next one.
constexpr std::size_t kMaxKeptOutput = 64 * 1024;

util::LogRateLimiter& protocol_log_limiter() {
  static util::LogRateLimiter limiter(std::chrono::seconds(10), 5);
  return limiter;
}

}  // namespace

// PinnedHost for the session's PinnedLink: what pinned mode asks of the session.
class Session::PinnedAdapter final : public PinnedHost {
 public:
  explicit PinnedAdapter(Session& session) : s_(session) {}

  bool closed() const override { return s_.closed_; }
  std::shared_ptr<void> keep_alive() override { return s_.shared_from_this(); }
  ClientRecord& record() override { return s_.presence_.record(); }
  resp::Protocol protocol() const override { return s_.protocol_; }
  std::string& scratch() override { return s_.scratch_; }
  const std::vector<std::uint32_t>& key_indexes() const override { return s_.key_indexes_; }
  void reply_now(std::string_view bytes) override { s_.reply_now(bytes); }
  std::string& output() override { return s_.out_; }
  std::size_t output_bytes() const override { return s_.output_bytes(); }
  void notify_writer() override { s_.write_signal_.notify(); }
  void write_or_wake() override { s_.write_or_wake(); }
  void maybe_resume() override { s_.maybe_resume(); }
  void close() override { s_.close(); }
  void begin_drain() override { s_.begin_drain(); }
  awaitable<void> wait_until_idle() override { return s_.wait_until_idle(); }
  void apply_link_change(const LinkChange& change) override { s_.apply_link_change(change); }
  void note_subscription_reply(std::string_view reply) override {
    s_.presence_.note_subscription_reply(reply);
  }
  void describe(RequestSlot& slot, const CommandInfo* info, std::span<const std::string_view> args,
                std::size_t up) override {
    s_.describe(slot, info, args, up);
  }
  std::string_view degraded_answer(RequestSlot& slot) override { return s_.degraded_.answer(slot); }
  void note_activity(std::chrono::steady_clock::time_point now) override {
    s_.last_activity_ = now;
  }
  WritesInFlight::Owner write_owner() const override { return WritesInFlight::owner_of(&s_); }

 private:
  Session& s_;
};

Session::Session(tcp::socket socket, WorkerContext& ctx, std::uint64_t id)
    : socket_(std::move(socket)),
      ctx_(ctx),
      id_(id),
      parser_(ctx.parser_limits),
      write_signal_(socket_.get_executor()),
      resume_signal_(socket_.get_executor()),
      last_activity_(std::chrono::steady_clock::now()),
      cache_effects_(ctx),
      degraded_(ctx, *this, cache_effects_),
      split_(ctx, *this, cache_effects_, degraded_),
      redirects_(ctx, *this),
      near_(ctx, socket_.get_executor()),
      idle_signal_(socket_.get_executor()) {}

PinnedLink& Session::pinned_link() {
  if (!pinned_) {
    pinned_host_ = std::make_unique<PinnedAdapter>(*this);
    pinned_ = std::make_unique<PinnedLink>(*pinned_host_, ctx_, socket_.get_executor(), id_);
  }
  return *pinned_;
}

const LinkState& Session::link_state() const {
  static const LinkState kNeverPinned;
  return pinned_ ? pinned_->state() : kNeverPinned;
}

awaitable<void> Session::wait_until_idle() {
  while (!closed_ && (!replies_.empty() || in_upstream_ > 0)) {
    co_await idle_signal_.wait();
  }
}

Session::Slot& Session::push_slot() {
  Slot& slot = replies_.push();
  slot.reset();
  return slot;
}

Session::~Session() {
  close();
  if (parked_ > 0 && ctx_.parked != nullptr) {
    ctx_.parked->forget(this);  // only at a worker's shutdown: parked reads keep it alive
  }
  for (Slot& slot : replies_.slots()) {
    slot.release_writes(ctx_.shared->writes_in_flight);  // its connection never answered (shutdown)
  }
  query_.release();
}

void Session::start() {
  ctx_.sessions.insert(this);
  presence_.register_client(id_, weak_from_this(), last_activity_);
  error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);  // on_batch_end writes without blocking the thread
  const auto on_done = util::on_coroutine_done("proxy", "session coroutine");
  auto self = shared_from_this();
  asio::co_spawn(
      socket_.get_executor(), [self] { return self->read_loop(); }, on_done);
  asio::co_spawn(
      socket_.get_executor(), [self] { return self->write_loop(); }, on_done);
  if (ctx_.config->limits.idle_timeout.count() > 0) {
    asio::co_spawn(
        socket_.get_executor(), [self] { return self->idle_loop(); }, on_done);
  }
}

void Session::upstream_moved(std::size_t index) {
  if (pinned_ != nullptr && !closed_) {
    pinned_->upstream_moved(index);
  }
}

void Session::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  stop_monitoring();
  if (pinned_) {
    pinned_->close_link();
  }
  error_code ec;
  socket_.close(ec);
  ++ctx_.sessions_closed;
  idle_signal_.notify();
  write_signal_.notify();
  resume_signal_.notify();
  if (presence_.registered()) {
    ctx_.sessions.erase(this);
    ctx_.clients->fetch_sub(1, std::memory_order_relaxed);
    presence_.unregister();
  }
}

void Session::begin_drain() {
  if (read_done_ || closed_) {
    return;
  }
  read_done_ = true;
  read_cancel_.emit(asio::cancellation_type::terminal);
  resume_signal_.notify();
  write_signal_.notify();
}

bool Session::should_pause() const {
  // Replies still to come count at this session's average reply size, so a client pipelining
  // GETs of large values cannot make Redis send gigabytes down a shared connection (delaying
  // every other client behind them) before its own output limit is noticed.
  return pending() >= ctx_.config->limits.max_pipeline ||
         output_bytes() + in_upstream_ * avg_reply_bytes_ >= kPauseBytes;
}

void Session::maybe_resume() {
  if (paused_ && !should_pause()) {
    resume_signal_.notify();
  }
}

void Session::add_own_buffers(introspection::ClientView& view) const {
  // As in Redis while it runs a command: the buffer still holds that command.
  const std::size_t held = query_.unparsed_size() + request_.consumed;
  view.qbuf = static_cast<std::int64_t>(held);
  view.qbuf_free =
      static_cast<std::int64_t>(query_.capacity() > held ? query_.capacity() - held : 0);
  std::size_t argv = 0;
  for (std::string_view arg : request_.args) {
    argv += arg.size();
  }
  view.argv_mem = static_cast<std::int64_t>(argv);
}

void Session::push_output(std::string_view bytes) {
  if (closed_) {
    return;
  }
  out_.append(bytes);
  if (output_bytes() > ctx_.config->limits.client_output_buffer) {
    close();
    return;
  }
  write_or_wake();
}

void Session::apply_link_change(const LinkChange& change) {
  if (change.protocol) {
    protocol_ = *change.protocol;
  }
  if (change.reset) {
    // RESET's part outside the record, which presence_ resets below.
    stop_monitoring();
    if (pinned_) {
      pinned_->state().forget_queued();
    }
  }
  presence_.apply_link_change(change);
}

void Session::note_reset() {
  stop_monitoring();
  if (pinned_) {
    pinned_->state().forget_queued();
  }
  presence_.note_reset();
}

void Session::start_monitoring() {
  if (!monitor_) {
    monitor_ = std::make_unique<MonitorTap>(*this, ctx_.shared->monitors, presence_.record());
  }
  monitor_->start(shared_from_this());
}

void Session::stop_monitoring() {
  if (monitor_) {
    monitor_->stop();
  }
}

awaitable<void> Session::read_loop() {
  auto self = shared_from_this();
  while (!closed_ && !read_done_) {
    while (should_pause() && !closed_ && !read_done_) {
      paused_ = true;
      co_await resume_signal_.wait();
      paused_ = false;
    }
    if (closed_ || read_done_) {
      break;
    }
    if (!unparsed_) {
      // Readiness first, then a buffer: an idle client holds none. The socket is non-blocking,
      // so read_available returns Wait instead of blocking. After a read that left room in the
      // buffer (the socket was emptied), wait at once rather than read again for a would_block:
      // no edge is lost, since asio re-arms the edge-triggered registration for every wait
      // (EPOLL_CTL_MOD), and the kernel reports data that is already there.
      ReadStep step = ReadStep::Wait;
      if (query_.drained()) {
        query_.release_if_empty();
      } else {
        step = read_available();
      }
      while (step == ReadStep::Wait) {
        waiting_read_ = true;
        auto [wait_ec] = co_await socket_.async_wait(
            tcp::socket::wait_read, asio::bind_cancellation_slot(read_cancel_.slot(), use_nothrow));
        waiting_read_ = false;
        if (wait_ec || closed_ || read_done_) {
          if (wait_ec && wait_ec != asio::error::operation_aborted) {
            close();
          }
          step = ReadStep::End;
          break;
        }
        step = read_available();
      }
      if (step == ReadStep::End) {
        break;
      }
    }
    unparsed_ = false;
    last_activity_ = std::chrono::steady_clock::now();
    presence_.record().touch(last_activity_);
    Next next = Next::Continue;
    // read_done_: a CLIENT KILL of this very client, which closes after its reply.
    while (query_.has_unparsed() && next == Next::Continue && !read_done_) {
      if (should_pause()) {
        unparsed_ = true;  // finish these commands before reading more
        break;
      }
      const std::string_view data = query_.unparsed();
      const resp::errc e = parser_.parse(data, request_);
      if (e == resp::errc::need_more) {
        break;
      }
      if (e != resp::errc::ok) {
        std::uint64_t suppressed = 0;
        if (protocol_log_limiter().allow(suppressed)) {
          util::logger("proxy")->info("client={} protocol error: {} (suppressed={})", id_,
                                      resp::message(e), suppressed);
        }
        std::string reply = "-";
        reply.append(replies::kProtocolErrorPrefix).append(resp::message(e));
        if (e == resp::errc::expected_dollar) {
          // Redis's wording; like Redis, a CR or LF there becomes a space to keep the line whole.
          const char got = parser_.unexpected_byte();
          reply.append(", got '").append(1, got == '\r' || got == '\n' ? ' ' : got).append("'");
        }
        reply.append("\r\n");
        reply_now(reply);
        next = Next::StopReading;
        break;
      }
      const std::string_view raw = data.substr(0, request_.consumed);
      query_.consume(request_.consumed);
      if (request_.args.empty()) {
        continue;
      }
      // Looked up once here for the steps below (AUTH handling keeps args[0]).
      const command::Command cmd = command::Command::of(request_.args[0]);
      const CommandInfo* info = cmd.info;
      presence_.note_command(info, request_.args);
      upstream::note_scripts(ctx_.shared->upstreams, info, request_.args);
      if (answered_locally(request_, cmd)) {
        continue;
      }
      MonitorTap::feed(ctx_.shared->monitors, presence_.record(), info, request_.args);
      const UpstreamAsks asks(*this, ctx_, presence_);
      if (std::vector<std::string> users = presence_.kill_users_to_ask(cmd, request_.args);
          !users.empty()) {
        // CLIENT KILL USER of a user no client of seawall authenticated as: Redis knows whether
        // it exists. The arguments are views into the read buffer: kept while Redis answers.
        const std::vector<std::string> kept(request_.args.begin(), request_.args.end());
        const std::vector<std::string> known = co_await asks.users_redis_knows(std::move(users));
        if (closed_) {
          break;
        }
        const std::vector<std::string_view> args(kept.begin(), kept.end());
        presence_.answered_by_seawall(cmd, args, known);
        continue;
      }
      if (presence_.answered_by_seawall(cmd, request_.args)) {
        continue;
      }
      const command::Seawall asked = asks.asked(info, request_.args);
      if (asked == command::Seawall::Monitor) {
        start_monitoring();
        continue;
      }
      if (asked != command::Seawall::None) {
        co_await asks.ask(asked, info, request_.args);
        if (closed_) {
          break;
        }
        continue;
      }
      find_keys(info, request_.args);
      cache_effects_.prefetch_write(info, request_.args, key_indexes_);
      if (!pinned() && PinnedLink::wanted(pinned_.get(), request_.args, cmd)) {
        const PinnedLink::Step step = co_await pinned_link().pin_or_answer(request_.args, cmd);
        if (step == PinnedLink::Step::Stop) {
          break;
        }
        if (step == PinnedLink::Step::Answered) {
          continue;
        }
      }
      // HELLO 3 needs RESP3 connections, and any HELLO the server's version, which they learn.
      if (!pinned() && cmd.rule().local == command::Local::Hello &&
          ((request_.args.size() >= 2 && request_.args[1] == "3" &&
            protocol_ != resp::Protocol::Resp3) ||
           ctx_.pools[ctx_.snapshot->router.default_index()]->server_version().empty())) {
        co_await open_resp3_connections();
        if (closed_) {
          break;
        }
      }
      if (const auto up = write_must_wait(info, request_.args)) {
        // Behind another client's write of its keys; nothing after it may overtake it either.
        co_await wait_write_order(info, *up);
        if (closed_) {
          break;
        }
      }
      near_step_ = NearReads::Step::Forward;
      if (!pinned() && near_.wanted(info, request_.args, key_indexes_)) {
        NearReads::Step step = near_.start(request_.args, key_indexes_, protocol_, last_activity_);
        if (step == NearReads::Step::Wait) {
          step = co_await near_.finish();
        }
        if (closed_) {
          break;
        }
        if (step == NearReads::Step::Answer) {
          ctx_.shared->count_command(info);
          reply_now(near_.reply());
          continue;
        }
        near_step_ = step;
      }
      if (pinned()) {
        if (const auto shard =
                ShardDetour::target(ctx_, pinned_->upstream(), pinned_->in_multi(),
                                    protocol_ == resp::Protocol::Resp2 && presence_.subscribed(),
                                    cmd, request_.args, key_indexes_)) {
          co_await ShardDetour(ctx_, *pinned_host_, *this, id_).forward(cmd, request_.args, *shard);
          if (closed_) {
            break;
          }
          continue;
        }
        next = pinned_->relay(request_, raw, cmd) == PinnedLink::Next::StopReading
                   ? Next::StopReading
                   : Next::Continue;
      } else {
        next = dispatch(request_, raw, cmd);
      }
    }
    if (next == Next::StopReading) {
      break;
    }
  }
  read_done_ = true;
  // Nothing reads the query buffer any more (its views died with the parse loop above); an
  // incomplete command left in it is never finished.
  query_.release();
  write_signal_.notify();
}

Session::ReadStep Session::read_available() {
  switch (query_.read_from(socket_, parser_.bytes_hint())) {
    case QueryBuffer::Read::Data:
      trimmed_ = false;
      return ReadStep::Data;
    case QueryBuffer::Read::Wait:
      return ReadStep::Wait;
    case QueryBuffer::Read::TooLarge:
      reply_now("-ERR Protocol error: query buffer limit exceeded\r\n");
      return ReadStep::End;
    case QueryBuffer::Read::Reset:
      close();  // nobody is left to read the replies
      return ReadStep::End;
    case QueryBuffer::Read::Eof:
      break;
  }
  return ReadStep::End;
}

std::size_t Session::buffer_bytes() const {
  using util::heap_bytes;
  std::size_t bytes = query_.capacity() + heap_bytes(out_) + heap_bytes(writing_) +
                      heap_bytes(scratch_) + heap_bytes(key_indexes_) + heap_bytes(request_.args) +
                      parser_.heap_bytes() + replies_.capacity() * sizeof(Slot) +
                      (pinned_ ? pinned_->heap_bytes() : 0);
  for (const Slot& slot : replies_.slots()) {
    bytes += slot.heap_bytes();
  }
  return bytes;
}

std::size_t Session::trim_if_idle(std::chrono::steady_clock::time_point now,
                                  std::chrono::steady_clock::duration idle_for) {
  // Only while the reader waits for the socket with no command begun (no view into query_ or
  // request_ is alive, the parser holds no state) and nothing is in flight or being written.
  if (trimmed_ || closed_ || !waiting_read_ || query_.has_unparsed() || !replies_.empty() ||
      in_upstream_ > 0 || !out_.empty() || !writing_.empty() || now - last_activity_ < idle_for) {
    return 0;
  }
  const std::size_t before = buffer_bytes();
  query_.release();
  std::string().swap(out_);
  std::string().swap(writing_);
  std::string().swap(scratch_);
  std::vector<std::uint32_t>().swap(key_indexes_);
  std::vector<std::string_view>().swap(request_.args);
  parser_.release_memory();
  replies_.release();
  if (pinned_) {
    pinned_->trim();
  }
  trimmed_ = true;
  const std::size_t after = buffer_bytes();
  return before > after ? before - after : 0;
}

awaitable<void> Session::write_loop() {
  // Holding `self` here keeps the session alive while connections still hold it as a target.
  auto self = shared_from_this();
  while (true) {
    while (out_.empty()) {
      if (closed_) {
        while (in_upstream_ > 0) {
          co_await write_signal_.wait();
        }
        co_return;
      }
      // A QUIT relayed to Redis is answered, after every reply before it, by Redis, which then
      // closes the dedicated connection (on_link_closed): wait for that, not for the slots.
      // A pinned session whose client stopped sending still gets the replies Redis owes it
      // (countable unless the link carries pushes); after a relayed QUIT, until Redis closes.
      // With pushes (or CLIENT REPLY OFF) the count says nothing: Redis is sent the end of
      // input instead, answers what it was sent, and closes, as it would with the client.
      if (read_done_ && replies_.empty() && pinned_) {
        pinned_->finish_if_uncountable();
      }
      if (read_done_ && replies_.empty() && !(pinned_ && pinned_->owes_replies())) {
        error_code ec;
        socket_.shutdown(tcp::socket::shutdown_send, ec);
        close();
        co_return;
      }
      co_await write_signal_.wait();
    }
    writing_.swap(out_);
    trimmed_ = false;
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(writing_), use_nothrow);
    if (writing_.capacity() > kMaxKeptOutput) {
      std::string().swap(writing_);  // a large reply's buffer is not kept for small ones
    } else {
      writing_.clear();
    }
    if (ec) {
      close();
      while (in_upstream_ > 0) {
        co_await write_signal_.wait();
      }
      co_return;
    }
    maybe_resume();
  }
}

awaitable<void> Session::idle_loop() {
  auto self = shared_from_this();
  const auto timeout = ctx_.config->limits.idle_timeout;
  asio::steady_timer timer(socket_.get_executor());
  while (!closed_) {
    timer.expires_at(last_activity_ + timeout);
    co_await timer.async_wait(use_nothrow);
    if (closed_) {
      break;
    }
    if (replies_.empty() && std::chrono::steady_clock::now() - last_activity_ >= timeout) {
      close();
    }
  }
}

void Session::reply_now(std::string_view bytes) {
  if (replies_.empty()) {
    out_.append(bytes);
    write_signal_.notify();
    return;
  }
  push_slot();
  complete(replies_.back_seq(), bytes);
}

void Session::complete(std::uint64_t seq, std::string_view bytes) {
  const bool at_front = seq == replies_.front_seq();
  replies_.complete(seq, bytes, out_);
  if (!at_front) {
    return;  // waits in its slot for the replies ahead of it
  }
  if (replies_.empty() && in_upstream_ == 0) {
    idle_signal_.notify();
  }
  if (output_bytes() > ctx_.config->limits.client_output_buffer) {
    util::logger("proxy")->info("client={} closed: output buffer over {} bytes", id_,
                                ctx_.config->limits.client_output_buffer);
    close();
    return;
  }
  wake_writer();
  maybe_resume();
}

void Session::wake_writer() {
  if (defer_wake_) {
    flush_due_ = true;
  } else {
    write_signal_.notify();
  }
}

void Session::on_batch_end() {
  defer_wake_ = false;
  if (!flush_due_) {
    return;
  }
  flush_due_ = false;
  write_or_wake();
}

void Session::write_or_wake() {
  if (closed_ || read_done_ || out_.empty() || !write_signal_.waiting() || !writing_.empty()) {
    write_signal_.notify();  // the writer handles the unusual cases
    return;
  }
  // The writer is parked with nothing to write. Sending here, once for all the replies of one
  // upstream read, saves waking it: a handler to resume it and another for its write's
  // completion, per request when each client has one in flight.
  error_code ec;
  const std::size_t n = socket_.write_some(asio::buffer(out_), ec);
  if (ec && ec != asio::error::would_block) {
    write_signal_.notify();  // its own write fails the same way and closes the session
    return;
  }
  out_.erase(0, n);
  if (!out_.empty()) {
    write_signal_.notify();
    return;
  }
  maybe_resume();
}

}  // namespace seawall::proxy
