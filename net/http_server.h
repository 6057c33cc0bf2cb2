#pragma once
// HttpServer: HTTP/1.1 on one port (Boost.Beast), keep-alive, one request at a time per
// connection. The handler answers through `Respond`, now or later (a write waits for Raft): the
// connection reads its next request only after the answer is written. A request that does not
// parse, or whose body is over the limit, gets 400 and the connection is closed and logged.
// Asio stays out of this header.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "core/base/expected.h"

namespace boost::asio {
class io_context;
}

namespace grape::net {

struct HttpRequest {
  std::string method;                         // "GET", "PUT", ...
  std::string path;                           // decoded, without the query
  std::map<std::string, std::string> query;   // decoded
  std::string body;
  std::string authorization;                  // the Authorization header
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Respond = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest, Respond)>;

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, std::string listen, HttpHandler handler,
             size_t body_bytes_max = 8u << 20);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  [[nodiscard]] Status<std::string> start();
  // Stops accepting; answers already given are still written.
  void stop();
  void close_connections();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Percent-decoding of a path or query component; nullopt when malformed.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);
std::string percent_encode(std::string_view text);

}  // namespace grape::net
