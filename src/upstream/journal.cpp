#include "seawall/upstream/journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "seawall/resp/request_parser.hpp"

namespace seawall::upstream {

Journal::Journal(const config::JournalConfig& config) : config_(config) {}

Journal::~Journal() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

std::string Journal::load(std::size_t& loaded) {
  loaded = 0;
  if (config_.path.empty()) {
    return {};
  }
  std::lock_guard lock(mutex_);
  fd_ = ::open(config_.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    return config_.path + ": " + std::strerror(errno);
  }
  std::string content;
  char buffer[65536];
  ssize_t n = 0;
  while ((n = ::pread(fd_, buffer, sizeof(buffer), static_cast<off_t>(content.size()))) > 0) {
    content.append(buffer, static_cast<std::size_t>(n));
  }
  resp::RequestParser parser(resp::Limits{});
  resp::ParsedRequest request;
  std::string_view rest = content;
  while (!rest.empty()) {
    const resp::errc e = parser.parse(rest, request);
    if (e != resp::errc::ok) {
      // A torn last entry (crash mid-append) is dropped: it was never acknowledged as stored.
      break;
    }
    if (!request.args.empty()) {
      queue_.emplace_back(rest.substr(0, request.consumed));
      bytes_ += request.consumed;
    }
    rest.remove_prefix(request.consumed);
  }
  loaded = queue_.size();
  entries_count_.store(queue_.size(), std::memory_order_release);
  return {};
}

Journal::Append Journal::append(std::string_view raw_command) {
  std::lock_guard lock(mutex_);
  if (queue_.size() >= config_.max_entries ||
      bytes_.load(std::memory_order_relaxed) + raw_command.size() > config_.max_bytes) {
    ++rejected_;
    return Append::Full;
  }
  if (fd_ >= 0) {
    std::size_t written = 0;
    while (written < raw_command.size()) {
      const ssize_t n = ::write(fd_, raw_command.data() + written, raw_command.size() - written);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        ++rejected_;
        return Append::IoError;
      }
      written += static_cast<std::size_t>(n);
    }
  }
  queue_.emplace_back(raw_command);
  bytes_ += raw_command.size();
  ++appended_;
  entries_count_.store(queue_.size(), std::memory_order_release);
  return Append::Ok;
}

std::vector<std::string> Journal::front(std::size_t max) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < queue_.size() && i < max; ++i) {
    out.push_back(queue_[i]);
  }
  return out;
}

void Journal::pop(std::size_t n) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < n && !queue_.empty(); ++i) {
    bytes_ -= queue_.front().size();
    queue_.pop_front();
    ++replayed_;
  }
  if (queue_.empty() && fd_ >= 0) {
    // Everything reached Redis: the file starts over.
    if (::ftruncate(fd_, 0) != 0) {
      // Keeping the old entries only means they are replayed again after a restart.
    }
  }
  entries_count_.store(queue_.size(), std::memory_order_release);
}

}  // namespace seawall::upstream
