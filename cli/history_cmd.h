#pragma once
// `grape history check FILE.jsonl`: reads a client history in the `--history` format
// (sim/history_io.h), checks it with the linearizability checker (sim/linearizability.h) and
// prints the verdict: linearizable; not linearizable, with the key and the smallest set of its
// operations that cannot be ordered; or unknown, when a key's search hit `max_states`.
// Returns the exit code: 0 linearizable, 1 not linearizable, 2 bad input, 3 unknown.

#include <cstdint>
#include <string>

#include "cli/common.h"
#include "sim/linearizability.h"

namespace grape::cli {

struct HistoryCheckArgs {
  std::string file;
  Format format = Format::kText;
  uint64_t max_states = sim::CheckLimits{}.max_states;  // per key
};
int history_check(const HistoryCheckArgs& args);

}  // namespace grape::cli
