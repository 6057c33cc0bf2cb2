// The scenario runner end to end: expectations that hold pass, each expect key fails when it
// should, runs replay bit for bit, and the shrinker keeps only the faults that matter.
#include "sim/runner.h"

#include <set>

#include <gtest/gtest.h>

#include "sim/shrink.h"

namespace grape::sim {
namespace {

Scenario parse(const std::string& yaml) {
  auto scenario = parse_scenario(yaml, "test.yaml");
  EXPECT_TRUE(scenario.has_value()) << (scenario ? "" : scenario.error().to_string());
  return *scenario;
}

bool violated(const RunResult& result, const std::string& property) {
  for (const Violation& v : result.violations) {
    if (v.property == property) return true;
  }
  return false;
}

const char* kLeaderCrash = R"(
name: leader-crash
cluster: {nodes: 5}
workload: {clients: 3, keys: 4, rate: 200/s, until: 5s}
faults:
  - {at: 2s, crash: leader}
  - {at: 3s, restart: all}
run_until: 6s
expect: {linearizable: true, no_lost_writes: true, recovers_within: 2s, min_committed: 100}
)";

TEST(ScenarioRunner, LeaderCrashScenarioPassesEveryCheck) {
  const RunResult result = run_scenario(parse(kLeaderCrash), 3);
  EXPECT_EQ(result.verdict, Verdict::kPass)
      << result.violations.front().property << ": " << result.violations.front().detail;
  EXPECT_GT(result.stats.committed, 100u);
  EXPECT_GE(result.stats.elections, 2u);
  EXPECT_EQ(result.history.ops.size(), result.stats.client_ops);
}

TEST(ScenarioRunner, SameSeedSameRunOtherSeedOtherRun) {
  const Scenario scenario = parse(kLeaderCrash);
  const RunResult a = run_scenario(scenario, 5);
  const RunResult b = run_scenario(scenario, 5);
  const RunResult c = run_scenario(scenario, 6);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.stats.events, b.stats.events);
  EXPECT_NE(a.trace_hash, c.trace_hash);
}

TEST(ScenarioRunner, UnreachableMinCommittedFails) {
  Scenario scenario = parse(kLeaderCrash);
  scenario.expect.min_committed = 1'000'000;
  const RunResult result = run_scenario(scenario, 1);
  EXPECT_EQ(result.verdict, Verdict::kFail);
  EXPECT_TRUE(violated(result, "min_committed"));
}

// A history search that gives up proves nothing either way: the run is unknown, not a pass.
TEST(ScenarioRunner, HistorySearchThatGivesUpMakesTheRunUnknown) {
  const RunResult result =
      run_scenario(parse(kLeaderCrash), 3, {.history_limits = {.max_states = 2}});
  EXPECT_EQ(result.verdict, Verdict::kUnknown);
  EXPECT_EQ(to_string(result.verdict), "unknown");
  EXPECT_TRUE(result.violations.empty());
  ASSERT_FALSE(result.undecided.empty());
  EXPECT_EQ(result.undecided.front().property, "linearizability");
  EXPECT_EQ(result.undecided.front().key, "k0");  // keys in order; every one gives up at 2
  EXPECT_NE(result.undecided.front().detail.find("was not decided"), std::string::npos)
      << result.undecided.front().detail;
}

TEST(ScenarioRunner, AViolationOutweighsAnUndecidedCheck) {
  Scenario scenario = parse(kLeaderCrash);
  scenario.expect.min_committed = 1'000'000;
  const RunResult result = run_scenario(scenario, 3, {.history_limits = {.max_states = 2}});
  EXPECT_EQ(result.verdict, Verdict::kFail);
  EXPECT_TRUE(violated(result, "min_committed"));
  EXPECT_FALSE(result.undecided.empty());
}

TEST(ScenarioRunner, MaxTermAndLeaderAtEndAreChecked) {
  Scenario scenario = parse(kLeaderCrash);
  scenario.expect.max_term = 1;                // the crash forces a second term
  scenario.expect.leader_at_end = NodeId(42);  // no such leader
  const RunResult result = run_scenario(scenario, 1);
  EXPECT_TRUE(violated(result, "max_term"));
  EXPECT_TRUE(violated(result, "leader_at_end"));
}

TEST(ScenarioRunner, LostMajorityFailsLiveness) {
  const RunResult result = run_scenario(parse(R"(
name: lost-majority
cluster: {nodes: 3}
workload: {clients: 1, keys: 2, rate: 50/s}
faults:
  - {at: 1s, crash: [n1, n2]}
run_until: 4s
expect: {recovers_within: 1s}
)"),
                                        1);
  EXPECT_TRUE(violated(result, "liveness"));
}

TEST(ScenarioRunner, LivenessWaitsPastRunUntilForTheDeadline) {
  const RunResult result = run_scenario(parse(R"(
name: late-heal
cluster: {nodes: 3}
faults:
  - {at: 1s, partition: [[n1], [n2], [n3]]}
  - {at: 3s, heal: all}
run_until: 3s
expect: {recovers_within: 3s}
)"),
                                        2);
  EXPECT_EQ(result.verdict, Verdict::kPass) << result.violations.front().detail;
  EXPECT_GT(result.end, VirtualTime{} + seconds(3));
}

TEST(ScenarioRunner, ShardedChecksNeedAShardedCluster) {
  Scenario sharded = parse(kLeaderCrash);
  sharded.cluster.shards = 16;
  EXPECT_FALSE(unsupported_feature(sharded).has_value());
  Scenario rebalance = parse(kLeaderCrash);
  rebalance.faults.push_back({seconds(1), RebalanceFault{}});
  EXPECT_TRUE(unsupported_feature(rebalance).has_value());  // unsharded: nothing to rebalance
  Scenario converged = parse(kLeaderCrash);
  converged.expect.converged = true;
  EXPECT_TRUE(unsupported_feature(converged).has_value());
  EXPECT_FALSE(unsupported_feature(parse(kLeaderCrash)).has_value());
}

// A sharded cluster of 16 shards on 4 nodes grows by one under load: every shard is its own group,
// clients route by shard, the new node takes its share, and nothing acknowledged is lost.
TEST(ScenarioRunner, AShardedClusterGrowsWithoutLosingWrites) {
  const RunResult result = run_scenario(parse(R"(
name: sharded-growth
cluster: {nodes: 4, shards: 16, replication: 3}
workload: {clients: 3, keys: 40, rate: 150/s, until: 7s}
faults:
  - {at: 1s, add_node: n5}
run_until: 9s
expect: {linearizable: true, no_lost_writes: true, converged: true, max_load_stddev_pct: 15}
)"),
                                        3);
  EXPECT_EQ(result.verdict, Verdict::kPass)
      << (result.violations.empty() ? "" : result.violations.front().detail);
}

// The checks can fail: the same growth, but the run stops before the moves can finish.
TEST(ScenarioRunner, AnUnfinishedRebalanceIsNotConverged) {
  const RunResult result = run_scenario(parse(R"(
name: sharded-cut-short
cluster: {nodes: 4, shards: 16, replication: 3}
faults:
  - {at: 500ms, add_node: n5}
run_until: 700ms
expect: {converged: true, max_load_stddev_pct: 5}
)"),
                                        3);
  EXPECT_EQ(result.verdict, Verdict::kFail);
  std::set<std::string> properties;
  for (const Violation& v : result.violations) properties.insert(v.property);
  EXPECT_TRUE(properties.count("converged"));
  EXPECT_TRUE(properties.count("max_load_stddev_pct"));
}

// n4 and n5 join under load, then n1 (perhaps the leader) is removed: every acknowledged write
// survives and the final configuration is {n2, n3, n4, n5}.
TEST(ScenarioRunner, NodesJoinAndLeaveUnderLoad) {
  const char* yaml = R"(
name: grow-and-shrink
cluster: {nodes: 3}
workload: {clients: 3, keys: 4, rate: 200/s, until: 7s}
faults:
  - {at: 1s, add_node: n4}
  - {at: 1500ms, add_node: n5}
  - {at: 3s, remove_node: n1}
run_until: 8s
expect: {linearizable: true, no_lost_writes: true, recovers_within: 3s, min_committed: 300}
)";
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const RunResult result = run_scenario(parse(yaml), seed);
    EXPECT_EQ(result.verdict, Verdict::kPass)
        << "seed " << seed << ": " << result.violations.front().property << ": "
        << result.violations.front().detail;
  }
}

TEST(ScenarioRunner, NemesisIsMaterializedDeterministicallyAndHealedAtUntil) {
  const Scenario scenario = parse(R"(
name: nemesis
cluster: {nodes: 5}
nemesis: {interval: [200ms, 500ms], from: 1s, until: 5s}
run_until: 8s
)");
  const auto a = materialize_faults(scenario, 9);
  const auto b = materialize_faults(scenario, 9);
  const auto c = materialize_faults(scenario, 10);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_GE(a.size(), 8u);
  for (const FaultStep& step : a) EXPECT_LE(step.at, seconds(5) + milliseconds(500));
  EXPECT_TRUE(std::holds_alternative<RestartFault>(a.back().action));
  EXPECT_EQ(run_scenario(scenario, 9).verdict, Verdict::kPass);
}

TEST(ScenarioRunner, ShrinkKeepsOnlyTheFaultThatMatters) {
  const Scenario scenario = parse(R"(
name: shrink-me
cluster: {nodes: 3}
faults:
  - {at: 1s, pause: {node: n3, for: 200ms}}
  - {at: 1s, latency: {from: all, to: all, value: [5ms, 20ms], for: 1s}}
  - {at: 2s, crash: [n1, n2]}
  - {at: 2500ms, drift: {node: n3, rate: 2, for: 1s}}
run_until: 5s
expect: {recovers_within: 1s}
)");
  auto result = shrink_scenario(scenario, 1);
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->property, "liveness");
  ASSERT_EQ(result->minimal.faults.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<CrashFault>(result->minimal.faults[0].action));
  EXPECT_EQ(run_scenario(result->minimal, 1).verdict, Verdict::kFail);
  // The minimal scenario survives a round trip through YAML.
  auto reloaded = parse_scenario(to_yaml(result->minimal), "min.yaml");
  ASSERT_TRUE(reloaded.has_value()) << reloaded.error().to_string();
  EXPECT_EQ(*reloaded, result->minimal);
}

Operation op(uint64_t id, OpKind kind, const char* key, std::optional<std::string> value,
             int64_t invoked_ms, int64_t completed_ms, OpOutcome outcome = OpOutcome::kOk) {
  Operation o;
  o.id = id;
  o.process = id + 1;
  o.kind = kind;
  o.key = key;
  o.value = std::move(value);
  o.invoked = VirtualTime{} + milliseconds(invoked_ms);
  o.completed = VirtualTime{} + milliseconds(completed_ms);
  o.outcome = outcome;
  return o;
}

TEST(LostWriteChecker, CatchesAnAcknowledgedWriteMissingAtTheEnd) {
  History history;
  history.ops.push_back(op(0, OpKind::kPut, "k", "v1", 10, 20));
  history.ops.push_back(op(1, OpKind::kPut, "k", "v2", 30, 40));
  const VirtualTime end = VirtualTime{} + seconds(1);

  auto lost = check_final_state(history, {{"k", "v1"}}, end).lost_write;  // v2 acked after v1
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ(lost->property, "lost_write");
  EXPECT_NE(lost->detail.find("\"k\""), std::string::npos) << lost->detail;

  EXPECT_TRUE(check_final_state(history, {{"k", std::nullopt}}, end).lost_write.has_value());
  EXPECT_FALSE(check_final_state(history, {{"k", "v2"}}, end).lost_write.has_value());
}

TEST(LostWriteChecker, AcceptsEitherFateOfAnIndeterminateWrite) {
  History history;
  history.ops.push_back(op(0, OpKind::kPut, "k", "v1", 10, 20));
  history.ops.push_back(op(1, OpKind::kPut, "k", "v2", 30, 40, OpOutcome::kInfo));
  const VirtualTime end = VirtualTime{} + seconds(1);
  EXPECT_FALSE(check_final_state(history, {{"k", "v1"}}, end).lost_write.has_value());
  EXPECT_FALSE(check_final_state(history, {{"k", "v2"}}, end).lost_write.has_value());
  EXPECT_TRUE(check_final_state(history, {{"k", "v3"}}, end).lost_write.has_value());
}

TEST(LostWriteChecker, ReportsAFinalStateItCannotDecideAsUndecided) {
  History history;
  history.ops.push_back(op(0, OpKind::kPut, "k", "v1", 10, 20));
  history.ops.push_back(op(1, OpKind::kPut, "k", "v2", 30, 40));
  const VirtualTime end = VirtualTime{} + seconds(1);
  const FinalStateCheck check = check_final_state(history, {{"k", "v2"}}, end, {.max_states = 1});
  EXPECT_FALSE(check.lost_write.has_value());
  ASSERT_EQ(check.undecided.size(), 1u);
  EXPECT_EQ(check.undecided[0].property, "lost_write");
  EXPECT_EQ(check.undecided[0].key, "k");
}

TEST(ScenarioRunner, ShrinkRefusesAPassingRun) {
  EXPECT_FALSE(shrink_scenario(parse(kLeaderCrash), 3).has_value());
}

}  // namespace
}  // namespace grape::sim
