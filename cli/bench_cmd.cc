#include "cli/bench_cmd.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "net/http_client.h"
#include "net/load.h"
#include "sim/history_io.h"
#include "sim/scenario.h"

namespace grape::cli {

namespace {

sim::History to_history(const std::vector<net::LoadCall>& calls) {
  std::vector<const net::LoadCall*> ordered;
  for (const net::LoadCall& c : calls) ordered.push_back(&c);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto* a, const auto* b) { return a->invoked_ns < b->invoked_ns; });
  sim::History history;
  for (const net::LoadCall* c : ordered) {
    sim::Operation op;
    op.id = history.ops.size();
    op.process = c->process;
    op.kind = c->kind == net::LoadCall::Kind::kPut ? sim::OpKind::kPut : sim::OpKind::kGet;
    op.key = c->key;
    op.value = c->value;
    op.invoked = sim::VirtualTime{c->invoked_ns};
    op.completed = sim::VirtualTime{c->completed_ns};
    op.outcome = c->outcome == net::LoadCall::Outcome::kOk     ? sim::OpOutcome::kOk
                 : c->outcome == net::LoadCall::Outcome::kFail ? sim::OpOutcome::kFail
                                                               : sim::OpOutcome::kInfo;
    if (op.kind == sim::OpKind::kGet && op.outcome != sim::OpOutcome::kOk) op.value.reset();
    history.ops.push_back(std::move(op));
  }
  return history;
}

double percentile(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(q * static_cast<double>(sorted.size())));
  return sorted[i];
}

}  // namespace

int bench(const BenchArgs& args) {
  net::LoadOptions options;
  std::string error;
  const auto endpoints = parse_endpoints(args.client.endpoints, error);
  if (!endpoints) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return kExitBadInput;
  }
  for (const std::string& url : *endpoints) options.endpoints.push_back(*net::endpoint_address(url));
  const auto duration = sim::parse_duration(args.duration);
  if (!duration || duration->ns < 1'000'000) {
    std::fprintf(stderr, "error: --duration: '%s' is not a duration (e.g. 10s)\n", args.duration.c_str());
    return kExitBadInput;
  }
  const auto timeout = sim::parse_duration(args.client.timeout);
  if (!timeout || timeout->ns < 1'000'000) {
    std::fprintf(stderr, "error: --timeout: '%s' is not a duration\n", args.client.timeout.c_str());
    return kExitBadInput;
  }
  options.duration = std::chrono::milliseconds(duration->ns / 1'000'000);
  options.request_timeout = std::chrono::milliseconds(timeout->ns / 1'000'000);
  options.clients = args.clients;
  options.op = args.op == "get" ? net::LoadOp::kGet : args.op == "mixed" ? net::LoadOp::kMixed : net::LoadOp::kPut;
  options.keys = args.keys;
  options.value_bytes = args.value_bytes;
  options.read_back = !args.history.empty();
  if (options.read_back) {
    // The checker assumes every key starts absent: a history gets keys no earlier run wrote.
    options.key_prefix = "h" + std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                                  std::chrono::system_clock::now().time_since_epoch())
                                                  .count() % 1'000'000'000) + "-";
  }
  if (args.client.format == Format::kText) {
    std::fprintf(stderr, "bench: %zu clients, %s for %s against %zu endpoint(s)...\n", options.clients,
                 args.op.c_str(), args.duration.c_str(), options.endpoints.size());
  }
  const net::LoadResult result = net::run_load(options);

  std::vector<double> latencies;
  uint64_t ok = 0;
  for (const net::LoadCall& c : result.calls) {
    if (c.read_back || c.outcome != net::LoadCall::Outcome::kOk) continue;
    ++ok;
    latencies.push_back(static_cast<double>(c.completed_ns - c.invoked_ns) / 1e6);
  }
  std::sort(latencies.begin(), latencies.end());
  const double throughput = result.seconds > 0 ? static_cast<double>(ok) / result.seconds : 0;
  uint64_t errors = 0;
  for (const net::LoadCall& c : result.calls) {
    if (!c.read_back && c.outcome != net::LoadCall::Outcome::kOk) ++errors;
  }
  if (!args.history.empty()) {
    std::ofstream out(args.history, std::ios::trunc);
    out << sim::to_jsonl(to_history(result.calls));
    if (!out) {
      std::fprintf(stderr, "error: cannot write the history to %s\n", args.history.c_str());
      return kExitFailed;
    }
  }
  const double p50 = percentile(latencies, 0.50), p99 = percentile(latencies, 0.99),
               p999 = percentile(latencies, 0.999);
  if (args.client.format == Format::kJson) {
    nlohmann::json j{{"op", args.op},           {"clients", options.clients},
                     {"seconds", result.seconds}, {"ok", ok},
                     {"errors", errors},         {"ops_per_second", throughput},
                     {"latency_ms", {{"p50", p50}, {"p99", p99}, {"p999", p999}}}};
    if (!args.history.empty()) j["history"] = args.history;
    std::cout << j.dump() << '\n';
  } else {
    std::printf("%-6s %8s %10s %10s %8s %10s %10s %10s\n", "op", "clients", "ok", "errors", "secs",
                "ops/s", "p50 ms", "p99 ms");
    std::printf("%-6s %8zu %10llu %10llu %8.1f %10.0f %10.3f %10.3f   p99.9 %.3f ms\n", args.op.c_str(),
                options.clients, static_cast<unsigned long long>(ok),
                static_cast<unsigned long long>(errors), result.seconds, throughput, p50, p99, p999);
    if (!args.history.empty()) std::printf("history: %s\n", args.history.c_str());
  }
  return ok > 0 ? kExitOk : kExitFailed;
}

}  // namespace grape::cli
