#pragma once
// The client history's file format (scenario-format.md, `--history FILE.jsonl`): one JSON object
// per line, an `invoke` line and a completion line per call, in the order things happened. This is
// the one place that writes it, so that `grape scenario run --history` and external checkers
// (Porcupine, Knossos-style tools) agree on it.

#include <string>

#include "sim/history.h"

namespace grape::sim {

// The history as JSON lines, in time order; at one instant invocations come before completions.
std::string to_jsonl(const History& history);

}  // namespace grape::sim
