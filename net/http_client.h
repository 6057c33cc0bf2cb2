#pragma once
// A small blocking HTTP/1.1 client (Boost.Beast) for the `grape` commands that talk to nodes:
// one request per call, on its own connection, bounded by a timeout. Asio stays out of this
// header.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/base/expected.h"

namespace grape::net {

struct HttpCall {
  std::string method = "GET";
  std::string target = "/";  // path and query, already percent-encoded
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{5000};
};

struct HttpResult {
  unsigned status = 0;
  std::string body;
};

// `endpoint` is http://host:port (or host:port). Errors: cannot connect, timed out, bad answer.
[[nodiscard]] Expected<HttpResult, std::string> http_call(const std::string& endpoint,
                                                          const HttpCall& call);

// "http://127.0.0.1:8001/" -> "127.0.0.1:8001"; nullopt when it is not http://host:port.
std::optional<std::string> endpoint_address(const std::string& endpoint);

}  // namespace grape::net
