#pragma once
// What the peer and HTTP servers share: binding a listening socket, and the loop that accepts
// connections and hands each to a coroutine. Includes Asio: for net/ .cc files only.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/base/expected.h"
#include "net/asio.h"
#include "net/log.h"
#include "net/peers.h"

namespace grape::net {

// Opens, binds and listens on `address` (host:port); the error names `what` and the address.
inline Status<std::string> open_listener(boost::asio::ip::tcp::acceptor& acceptor,
                                         const std::string& address, const std::string& what) {
  namespace asio = boost::asio;
  const auto host_port = split_host_port(address);
  if (!host_port) return Unexpected("bad " + what + " listen address '" + address + "'");
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(host_port->first, ec);
  if (ec) return Unexpected("bad " + what + " listen address '" + address + "': " + ec.message());
  const asio::ip::tcp::endpoint endpoint(ip, host_port->second);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unexpected("cannot listen for " + what + " on " + address + ": " + ec.message());
  return Status<std::string>::ok();
}

// Accepts until `stopped` is set; each connection is kept in `open` (to close at stop) under a
// slot number and served by `serve(socket, slot)`.
using SocketPtr = std::shared_ptr<boost::asio::ip::tcp::socket>;
inline boost::asio::awaitable<void> accept_connections(
    boost::asio::ip::tcp::acceptor& acceptor, const bool& stopped,
    std::map<uint64_t, SocketPtr>& open, uint64_t& next_slot, const std::string& what,
    std::function<boost::asio::awaitable<void>(SocketPtr, uint64_t)> serve) {
  namespace asio = boost::asio;
  while (!stopped) {
    auto socket = std::make_shared<asio::ip::tcp::socket>(acceptor.get_executor());
    boost::system::error_code ec;
    co_await acceptor.async_accept(*socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopped) co_return;
      log::warn("accepting {} connection failed: {}", what, ec.message());
      continue;
    }
    const uint64_t slot = next_slot++;
    open.emplace(slot, socket);
    asio::co_spawn(acceptor.get_executor(), serve(socket, slot), asio::detached);
  }
}

}  // namespace grape::net
