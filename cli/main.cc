// The `grape` program: parses the command line, calls sim/ or net/, prints. No logic of its own.
// Exit codes (cli/common.h): 0 success, 1 a check or request failed, 2 bad input, 3 a check
// could not decide.

#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/bench_cmd.h"
#include "cli/common.h"
#include "cli/demo_cmd.h"
#include "cli/history_cmd.h"
#include "cli/node_cmd.h"
#include "cli/scenario_cmd.h"
#include "cli/shard_cmd.h"
#include "cli/wal_cmd.h"
#include "core/base/version.h"
#include "core/shard/placement.h"
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

// --endpoints, --token, --timeout and --format: what every client command takes.
struct ClientOptions {
  grape::cli::ClientArgs args;
  FormatOption format;
  void add_to(CLI::App* command) {
    command->add_option("--endpoints", args.endpoints,
                        "Nodes' HTTP addresses, comma-separated (default: $GRAPE_ENDPOINTS, else "
                        "http://127.0.0.1:8001)");
    command->add_option("--token", args.token,
                        "The cluster token, for admin calls (default: $GRAPE_TOKEN)");
    command->add_option("--timeout", args.timeout, "Per request (e.g. 5s)")->capture_default_str();
    format.add_to(command);
  }
  grape::cli::ClientArgs get() {
    args.format = format.value();
    return args;
  }
};

// `grape node start`: every flag also a key of the --config YAML file; flags win.
CLI::App* add_node_start(CLI::App& app, grape::cli::NodeStartArgs& a) {
  CLI::App* node = app.add_subcommand("node", "Run a grape node (docs/operations.md)");
  node->require_subcommand(1);
  CLI::App* start = node->add_subcommand(
      "start", "Start one node in the foreground; SIGTERM or SIGINT stops it. A restarted node "
               "finds its state in --data-dir");
  start->add_option("--config", a.config,
                    "YAML file of the same settings (keys named like the flags: data-dir: ...); "
                    "flags win");
  start->add_option("--id", a.id, "This node's id: n1, n2, ...");
  start->add_option("--data-dir", a.data_dir, "Where the log and snapshots live");
  start->add_option("--listen-peer", a.listen_peer,
                    "host:port for peers (default: this node's address in --initial-cluster)");
  start->add_option("--listen-http", a.listen_http, "host:port of the HTTP API (default 127.0.0.1:8001)");
  start->add_option("--initial-cluster", a.initial_cluster,
                    "Every initial member: n1=host:port,n2=host:port,... (the same on every node)");
  start->add_option("--initial-cluster-state", a.initial_cluster_state,
                    "new (bootstrap with the initial members; the default) or existing (join a "
                    "running cluster after `grape member add`)");
  start->add_option("--cluster-id", a.cluster_id, "Name of the cluster peers must agree on (default grape)");
  start->add_option("--cluster-token", a.cluster_token,
                    "Shared secret: peers prove it in their handshake, admin calls send it");
  start->add_option("--heartbeat", a.heartbeat, "Leader heartbeat interval (default 100ms)");
  start->add_option("--election-timeout", a.election_timeout,
                    "Election timeout, drawn in [T, 2T) (default 1s)");
  start->add_option("--tick", a.tick, "Timer resolution of the Raft core (default 10ms)");
  start->add_option("--request-timeout", a.request_timeout,
                    "How long a client request may wait for Raft (default 5s)");
  start->add_option("--snapshot-every", a.snapshot_every,
                    "Applied entries between snapshots (default 100000, as etcd)");
  start->add_option("--snapshot-rate", a.snapshot_rate,
                    "Snapshot MiB this node sends per second, over all its shards: moves send "
                    "whole shards, and must not starve the other groups' appends (default 64; 0: "
                    "no limit)");
  start->add_option("--shards", a.shards,
                    "A new cluster's shards, each its own Raft group (default 0: one group holds "
                    "every key). Fixed at creation; later starts and joining nodes take the "
                    "cluster's")
      ->check(CLI::Range(0, 65536));
  start->add_option("--replication", a.replication,
                    "A new sharded cluster's replicas per shard (default 3)")
      ->check(CLI::Range(1, 7));
  start->add_option("--log-level", a.log_level, "debug, info, warn or error (default info)");
  return start;
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
  bool demo_simulated = false;
  DemoArgs demo_args;
  CLI::App* demo = app.add_subcommand(
      "demo",
      "Start three real nodes on this machine, write keys, kill -9 the leader, show the new "
      "leader and every acknowledged key, restart the old node and show it catch up; then stop "
      "and remove everything. --simulated: a narrated 5-node run in the simulator instead");
  demo->add_flag("--keep", demo_args.keep,
                 "Leave the cluster running and print how to talk to it and how to stop it");
  demo->add_flag("--simulated", demo_simulated,
                 "The simulated tour: a 5-node cluster through a leader crash and a partition");
  demo->add_option("--seed", demo_seed, "With --simulated: seed of the run (same seed, same run)")
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

  NodeStartArgs node_args;
  CLI::App* node_start_cmd = add_node_start(app, node_args);

  CLI::App* cluster = app.add_subcommand("cluster", "The cluster as the nodes see it");
  cluster->require_subcommand(1);
  ClientOptions status_options;
  CLI::App* status_cmd = cluster->add_subcommand(
      "status", "Leader, term, commit index and every member's role and match index");
  status_options.add_to(status_cmd);

  CLI::App* kv = app.add_subcommand("kv", "Read and write keys through any node");
  kv->require_subcommand(1);
  ClientOptions kv_options;
  std::string kv_key, kv_value;
  std::vector<std::string> cas_values;
  bool stale = false, absent = false;
  CLI::App* put_cmd = kv->add_subcommand("put", "Write KEY = VALUE");
  put_cmd->add_option("key", kv_key, "Key")->required();
  put_cmd->add_option("value", kv_value, "Value")->required();
  kv_options.add_to(put_cmd);
  CLI::App* get_cmd = kv->add_subcommand(
      "get", "Print the value of KEY alone (exit 1 when absent); linearizable unless --stale");
  get_cmd->add_option("key", kv_key, "Key")->required();
  get_cmd->add_flag("--stale", stale, "Read the node's local state, without asking the leader");
  kv_options.add_to(get_cmd);
  CLI::App* del_cmd = kv->add_subcommand("del", "Delete KEY");
  del_cmd->add_option("key", kv_key, "Key")->required();
  kv_options.add_to(del_cmd);
  CLI::App* cas_cmd = kv->add_subcommand(
      "cas", "Compare and swap: KEY OLD NEW writes NEW if KEY holds OLD (exit 1 if not); "
             "--absent KEY NEW writes NEW if KEY is absent");
  cas_cmd->add_option("key", kv_key, "Key")->required();
  cas_cmd->add_option("values", cas_values, "OLD NEW (or NEW with --absent)")->required();
  cas_cmd->add_flag("--absent", absent, "Swap only if KEY is absent");
  kv_options.add_to(cas_cmd);

  CLI::App* member = app.add_subcommand("member", "List, add, remove and promote members");
  member->require_subcommand(1);
  ClientOptions member_options;
  std::string member_id, member_address;
  bool learner = false;
  CLI::App* mlist_cmd = member->add_subcommand("list", "Every member, its role and address");
  member_options.add_to(mlist_cmd);
  CLI::App* madd_cmd = member->add_subcommand(
      "add", "Add ID at PEER_ADDRESS (admin); then start it with --initial-cluster-state existing");
  madd_cmd->add_option("id", member_id, "New member's id (n4)")->required();
  madd_cmd->add_option("peer_address", member_address, "Its peer address host:port")->required();
  madd_cmd->add_flag("--learner", learner, "Add as a learner (no vote) to promote later");
  member_options.add_to(madd_cmd);
  CLI::App* mremove_cmd = member->add_subcommand("remove", "Remove member ID (admin)");
  mremove_cmd->add_option("id", member_id, "Member id")->required();
  member_options.add_to(mremove_cmd);
  CLI::App* mpromote_cmd = member->add_subcommand("promote", "Make learner ID a voter (admin)");
  mpromote_cmd->add_option("id", member_id, "Member id")->required();
  member_options.add_to(mpromote_cmd);

  CLI::App* leader = app.add_subcommand("leader", "Leadership");
  leader->require_subcommand(1);
  ClientOptions leader_options;
  std::string transfer_to;
  CLI::App* transfer_cmd = leader->add_subcommand(
      "transfer", "Move leadership to ID (default: the most caught-up voter) (admin)");
  transfer_cmd->add_option("id", transfer_to, "Target member id");
  leader_options.add_to(transfer_cmd);

  BenchArgs bench_args;
  ClientOptions bench_options;
  grape::cli::ShardPlanArgs shard_plan_args;
  FormatOption shard_plan_format;
  CLI::App* shard = app.add_subcommand("shard", "Shards: placement, routing and rebalancing");
  shard->require_subcommand(1);
  CLI::App* shard_plan_cmd = shard->add_subcommand(
      "plan",
      "Offline planner: place --shards on n1..nN (consistent hashing with bounded loads, then "
      "balanced), or with --from plan the moves from an existing placement");
  shard_plan_cmd->add_option("--nodes", shard_plan_args.nodes, "Nodes n1..nN")
      ->capture_default_str()
      ->check(CLI::Range(1u, grape::shard::kMaxNodes));
  shard_plan_cmd->add_option("--weights", shard_plan_args.weights,
                             "Capacity of each node, comma-separated (default: all equal)")
      ->delimiter(',');
  shard_plan_cmd->add_option("--remove", shard_plan_args.remove,
                             "Nodes leaving, comma-separated: their replicas move away")
      ->delimiter(',');
  shard_plan_cmd->add_option("--shards", shard_plan_args.shards, "Shards (fixed for a cluster)")
      ->capture_default_str()
      ->check(CLI::Range(1u, grape::shard::kMaxShards));
  shard_plan_cmd->add_option("--replication", shard_plan_args.replication, "Replicas per shard")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  shard_plan_cmd->add_option("--epsilon", shard_plan_args.epsilon,
                             "Bounded loads: no node above (1 + epsilon) x its fair share")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  shard_plan_cmd->add_option("--virtual-nodes", shard_plan_args.virtual_nodes,
                             "Points on the hash ring per node of average weight")
      ->capture_default_str()
      ->check(CLI::Range(1u, 4096u));
  shard_plan_cmd->add_option("--from", shard_plan_args.from,
                             "A placement as JSON (this command's --format json output, or GET "
                             "/v1/shards): print the moves that take it to the new placement")
      ->check(CLI::ExistingFile);
  shard_plan_format.add_to(shard_plan_cmd);
  ClientOptions shard_options;
  std::string shard_id, shard_key;
  bool dry_run = false;
  CLI::App* shard_list_cmd =
      shard->add_subcommand("list", "Every shard of a running cluster: epoch, replicas, leaders");
  shard_options.add_to(shard_list_cmd);
  CLI::App* shard_show_cmd =
      shard->add_subcommand("show", "One shard: its replicas, leader, Raft state and moves");
  shard_show_cmd->add_option("id", shard_id, "Shard number (0..S-1)")->required();
  shard_options.add_to(shard_show_cmd);
  CLI::App* shard_route_cmd = shard->add_subcommand("route", "The shard and replicas a key goes to");
  shard_route_cmd->add_option("key", shard_key, "The key")->required();
  shard_options.add_to(shard_route_cmd);
  CLI::App* shard_rebalance_cmd = shard->add_subcommand(
      "rebalance", "Plan again now (admin): replicas and leaders even out over the active nodes");
  shard_rebalance_cmd->add_flag("--dry-run", dry_run, "Only print the moves the plan would make");
  shard_options.add_to(shard_rebalance_cmd);
  CLI::App* shard_status_cmd =
      shard->add_subcommand("status", "Rebalancing progress: moves by state, and each node's load");
  shard_options.add_to(shard_status_cmd);

  CLI::App* bench_load_cmd = app.add_subcommand(
      "bench", "Drive a running cluster over HTTP and print throughput and latency percentiles");
  bench_options.add_to(bench_load_cmd);
  bench_load_cmd->add_option("--clients", bench_args.clients, "Concurrent clients, one call in flight each")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10'000}));
  bench_load_cmd->add_option("--duration", bench_args.duration, "How long to drive the load")
      ->capture_default_str();
  bench_load_cmd->add_option("--op", bench_args.op, "put, get (linearizable) or mixed (half each)")
      ->capture_default_str()
      ->check(CLI::IsMember({"put", "get", "mixed"}));
  bench_load_cmd->add_option("--keys", bench_args.keys, "Key space (16-byte keys)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100'000'000}));
  bench_load_cmd->add_option("--value-bytes", bench_args.value_bytes, "Bytes per value written")
      ->capture_default_str()
      ->check(CLI::Range(size_t{0}, size_t{1} << 20));
  bench_load_cmd->add_option("--history", bench_args.history,
                             "Write every call as JSON lines (then a read of every key) for "
                             "`grape history check`");

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

  if (demo->parsed() && !demo_simulated) return real_demo(demo_args);
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
  if (node_start_cmd->parsed()) return node_start(node_args);
  if (bench_load_cmd->parsed()) {
    bench_args.client = bench_options.get();
    return grape::cli::bench(bench_args);
  }
  if (status_cmd->parsed()) return cluster_status(status_options.get());
  if (put_cmd->parsed()) return kv_put(kv_options.get(), kv_key, kv_value);
  if (get_cmd->parsed()) return kv_get(kv_options.get(), kv_key, stale);
  if (del_cmd->parsed()) return kv_del(kv_options.get(), kv_key);
  if (cas_cmd->parsed()) return kv_cas(kv_options.get(), kv_key, cas_values, absent);
  if (mlist_cmd->parsed()) return member_list(member_options.get());
  if (madd_cmd->parsed()) return member_add(member_options.get(), member_id, member_address, learner);
  if (mremove_cmd->parsed()) return member_remove(member_options.get(), member_id);
  if (mpromote_cmd->parsed()) return member_promote(member_options.get(), member_id);
  if (transfer_cmd->parsed()) return leader_transfer(leader_options.get(), transfer_to);
  if (shard_list_cmd->parsed()) return grape::cli::shard_list(shard_options.get());
  if (shard_show_cmd->parsed()) return grape::cli::shard_show(shard_options.get(), shard_id);
  if (shard_route_cmd->parsed()) return grape::cli::shard_route(shard_options.get(), shard_key);
  if (shard_rebalance_cmd->parsed()) return grape::cli::shard_rebalance(shard_options.get(), dry_run);
  if (shard_status_cmd->parsed()) return grape::cli::shard_status(shard_options.get());
  if (shard_plan_cmd->parsed()) {
    shard_plan_args.format = shard_plan_format.value();
    shard_plan_args.shards_given = shard_plan_cmd->count("--shards") > 0;
    shard_plan_args.replication_given = shard_plan_cmd->count("--replication") > 0;
    return grape::cli::shard_plan(shard_plan_args);
  }
  if (check_cmd->parsed()) {
    check.format = check_format.value();
    return history_check(check);
  }
  return kExitOk;
}
