#include "seawall/proxy/link_drain.hpp"

namespace seawall::proxy {

LinkDrains::~LinkDrains() {
  for (auto& drain : drains_) {
    if (!drain->done_) {
      drain->done_ = true;
      drain->link_->close();
      drain->in_doubt_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
}

void LinkDrains::adopt(std::shared_ptr<upstream::Link> link, std::size_t replies,
                       std::atomic<std::int64_t>& in_doubt) {
  in_doubt.fetch_add(1, std::memory_order_acq_rel);
  drains_.push_front(std::make_unique<Drain>(*this, link, replies, in_doubt, max_depth_));
  drains_.front()->self_ = drains_.begin();
  link->set_sink(drains_.front().get());
  if (replies == 0) {
    drains_.front()->finish();
  }
}

LinkDrains::Drain::Drain(LinkDrains& owner, std::shared_ptr<upstream::Link> link,
                         std::size_t replies, std::atomic<std::int64_t>& in_doubt,
                         std::uint32_t max_depth)
    : owner_(owner),
      link_(std::move(link)),
      replies_(replies),
      in_doubt_(in_doubt),
      framer_(max_depth) {}

void LinkDrains::Drain::on_link_data(std::string_view bytes) {
  buffer_.append(bytes);
  std::size_t consumed = 0;
  while (replies_ > 0 && consumed < buffer_.size()) {
    resp::FramedReply reply;
    const resp::errc e = framer_.feed(std::string_view(buffer_).substr(consumed), reply);
    if (e != resp::errc::ok) {
      if (e != resp::errc::need_more) {
        replies_ = 0;  // cannot follow the stream: give up on it
      }
      break;
    }
    consumed += reply.length;
    --replies_;
  }
  buffer_.erase(0, consumed);
  if (replies_ == 0) {
    finish();
  }
}

void LinkDrains::Drain::on_link_closed() { finish(); }

void LinkDrains::Drain::finish() {
  if (done_) {
    return;
  }
  done_ = true;
  link_->close();  // no more calls to this sink
  in_doubt_.fetch_sub(1, std::memory_order_acq_rel);
  // Not from inside the link's own callback: the entry goes once that has returned.
  asio::post(owner_.ex_, [&owner = owner_, self = self_] { owner.drains_.erase(self); });
}

}  // namespace seawall::proxy
