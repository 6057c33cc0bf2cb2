#pragma once
// `grape bench`: drives a running cluster over HTTP with closed-loop clients (net/load.h) and
// prints throughput and latency percentiles; `--history F.jsonl` also writes every call in the
// history format, followed by a linearizable read of every key, for `grape history check`.

#include <string>

#include "cli/node_cmd.h"

namespace grape::cli {

struct BenchArgs {
  ClientArgs client;
  size_t clients = 16;
  std::string duration = "10s";
  std::string op = "put";  // put | get | mixed
  size_t keys = 1000;
  size_t value_bytes = 256;
  std::string history;
};
int bench(const BenchArgs& args);

}  // namespace grape::cli
