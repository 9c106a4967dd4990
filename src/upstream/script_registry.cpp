#include "seawall/upstream/script_registry.hpp"

#include <functional>

#include "seawall/command/command_rules.hpp"
#include "seawall/command/sent.hpp"
#include "seawall/resp/writer.hpp"

namespace seawall::upstream {
namespace {

using namespace asio::experimental::awaitable_operators;

std::uint64_t hash_of(std::string_view body) {
  const std::uint64_t h = std::hash<std::string_view>{}(body);
  return h == 0 ? 1 : h;  // 0 marks an empty slot
}

}  // namespace

void ScriptRegistry::note(const command::CommandInfo* info,
                          std::span<const std::string_view> args) {
  using command::Scripts;
  if (info == nullptr || args.size() < 2) {
    return;
  }
  Scripts what = command::rules(*info).scripts;
  if (what == Scripts::BySubcommand) {
    info = command::lookup_subcommand(*info, args[1]);
    if (info == nullptr || !command::arity_ok(*info, args.size())) {
      return;
    }
    what = command::rules(*info).scripts;
  }
  switch (what) {
    case Scripts::EvalBody:
      remember(args[1]);
      break;
    case Scripts::LoadBody:
      remember(args[2]);
      break;
    case Scripts::Forget:
      forget_all();
      break;
    case Scripts::None:
    case Scripts::BySubcommand:
      break;
  }
}

bool ScriptRegistry::known(std::uint64_t hash) const {
  for (std::size_t i = 0; i < kSlots; ++i) {
    const std::uint64_t slot = hashes_[(hash + i) % kSlots].load(std::memory_order_relaxed);
    if (slot == hash) {
      return true;
    }
    if (slot == 0) {
      return false;
    }
  }
  return false;
}

void ScriptRegistry::publish(std::uint64_t hash) {
  // Under mutex_: at most kMaxScripts of kSlots are used, so a free slot is always found.
  for (std::size_t i = 0; i < kSlots; ++i) {
    std::atomic<std::uint64_t>& slot = hashes_[(hash + i) % kSlots];
    const std::uint64_t seen = slot.load(std::memory_order_relaxed);
    if (seen == hash) {
      return;
    }
    if (seen == 0) {
      slot.store(hash, std::memory_order_release);
      return;
    }
  }
}

void ScriptRegistry::remember(std::string_view body) {
  const std::uint64_t hash = hash_of(body);
  if (known(hash)) {
    return;
  }
  const std::lock_guard lock(mutex_);
  if (bodies_.contains(std::string(body))) {
    publish(hash);
    return;
  }
  if (bodies_.size() >= kMaxScripts || bytes_ + body.size() > kMaxBytes) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto [it, inserted] = bodies_.emplace(body);
  order_.push_back(&*it);
  bytes_ += body.size();
  publish(hash);
}

void ScriptRegistry::forget_all() {
  const std::lock_guard lock(mutex_);
  for (auto& slot : hashes_) {
    slot.store(0, std::memory_order_relaxed);
  }
  order_.clear();
  bodies_.clear();
  bytes_ = 0;
}

ScriptRegistry::Preload ScriptRegistry::preload() const {
  Preload out;
  const std::lock_guard lock(mutex_);
  for (const std::string* body : order_) {
    resp::append_array_header(out.commands, 3);
    resp::append_bulk(out.commands, command::sent::kScript);
    resp::append_bulk(out.commands, command::sent::kLoad);
    resp::append_bulk(out.commands, *body);
    ++out.count;
  }
  return out;
}

std::size_t ScriptRegistry::size() const {
  const std::lock_guard lock(mutex_);
  return order_.size();
}

std::ptrdiff_t count_replies(std::string_view bytes, resp::ReplyFramer& framer,
                             std::size_t& consumed) {
  std::ptrdiff_t n = 0;
  consumed = 0;
  while (consumed < bytes.size()) {
    resp::FramedReply reply;
    const resp::errc e = framer.feed(bytes.substr(consumed), reply);
    if (e == resp::errc::need_more) {
      break;
    }
    if (e != resp::errc::ok) {
      return -1;
    }
    consumed += reply.length;
    ++n;
  }
  return n;
}

awaitable<std::string> load_scripts(Stream& stream, const ScriptRegistry::Preload& preload,
                                    std::chrono::milliseconds timeout) {
  if (preload.count == 0) {
    co_return "";
  }
  asio::steady_timer deadline(co_await asio::this_coro::executor);
  deadline.expires_after(timeout);
  auto written = co_await (stream.async_write(asio::buffer(preload.commands)) ||
                           deadline.async_wait(use_nothrow));
  if (written.index() == 1) {
    co_return "timed out loading scripts";
  }
  if (const auto [ec, n] = std::get<0>(written); ec) {
    co_return "cannot load scripts: " + ec.message();
  }
  std::string received;
  std::array<char, 4096> chunk{};
  resp::ReplyFramer framer;
  std::size_t replies = 0;
  while (replies < preload.count) {
    auto read =
        co_await (stream.async_read_some(asio::buffer(chunk)) || deadline.async_wait(use_nothrow));
    if (read.index() == 1) {
      co_return "timed out loading scripts";
    }
    const auto [ec, n] = std::get<0>(read);
    if (ec) {
      co_return "no reply loading scripts: " + ec.message();
    }
    received.append(chunk.data(), n);
    std::size_t consumed = 0;
    const std::ptrdiff_t complete = count_replies(received, framer, consumed);
    if (complete < 0) {
      co_return "unexpected reply loading scripts";
    }
    replies += static_cast<std::size_t>(complete);
    received.erase(0, consumed);
  }
  // Nothing else was asked, so nothing else may follow.
  if (replies != preload.count || !received.empty()) {
    co_return "unexpected reply loading scripts";
  }
  co_return "";
}

}  // namespace seawall::upstream
