#include "cli/history_cmd.h"

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/history.h"
#include "sim/history_io.h"

namespace grape::cli {

namespace {

using nlohmann::json;

enum class Verdict { kLinearizable, kNotLinearizable, kUnknown };

// Everything the output shows; the history and lines are the file's.
struct CheckReport {
  std::string file;
  const sim::History* history = nullptr;
  const std::vector<sim::OpLines>* lines = nullptr;
  uint64_t max_states = 0;
  sim::LinearizabilityResult result;
  std::optional<sim::MinimalViolation> minimal;  // when not linearizable

  Verdict verdict() const {
    if (!result.ok) return Verdict::kNotLinearizable;  // a violation outweighs any unknown key
    return result.gave_up ? Verdict::kUnknown : Verdict::kLinearizable;
  }
};

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kLinearizable:
      return "linearizable";
    case Verdict::kNotLinearizable:
      return "not_linearizable";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "unknown";
}

// The whole file, or nullopt after saying why on stderr.
std::optional<std::string> read_text(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    std::cerr << "grape: " << path << ": no such file\n";
    return std::nullopt;
  }
  if (!std::filesystem::is_regular_file(path, error)) {
    std::cerr << "grape: " << path << ": not a regular file\n";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    std::cerr << "grape: " << path << ": cannot read\n";
    return std::nullopt;
  }
  return text;
}

std::vector<const sim::KeyCheck*> undecided_keys(const sim::LinearizabilityResult& result) {
  std::vector<const sim::KeyCheck*> keys;
  for (const sim::KeyCheck& key : result.keys) {
    if (key.verdict == sim::KeyVerdict::kGaveUp) keys.push_back(&key);
  }
  return keys;
}

// "1 key", "8 keys".
std::string counted(size_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

// "lines 3, 7" (invocation, completion) or "line 3" (no completion).
std::string lines_text(const sim::OpLines& lines) {
  if (lines.complete == 0) return "line " + std::to_string(lines.invoke);
  return "lines " + std::to_string(lines.invoke) + ", " + std::to_string(lines.complete);
}

json value_json(const std::optional<std::string>& value) {
  return value ? json(*value) : json(nullptr);
}

json op_json(const sim::Operation& op, const sim::OpLines& lines) {
  const bool completed = op.outcome != sim::OpOutcome::kPending;
  json out{{"process", op.process},
           {"type", sim::to_string(op.outcome)},
           {"f", sim::to_string(op.kind)},
           {"key", op.key},
           {"invoke_ns", op.invoked.ns},
           {"complete_ns", completed ? json(op.completed.ns) : json(nullptr)},
           {"invoke_line", lines.invoke},
           {"complete_line", completed ? json(lines.complete) : json(nullptr)},
           {"description", sim::describe(op)}};
  if (op.kind == sim::OpKind::kCas) out["expected"] = value_json(op.expected);
  const bool read_value = op.kind == sim::OpKind::kGet && op.outcome == sim::OpOutcome::kOk;
  if (op.kind == sim::OpKind::kPut || op.kind == sim::OpKind::kCas || read_value) {
    out["value"] = value_json(op.value);
  }
  return out;
}

json report_json(const CheckReport& report) {
  const sim::LinearizabilityResult& r = report.result;
  json undecided = json::array();
  for (const sim::KeyCheck* key : undecided_keys(r)) {
    undecided.push_back({{"key", key->key}, {"detail", key->detail}});
  }
  json out{{"file", report.file},
           {"result", verdict_name(report.verdict())},
           {"operations", report.history->ops.size()},
           {"keys", r.keys.size()},
           {"states_explored", r.states_explored},
           {"max_states", report.max_states},
           {"key", r.key.empty() ? json(nullptr) : json(r.key)},
           {"detail", r.detail},
           {"undecided", undecided}};
  if (report.minimal) {
    json ops = json::array();
    for (uint64_t id : report.minimal->op_ids) {
      ops.push_back(op_json(report.history->ops[id], (*report.lines)[id]));
    }
    out["minimal"] = {{"key", report.minimal->key},
                      {"complete", report.minimal->minimal},
                      {"checks", report.minimal->checks},
                      {"ops", ops}};
  }
  return out;
}

void print_minimal_text(const CheckReport& report) {
  const sim::MinimalViolation& minimal = *report.minimal;
  size_t key_ops = 0;
  for (const sim::Operation& op : report.history->ops) key_ops += op.key == minimal.key;
  std::cout << "  smallest set that cannot be ordered: " << minimal.op_ids.size() << " of the "
            << counted(key_ops, "operation") << " on key \"" << minimal.key << "\"";
  if (minimal.minimal) {
    std::cout << " (without any one of them, the rest can be):\n";
  } else {
    std::cout << " (the search for a smaller set stopped after " << minimal.checks << " checks):\n";
  }
  for (uint64_t id : minimal.op_ids) {
    std::cout << "    " << std::left << std::setw(16) << lines_text((*report.lines)[id])
              << sim::describe(report.history->ops[id]) << "\n";
  }
}

void print_text(const CheckReport& report) {
  const sim::LinearizabilityResult& r = report.result;
  switch (report.verdict()) {
    case Verdict::kLinearizable:
      std::cout << report.file << ": linearizable\n";
      break;
    case Verdict::kNotLinearizable:
      std::cout << report.file << ": NOT LINEARIZABLE (key \"" << r.key << "\")\n";
      break;
    case Verdict::kUnknown:
      std::cout << report.file << ": UNKNOWN (the search hit --max-states " << report.max_states
                << ")\n";
      break;
  }
  std::cout << "  " << counted(report.history->ops.size(), "operation") << " on "
            << counted(r.keys.size(), "key") << "; " << r.states_explored << " states explored\n";
  if (!r.ok) std::cout << "  " << r.detail << "\n";
  for (const sim::KeyCheck* key : undecided_keys(r)) std::cout << "  " << key->detail << "\n";
  if (report.minimal) print_minimal_text(report);
}

}  // namespace

int history_check(const HistoryCheckArgs& args) {
  const std::optional<std::string> text = read_text(args.file);
  if (!text) return kExitBadInput;
  std::vector<sim::OpLines> lines;
  auto history = sim::read_jsonl(*text, args.file, &lines);
  if (!history) {
    std::cerr << "grape: " << history.error().to_string() << "\n";
    return kExitBadInput;
  }
  const sim::CheckLimits limits{.max_states = args.max_states};
  CheckReport report{.file = args.file,
                     .history = &*history,
                     .lines = &lines,
                     .max_states = args.max_states,
                     .result = sim::check_linearizable(*history, limits)};
  if (!report.result.ok) {
    report.minimal = sim::minimize_violation(*history, report.result.key, limits);
  }
  if (args.format == Format::kJson) {
    std::cout << report_json(report).dump() << "\n";
  } else {
    print_text(report);
  }
  switch (report.verdict()) {
    case Verdict::kLinearizable:
      return kExitOk;
    case Verdict::kNotLinearizable:
      return kExitFailed;
    case Verdict::kUnknown:
      return kExitUnknown;
  }
  return kExitFailed;
}

}  // namespace grape::cli
