#include "cli/scenario_cmd.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/progress.h"
#include "sim/history_io.h"
#include "sim/report.h"
#include "sim/runner.h"
#include "sim/scenario.h"
#include "sim/shrink.h"

namespace grape::cli {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

std::string hex(uint64_t value) {
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << value;
  return out.str();
}

constexpr uint64_t kMaxStatesDefault = sim::CheckLimits{}.max_states;

// What a replay must repeat besides the file and seed.
struct ReplayFlags {
  uint64_t max_states = kMaxStatesDefault;
  bool chaos = true;
};

// The command that replays a run; a state limit of its own must be replayed too, or the replay
// may decide what the run could not (or the reverse), and so must a run without chaos.
std::string replay_command(const std::string& file, uint64_t seed, const ReplayFlags& flags = {}) {
  std::string command = "grape scenario run " + file + " --seed " + std::to_string(seed);
  if (flags.max_states != kMaxStatesDefault) {
    command += " --max-states " + std::to_string(flags.max_states);
  }
  if (!flags.chaos) command += " --no-chaos";
  return command;
}

// Loads a scenario the simulator can run, or prints one line naming the file and the problem.
std::optional<sim::Scenario> load_runnable(const std::string& file) {
  auto scenario = sim::load_scenario(file);
  if (!scenario) {
    std::cerr << "grape: " << scenario.error().to_string() << "\n";
    return std::nullopt;
  }
  if (auto unsupported = sim::unsupported_feature(*scenario)) {
    std::cerr << "grape: " << file << ": " << *unsupported << "\n";
    return std::nullopt;
  }
  return std::move(*scenario);
}

uint64_t seed_for(const sim::Scenario& scenario, std::optional<uint64_t> seed) {
  return seed.value_or(scenario.seed.value_or(1));
}

json violation_json(const sim::Violation& v) {
  return json{
      {"property", v.property},
      {"at_ms", v.at.ms()},
      {"node", v.node == kNoNode ? json(nullptr) : json("n" + std::to_string(v.node.value))},
      {"detail", v.detail}};
}

// The run's exit code: fail wins over unknown (the verdict already says so).
int exit_code(sim::Verdict verdict) {
  switch (verdict) {
    case sim::Verdict::kPass:
      return kExitOk;
    case sim::Verdict::kFail:
      return kExitFailed;
    case sim::Verdict::kUnknown:
      return kExitUnknown;
  }
  return kExitFailed;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

json result_json(const sim::Scenario& scenario, const std::string& file, uint64_t seed,
                 const sim::RunResult& r, int64_t wall_ms,
                 const ReplayFlags& flags = {}) {
  json violations = json::array();
  for (const auto& v : r.violations) violations.push_back(violation_json(v));
  json undecided = json::array();
  for (const auto& u : r.undecided) {
    undecided.push_back({{"property", u.property}, {"key", u.key}, {"detail", u.detail}});
  }
  const sim::RunStats& s = r.stats;
  return json{{"scenario", scenario.name},
              {"file", file},
              {"seed", seed},
              {"result", sim::to_string(r.verdict)},
              {"violations", violations},
              {"undecided", undecided},
              {"replay", replay_command(file, seed, flags)},
              {"stats",
               {{"sim_ms", s.sim_ms},
                {"wall_ms", wall_ms},
                {"events", s.events},
                {"messages", s.messages},
                {"elections", s.elections},
                {"max_term", s.max_term},
                {"committed", s.committed},
                {"client_ops", s.client_ops},
                {"ok", s.ok},
                {"failed", s.failed},
                {"indeterminate", s.indeterminate}}},
              {"chaos", r.chaos},
              {"trace_hash", hex(r.trace_hash)}};
}

void print_result_text(const sim::Scenario& scenario, const std::string& file, uint64_t seed,
                       const sim::RunResult& r, int64_t wall_ms,
                       const ReplayFlags& flags = {}) {
  const sim::RunStats& s = r.stats;
  std::cout << scenario.name << " (" << file << ", seed " << seed
            << "): " << upper(sim::to_string(r.verdict)) << "\n";
  std::cout << "  simulated " << s.sim_ms << " ms in " << wall_ms << " ms; " << s.events
            << " events, " << s.messages << " messages\n";
  std::cout << "  elections " << s.elections << ", highest term " << s.max_term << "\n";
  std::cout << "  chaos: " << r.chaos << "\n";
  std::cout << "  client calls " << s.client_ops << ": " << s.ok << " ok, " << s.failed
            << " failed, " << s.indeterminate << " indeterminate; " << s.committed
            << " writes acknowledged\n";
  for (const auto& v : r.violations) {
    std::cout << "  VIOLATED " << v.property << " at " << v.at.ms() << " ms"
              << (v.node == kNoNode ? "" : " on n" + std::to_string(v.node.value)) << ": "
              << v.detail << "\n";
  }
  for (const auto& u : r.undecided) {
    std::cout << "  UNDECIDED " << u.property << ": " << u.detail << "\n";
  }
  std::cout << "  trace hash " << hex(r.trace_hash) << "\n";
  if (r.verdict != sim::Verdict::kPass) {
    std::cout << "  replay: " << replay_command(file, seed, flags) << "\n";
  }
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    std::cerr << "grape: cannot write " << path << "\n";
    return false;
  }
  return true;
}

std::string_view trace_kind_name(sim::TraceKind kind) {
  switch (kind) {
    case sim::TraceKind::kRoleChange:
      return "role";
    case sim::TraceKind::kCrash:
      return "crash";
    case sim::TraceKind::kRestart:
      return "restart";
    case sim::TraceKind::kPause:
      return "pause";
    case sim::TraceKind::kResume:
      return "resume";
    case sim::TraceKind::kPartition:
      return "partition";
    case sim::TraceKind::kCut:
      return "cut";
    case sim::TraceKind::kHeal:
      return "heal";
    case sim::TraceKind::kLinkChange:
      return "link";
    case sim::TraceKind::kDiskFault:
      return "disk";
    case sim::TraceKind::kDrift:
      return "drift";
    case sim::TraceKind::kCommit:
      return "commit";
    case sim::TraceKind::kNoOp:
      return "noop";
    case sim::TraceKind::kViolation:
      return "violation";
    case sim::TraceKind::kNote:
      return "note";
  }
  return "unknown";
}

std::string trace_jsonl(const sim::RunResult& r) {
  std::string out;
  for (const sim::TraceEvent& e : r.events) {
    json line{{"time_ns", e.at.ns}, {"kind", trace_kind_name(e.kind)}};
    if (e.node != kNoNode) line["node"] = "n" + std::to_string(e.node.value);
    if (e.kind == sim::TraceKind::kRoleChange) {
      line["role"] = raft::to_string(e.role);
      line["term"] = e.term.value;
      if (e.leader != kNoNode) line["leader"] = "n" + std::to_string(e.leader.value);
    }
    if (e.kind == sim::TraceKind::kCommit) line["index"] = e.index.value;
    if (!e.detail.empty()) line["detail"] = e.detail;
    out += line.dump() + "\n";
  }
  for (const sim::Violation& v : r.violations) {
    json line = violation_json(v);
    line["kind"] = "violation";
    line["time_ns"] = v.at.ns;
    out += line.dump() + "\n";
  }
  return out;
}

sim::RunRecord make_record(const sim::Scenario& scenario, const std::string& file, uint64_t seed,
                           const sim::RunResult& r, const ReplayFlags& flags) {
  sim::RunRecord record;
  record.scenario = scenario.name;
  record.file = file;
  record.seed = seed;
  record.nodes = scenario.cluster.nodes;
  record.end = r.end;
  record.result = sim::to_string(r.verdict);
  record.replay = replay_command(file, seed, flags);
  record.trace_hash = r.trace_hash;
  record.events = r.events;
  record.history = r.history;
  record.violations = r.violations;
  return record;
}

// Every .yaml/.yml file under the paths, sorted; a path that is a file counts as given.
std::optional<std::vector<std::string>> scenario_files(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(path, ec)) {
        const auto ext = entry.path().extension();
        if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
          files.push_back(entry.path().string());
        }
      }
    } else if (std::filesystem::is_regular_file(path, ec)) {
      files.push_back(path);
    } else {
      std::cerr << "grape: " << path << ": no such file or directory\n";
      return std::nullopt;
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

struct SweepTask {
  size_t scenario;  // index into SweepReport::scenarios
  uint64_t seed;
};

// A run of a sweep that did not pass: its first violation, or its first undecided check.
struct SweepNote {
  size_t task;  // index into SweepReport::tasks
  std::string property;
  std::string detail;
};

struct SweepReport {
  const std::vector<std::string>* files = nullptr;
  const std::vector<sim::Scenario>* scenarios = nullptr;  // one per file
  uint64_t seeds = 0;
  ReplayFlags flags;
  std::vector<SweepTask> tasks;
  std::vector<SweepNote> failures;  // verdict fail, in task order
  std::vector<SweepNote> unknowns;  // verdict unknown, in task order
  int64_t wall_ms = 0;
  double events_per_s = 0;
};

json sweep_notes_json(const SweepReport& report, const std::vector<SweepNote>& notes) {
  json list = json::array();
  for (const SweepNote& note : notes) {
    const SweepTask& task = report.tasks[note.task];
    const std::string& file = (*report.files)[task.scenario];
    list.push_back({{"scenario", (*report.scenarios)[task.scenario].name},
                    {"file", file},
                    {"seed", task.seed},
                    {"property", note.property},
                    {"detail", note.detail},
                    {"replay", replay_command(file, task.seed, report.flags)}});
  }
  return list;
}

void print_sweep_json(const SweepReport& report) {
  std::cout << json{{"runs", report.tasks.size()},
                    {"failed", report.failures.size()},
                    {"failures", sweep_notes_json(report, report.failures)},
                    {"unknown", report.unknowns.size()},
                    {"undecided", sweep_notes_json(report, report.unknowns)},
                    {"wall_ms", report.wall_ms},
                    {"events_per_s", static_cast<uint64_t>(report.events_per_s)}}
                   .dump()
            << "\n";
}

void print_sweep_notes_text(const SweepReport& report, const std::vector<SweepNote>& notes,
                            const char* label) {
  for (const SweepNote& note : notes) {
    const SweepTask& task = report.tasks[note.task];
    std::cout << "  " << std::left << std::setw(8) << label << std::setw(28)
              << (*report.scenarios)[task.scenario].name << " seed " << std::setw(6) << task.seed
              << " " << note.property << ": " << note.detail << "\n          replay: "
              << replay_command((*report.files)[task.scenario], task.seed, report.flags)
              << "\n";
  }
}

void print_sweep_text(const SweepReport& report) {
  std::cout << "sweep: " << report.scenarios->size() << " scenarios x " << report.seeds
            << " seeds = " << report.tasks.size() << " runs, " << report.failures.size()
            << " failed, " << report.unknowns.size() << " unknown, " << report.wall_ms << " ms ("
            << static_cast<uint64_t>(report.events_per_s) << " simulated events/s)\n";
  print_sweep_notes_text(report, report.failures, "FAIL");
  print_sweep_notes_text(report, report.unknowns, "UNKNOWN");
}

}  // namespace

int scenario_run(const RunArgs& args) {
  auto scenario = load_runnable(args.file);
  if (!scenario) return kExitBadInput;
  const uint64_t seed = seed_for(*scenario, args.seed);
  sim::RunOptions options;
  options.record_events = !args.trace_file.empty() || !args.report_file.empty();
  options.history_limits.max_states = args.max_states;
  options.chaos = args.chaos;
  const ReplayFlags flags{args.max_states, args.chaos};
  const auto start = Clock::now();
  const sim::RunResult result = sim::run_scenario(*scenario, seed, options);
  const int64_t wall_ms = elapsed_ms(start);

  if (!args.history_file.empty() && !write_file(args.history_file, sim::to_jsonl(result.history))) {
    return kExitBadInput;
  }
  if (!args.trace_file.empty() && !write_file(args.trace_file, trace_jsonl(result))) {
    return kExitBadInput;
  }
  if (!args.report_file.empty() &&
      !write_file(args.report_file, sim::render_report_html(make_record(
                                        *scenario, args.file, seed, result, flags)))) {
    return kExitBadInput;
  }
  if (args.format == Format::kJson) {
    std::cout << result_json(*scenario, args.file, seed, result, wall_ms, flags).dump()
              << "\n";
  } else {
    print_result_text(*scenario, args.file, seed, result, wall_ms, flags);
  }
  return exit_code(result.verdict);
}

int scenario_sweep(const SweepArgs& args) {
  auto files = scenario_files(args.paths);
  if (!files) return kExitBadInput;
  if (files->empty()) {
    std::cerr << "grape: no scenario files (*.yaml) under the given paths\n";
    return kExitBadInput;
  }
  // Load everything first: bad input stops the sweep before any run.
  std::vector<sim::Scenario> scenarios;
  for (const std::string& file : *files) {
    auto scenario = load_runnable(file);
    if (!scenario) return kExitBadInput;
    scenarios.push_back(std::move(*scenario));
  }
  SweepReport report{.files = &*files,
                     .scenarios = &scenarios,
                     .seeds = args.seeds,
                     .flags = {args.max_states, args.chaos}};
  sim::RunOptions options;
  options.history_limits.max_states = args.max_states;
  options.chaos = args.chaos;
  for (size_t i = 0; i < scenarios.size(); ++i) {
    for (uint64_t k = 0; k < args.seeds; ++k) report.tasks.push_back({i, args.seed_from + k});
  }
  const std::vector<SweepTask>& tasks = report.tasks;
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> events{0};
  std::mutex mutex;
  size_t done = 0;
  Progress progress("sweep", tasks.size(), std::max<size_t>(1, tasks.size() / 20));
  const auto start = Clock::now();
  // One simulated world per thread: worlds share nothing, so runs stay deterministic.
  auto worker = [&] {
    for (size_t t = next++; t < tasks.size(); t = next++) {
      const sim::RunResult r =
          sim::run_scenario(scenarios[tasks[t].scenario], tasks[t].seed, options);
      events += r.stats.events;
      std::lock_guard lock(mutex);
      if (r.verdict == sim::Verdict::kFail) {
        report.failures.push_back({t, r.violations.front().property, r.violations.front().detail});
      } else if (r.verdict == sim::Verdict::kUnknown) {
        report.unknowns.push_back({t, r.undecided.front().property, r.undecided.front().detail});
      }
      progress.update(++done, report.failures.size());
    }
  };
  const unsigned jobs = args.jobs ? args.jobs : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  for (unsigned j = 1; j < std::min<size_t>(jobs, tasks.size()); ++j) threads.emplace_back(worker);
  worker();
  for (auto& thread : threads) thread.join();
  report.wall_ms = elapsed_ms(start);
  report.events_per_s = report.wall_ms > 0 ? static_cast<double>(events) * 1000.0 /
                                                 static_cast<double>(report.wall_ms)
                                           : 0;
  // Threads finish in any order; the report lists runs in task order.
  const auto by_task = [](const SweepNote& a, const SweepNote& b) { return a.task < b.task; };
  std::sort(report.failures.begin(), report.failures.end(), by_task);
  std::sort(report.unknowns.begin(), report.unknowns.end(), by_task);
  if (args.format == Format::kJson) {
    print_sweep_json(report);
  } else {
    print_sweep_text(report);
  }
  if (!report.failures.empty()) return kExitFailed;
  return report.unknowns.empty() ? kExitOk : kExitUnknown;
}

int scenario_replay(const std::string& file, std::optional<uint64_t> seed, Format format) {
  auto scenario = load_runnable(file);
  if (!scenario) return kExitBadInput;
  const uint64_t s = seed_for(*scenario, seed);
  const auto start = Clock::now();
  const sim::RunResult first = sim::run_scenario(*scenario, s);
  const int64_t wall_ms = elapsed_ms(start);
  const sim::RunResult second = sim::run_scenario(*scenario, s);
  const bool identical =
      first.trace_hash == second.trace_hash && first.stats.events == second.stats.events;
  if (format == Format::kJson) {
    json out = result_json(*scenario, file, s, first, wall_ms);
    out["replayed_trace_hash"] = hex(second.trace_hash);
    out["deterministic"] = identical;
    std::cout << out.dump() << "\n";
  } else {
    print_result_text(*scenario, file, s, first, wall_ms);
    std::cout << "  replayed: trace hash " << hex(second.trace_hash) << " -> "
              << (identical ? "identical, the run is deterministic" : "DIFFERENT: nondeterminism!")
              << "\n";
  }
  if (!identical) return kExitFailed;
  return exit_code(first.verdict);
}

int scenario_shrink(const std::string& file, std::optional<uint64_t> seed,
                    const std::string& output) {
  auto scenario = load_runnable(file);
  if (!scenario) return kExitBadInput;
  const uint64_t s = seed_for(*scenario, seed);
  sim::ShrinkOptions options;
  const bool tty = isatty(STDERR_FILENO) != 0;
  options.progress = [tty](int runs, size_t faults, bool failed) {
    if (tty || runs % 10 == 0) {
      std::fprintf(stderr, "%sshrink: %d runs, trying %zu faults (%s)%s", tty ? "\r" : "", runs,
                   faults, failed ? "still fails" : "passes", tty ? "   " : "\n");
    }
  };
  auto result = sim::shrink_scenario(*scenario, s, options);
  if (tty) std::fputc('\n', stderr);
  if (!result) {
    std::cerr << "grape: " << file << ": " << result.error() << "\n";
    return kExitFailed;
  }
  if (!write_file(output, sim::to_yaml(result->minimal))) return kExitBadInput;
  std::cout << "shrunk " << file << " (seed " << s << ", " << result->property
            << "): " << result->faults_before << " -> " << result->faults_after << " faults in "
            << result->runs << " runs\n"
            << "  written to " << output << "; replay: " << replay_command(output, s) << "\n";
  return kExitOk;
}

}  // namespace grape::cli
