#pragma once
// The HTML timeline of a simulated run (`grape scenario run --report FILE.html`): one
// self-contained page, no network and no external scripts, that shows a row per node with its
// role and term over time, crashes, pauses, partitions and cuts as shaded spans, elections and
// commits as marks, the client operations below, and the first violation highlighted.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/checker.h"
#include "sim/history.h"
#include "sim/time.h"
#include "sim/trace.h"

namespace grape::sim {

struct RunRecord {
  std::string scenario;  // its name
  std::string file;      // the YAML file it came from
  uint64_t seed = 0;
  size_t nodes = 0;    // nodes n1..nN (more may join: see trace events)
  VirtualTime end;     // when the run stopped
  std::string result;  // "pass", "fail" or "unknown" (sim::to_string(Verdict))
  std::string replay;  // the command that replays it
  uint64_t trace_hash = 0;
  std::vector<TraceEvent> events;  // in time order
  History history;
  std::vector<Violation> violations;  // the first is highlighted
};

// Renders the page: a header (scenario, seed, result, replay command, trace hash, duration and
// every violation), a legend, then one SVG timeline whose width is proportional to the virtual
// duration (inline JS adds zoom; without it the page still shows everything). Any field may be
// empty (an empty run renders a page with empty rows). Commit marks are thinned to at most one per
// pixel column per node, so the size grows with the number of client operations, about 150 bytes
// each, and not with the number of commits.
std::string render_report_html(const RunRecord& run);

// `text` made safe for HTML text and attribute values: & < > " ' become entities, a newline
// becomes &#10; (a line break in tooltips), well-formed printable UTF-8 is kept, and every other
// byte (control characters, malformed UTF-8) is shown as \xNN.
std::string escape_html(std::string_view text);

}  // namespace grape::sim
