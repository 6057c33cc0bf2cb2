#pragma once
// A closed-loop HTTP load generator for `grape bench`: `clients` concurrent clients, each with one
// keep-alive connection and one request in flight, on one thread (Boost.Beast). Each client
// records every call (for latency percentiles and, with a history, for `grape history check`).
// A client whose connection fails moves on to the next endpoint. Asio stays out of this header.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace grape::net {

enum class LoadOp : uint8_t { kPut, kGet, kMixed };

struct LoadOptions {
  std::vector<std::string> endpoints;  // host:port
  size_t clients = 16;
  std::chrono::milliseconds duration{10'000};
  LoadOp op = LoadOp::kPut;
  size_t keys = 1000;        // key space: <prefix>0..<prefix>{keys-1}, 16 bytes each (padded)
  std::string key_prefix = "k";
  size_t value_bytes = 256;  // put values: unique per call, padded to this size
  std::chrono::milliseconds request_timeout{5'000};
  bool read_back = false;    // after the load: one linearizable read of every key
};

// One call as the client saw it (the history format's fields, sim/history_io.h).
struct LoadCall {
  enum class Kind : uint8_t { kPut, kGet };
  enum class Outcome : uint8_t { kOk, kFail, kInfo };
  uint64_t process = 0;
  Kind kind = Kind::kPut;
  std::string key;
  std::optional<std::string> value;  // put: written; ok get: read (nullopt: absent)
  int64_t invoked_ns = 0;            // since the start of the run
  int64_t completed_ns = 0;
  Outcome outcome = Outcome::kOk;
  bool read_back = false;  // part of the final read-back, not of the measured load
};

struct LoadResult {
  std::vector<LoadCall> calls;
  double seconds = 0;  // the measured load's length
  uint64_t errors = 0;
};

LoadResult run_load(const LoadOptions& options);

}  // namespace grape::net
