#include "net/load.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/asio.h"
#include "net/http_server.h"
#include "net/peers.h"

namespace grape::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Run {
  asio::io_context io;
  const LoadOptions& options;
  Clock::time_point start;
  Clock::time_point stop;
  LoadResult result;
  explicit Run(const LoadOptions& o) : options(o) {}
  int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  }
};

std::string key_name(const std::string& prefix, size_t i) {
  std::string key = prefix + std::to_string(i);
  key.resize(std::max<size_t>(key.size(), 16), '.');
  return key;
}

// One client: a connection and one call at a time.
class Client {
 public:
  Client(Run& run, size_t index) : run_(run), index_(index), stream_(run.io),
        endpoint_(index % run.options.endpoints.size()), process_(index) {}

  awaitable<void> load() {
    uint64_t seq = 0;
    while (Clock::now() < run_.stop) {
      const bool put = run_.options.op == LoadOp::kPut ||
                       (run_.options.op == LoadOp::kMixed && seq % 2 == 0);
      const std::string key = key_name(run_.options.key_prefix, (index_ * 7919 + seq * 31) % run_.options.keys);
      std::optional<std::string> value;
      if (put) {
        value = "c" + std::to_string(index_) + "-" + std::to_string(seq);
        value->resize(std::max(value->size(), run_.options.value_bytes), '.');
      }
      co_await call(put ? LoadCall::Kind::kPut : LoadCall::Kind::kGet, key, value, false);
      ++seq;
    }
  }

  awaitable<void> read_back(size_t from, size_t step) {
    for (size_t k = from; k < run_.options.keys; k += step) {
      // A read that finds no leader is retried: the check needs every key's final value.
      for (int attempt = 0; attempt < 20; ++attempt) {
        if (co_await call(LoadCall::Kind::kGet, key_name(run_.options.key_prefix, k), std::nullopt, true)) break;
        asio::steady_timer wait(run_.io, std::chrono::milliseconds(100));
        co_await wait.async_wait(use_awaitable);
      }
    }
  }

 private:
  // Returns whether the call completed ok (or, for a get, found the key absent).
  awaitable<bool> call(LoadCall::Kind kind, const std::string& key, std::optional<std::string> value,
                       bool read_back) {
    LoadCall c;
    c.process = process_;
    c.kind = kind;
    c.key = key;
    c.value = value;
    c.read_back = read_back;
    c.invoked_ns = run_.now_ns();
    http::request<http::string_body> request{kind == LoadCall::Kind::kPut ? http::verb::put : http::verb::get,
                                             "/v1/kv/" + percent_encode(key), 11};
    request.set(http::field::host, run_.options.endpoints[endpoint_]);
    request.keep_alive(true);
    if (value && kind == LoadCall::Kind::kPut) request.body() = *value;
    request.prepare_payload();
    http::response<http::string_body> response;
    beast::error_code ec;
    if (!connected_) co_await connect(ec);
    if (!ec) {
      stream_.expires_after(run_.options.request_timeout);
      co_await http::async_write(stream_, request, asio::redirect_error(use_awaitable, ec));
    }
    if (!ec) co_await http::async_read(stream_, buffer_, response, asio::redirect_error(use_awaitable, ec));
    c.completed_ns = run_.now_ns();
    if (ec) {
      // Connection lost or timed out: a write's fate is unknown; the next call goes elsewhere.
      c.outcome = kind == LoadCall::Kind::kPut ? LoadCall::Outcome::kInfo : LoadCall::Outcome::kFail;
      connected_ = false;
      beast::error_code ignored;
      stream_.socket().close(ignored);
      endpoint_ = (endpoint_ + 1) % run_.options.endpoints.size();
    } else {
      const unsigned status = response.result_int();
      if (status == 200 || (status == 404 && kind == LoadCall::Kind::kGet)) {
        c.outcome = LoadCall::Outcome::kOk;
        if (kind == LoadCall::Kind::kGet) {
          c.value.reset();
          if (status == 200) c.value = extract_value(response.body());
        }
      } else if (status == 504 && kind == LoadCall::Kind::kPut) {
        c.outcome = LoadCall::Outcome::kInfo;  // timed out or leader changed: unknown
      } else {
        c.outcome = LoadCall::Outcome::kFail;  // refused before proposing, or a read not served
      }
      if (!response.keep_alive()) {
        connected_ = false;
        beast::error_code ignored;
        stream_.socket().close(ignored);
      }
    }
    const bool ok = c.outcome == LoadCall::Outcome::kOk;
    if (!ok) ++run_.result.errors;
    // After an unknown outcome this process may still have a call in effect: later calls come
    // from a fresh process id (Jepsen's convention), so the history stays one call per process.
    if (c.outcome == LoadCall::Outcome::kInfo) process_ += run_.options.clients + 1;
    run_.result.calls.push_back(std::move(c));
    co_return ok;
  }

  awaitable<void> connect(beast::error_code& ec) {
    const auto host_port = split_host_port(run_.options.endpoints[endpoint_]);
    tcp::resolver resolver(run_.io);
    auto endpoints = co_await resolver.async_resolve(host_port->first, std::to_string(host_port->second),
                                                     asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    stream_.expires_after(run_.options.request_timeout);
    co_await stream_.async_connect(endpoints, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    connected_ = !ec;
  }

  // The "value" of the JSON answer {"key":..,"value":"...",...} without a JSON library: values
  // are ours (letters, digits, '-' and '.'), so no escapes occur.
  static std::optional<std::string> extract_value(const std::string& body) {
    const std::string marker = "\"value\":\"";
    const size_t at = body.find(marker);
    if (at == std::string::npos) return std::nullopt;
    const size_t end = body.find('"', at + marker.size());
    if (end == std::string::npos) return std::nullopt;
    return body.substr(at + marker.size(), end - at - marker.size());
  }

  Run& run_;
  size_t index_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  size_t endpoint_;
  uint64_t process_;
  bool connected_ = false;
};

}  // namespace

LoadResult run_load(const LoadOptions& options) {
  Run run(options);
  std::vector<std::unique_ptr<Client>> clients;
  for (size_t i = 0; i < options.clients; ++i) clients.push_back(std::make_unique<Client>(run, i));
  run.start = Clock::now();
  run.stop = run.start + options.duration;
  for (auto& client : clients) asio::co_spawn(run.io, client->load(), asio::detached);
  run.io.run();
  run.result.seconds = std::chrono::duration<double>(Clock::now() - run.start).count();
  if (options.read_back) {
    run.io.restart();
    const size_t readers = std::min<size_t>(clients.size(), 8);
    for (size_t i = 0; i < readers; ++i) asio::co_spawn(run.io, clients[i]->read_back(i, readers), asio::detached);
    run.io.run();
  }
  return std::move(run.result);
}

}  // namespace grape::net
