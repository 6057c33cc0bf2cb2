#pragma once
// Shrinking a failing scenario run to a smaller one that still fails the same way, by delta
// debugging (Zeller's ddmin) over its fault timeline, then by trimming the workload and the run.
// The nemesis is first turned into the explicit steps it would take (materialize_faults), so
// each random fault can be dropped on its own.

#include <cstdint>
#include <functional>
#include <string>

#include "core/base/expected.h"
#include "sim/scenario.h"

namespace grape::sim {

struct ShrinkOptions {
  int max_runs = 300;  // the search stops after this many trial runs
  // Called after each trial run: (runs so far, faults in the best scenario, whether it failed).
  std::function<void(int, size_t, bool)> progress;
};

struct ShrinkResult {
  Scenario minimal;
  std::string property;  // the violated property both runs share
  int runs = 0;
  size_t faults_before = 0;
  size_t faults_after = 0;
};

// Fails (with the reason) when the scenario does not fail with this seed.
Expected<ShrinkResult, std::string> shrink_scenario(const Scenario& scenario, uint64_t seed,
                                                    const ShrinkOptions& options = {});

}  // namespace grape::sim
