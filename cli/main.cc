// The `grape` program: parses the command line, calls sim/ or net/, prints. No logic of its own.
// Exit codes (cli/common.h): 0 success, 1 a check or request failed, 2 bad input, 3 a check
// could not decide.

#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/common.h"
#include "cli/history_cmd.h"
#include "cli/scenario_cmd.h"
#include "cli/wal_cmd.h"
#include "core/base/version.h"
#include "sim/demo.h"

namespace {

// --format for a command: `text` (a table for people) or `json` (for scripts).
class FormatOption {
 public:
  void add_to(CLI::App* command) {
    command->add_option("--format", name_, "Output: text (a table for people) or json (scripts)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
  }
  grape::cli::Format value() const {
    return name_ == "json" ? grape::cli::Format::kJson : grape::cli::Format::kText;
  }

 private:
  std::string name_ = "text";
};

// --max-states: the linearizability search's limit per key; past it the verdict is unknown.
void add_max_states(CLI::App* command, uint64_t& max_states) {
  command
      ->add_option("--max-states", max_states,
                   "Per key: configurations the linearizability search may explore before it "
                   "gives up (the verdict is then unknown, exit 3)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, grape::sim::kCheckStatesMax));
}

// --no-chaos: the nominal knobs for every seed (sim/chaos.h).
void add_no_chaos(CLI::App* command, bool& chaos) {
  command->add_flag_callback(
      "--no-chaos", [&chaos] { chaos = false; },
      "Run every seed with the nominal knobs: no per-seed variation of batches, windows, sync "
      "tails, kill points, late replays or clogs");
}

// `grape history check`; returns the `check` command, which fills `args` and `format`.
CLI::App* add_history_commands(CLI::App& app, grape::cli::HistoryCheckArgs& args,
                               FormatOption& format) {
  CLI::App* history = app.add_subcommand(
      "history", "Check client histories: JSON lines in the --history format (docs/scenarios.md)");
  history->require_subcommand(1);
  CLI::App* check = history->add_subcommand(
      "check",
      "Is the history linearizable? Exit 0 yes, 1 no (naming the key and the operations that "
      "cannot be ordered), 3 unknown (a search hit --max-states), 2 bad input");
  check->add_option("file", args.file, "History file (JSON lines, one call event a line)")
      ->required();
  format.add_to(check);
  add_max_states(check, args.max_states);
  return check;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace grape::cli;
  CLI::App app{
      "grape: the distributed layer of the Grape vector database (Raft, sharding, "
      "deterministic simulation)",
      "grape"};
  app.set_version_flag("--version", std::string("grape ") + grape::kVersion);
  app.require_subcommand(1);

  uint64_t demo_seed = 1;
  CLI::App* demo = app.add_subcommand(
      "demo",
      "Run a simulated 5-node cluster through a leader crash and a partition, and tell "
      "what happens");
  demo->add_option("--seed", demo_seed, "Seed of the simulated run (same seed, same run)")
      ->capture_default_str();

  CLI::App* scenario = app.add_subcommand(
      "scenario", "Run YAML fault scenarios in the deterministic simulator (docs/scenarios.md)");
  scenario->require_subcommand(1);

  RunArgs run;
  CLI::App* run_cmd = scenario->add_subcommand("run", "Run one scenario with one seed");
  run_cmd->add_option("file", run.file, "Scenario file (YAML)")->required();
  run_cmd->add_option("--seed", run.seed, "Seed (default: the file's `seed`, else 1)");
  FormatOption run_format;
  run_format.add_to(run_cmd);
  run_cmd->add_option("--trace", run.trace_file, "Write the run's events as JSON lines here");
  run_cmd->add_option("--history", run.history_file,
                      "Write the client history as JSON lines here (Porcupine/Knossos shape)");
  run_cmd->add_option("--report", run.report_file, "Write a self-contained HTML timeline here");
  add_max_states(run_cmd, run.max_states);
  add_no_chaos(run_cmd, run.chaos);

  SweepArgs sweep;
  CLI::App* sweep_cmd =
      scenario->add_subcommand("sweep", "Run every scenario under the paths for many seeds");
  sweep_cmd->add_option("paths", sweep.paths, "Scenario files or folders")->required();
  sweep_cmd->add_option("--seeds", sweep.seeds, "Seeds per scenario")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  sweep_cmd->add_option("--seed-from", sweep.seed_from, "First seed")->capture_default_str();
  sweep_cmd->add_option("--jobs,-j", sweep.jobs, "Runs in parallel (default: one per core)");
  FormatOption sweep_format;
  sweep_format.add_to(sweep_cmd);
  add_max_states(sweep_cmd, sweep.max_states);
  add_no_chaos(sweep_cmd, sweep.chaos);

  std::string replay_file;
  std::optional<uint64_t> replay_seed;
  FormatOption replay_format;
  CLI::App* replay_cmd = scenario->add_subcommand(
      "replay", "Run a scenario twice with one seed and prove the trace hash is identical");
  replay_cmd->add_option("file", replay_file, "Scenario file (YAML)")->required();
  replay_cmd->add_option("--seed", replay_seed, "Seed (default: the file's `seed`, else 1)");
  replay_format.add_to(replay_cmd);

  std::string shrink_file;
  std::optional<uint64_t> shrink_seed;
  std::string shrink_output;
  CLI::App* shrink_cmd = scenario->add_subcommand(
      "shrink", "Find a smaller fault timeline and workload that still fail the same way");
  shrink_cmd->add_option("file", shrink_file, "Scenario file (YAML)")->required();
  shrink_cmd->add_option("--seed", shrink_seed, "The failing seed (default: the file's `seed`)");
  shrink_cmd->add_option("-o,--output", shrink_output, "Where to write the minimal scenario")
      ->required();

  grape::cli::HistoryCheckArgs check;
  FormatOption check_format;
  CLI::App* check_cmd = add_history_commands(app, check, check_format);

  CLI::App* wal = app.add_subcommand(
      "wal", "Inspect and benchmark a node's write-ahead log (docs/storage.md)");
  wal->require_subcommand(1);
  WalInspectArgs inspect;
  FormatOption inspect_format;
  CLI::App* inspect_cmd = wal->add_subcommand(
      "inspect",
      "Print a log's segments, record counts and per-group state; report a torn tail (exit 0: "
      "the next start cuts it off) or corruption with file and offset (exit 1). Read-only");
  inspect_cmd->add_option("dir", inspect.dir, "The log's directory (a node's DATA_DIR/wal)")
      ->required();
  inspect_format.add_to(inspect_cmd);
  WalBenchArgs bench;
  FormatOption bench_format;
  CLI::App* bench_cmd = wal->add_subcommand(
      "bench",
      "Write entries through the real log with group commit on this disk, reopen it, and "
      "report appends per second, entries per sync and recovery time");
  bench_cmd->add_option("--dir", bench.dir, "An empty or new directory for the log")->required();
  bench_cmd->add_option("--entries", bench.entries, "Entries to write")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
  bench_cmd->add_option("--entry-bytes", bench.entry_bytes, "Data bytes per entry")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{0}, uint64_t{64} << 20));
  bench_cmd->add_option("--groups", bench.groups, "Raft groups sharing the log")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000}));
  bench_cmd->add_option("--segment-mb", bench.segment_mb, "Segment size in MiB")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{4096}));
  bench_cmd->add_option("--max-batch", bench.max_batch,
                        "Entries per sync at most, as a node's Ready size caps them (0: every "
                        "entry that arrived during the previous sync)")
      ->capture_default_str();
  bench_cmd->add_flag("--keep", bench.keep, "Leave the log in --dir (for grape wal inspect)");
  bench_format.add_to(bench_cmd);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints which flag or argument is wrong
    return kExitBadInput;
  }

  if (demo->parsed()) {
    const grape::sim::DemoResult result = grape::sim::run_demo(std::cout, demo_seed);
    return result.safe ? kExitOk : kExitFailed;
  }
  if (run_cmd->parsed()) {
    run.format = run_format.value();
    return scenario_run(run);
  }
  if (sweep_cmd->parsed()) {
    sweep.format = sweep_format.value();
    return scenario_sweep(sweep);
  }
  if (replay_cmd->parsed()) return scenario_replay(replay_file, replay_seed, replay_format.value());
  if (shrink_cmd->parsed()) return scenario_shrink(shrink_file, shrink_seed, shrink_output);
  if (inspect_cmd->parsed()) {
    inspect.format = inspect_format.value();
    return wal_inspect(inspect);
  }
  if (bench_cmd->parsed()) {
    bench.format = bench_format.value();
    return wal_bench(bench);
  }
  if (check_cmd->parsed()) {
    check.format = check_format.value();
    return history_check(check);
  }
  return kExitOk;
}
