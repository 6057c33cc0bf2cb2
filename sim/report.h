#pragma once
// The HTML timeline of a simulated run (`grape scenario run --report FILE.html`): one
// self-contained page, no network and no external scripts, that shows a row per node with its
// role and term over time, crashes, pauses, partitions and cuts as shaded spans, elections and
// commits as marks, the client operations below, and the first violation highlighted.

#include <cstdint>
#include <string>
#include <vector>

#include "sim/checker.h"
#include "sim/history.h"
#include "sim/time.h"
#include "sim/trace.h"

namespace grape::sim {

struct RunRecord {
  std::string scenario;   // its name
  std::string file;       // the YAML file it came from
  uint64_t seed = 0;
  size_t nodes = 0;       // nodes n1..nN (more may join: see trace events)
  VirtualTime end;        // when the run stopped
  std::string result;     // "pass" or "fail"
  std::string replay;     // the command that replays it
  uint64_t trace_hash = 0;
  std::vector<TraceEvent> events;  // in time order
  History history;
  std::vector<Violation> violations;  // the first is highlighted
};

// Renders the page.
std::string render_report_html(const RunRecord& run);

}  // namespace grape::sim
