#include "net/http_server.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/asio.h"
#include "net/listener.h"
#include "net/log.h"
#include "net/peers.h"

namespace grape::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (plus_is_space && text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(digits[u >> 4]);
      out.push_back(digits[u & 15]);
    }
  }
  return out;
}

namespace {

// Splits a request target into its decoded path and query.
std::optional<std::pair<std::string, std::map<std::string, std::string>>> parse_target(
    std::string_view target) {
  const size_t q = target.find('?');
  auto path = percent_decode(target.substr(0, q), false);
  if (!path) return std::nullopt;
  std::map<std::string, std::string> query;
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      const size_t eq = pair.find('=');
      auto key = percent_decode(pair.substr(0, eq), true);
      auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
      if (!key || !value) return std::nullopt;
      if (!key->empty()) query[*key] = *value;
      if (amp == std::string_view::npos) break;
      rest = rest.substr(amp + 1);
    }
  }
  return std::make_pair(std::move(*path), std::move(query));
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& context, std::string address, HttpHandler on_request, size_t body_max)
      : io(context), listen(std::move(address)), handler(std::move(on_request)),
        body_bytes_max(body_max), acceptor(context) {}
  asio::io_context& io;
  std::string listen;
  HttpHandler handler;
  size_t body_bytes_max;
  tcp::acceptor acceptor;
  bool stopped = false;
  std::map<uint64_t, std::shared_ptr<tcp::socket>> sessions;
  uint64_t next_session = 0;

  awaitable<void> accept_loop();
  awaitable<void> serve(std::shared_ptr<tcp::socket> socket, uint64_t slot);
};

awaitable<void> HttpServer::Impl::accept_loop() {
  auto self = shared_from_this();
  co_await accept_connections(acceptor, stopped, sessions, next_session, "an HTTP",
                              [this](SocketPtr socket, uint64_t slot) {
                                return serve(std::move(socket), slot);
                              });
}

awaitable<void> HttpServer::Impl::serve(std::shared_ptr<tcp::socket> socket, uint64_t slot) {
  auto self = shared_from_this();
  boost::system::error_code ec;
  socket->set_option(tcp::no_delay(true), ec);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(body_bytes_max);
    parser.header_limit(64 * 1024);
    co_await http::async_read(*socket, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted || stopped) {
      break;
    }
    http::request<http::string_body> request;
    HttpResponse response;
    bool bad = false;
    std::optional<HttpRequest> parsed;
    if (ec) {
      bad = true;
      log::warn("closing HTTP connection: {}", ec.message());
      response = HttpResponse{400, "application/json",
                              "{\"error\":\"bad request: " + ec.message() + "\"}\n", {}};
    } else {
      request = parser.release();
      auto target = parse_target(std::string_view(request.target().data(), request.target().size()));
      if (!target) {
        response = HttpResponse{400, "application/json",
                                "{\"error\":\"bad request target (percent-encoding)\"}\n", {}};
      } else {
        parsed = HttpRequest{std::string(request.method_string()), std::move(target->first),
                             std::move(target->second), std::move(request.body()),
                             std::string(request[http::field::authorization])};
      }
    }
    if (parsed) {
      // Wait for the handler's answer (now or after Raft): a one-shot timer the callback cancels.
      auto answered = std::make_shared<std::optional<HttpResponse>>();
      auto signal = std::make_shared<asio::steady_timer>(io, asio::steady_timer::time_point::max());
      handler(std::move(*parsed), [answered, signal](HttpResponse r) {
        if (*answered) return;  // answered twice: the first wins
        *answered = std::move(r);
        signal->cancel();
      });
      if (!*answered) co_await signal->async_wait(asio::redirect_error(use_awaitable, ec));
      if (!*answered) break;  // closed while waiting (the node stops)
      response = std::move(**answered);
    }
    http::response<http::string_body> out{static_cast<http::status>(response.status),
                                          request.version() ? request.version() : 11};
    out.set(http::field::server, "grape");
    out.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) out.set(name, value);
    out.body() = std::move(response.body);
    out.keep_alive(!bad && !stopped && request.keep_alive());
    out.prepare_payload();
    co_await http::async_write(*socket, out, asio::redirect_error(use_awaitable, ec));
    if (ec || bad || !out.keep_alive()) break;
  }
  socket->shutdown(tcp::socket::shutdown_send, ec);
  socket->close(ec);
  sessions.erase(slot);
}

HttpServer::HttpServer(asio::io_context& io, std::string listen, HttpHandler handler,
                       size_t body_bytes_max)
    : impl_(std::make_shared<Impl>(io, std::move(listen), std::move(handler), body_bytes_max)) {}

HttpServer::~HttpServer() { stop(); }

Status<std::string> HttpServer::start() {
  if (auto opened = open_listener(impl_->acceptor, impl_->listen, "HTTP"); !opened) return opened;
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return Status<std::string>::ok();
}

void HttpServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  // Answers already given are still written (then the connection closes); idle connections go
  // now, or at close_connections().
}

void HttpServer::close_connections() {
  boost::system::error_code ignored;
  for (auto& [slot, socket] : impl_->sessions) socket->close(ignored);
}

}  // namespace grape::net
