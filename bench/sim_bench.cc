// Benchmarks of the simulated cluster. Figures go to docs/benchmarks.md with the command that
// produced them; tests never assert on them.
//
//   build/bench/grape_bench --benchmark_filter=Propose
//   build/bench/grape_bench --benchmark_filter=Scenario
//
// BM_SimProposeCommit: a 3-node simulated cluster (1-10 ms links, no faults) with a client that
// keeps `inflight` proposals outstanding at the leader; reports committed proposals per wall-clock
// second (the speed of the Raft core plus the simulator, on one core) and per simulated second.

#include <benchmark/benchmark.h>

#include "sim/runner.h"
#include "sim/scenario.h"
#include "sim/world.h"

namespace grape::sim {
namespace {

void BM_SimProposeCommit(benchmark::State& state) {
  const auto inflight = static_cast<uint64_t>(state.range(0));
  uint64_t committed_total = 0;
  double sim_seconds_total = 0;
  uint64_t events_total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    World world({.nodes = 3, .seed = 1});
    world.run_until([](const World& w) { return w.leader().has_value(); }, seconds(5));
    const NodeId leader = *world.leader();
    const LogIndex start = world.raft(leader)->log().committed();
    const VirtualTime sim_start = world.now();
    const uint64_t events_start = world.stats().events;
    state.ResumeTiming();

    constexpr uint64_t kProposals = 20000;
    uint64_t proposed = 0;
    const Bytes command(64, std::byte{0x5a});  // a 64-byte write
    while (world.raft(leader)->log().committed() < start + kProposals) {
      const LogIndex committed = world.raft(leader)->log().committed();
      while (proposed < kProposals && LogIndex(start.value + proposed) < committed + inflight) {
        if (!world.propose(leader, command)) break;
        ++proposed;
      }
      if (!world.step()) break;
    }

    state.PauseTiming();
    committed_total += world.raft(leader)->log().committed() - start;
    sim_seconds_total += static_cast<double>((world.now() - sim_start).ns) / 1e9;
    events_total += world.stats().events - events_start;
    state.ResumeTiming();
  }
  state.counters["proposals_per_s"] =
      benchmark::Counter(static_cast<double>(committed_total), benchmark::Counter::kIsRate);
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events_total), benchmark::Counter::kIsRate);
  state.counters["sim_proposals_per_sim_s"] =
      static_cast<double>(committed_total) / sim_seconds_total;
}
BENCHMARK(BM_SimProposeCommit)->Arg(1)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond);

// The simulator's own speed: a 5-node cluster for 60 s of virtual time under a 200 ops/s
// workload from 3 clients with a nemesis of every kind, as `grape scenario run` plays it.
// Arg 0: the Raft safety checkers only; arg 1: plus the linearizability and lost-write checks.
Scenario nemesis_scenario(bool check_history) {
  Scenario s;
  s.name = "bench-nemesis-5";
  s.cluster.nodes = 5;
  WorkloadSpec workload;
  workload.clients = 3;
  workload.keys = 8;
  workload.rate = Rate{200, seconds(1)};
  s.workload = workload;
  s.nemesis = NemesisSpec{};
  s.nemesis->from = seconds(1);
  s.nemesis->until = seconds(55);
  s.run_until = seconds(60);
  if (check_history) {
    s.expect.linearizable = true;
    s.expect.no_lost_writes = true;
  }
  return s;
}

void BM_SimScenario60s(benchmark::State& state) {
  const Scenario scenario = nemesis_scenario(state.range(0) != 0);
  uint64_t events = 0;
  int64_t sim_ms = 0;
  uint64_t seed = 1;
  for (auto _ : state) {
    const RunResult result = run_scenario(scenario, seed++);
    events += result.stats.events;
    sim_ms += result.stats.sim_ms;
    benchmark::DoNotOptimize(result.trace_hash);
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["sim_s_per_wall_s"] =
      benchmark::Counter(static_cast<double>(sim_ms) / 1000.0, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SimScenario60s)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace grape::sim

BENCHMARK_MAIN();
