#pragma once
// Runs one scenario (sim/scenario.h) with one seed: builds the world from the file, plays the
// fault timeline and the nemesis, drives the workload's clients, and afterwards checks every
// `expect` key besides the Raft safety properties (always on). The result is what `grape scenario
// run` prints and what the sweep, replay, shrink and report commands build on.
//
// Deterministic: the same scenario and seed give the same RunResult, trace hash included.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/checker.h"
#include "sim/history.h"
#include "sim/linearizability.h"
#include "sim/scenario.h"
#include "sim/trace.h"

namespace grape::sim {

struct RunOptions {
  bool record_events = false;  // keep every trace event (for --trace and --report)
  bool chaos = true;           // vary the knobs per seed (sim/chaos.h); off: nominal knobs
  CheckLimits history_limits;  // bounds the linearizability and lost-write searches
};

struct RunStats {
  int64_t sim_ms = 0;
  uint64_t events = 0;
  uint64_t messages = 0;
  uint64_t elections = 0;
  uint64_t max_term = 0;
  uint64_t committed = 0;  // client writes acknowledged
  uint64_t client_ops = 0;
  uint64_t ok = 0;
  uint64_t failed = 0;
  uint64_t indeterminate = 0;
};

// What a run proved. A violation outweighs an undecided check: the run failed, whatever the
// undecided check would have said.
enum class Verdict : uint8_t {
  kPass,     // every check held
  kFail,     // something was violated: RunResult::violations
  kUnknown,  // nothing was violated, but a check could not decide: RunResult::undecided
};

std::string_view to_string(Verdict verdict);  // "pass", "fail", "unknown"

// A check that could not decide: a linearizability search (of the history, or of the history
// with the final reads) gave up at RunOptions::history_limits. A pass would be a claim the
// search never made.
struct Undecided {
  std::string property;  // "linearizability" or "lost_write"
  std::string key;       // the client key whose search gave up
  std::string detail;    // the key and how far the search got
};

struct RunResult {
  Verdict verdict = Verdict::kFail;
  std::vector<Violation> violations;  // the first is the run's verdict
  std::vector<Undecided> undecided;   // reported even when the run failed anyway
  RunStats stats;
  uint64_t trace_hash = 0;
  History history;
  std::vector<TraceEvent> events;  // with RunOptions::record_events
  VirtualTime end;
  std::string chaos;  // sim/chaos.h describe(): the knobs this seed ran with
};

// What the simulator cannot run yet, or nullopt: sharded clusters (and with them `rebalance`,
// `leader_of` and the load expectations) arrive with the sharding issues, and running such a
// scenario without them would pass it vacuously.
std::optional<std::string> unsupported_feature(const Scenario& scenario);

// The nemesis turned into explicit timeline steps (deterministic in the seed), merged with the
// scenario's own faults in time order. The shrinker works on this list.
std::vector<FaultStep> materialize_faults(const Scenario& scenario, uint64_t seed);

// No lost writes: `state` (key -> value, nullopt = absent) was read from the healed cluster at
// `at`, after every call in `history` was invoked. Every acknowledged write must still be visible:
// the history followed by those reads must be linearizable. Gives the `lost_write` violation, and
// separately what could not be decided within `limits` (a key given up on proves nothing either
// way). Call it on a history that is linearizable by itself, or it reports that instead.
using FinalState = std::map<std::string, std::optional<std::string>>;
struct FinalStateCheck {
  std::optional<Violation> lost_write;
  std::vector<Undecided> undecided;
};
FinalStateCheck check_final_state(const History& history, const FinalState& state, VirtualTime at,
                                  const CheckLimits& limits = {});

// Runs the scenario. Precondition: !unsupported_feature(scenario).
RunResult run_scenario(const Scenario& scenario, uint64_t seed, const RunOptions& options = {});

}  // namespace grape::sim
