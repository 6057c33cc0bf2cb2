#include "sim/history_io.h"

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

namespace grape::sim {

namespace {

using nlohmann::json;

json op_value(const std::optional<std::string>& value) {
  return value ? json(*value) : json(nullptr);
}

}  // namespace

std::string to_jsonl(const History& history) {
  struct Line {
    int64_t time_ns;
    uint64_t order;  // invocations before completions at the same instant, then by op
    json value;
  };
  std::vector<Line> lines;
  for (const Operation& op : history.ops) {
    json invoke{{"process", op.process},
                {"type", "invoke"},
                {"f", to_string(op.kind)},
                {"key", op.key},
                {"time_ns", op.invoked.ns}};
    if (op.kind == OpKind::kPut || op.kind == OpKind::kCas) invoke["value"] = op_value(op.value);
    if (op.kind == OpKind::kCas) invoke["expected"] = op_value(op.expected);
    lines.push_back({op.invoked.ns, op.id * 2, invoke});
    json done = invoke;
    done["type"] = to_string(op.outcome == OpOutcome::kPending ? OpOutcome::kInfo : op.outcome);
    done["time_ns"] = op.completed.ns;
    if (op.kind == OpKind::kGet && op.outcome == OpOutcome::kOk) done["value"] = op_value(op.value);
    lines.push_back({op.completed.ns, op.id * 2 + 1, done});
  }
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    return a.time_ns != b.time_ns ? a.time_ns < b.time_ns : a.order < b.order;
  });
  std::string out;
  for (const Line& line : lines) out += line.value.dump() + "\n";
  return out;
}

}  // namespace grape::sim
