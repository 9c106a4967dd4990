#pragma once
// Dedicated connections that a session left while Redis still owed them replies: a transaction
// whose EXEC timed out was journaled and answered by seawall (Session::exec_deadline), but Redis
// may still run it. Each drain reads and discards the replies owed, then closes the connection;
// until then the upstream counts one request in doubt (UpstreamState::in_doubt), so the journal
// replay waits for the late EXEC instead of running before it.
//
// Ownership: one per worker, in its WorkerContext; the drains own their links. Thread safety:
// that worker's thread only.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include "seawall/net.hpp"
#include "seawall/resp/reply_framer.hpp"
#include "seawall/upstream/link.hpp"

namespace seawall::proxy {

class LinkDrains {
 public:
  LinkDrains(asio::any_io_executor ex, std::uint32_t max_depth) : ex_(ex), max_depth_(max_depth) {}
  ~LinkDrains();
  LinkDrains(const LinkDrains&) = delete;
  LinkDrains& operator=(const LinkDrains&) = delete;

  // Takes `link`, whose next `replies` replies nobody waits for; counts one in `in_doubt` until
  // they came or the connection ended.
  void adopt(std::shared_ptr<upstream::Link> link, std::size_t replies,
             std::atomic<std::int64_t>& in_doubt);
  std::size_t size() const { return drains_.size(); }

 private:
  class Drain : public upstream::LinkSink {
   public:
    Drain(LinkDrains& owner, std::shared_ptr<upstream::Link> link, std::size_t replies,
          std::atomic<std::int64_t>& in_doubt, std::uint32_t max_depth);
    void on_link_data(std::string_view bytes) override;
    void on_link_closed() override;
    void finish();

    LinkDrains& owner_;
    std::shared_ptr<upstream::Link> link_;
    std::size_t replies_;
    std::atomic<std::int64_t>& in_doubt_;
    resp::ReplyFramer framer_;
    std::string buffer_;
    bool done_ = false;
    std::list<std::unique_ptr<Drain>>::iterator self_;
  };

  asio::any_io_executor ex_;
  std::uint32_t max_depth_;
  std::list<std::unique_ptr<Drain>> drains_;
};

}  // namespace seawall::proxy
