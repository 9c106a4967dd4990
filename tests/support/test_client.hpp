#pragma once
// TestClient: a plain blocking RESP client socket for component tests, with every wait bounded.
// It frames replies with resp_builders.hpp (not src/resp), so a test asserts the exact bytes the
// proxy sent. Reads that do not complete in time return what arrived, prefixed "<timeout>", so
// the EXPECT_EQ that compares them fails with the evidence.
// Ownership: owns its socket. Thread safety: one thread at a time.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>

#include "support/resp_builders.hpp"

namespace seawall::support {

// Long enough for a loaded CI machine running sanitizers; a passing test never waits for it.
inline constexpr std::chrono::milliseconds kReplyDeadline{5000};

class TestClient {
 public:
  explicit TestClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) {
      throw std::runtime_error("socket() failed");
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(fd_);
      throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~TestClient() { ::close(fd_); }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        throw std::runtime_error("send failed");
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // The bytes of the next `n` replies; "<timeout>..." or "<closed>..." with what arrived when
  // they did not all come in time.
  std::string read_replies(std::size_t n, std::chrono::milliseconds deadline = kReplyDeadline) {
    const auto give_up = std::chrono::steady_clock::now() + deadline;
    while (true) {
      if (auto length = replies_length(buffer_, n)) {
        std::string out = buffer_.substr(0, *length);
        buffer_.erase(0, *length);
        return out;
      }
      const ReadResult r = read_some(give_up);
      if (r != ReadResult::Data) {
        std::string out = (r == ReadResult::Timeout ? "<timeout>" : "<closed>") + buffer_;
        buffer_.clear();
        return out;
      }
    }
  }

  // Sends one command and returns its reply.
  std::string call(std::initializer_list<std::string_view> args) {
    send(command(args));
    return read_replies(1);
  }

  // Whether the server closes the connection within `deadline`; bytes before the close are kept.
  bool closed_within(std::chrono::milliseconds deadline) {
    const auto give_up = std::chrono::steady_clock::now() + deadline;
    while (true) {
      const ReadResult r = read_some(give_up);
      if (r == ReadResult::Closed) {
        return true;
      }
      if (r == ReadResult::Timeout) {
        return false;
      }
    }
  }

  // Bytes received and not yet returned by read_replies.
  const std::string& unread() const { return buffer_; }

 private:
  enum class ReadResult { Data, Timeout, Closed };

  ReadResult read_some(std::chrono::steady_clock::time_point give_up) {
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          give_up - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return ReadResult::Timeout;
      }
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      if (ready <= 0) {
        return ReadResult::Timeout;
      }
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return ReadResult::Closed;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return ReadResult::Data;
    }
  }

  int fd_ = -1;
  std::string buffer_;
};

}  // namespace seawall::support
