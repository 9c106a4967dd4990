#pragma once
// The one place that names the Asio namespace and the completion tokens the data path uses.
#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace seawall {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

template <typename T = void>
using awaitable = asio::awaitable<T>;

// Errors come back as values on the data path: no exceptions thrown by I/O.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
}  // namespace seawall
