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
// BM_ShardSimRebalance: a simulated rebalance from 3 to 6 nodes under load (see below).

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/base/rng.h"
#include "core/shard/meta.h"
#include "core/shard/placement.h"
#include "sim/clients.h"
#include "sim/world.h"

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

// ---------------------------------------------------------------------------------------------
// BM_ShardSimRebalance: a simulated cluster of S shards on 3 nodes (1-10 ms links, 0-1 ms syncs)
// under a steady workload (8 clients, 400 calls/s over 500 keys) grows to 6 nodes at 3 s. Reports
// the moves, the bytes sent to the new replicas (log entries and snapshot chunks), the virtual
// time from the joins until the map converged, and the calls answered ok per simulated second
// during the moves as a fraction of the rate in the 1.5 s before them. Args: shards, moves in
// flight at most.
void BM_ShardSimRebalance(benchmark::State& state) {
  const auto shards = static_cast<uint32_t>(state.range(0));
  const auto in_flight = static_cast<uint32_t>(state.range(1));
  double moves = 0, bytes = 0, converge_ms = 0, before = 0, during = 0;
  for (auto _ : state) {
    sim::WorldOptions options;
    options.nodes = 3;
    options.seed = 1;
    options.shards = shards;
    options.replication = 3;
    options.moves_in_flight_max = in_flight;
    options.network.latency_min = sim::milliseconds(1);
    options.network.latency_max = sim::milliseconds(10);
    options.disk_sync_max = sim::milliseconds(1);
    sim::World world(options);
    world.enable_moves();
    sim::Clients clients(world, Rng(7), sim::seconds(1));
    sim::WorkloadOptions workload;
    workload.clients = 8;
    workload.keys = 500;
    workload.rate_per_s = 400;
    workload.from = sim::VirtualTime{} + sim::milliseconds(500);
    workload.until = sim::VirtualTime{} + sim::seconds(600);
    clients.start_workload(workload);
    world.run_for(sim::milliseconds(1500));  // every group elected, the first map written
    const uint64_t ok_steady = clients.stats().ok;
    world.run_for(sim::milliseconds(1500));
    const uint64_t ok_before = clients.stats().ok;
    const auto joined = world.now();
    for (int i = 0; i < 3; ++i) world.add_node();
    auto converged = [&](const sim::World& w) {
      const auto meta = w.meta_state();
      if (!meta || !meta->initialized() || meta->moves.empty()) return false;
      return meta->moves_unfinished() == 0 && meta->active_nodes().size() == 6;
    };
    for (uint64_t id = 4; id <= 6; ++id) {
      while (!world.propose_meta(put_node({NodeId(id), 1, NodeState::kActive}))) {
        world.run_for(sim::milliseconds(50));
      }
    }
    // Looked at every 100 ms of virtual time: decoding the metadata state after every event
    // would cost more than the run.
    while (!converged(world) && world.now() < joined + sim::seconds(300)) {
      world.run_for(sim::milliseconds(100));
    }
    const auto done = world.now();
    const auto meta = world.meta_state();
    moves = meta ? static_cast<double>(meta->moves.size()) : 0;
    bytes = static_cast<double>(world.stats().move_bytes);
    converge_ms = static_cast<double>((done - joined).ns) / 1e6;
    before = static_cast<double>(ok_before - ok_steady) / 1.5;  // ok from 1.5 s to 3 s
    during = static_cast<double>(clients.stats().ok - ok_before) /
             (static_cast<double>((done - joined).ns) / 1e9);
  }
  state.counters["moves"] = moves;
  state.counters["bytes_moved"] = bytes;
  state.counters["converge_sim_ms"] = converge_ms;
  state.counters["ok_per_s_before"] = before;
  state.counters["ok_per_s_during"] = during;
  state.counters["throughput_ratio"] = before > 0 ? during / before : 0;
}
BENCHMARK(BM_ShardSimRebalance)
    ->Args({64, 4})
    ->Args({256, 4})
    ->Args({1024, 4})
    ->Args({1024, 16})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace grape::shard
