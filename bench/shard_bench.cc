// Benchmarks of shard placement (core/shard/placement.h). Figures go to docs/benchmarks.md.
//
//   build/bench/grape_bench --benchmark_filter=Shard
//
// BM_ShardKeyToShard: a 16-byte key to its shard (XXH3 and a multiply).
// BM_ShardKeyToReplicas: a key to its shard's replicas and leader in the explicit map (1024
//   shards on 64 nodes, placed with 256 virtual nodes each): the routing path of every request.
// BM_ShardRingSuccessors: the ring walk itself (R = 3 distinct nodes clockwise from a point), as
//   the first placement of a new cluster uses it.
// BM_ShardInitialPlacement / BM_ShardPlanJoin / BM_ShardPlanLeave: the planner on S shards and
//   N nodes (R = 3): a new cluster's map, then one node joining or leaving.

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/base/rng.h"
#include "core/shard/placement.h"

namespace grape::shard {
namespace {

std::vector<NodeSpec> equal_nodes(uint32_t count) {
  std::vector<NodeSpec> nodes;
  for (uint32_t id = 1; id <= count; ++id) nodes.push_back({NodeId(id), 1});
  return nodes;
}

PlacementOptions shape(uint32_t shards) {
  PlacementOptions options;
  options.shards = shards;
  options.replication = 3;
  return options;
}

// Keys like a client's: "user:<number>", 16 bytes or so, from a fixed generator.
std::vector<std::string> keys(size_t count) {
  Rng rng(42);
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) out.push_back("user:" + std::to_string(rng.next_u64() % 1'000'000'000'000));
  return out;
}

void BM_ShardKeyToShard(benchmark::State& state) {
  const std::vector<std::string> all = keys(4096);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(shard_of(all[i++ & 4095], 1024));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ShardKeyToShard);

void BM_ShardKeyToReplicas(benchmark::State& state) {
  const ShardMap map = *initial_placement(equal_nodes(64), shape(1024));
  const std::vector<std::string> all = keys(4096);
  size_t i = 0;
  for (auto _ : state) {
    const ShardPlacement& placement = map.at(map.shard_of(all[i++ & 4095]));
    benchmark::DoNotOptimize(placement.replicas.data());
    benchmark::DoNotOptimize(placement.leader);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ShardKeyToReplicas);

void BM_ShardRingSuccessors(benchmark::State& state) {
  const Ring ring(equal_nodes(64), 256);
  const std::vector<std::string> all = keys(4096);
  std::vector<uint32_t> out;
  out.reserve(3);
  size_t i = 0;
  for (auto _ : state) {
    ring.successors(key_hash(all[i++ & 4095]), 3, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ShardRingSuccessors);

void BM_ShardInitialPlacement(benchmark::State& state) {
  const auto shards = static_cast<uint32_t>(state.range(0));
  const auto nodes = equal_nodes(static_cast<uint32_t>(state.range(1)));
  for (auto _ : state) benchmark::DoNotOptimize(initial_placement(nodes, shape(shards)));
}
BENCHMARK(BM_ShardInitialPlacement)->Args({1024, 8})->Args({4096, 64})->Unit(benchmark::kMillisecond);

void BM_ShardPlanJoin(benchmark::State& state) {
  const auto shards = static_cast<uint32_t>(state.range(0));
  const auto count = static_cast<uint32_t>(state.range(1));
  const ShardMap map = *initial_placement(equal_nodes(count), shape(shards));
  const auto grown = equal_nodes(count + 1);
  size_t moves = 0;
  for (auto _ : state) {
    const auto result = plan(map, grown, shape(shards));
    moves = result->moves.size();
    benchmark::DoNotOptimize(result);
  }
  state.counters["moves"] = static_cast<double>(moves);
}
BENCHMARK(BM_ShardPlanJoin)->Args({4096, 64})->Unit(benchmark::kMillisecond);

void BM_ShardPlanLeave(benchmark::State& state) {
  const auto shards = static_cast<uint32_t>(state.range(0));
  const auto count = static_cast<uint32_t>(state.range(1));
  const ShardMap map = *initial_placement(equal_nodes(count), shape(shards));
  auto shrunk = equal_nodes(count);
  shrunk.erase(shrunk.begin() + count / 2);
  size_t moves = 0;
  for (auto _ : state) {
    const auto result = plan(map, shrunk, shape(shards));
    moves = result->moves.size();
    benchmark::DoNotOptimize(result);
  }
  state.counters["moves"] = static_cast<double>(moves);
}
BENCHMARK(BM_ShardPlanLeave)->Args({4096, 64})->Unit(benchmark::kMillisecond);

void BM_ShardPlanThreeToSix(benchmark::State& state) {
  const ShardMap map = *initial_placement(equal_nodes(3), shape(1024));
  size_t moves = 0;
  for (auto _ : state) {
    const auto result = plan(map, equal_nodes(6), shape(1024));
    moves = result->moves.size();
    benchmark::DoNotOptimize(result);
  }
  state.counters["moves"] = static_cast<double>(moves);
}
BENCHMARK(BM_ShardPlanThreeToSix)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace grape::shard
