#include "net/http_client.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/asio.h"
#include "net/peers.h"

namespace grape::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

std::optional<std::string> endpoint_address(const std::string& endpoint) {
  std::string rest = endpoint;
  if (rest.starts_with("http://")) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos || !split_host_port(rest)) return std::nullopt;
  return rest;
}

Expected<HttpResult, std::string> http_call(const std::string& endpoint, const HttpCall& call) {
  const auto address = endpoint_address(endpoint);
  if (!address) return Unexpected("'" + endpoint + "' is not http://host:port");
  const auto host_port = *split_host_port(*address);
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::request<http::string_body> request{http::string_to_verb(call.method), call.target, 11};
  request.set(http::field::host, *address);
  request.set(http::field::user_agent, "grape");
  for (const auto& [name, value] : call.headers) request.set(name, value);
  request.body() = call.body;
  request.prepare_payload();
  http::response<http::string_body> response;
  beast::error_code failure;
  std::string stage = "connect";
  tcp::resolver resolver(io);
  beast::error_code ec;
  const auto endpoints = resolver.resolve(host_port.first, std::to_string(host_port.second), ec);
  if (ec) return Unexpected(endpoint + ": cannot resolve: " + ec.message());
  stream.expires_after(call.timeout);
  stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
    if (e) {
      failure = e;
      return;
    }
    stage = "send";
    http::async_write(stream, request, [&](beast::error_code e2, size_t) {
      if (e2) {
        failure = e2;
        return;
      }
      stage = "answer";
      http::async_read(stream, buffer, response, [&](beast::error_code e3, size_t) {
        failure = e3;
      });
    });
  });
  io.run();
  if (failure) {
    if (failure == beast::error::timeout) {
      return Unexpected(endpoint + ": timed out waiting for the " + stage + " after " +
                        std::to_string(call.timeout.count()) + " ms");
    }
    return Unexpected(endpoint + ": " + stage + " failed: " + failure.message());
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return HttpResult{response.result_int(), std::move(response.body())};
}

}  // namespace grape::net
