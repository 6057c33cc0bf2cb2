#pragma once
// `grape scenario run|sweep|replay|shrink`: loads files, calls sim/, prints tables or JSON.
// Each returns the process exit code (cli/common.h): 0 ok, 1 a check failed, 2 bad input, 3 a
// check could not decide (and nothing failed).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/common.h"
#include "sim/linearizability.h"

namespace grape::cli {

struct RunArgs {
  std::string file;
  std::optional<uint64_t> seed;
  Format format = Format::kText;
  std::string trace_file;
  std::string history_file;
  std::string report_file;
  uint64_t max_states = sim::CheckLimits{}.max_states;  // per key, for the history checks
  bool chaos = true;  // vary the knobs per seed (sim/chaos.h)
};
int scenario_run(const RunArgs& args);

struct SweepArgs {
  std::vector<std::string> paths;
  uint64_t seeds = 10;
  uint64_t seed_from = 1;
  unsigned jobs = 0;  // 0: one per core
  Format format = Format::kText;
  uint64_t max_states = sim::CheckLimits{}.max_states;  // per key, for the history checks
  bool chaos = true;
};
int scenario_sweep(const SweepArgs& args);

int scenario_replay(const std::string& file, std::optional<uint64_t> seed, Format format);

int scenario_shrink(const std::string& file, std::optional<uint64_t> seed,
                    const std::string& output);

}  // namespace grape::cli
