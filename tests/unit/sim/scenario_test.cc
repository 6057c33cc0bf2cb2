#include "sim/scenario.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <variant>

#include <gtest/gtest.h>

namespace grape::sim {
namespace {

// The full example of docs/scenario-format.md, verbatim.
constexpr const char* kContractExample = R"yaml(
name: leader-isolated                # required; unique within scenarios/
description: >                       # optional
  The leader is cut off from everyone; the majority elects a new leader; after the heal the
  old leader steps down and catches up, and nothing acknowledged is lost.
seed: 1                              # optional default; --seed overrides

cluster:
  nodes: 5                           # required, 1..64
  shards: 0                          # 0: one Raft group over all nodes; S > 0: sharded cluster
  replication: 3                     # sharded only: replicas per shard
  election_timeout: [150ms, 300ms]   # defaults shown
  heartbeat: 50ms
  pre_vote: true
  check_quorum: true
  snapshot_every: 1000               # entries applied between snapshots; 0 = never

network:                             # defaults for every link
  latency: [1ms, 10ms]
  drop: 0.0
  duplicate: 0.0
  reorder: true                      # false: each link delivers in order

disk:
  sync_latency: [0ms, 1ms]

workload:                            # optional; no workload = no client traffic
  clients: 3
  keys: 8
  mix: {put: 0.5, get: 0.4, cas: 0.05, delete: 0.05}
  rate: 200/s                        # total, spread over the clients
  from: 0s
  until: 8s
  timeout: 1s                        # an op without an answer by then is indeterminate

faults:                              # a timeline; each item has `at` and exactly one action
  - {at: 1s,     partition: [[leader], [others]]}     # groups; unlisted nodes form one more group
  - {at: 1s,     cut: {from: [n1], to: [n2, n3]}}     # one-way: n1's messages to n2, n3 are lost
  - {at: 3s,     heal: all}                           # every partition and cut is lifted
  - {at: 4s,     crash: n2}                           # volatile state gone; unsynced disk writes
                                                      # lost too unless `disk` says otherwise
  - {at: 4500ms, restart: n2}                         # recovers from its disk; a node that
                                                      # refuses to start (a corrupt log) stays
                                                      # down, and the trace says why
  - {at: 5s,     pause: {node: n3, for: 500ms}}       # alive but takes no steps, then resumes
  - {at: 5s,     latency: {from: n1, to: all, value: [200ms, 400ms], for: 2s}}
  - {at: 6s,     drop: {from: all, to: n4, rate: 0.5, for: 1s}}
  - {at: 6s,     duplicate: {from: all, to: all, rate: 0.2, for: 1s}}
  - {at: 6s,     drop: {from: n1, to: [n3, n4], rate: 1.0, messages: [append], for: 2s}}
                 # `messages` narrows cut, drop, duplicate and latency to some kinds: append,
                 # append_response, vote, vote_response, pre_vote, pre_vote_response, snapshot,
                 # heartbeat, heartbeat_response, timeout_now (default: every kind)
  - {at: 6s,     disk: {node: n3, fault: torn_write}} # torn_write | corrupt | lose_unsynced:
                                                      # applied at that node's next crash
  - {at: 6s,     disk: {node: n3, fault: full, for: 1s}}  # full | eio: writes (eio: also reads)
                                                      # fail now, for that long
  - {at: 6s,     drift: {node: n5, rate: 1.5, for: 3s}}   # n5's ticks run 1.5x as fast
  - {at: 6500ms, campaign: n4}                        # n4's election timer fires now
  - {at: 7s,     transfer_leader: n3}
  - {at: 7s,     put: {key: a, value: "1"}}           # one scripted client call, recorded
  - {at: 7s,     add_node: n6}                        # one group: joins as a learner, then
                                                      # votes; sharded: joins, takes replicas
  - {at: 8s,     remove_node: n2}                     # one group: leaves the configuration;
                                                      # sharded: its replicas move away first
  - {at: 8s,     rebalance: true}                     # sharded: run the planner now

nemesis:                             # optional random faults, for sweeps; healed at `until`
  kinds: [partition, cut, crash, pause, latency, drop, duplicate, disk, drift]
  interval: [500ms, 2s]
  from: 1s
  until: 8s

run_until: 12s                       # virtual time at which the run stops (required)

expect:                              # what must hold; the Raft safety properties always do
  linearizable: true                 # the client history is linearizable
  no_lost_writes: true               # every acknowledged write is visible at the end
  recovers_within: 2s                # after the last heal: every group has a leader and a
                                     # write commits within this virtual time
  min_committed: 50                  # client writes acknowledged over the run, at least
  max_term: 5                        # no term above this anywhere (e.g. pre-vote scenarios)
  leader_at_end: n3                  # the metadata group's leader when the run stops
  max_load_stddev_pct: 10            # sharded: per-node replica (and leader) count
  converged: true                    # sharded: no move in flight and the map matches the plan
)yaml";

// A small valid scenario; tests replace or append lines to make it invalid.
constexpr const char* kMinimal =
    "name: minimal\n"    // line 1
    "cluster:\n"         // line 2
    "  nodes: 5\n"       // line 3
    "run_until: 10s\n";  // line 4

Scenario parse_ok(const std::string& yaml) {
  auto result = parse_scenario(yaml, "scenarios/test.yaml");
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().to_string());
  return result ? *result : Scenario{};
}

InputError parse_error(const std::string& yaml) {
  auto result = parse_scenario(yaml, "scenarios/test.yaml");
  EXPECT_FALSE(result.has_value()) << "parsed, but should not have:\n" << yaml;
  return result ? InputError{} : result.error();
}

// The error names the file and the 1-based line, and its message holds `needle`.
void expect_error(const std::string& yaml, int line, const std::string& needle) {
  SCOPED_TRACE("expected error: " + needle);
  const InputError error = parse_error(yaml);
  const std::string text = error.to_string();
  EXPECT_EQ(error.file, "scenarios/test.yaml") << text;
  EXPECT_EQ(error.line, line) << text;
  EXPECT_GE(error.column, 1) << text;
  EXPECT_NE(text.find("scenarios/test.yaml:" + std::to_string(line) + ":"), std::string::npos)
      << text;
  EXPECT_NE(text.find(needle), std::string::npos) << "missing '" << needle << "' in: " << text;
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
}

// kMinimal with one fault appended.
std::string with_fault(const std::string& fault) {
  return std::string(kMinimal) + "faults:\n  - " + fault + "\n";  // the fault is on line 6
}

template <class T>
const T& action(const Scenario& scenario, size_t i) {
  EXPECT_LT(i, scenario.faults.size());
  EXPECT_TRUE(std::holds_alternative<T>(scenario.faults.at(i).action))
      << "fault " << i << " is " << action_name(scenario.faults.at(i).action);
  return std::get<T>(scenario.faults.at(i).action);
}

NodeSet nodes(std::initializer_list<uint64_t> ids) {
  NodeSet set;
  for (uint64_t id : ids) set.push_back(NodeSelector::named(NodeId{id}));
  return set;
}
NodeSet selector(SelectorKind kind) { return {NodeSelector::of(kind)}; }

MessageSet messages(std::initializer_list<MessageKind> kinds) {
  MessageSet set{0};
  for (MessageKind kind : kinds) set.bits |= MessageSet::bit(kind);
  return set;
}

TEST(ScenarioLoader, ContractExampleParsesWithItsValues) {
  const Scenario s = parse_ok(kContractExample);
  EXPECT_EQ(s.name, "leader-isolated");
  EXPECT_EQ(s.description.rfind("The leader is cut off from everyone;", 0), 0u) << s.description;
  EXPECT_EQ(s.seed, 1u);

  EXPECT_EQ(s.cluster.nodes, 5u);
  EXPECT_EQ(s.cluster.shards, 0u);
  EXPECT_EQ(s.cluster.replication, 3u);
  EXPECT_EQ(s.cluster.election_timeout, (DurationRange{milliseconds(150), milliseconds(300)}));
  EXPECT_EQ(s.cluster.heartbeat, milliseconds(50));
  EXPECT_TRUE(s.cluster.pre_vote);
  EXPECT_TRUE(s.cluster.check_quorum);
  EXPECT_EQ(s.cluster.snapshot_every, 1000u);

  EXPECT_EQ(s.network.latency, (DurationRange{milliseconds(1), milliseconds(10)}));
  EXPECT_EQ(s.network.drop, 0.0);
  EXPECT_EQ(s.network.duplicate, 0.0);
  EXPECT_TRUE(s.network.reorder);
  EXPECT_EQ(s.disk.sync_latency, (DurationRange{milliseconds(0), milliseconds(1)}));

  ASSERT_TRUE(s.workload.has_value());
  EXPECT_EQ(s.workload->clients, 3u);
  EXPECT_EQ(s.workload->keys, 8u);
  EXPECT_EQ(s.workload->mix, (OperationMix{0.5, 0.4, 0.05, 0.05}));
  EXPECT_EQ(s.workload->rate, (Rate{200, seconds(1)}));
  EXPECT_EQ(s.workload->from, seconds(0));
  EXPECT_EQ(s.workload->until, seconds(8));
  EXPECT_EQ(s.workload->timeout, seconds(1));

  ASSERT_EQ(s.faults.size(), 19u);
  EXPECT_EQ(s.faults[0].at, seconds(1));
  EXPECT_EQ(
      action<PartitionFault>(s, 0).groups,
      (std::vector<NodeSet>{selector(SelectorKind::kLeader), selector(SelectorKind::kOthers)}));
  EXPECT_EQ(action<CutFault>(s, 1), (CutFault{nodes({1}), nodes({2, 3}), MessageSet{}}));
  EXPECT_EQ(s.faults[2].at, seconds(3));
  action<HealFault>(s, 2);
  EXPECT_EQ(action<CrashFault>(s, 3).nodes, nodes({2}));
  EXPECT_EQ(s.faults[4].at, milliseconds(4500));
  EXPECT_EQ(action<RestartFault>(s, 4).nodes, nodes({2}));
  EXPECT_EQ(action<PauseFault>(s, 5), (PauseFault{nodes({3}), milliseconds(500)}));
  EXPECT_EQ(action<LatencyFault>(s, 6), (LatencyFault{nodes({1}),
                                                      selector(SelectorKind::kAll),
                                                      {milliseconds(200), milliseconds(400)},
                                                      seconds(2),
                                                      MessageSet{}}));
  EXPECT_EQ(action<DropFault>(s, 7),
            (DropFault{selector(SelectorKind::kAll), nodes({4}), 0.5, seconds(1), MessageSet{}}));
  EXPECT_EQ(action<DuplicateFault>(s, 8),
            (DuplicateFault{selector(SelectorKind::kAll), selector(SelectorKind::kAll), 0.2,
                            seconds(1), MessageSet{}}));
  EXPECT_EQ(action<DropFault>(s, 9), (DropFault{nodes({1}), nodes({3, 4}), 1.0, seconds(2),
                                                messages({MessageKind::kAppend})}));
  EXPECT_EQ(action<DiskFault>(s, 10),
            (DiskFault{nodes({3}), DiskFaultKind::kTornWrite, std::nullopt}));
  EXPECT_EQ(action<DiskFault>(s, 11), (DiskFault{nodes({3}), DiskFaultKind::kFull, seconds(1)}));
  EXPECT_EQ(action<DriftFault>(s, 12), (DriftFault{nodes({5}), 1.5, seconds(3)}));
  EXPECT_EQ(s.faults[13].at, milliseconds(6500));
  EXPECT_EQ(action<CampaignFault>(s, 13).nodes, nodes({4}));
  EXPECT_EQ(action<TransferLeaderFault>(s, 14).target, NodeSelector::named(NodeId{3}));
  EXPECT_EQ(action<PutFault>(s, 15), (PutFault{"a", "1"}));
  EXPECT_EQ(action<AddNodeFault>(s, 16).node, NodeId{6});
  EXPECT_EQ(action<RemoveNodeFault>(s, 17).nodes, nodes({2}));
  EXPECT_EQ(s.faults[18].at, seconds(8));
  action<RebalanceFault>(s, 18);

  ASSERT_TRUE(s.nemesis.has_value());
  EXPECT_EQ(s.nemesis->kinds.size(), 9u);
  EXPECT_EQ(s.nemesis->kinds.front(), NemesisKind::kPartition);
  EXPECT_EQ(s.nemesis->kinds.back(), NemesisKind::kDrift);
  EXPECT_EQ(s.nemesis->interval, (DurationRange{milliseconds(500), seconds(2)}));
  EXPECT_EQ(s.nemesis->from, seconds(1));
  EXPECT_EQ(s.nemesis->until, seconds(8));

  EXPECT_EQ(s.run_until, seconds(12));
  EXPECT_EQ(s.expect.linearizable, true);
  EXPECT_EQ(s.expect.no_lost_writes, true);
  EXPECT_EQ(s.expect.recovers_within, seconds(2));
  EXPECT_EQ(s.expect.min_committed, 50u);
  EXPECT_EQ(s.expect.max_term, 5u);
  EXPECT_EQ(s.expect.leader_at_end, NodeId{3});
  EXPECT_EQ(s.expect.max_load_stddev_pct, 10.0);
  EXPECT_EQ(s.expect.converged, true);
}

TEST(ScenarioLoader, DefaultsApplyWhenKeysAreAbsent) {
  const Scenario s = parse_ok(kMinimal);
  EXPECT_EQ(s.name, "minimal");
  EXPECT_EQ(s.description, "");
  EXPECT_FALSE(s.seed.has_value());
  EXPECT_EQ(
      s.cluster,
      (ClusterSpec{
          5, 0, 3, {milliseconds(150), milliseconds(300)}, milliseconds(50), true, true, 1000}));
  EXPECT_EQ(s.network, NetworkSpec{});
  EXPECT_EQ(s.network.latency, (DurationRange{milliseconds(1), milliseconds(10)}));
  EXPECT_EQ(s.network.drop, 0.0);
  EXPECT_TRUE(s.network.reorder);
  EXPECT_EQ(s.disk.sync_latency, (DurationRange{milliseconds(0), milliseconds(1)}));
  EXPECT_FALSE(s.workload.has_value());
  EXPECT_TRUE(s.faults.empty());
  EXPECT_FALSE(s.nemesis.has_value());
  EXPECT_EQ(s.run_until, seconds(10));
  EXPECT_EQ(s.expect, ExpectSpec{});

  const Scenario w = parse_ok(std::string(kMinimal) + "workload: {}\nnemesis: {}\n");
  ASSERT_TRUE(w.workload.has_value());
  EXPECT_EQ(w.workload->clients, 3u);
  EXPECT_EQ(w.workload->keys, 8u);
  EXPECT_EQ(w.workload->mix, (OperationMix{0.5, 0.4, 0.05, 0.05}));
  EXPECT_EQ(w.workload->rate, (Rate{200, seconds(1)}));
  EXPECT_EQ(w.workload->from, seconds(0));
  EXPECT_FALSE(w.workload->until.has_value());
  EXPECT_EQ(w.workload->timeout, seconds(1));
  ASSERT_TRUE(w.nemesis.has_value());
  EXPECT_EQ(*w.nemesis, NemesisSpec{});
}

TEST(ScenarioLoader, FaultsAreSortedByTimeKeepingFileOrderForTies) {
  const Scenario s = parse_ok(std::string(kMinimal) +
                              "faults:\n"
                              "  - {at: 3s, crash: n1}\n"
                              "  - {at: 1s, crash: n2}\n"
                              "  - {at: 2s, crash: n3}\n"
                              "  - {at: 1000ms, crash: n4}\n"
                              "  - {at: 1s, restart: n5}\n");
  ASSERT_EQ(s.faults.size(), 5u);
  EXPECT_EQ(action<CrashFault>(s, 0).nodes, nodes({2}));
  EXPECT_EQ(action<CrashFault>(s, 1).nodes, nodes({4}));
  EXPECT_EQ(action<RestartFault>(s, 2).nodes, nodes({5}));
  EXPECT_EQ(action<CrashFault>(s, 3).nodes, nodes({3}));
  EXPECT_EQ(action<CrashFault>(s, 4).nodes, nodes({1}));
}

TEST(ScenarioLoader, DurationsRangesAndRatesAcceptTheirDocumentedForms) {
  const Scenario s = parse_ok(
      "name: forms\n"
      "cluster: {nodes: 3, election_timeout: 200ms, heartbeat: 1.5ms}\n"
      "network: {latency: [500us, 2ms]}\n"
      "workload: {rate: 1/2s, until: 1m, timeout: 250000ns}\n"
      "run_until: 1.5s\n");
  EXPECT_EQ(s.cluster.election_timeout, (DurationRange{milliseconds(200), milliseconds(200)}));
  EXPECT_EQ(s.cluster.heartbeat, microseconds(1500));
  EXPECT_EQ(s.network.latency, (DurationRange{microseconds(500), milliseconds(2)}));
  EXPECT_EQ(s.workload->rate, (Rate{1, seconds(2)}));
  EXPECT_EQ(s.workload->until, seconds(60));
  EXPECT_EQ(s.workload->timeout, microseconds(250));
  EXPECT_EQ(s.run_until, milliseconds(1500));
  EXPECT_EQ(parse_ok(std::string(kMinimal) + "workload: {rate: 5/ms}\n").workload->rate,
            (Rate{5, milliseconds(1)}));
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(seconds(120)), "2m");
  EXPECT_EQ(format_duration(Duration{}), "0s");
  EXPECT_FALSE(parse_duration("1.0000000001s").has_value());  // finer than a nanosecond
}

TEST(ScenarioLoader, NodeFieldsTakeANodeASelectorOrAList) {
  const Scenario s = parse_ok(with_fault("{at: 1s, partition: [n1, [n2, leader], [{leader_of: 0}, "
                                         "random_minority], random_majority]}") +
                              "  - {at: 2s, crash: [followers, n5]}\n"
                              "  - {at: 3s, transfer_leader: random}\n");
  EXPECT_EQ(
      action<PartitionFault>(s, 0).groups,
      (std::vector<NodeSet>{
          nodes({1}),
          {NodeSelector::named(NodeId{2}), NodeSelector::of(SelectorKind::kLeader)},
          {NodeSelector::leader_of(ShardId{0}), NodeSelector::of(SelectorKind::kRandomMinority)},
          selector(SelectorKind::kRandomMajority)}));
  EXPECT_EQ(action<CrashFault>(s, 1).nodes,
            (NodeSet{NodeSelector::of(SelectorKind::kFollowers), NodeSelector::named(NodeId{5})}));
  EXPECT_EQ(action<TransferLeaderFault>(s, 2).target, NodeSelector::of(SelectorKind::kRandom));
}

TEST(ScenarioLoader, UnreadableFileIsAnError) {
  const std::string path = "/nonexistent-dir/none.yaml";
  auto result = load_scenario(path);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().file, path);
  EXPECT_EQ(result.error().line, 0);
  EXPECT_EQ(result.error().to_string().rfind(path + ": cannot open the file", 0), 0u)
      << result.error().to_string();

  auto directory = load_scenario(std::filesystem::temp_directory_path().string());
  ASSERT_FALSE(directory.has_value());
  EXPECT_NE(directory.error().to_string().find("cannot"), std::string::npos);
}

TEST(ScenarioLoader, LoadsAFileAndNamesItInErrors) {
  const auto path = std::filesystem::temp_directory_path() / "grape-scenario-loader-test.yaml";
  {
    std::ofstream out(path);
    out << kMinimal << "network: {latncy: 1ms}\n";
  }
  auto result = load_scenario(path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().to_string(),
            path.string() + ":5:11: unknown key 'latncy' in network (did you mean 'latency'?)");

  {
    std::ofstream out(path);
    out << kMinimal;
  }
  auto ok = load_scenario(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
  EXPECT_EQ(ok->name, "minimal");
}

TEST(ScenarioLoader, YamlSyntaxErrorIsReportedWithItsPosition) {
  expect_error(std::string(kMinimal) + "faults: [{at: 1s, crash: n1}\n", 6, "bad YAML");
  expect_error("name: x\ncluster:\n  nodes: 5\n    heartbeat: 5ms\n", 4, "bad YAML");
  expect_error("", 1, "empty");
  expect_error(std::string(kMinimal) + "---\nname: second\n", 5, "more than one YAML document");
  expect_error("~\n", 1, "holds no scenario");
  // yaml-cpp 0.7 reads a stray top-level ',' as endless empty documents: an error, not a hang.
  expect_error(",", 1, "bad YAML");
  expect_error(std::string(kMinimal) + ",\n", 5, "bad YAML");
}

TEST(ScenarioLoader, UnknownKeyIsReportedWithTheClosestKey) {
  const InputError error = parse_error(std::string(kMinimal) + "network:\n  latncy: [1ms, 2ms]\n");
  EXPECT_EQ(error.to_string(),
            "scenarios/test.yaml:6:3: unknown key 'latncy' in network (did you mean 'latency'?)");
  expect_error(std::string(kMinimal) + "expect: {linearisable: true}\n", 5,
               "unknown key 'linearisable' in expect (did you mean 'linearizable'?)");
  expect_error(with_fault("{at: 1s, partiton: [[n1]]}"), 6,
               "unknown key 'partiton' in faults[0] (did you mean 'partition'?)");
  expect_error("nmae: x\n" + std::string(kMinimal), 1,
               "unknown key 'nmae' at top level (did you mean 'name'?)");
  // Nothing close: no suggestion.
  const InputError far = parse_error(std::string(kMinimal) + "network: {bandwidth: 5}\n");
  EXPECT_EQ(far.line, 5);
  EXPECT_NE(far.message.find("unknown key 'bandwidth' in network"), std::string::npos);
  EXPECT_EQ(far.message.find("did you mean"), std::string::npos) << far.message;
}

TEST(ScenarioLoader, DuplicateKeyIsAnError) {
  expect_error(std::string(kMinimal) + "network:\n  drop: 0.1\n  reorder: false\n  drop: 0.2\n", 8,
               "duplicate key 'drop' in network (first at line 6)");
  expect_error(std::string(kMinimal) + "run_until: 20s\n", 5,
               "duplicate key 'run_until' at top level");
}

TEST(ScenarioLoader, MissingRequiredKeyIsAnError) {
  expect_error("cluster: {nodes: 3}\nrun_until: 1s\n", 1, "missing required key 'name'");
  expect_error("name: x\ncluster:\n  heartbeat: 10ms\nrun_until: 1s\n", 3,
               "missing required key 'nodes' in cluster");
  expect_error("name: x\nrun_until: 1s\n", 1, "missing required key 'cluster'");
  expect_error("name: x\ncluster: {nodes: 3}\n", 1, "missing required key 'run_until'");
  expect_error(with_fault("{at: 1s, drop: {from: n1, to: n2}}"), 6,
               "missing required key 'rate' in faults[0].drop");
}

TEST(ScenarioLoader, WrongTypeIsAnError) {
  expect_error("name: x\ncluster:\n  nodes: five\nrun_until: 1s\n", 3,
               "cluster.nodes: expected an integer, got 'five'");
  expect_error("name: x\ncluster:\n  nodes: \"5\"\nrun_until: 1s\n", 3,
               "cluster.nodes: expected an integer, got the string '5'");
  expect_error(std::string(kMinimal) + "network: [1ms, 2ms]\n", 5,
               "network: expected a mapping, got a list");
  expect_error(std::string(kMinimal) + "network: {reorder: yes}\n", 5,
               "network.reorder: expected true or false, got 'yes'");
  expect_error(std::string(kMinimal) + "faults: {at: 1s}\n", 5,
               "faults: expected a list of faults, got a mapping");
  expect_error(std::string(kMinimal) + "workload: {rate: 200}\n", 5, "bad rate '200'");
}

TEST(ScenarioLoader, BadDurationIsAnError) {
  expect_error("name: x\ncluster: {nodes: 3}\nrun_until: 5 seconds\n", 3,
               "run_until: bad duration '5 seconds'");
  expect_error(with_fault("{at: -1s, crash: n1}"), 6,
               "faults[0].at: bad duration '-1s' (durations cannot be negative)");
  expect_error("name: x\ncluster:\n  nodes: 3\n  heartbeat: 50\nrun_until: 1s\n", 4,
               "cluster.heartbeat: bad duration '50' (no unit");
  expect_error("name: x\ncluster: {nodes: 3}\nrun_until: 0s\n", 3, "run_until must be above 0s");
}

TEST(ScenarioLoader, ProbabilityOutsideZeroToOneIsAnError) {
  expect_error(std::string(kMinimal) + "network:\n  drop: 1.5\n", 6,
               "network.drop: probability 1.5 is outside [0, 1]");
  expect_error(with_fault("{at: 1s, duplicate: {from: all, to: all, rate: -0.1}}"), 6,
               "faults[0].duplicate.rate: probability -0.1 is outside [0, 1]");
  expect_error(std::string(kMinimal) + "workload:\n  mix: {put: 0.5, get: 0.4}\n", 6,
               "workload.mix: the probabilities sum to 0.9, not 1");
}

TEST(ScenarioLoader, NodeCountOutsideOneToSixtyFourIsAnError) {
  expect_error("name: x\ncluster: {nodes: 0}\nrun_until: 1s\n", 2,
               "cluster.nodes: 0 is out of range (must be from 1 to 64)");
  expect_error("name: x\ncluster: {nodes: 65}\nrun_until: 1s\n", 2,
               "cluster.nodes: 65 is out of range (must be from 1 to 64)");
  expect_error("name: x\ncluster: {nodes: -3}\nrun_until: 1s\n", 2, "-3 is out of range");
  EXPECT_EQ(parse_ok("name: x\ncluster: {nodes: 64}\nrun_until: 1s\n").cluster.nodes, 64u);
}

TEST(ScenarioLoader, NodeThatDoesNotExistIsAnError) {
  expect_error(with_fault("{at: 1s, crash: n9}"), 6,
               "faults[0].crash: node 'n9' does not exist (nodes are n1..n5 at 1s)");
  expect_error(with_fault("{at: 1s, cut: {from: n1, to: [n2, n0]}}"), 6,
               "faults[0].cut.to: node 'n0' does not exist");
  expect_error(std::string(kMinimal) + "expect:\n  leader_at_end: n6\n", 6,
               "expect.leader_at_end: node 'n6' does not exist (nodes are n1..n5)");
  expect_error(with_fault("{at: 1s, crash: nine}"), 6, "unknown node or selector 'nine'");
  expect_error(with_fault("{at: 1s, crash: leadr}"), 6,
               "unknown node or selector 'leadr' (did you mean 'leader'?)");
}

TEST(ScenarioLoader, NodesAddedByEarlierFaultsMayBeNamed) {
  const Scenario s = parse_ok(std::string(kMinimal) +
                              "faults:\n"
                              "  - {at: 2s, crash: n7}\n"
                              "  - {at: 1s, add_node: n6}\n"
                              "  - {at: 1s, add_node: n7}\n"
                              "expect: {leader_at_end: n7}\n");
  EXPECT_EQ(action<AddNodeFault>(s, 0).node, NodeId{6});
  EXPECT_EQ(action<AddNodeFault>(s, 1).node, NodeId{7});
  EXPECT_EQ(action<CrashFault>(s, 2).nodes, nodes({7}));

  // Timeline order, not file order: n6 is named at 1s but joins at 2s.
  expect_error(std::string(kMinimal) +
                   "faults:\n"
                   "  - {at: 2s, add_node: n6}\n"
                   "  - {at: 1s, pause: {node: n6, for: 1s}}\n",
               7, "node 'n6' does not exist (nodes are n1..n5 at 1s; n6 is added only at 2s)");
  expect_error(with_fault("{at: 1s, add_node: n7}"), 6,
               "faults[0].add_node: the next new node is n6, not n7");
  expect_error(with_fault("{at: 1s, add_node: n5}"), 6, "n5 already exists");
  expect_error(with_fault("{at: 1s, add_node: leader}"), 6, "expected a node name like n3");
}

TEST(ScenarioLoader, FaultWithTwoActionsOrNoneIsAnError) {
  expect_error(with_fault("{at: 1s, crash: n1, restart: n2}"), 6,
               "faults[0] has two actions, 'crash' and 'restart' (a fault has exactly one)");
  expect_error(with_fault("{at: 1s}"), 6, "faults[0] has no action (one of partition, cut,");
  expect_error(std::string(kMinimal) +
                   "faults:\n  - {at: 1s, heal: all}\n  - at: 2s\n    crash: n1\n"
                   "    campaign: n2\n",
               9, "faults[1] has two actions, 'crash' and 'campaign'");
}

TEST(ScenarioLoader, FaultWithoutAtIsAnError) {
  expect_error(with_fault("{crash: n1}"), 6, "missing required key 'at' in faults[0]");
  expect_error(std::string(kMinimal) + "faults:\n  - {at: 1s, heal: all}\n  - crash: n1\n", 7,
               "missing required key 'at' in faults[1]");
}

TEST(ScenarioLoader, RangeWithMinAboveMaxIsAnError) {
  expect_error("name: x\ncluster:\n  nodes: 3\n  election_timeout: [300ms, 150ms]\nrun_until: 1s\n",
               4, "cluster.election_timeout: range [300ms, 150ms] has min > max");
  expect_error(with_fault("{at: 1s, latency: {from: n1, to: n2, value: [2s, 1s]}}"), 6,
               "faults[0].latency.value: range [2s, 1s] has min > max");
  expect_error(std::string(kMinimal) + "disk: {sync_latency: [1ms, 2ms, 3ms]}\n", 5,
               "disk.sync_latency: expected a range [min, max] or one duration, got a list of 3");
}

TEST(ScenarioLoader, UnknownMessageKindIsAnError) {
  expect_error(with_fault("{at: 1s, cut: {from: n1, to: n2, messages: [append, apend_response]}}"),
               6, "unknown message kind 'apend_response' (did you mean 'append_response'?)");
  const Scenario s = parse_ok(with_fault(
      "{at: 1s, cut: {from: n1, to: n2, messages: [vote, pre_vote_response, timeout_now]}}"));
  EXPECT_EQ(
      action<CutFault>(s, 0).messages,
      messages({MessageKind::kVote, MessageKind::kPreVoteResponse, MessageKind::kTimeoutNow}));
}

TEST(ScenarioLoader, DiskFaultsFullAndEioNeedForAndOnlyThey) {
  expect_error(with_fault("{at: 1s, disk: {node: n1, fault: eio}}"), 6,
               "missing required key 'for' in faults[0].disk");
  expect_error(with_fault("{at: 1s, disk: {node: n1, fault: corrupt, for: 1s}}"), 6,
               "'for' applies only to full and eio");
  expect_error(with_fault("{at: 1s, disk: {node: n1, fault: torn_wirte}}"), 6,
               "unknown disk fault 'torn_wirte' (did you mean 'torn_write'?)");
}

TEST(ScenarioLoader, ShardedOnlyKeysAreAccepted) {
  const Scenario s = parse_ok(
      "name: sharded\n"
      "cluster: {nodes: 6, shards: 16, replication: 3}\n"
      "faults:\n"
      "  - {at: 1s, crash: {leader_of: 15}}\n"
      "  - {at: 2s, rebalance: true}\n"
      "run_until: 5s\n"
      "expect: {max_load_stddev_pct: 12.5, converged: true}\n");
  EXPECT_EQ(s.cluster.shards, 16u);
  EXPECT_EQ(s.cluster.replication, 3u);
  EXPECT_EQ(action<CrashFault>(s, 0).nodes, NodeSet{NodeSelector::leader_of(ShardId{15})});
  action<RebalanceFault>(s, 1);
  EXPECT_EQ(s.expect.max_load_stddev_pct, 12.5);
  EXPECT_EQ(s.expect.converged, true);

  // Accepted in a cluster of one group too (the simulator decides what they mean there).
  parse_ok(with_fault("{at: 1s, crash: {leader_of: 2}}") + "  - {at: 1s, rebalance: true}\n");
  // Without `replication`, a small sharded cluster gets min(3, nodes).
  EXPECT_EQ(
      parse_ok("name: x\ncluster: {nodes: 2, shards: 4}\nrun_until: 1s\n").cluster.replication, 2u);

  expect_error("name: x\ncluster: {nodes: 2, shards: 4, replication: 3}\nrun_until: 1s\n", 2,
               "cluster.replication: replication 3 is more than the 2 nodes");
  expect_error(
      "name: x\ncluster: {nodes: 3, shards: 4}\nfaults:\n  - {at: 1s, crash: {leader_of: 4}}\n"
      "run_until: 1s\n",
      4, "shard 4 does not exist (shards are 0..3)");
}

TEST(ScenarioLoader, ErrorsNeverEscapeAsExceptions) {
  const char* inputs[] = {
      "\t",
      "[1, 2, 3]",
      "name: [unclosed",
      "{name: x, cluster: {nodes: 3}, run_until: 1s, faults: [[[[]]]]}",
      "name: x\ncluster: {nodes: 3}\nrun_until: 99999999999999999999s\n",
      "name: x\ncluster: {nodes: 3}\nrun_until: 1s\nseed: 18446744073709551616\n",
      "name: x\ncluster: {nodes: 3}\nrun_until: 1s\nfaults:\n  - {at: 1s, partition: []}\n",
      "name: x\ncluster: {nodes: 3}\nrun_until: 1s\nfaults:\n  - {at: 1s, crash: []}\n",
      "name: x\ncluster: {nodes: 3}\nrun_until: 1s\nfaults:\n  - ~\n",
      "name: x\ncluster: {nodes: 3}\nrun_until: 1s\nfaults:\n  - {at: 1s, put: {key: [a]}}\n",
      "name: x\ncluster: {nodes: 3}\nrun_until: 1s\n? [complex, key]\n: 1\n",
      "&a [*a]",
      "name: \"\\x00\"\ncluster: {nodes: 3}\nrun_until: 1s\n",
      "\xff\xfe\x00\x01",
      "name: x\ncluster: {nodes: 3}\nrun_until: 1s\nexpect: {max_load_stddev_pct: .nan}\n",
  };
  for (const char* input : inputs) {
    auto result = parse_scenario(input, "fuzz.yaml");
    if (!result) {
      EXPECT_EQ(result.error().file, "fuzz.yaml");
      EXPECT_EQ(result.error().to_string().find('\n'), std::string::npos);
    }
  }
  std::string deep(5000, '[');
  EXPECT_FALSE(parse_scenario(deep, "deep.yaml").has_value());
}

TEST(ScenarioLoader, ContractExampleRoundTripsThroughToYaml) {
  const Scenario original = parse_ok(kContractExample);
  const std::string yaml = to_yaml(original);
  auto again = parse_scenario(yaml, "written.yaml");
  ASSERT_TRUE(again.has_value()) << again.error().to_string() << "\n" << yaml;
  EXPECT_EQ(*again, original) << yaml;
  EXPECT_EQ(to_yaml(*again), yaml);  // a fixed point
}

TEST(ScenarioLoader, EveryFormRoundTripsThroughToYaml) {
  const Scenario original = parse_ok(
      "name: \"odd \\\"name\\\"\\n\\ttab\"\n"
      "description: 'it''s: #not a comment'\n"
      "seed: 18446744073709551615\n"
      "cluster: {nodes: 4, shards: 8, replication: 2, election_timeout: 1s, heartbeat: 1500us,\n"
      "          pre_vote: false, check_quorum: false, snapshot_every: 0}\n"
      "network: {latency: [0s, 1m], drop: 0.001, duplicate: 1e-7, reorder: false}\n"
      "disk: {sync_latency: [1ns, 3ms]}\n"
      "workload: {clients: 1, keys: 1, mix: {get: 1}, rate: 7/3s, from: 1s, timeout: 10ms}\n"
      "faults:\n"
      "  - {at: 0s, partition: [[{leader_of: 7}], [followers, random]]}\n"
      "  - {at: 1s, latency: {from: others, to: [n1, n2], value: 5ms, messages: [snapshot]}}\n"
      "  - {at: 1s, drop: {from: n1, to: n2, rate: 0.3333333333333333}}\n"
      "  - {at: 2s, disk: {node: random_minority, fault: eio, for: 1ns}}\n"
      "  - {at: 2s, drift: {node: [n1, n2], rate: 0.25}}\n"
      "  - {at: 3s, put: {key: \"k: 1\", value: \"\"}}\n"
      "  - {at: 3s, transfer_leader: {leader_of: 1}}\n"
      "  - {at: 4s, add_node: n5}\n"
      "  - {at: 4s, remove_node: n5}\n"
      "nemesis: {kinds: [drift, crash], interval: 1s}\n"
      "run_until: 2m\n"
      "expect: {max_term: 0, min_committed: 18446744073709551615}\n");
  const std::string yaml = to_yaml(original);
  auto again = parse_scenario(yaml, "written.yaml");
  ASSERT_TRUE(again.has_value()) << again.error().to_string() << "\n" << yaml;
  EXPECT_EQ(*again, original) << yaml;

  const Scenario minimal = parse_ok(kMinimal);
  auto minimal_again = parse_scenario(to_yaml(minimal), "written.yaml");
  ASSERT_TRUE(minimal_again.has_value()) << minimal_again.error().to_string();
  EXPECT_EQ(*minimal_again, minimal);
}

}  // namespace
}  // namespace grape::sim
