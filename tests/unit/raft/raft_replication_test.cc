// Log replication and commitment: the Raft paper §5.3–5.4 (Figure 8 included), the fast back-off
// of etcd's raft, batching and pipelining, persistence before acknowledgement, and recovery.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/mark.h"
#include "core/raft/raft.h"
#include "tests/unit/raft/raft_test_util.h"

namespace grape::raft {
namespace {

using test::deliver_until_quiet;
using test::log_terms;
using test::make_entries;
using test::NodeOptions;
using test::of_type;
using test::receive;
using test::recipients;
using test::TestNode;
using test::to_node;

// Three nodes, node 1 elected in term 1 and everybody caught up: logs [1@1], commit 1.
std::vector<TestNode> stable_cluster(NodeOptions options = {}) {
  std::vector<TestNode> nodes = test::make_cluster(options);
  test::elect(nodes, 1);
  for (const TestNode& n : nodes) EXPECT_EQ(n->log().committed(), LogIndex(1)) << "node " << n.id();
  return nodes;
}

void propose_times(TestNode& leader, int count) {
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(leader->propose(to_bytes("cmd" + std::to_string(i))).has_value());
  }
}

std::vector<uint64_t> indexes(const std::vector<Entry>& entries) {
  std::vector<uint64_t> out;
  for (const Entry& e : entries) out.push_back(e.index.value);
  return out;
}

// =================================================================================================
// §5.3: the leader appends and replicates

TEST(RaftReplication, LeaderAppendsProposalAndReplicatesIt) {
  std::vector<TestNode> nodes = stable_cluster();
  TestNode& leader = nodes[0];

  const auto index = leader->propose(to_bytes("x"));
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(*index, LogIndex(2));
  const Ready ready = leader->take_ready();

  ASSERT_EQ(ready.entries_to_persist.size(), 1u);
  EXPECT_EQ(ready.entries_to_persist[0].index, LogIndex(2));
  EXPECT_EQ(ready.entries_to_persist[0].term, Term(1));
  EXPECT_EQ(ready.entries_to_persist[0].data, to_bytes("x"));
  const auto appends = of_type(ready.messages, MessageType::kAppend);
  ASSERT_EQ(appends.size(), 2u);
  for (const Message& m : appends) {
    EXPECT_EQ(m.index, LogIndex(1));  // prev entry 1@1
    EXPECT_EQ(m.log_term, Term(1));
    EXPECT_EQ(m.entries, ready.entries_to_persist);
    EXPECT_EQ(m.commit, LogIndex(1));
  }

  for (const Message& m : test::handle(leader, ready).messages)
    receive(test::node_by_id(nodes, m.to), m);
  deliver_until_quiet(nodes);
  for (const TestNode& n : nodes) {
    EXPECT_EQ(log_terms(n->log()), (std::vector<uint64_t>{1, 1})) << "node " << n.id();
    EXPECT_EQ(n->log().committed(), LogIndex(2)) << "node " << n.id();
  }
}

TEST(RaftReplication, ProposalOnFollowerFailsWithLeaderHint) {
  std::vector<TestNode> nodes = stable_cluster();

  const auto on_follower = nodes[1]->propose(to_bytes("x"));
  TestNode lone = test::make_node({.id = 1});
  const auto without_leader = lone->propose(to_bytes("x"));

  ASSERT_FALSE(on_follower.has_value());
  EXPECT_EQ(on_follower.error().code, ProposeErrorCode::kNotLeader);
  EXPECT_EQ(on_follower.error().leader_hint, NodeId(1));
  EXPECT_EQ(nodes[1]->log().last_index(), LogIndex(1));
  ASSERT_FALSE(without_leader.has_value());
  EXPECT_EQ(without_leader.error().code, ProposeErrorCode::kNotLeader);
  EXPECT_EQ(without_leader.error().leader_hint, kNoNode);
}

// =================================================================================================
// §5.3–5.4.2: commitment

TEST(RaftReplication, CommitWaitsForMajorityToPersist) {
  std::vector<TestNode> nodes = stable_cluster();
  TestNode& leader = nodes[0];
  ASSERT_TRUE(leader->propose(to_bytes("x")).has_value());
  const auto appends = test::handle_ready(leader).messages;  // the leader's copy is durable
  EXPECT_EQ(leader->log().committed(), LogIndex(1));         // one copy of three

  receive(nodes[1], to_node(appends, NodeId(2)).at(0));
  const Ready follower_ready = nodes[1]->take_ready();
  EXPECT_EQ(leader->log().committed(), LogIndex(1));  // node 2 has not persisted yet
  for (const Message& m : test::handle(nodes[1], follower_ready).messages) receive(leader, m);

  EXPECT_EQ(leader->log().committed(), LogIndex(2));
}

TEST(RaftReplication, LeadersOwnEntryCountsOnlyOnceItIsPersisted) {
  std::vector<TestNode> nodes = stable_cluster();
  TestNode& leader = nodes[0];
  ASSERT_TRUE(leader->propose(to_bytes("x")).has_value());  // entry 2
  const Ready first = leader->take_ready();
  ASSERT_TRUE(leader->propose(to_bytes("y")).has_value());      // entry 3, after that Ready
  const auto appends_2 = test::handle(leader, first).messages;  // 2 is durable, 3 is not
  const Ready second = leader->take_ready();                    // 3 is being written

  // Node 2 persists and acknowledges both.
  receive(nodes[1], to_node(appends_2, NodeId(2)).at(0));
  receive(nodes[1], to_node(of_type(second.messages, MessageType::kAppend), NodeId(2)).at(0));
  for (const Message& m : test::handle_ready(nodes[1]).messages) receive(leader, m);
  EXPECT_EQ(leader->log().committed(), LogIndex(2));  // entry 3: node 2's copy alone

  test::handle(leader, second);  // durable now: advance()

  EXPECT_EQ(leader->log().committed(), LogIndex(3));
}

// Figure 8 (c), in three nodes. Node 1 led term 2 and wrote 2@2 before it lost touch; node 3 led
// term 3 and wrote 2@3, which reached nobody. Node 1, elected again in term 4 with node 2's vote,
// replicates one entry per append; node 3 stays cut off.
std::vector<TestNode> figure8_cluster() {
  NodeOptions options{.pre_vote = false, .check_quorum = false, .append_entries_max = 1};
  std::vector<TestNode> nodes;
  options.id = 1;
  nodes.push_back(
      test::make_node(options, make_entries(LogIndex(1), {1, 2}), {Term(3), kNoNode, LogIndex(1)}));
  options.id = 2;
  nodes.push_back(
      test::make_node(options, make_entries(LogIndex(1), {1}), {Term(3), kNoNode, LogIndex(1)}));
  options.id = 3;
  nodes.push_back(test::make_node(options, make_entries(LogIndex(1), {1, 3}),
                                  {Term(3), NodeId(3), LogIndex(1)}));
  return nodes;
}

// Delivers round by round until node 1 knows node 2 holds index 2: 2@2 is then on a majority.
void replicate_old_entry_to_majority(std::vector<TestNode>& nodes) {
  const std::set<NodeId> isolated{NodeId(3)};
  nodes[0]->campaign();
  for (int round = 0; round < 20; ++round) {
    const Progress* pr = nodes[0]->progress(NodeId(2));
    if (pr != nullptr && pr->match >= LogIndex(2)) break;
    test::deliver_round(nodes, isolated);
  }
  ASSERT_EQ(nodes[0]->role(), Role::kLeader);
  ASSERT_EQ(nodes[0]->term(), Term(4));
  ASSERT_EQ(nodes[0]->progress(NodeId(2))->match, LogIndex(2));
}

TEST(RaftReplication, LeaderDoesNotCommitEntryOfPreviousTermByCountingReplicas) {
  std::vector<TestNode> nodes = figure8_cluster();
  replicate_old_entry_to_majority(nodes);

  // Nodes 1 and 2 both hold 2@2...
  EXPECT_EQ(test::store_terms(*nodes[0].store), (std::vector<uint64_t>{1, 2, 4}));
  EXPECT_EQ(test::store_terms(*nodes[1].store), (std::vector<uint64_t>{1, 2}));
  // ...yet node 3 (last entry 2@3) could still win node 2's vote and overwrite it: not committed.
  EXPECT_TRUE(nodes[1]->log().is_up_to_date(LogIndex(2), Term(3)));
  EXPECT_EQ(nodes[0]->log().committed(), LogIndex(1));
}

TEST(RaftReplication, EntryOfPreviousTermCommitsWithEntryOfCurrentTerm) {
  std::vector<TestNode> nodes = figure8_cluster();
  replicate_old_entry_to_majority(nodes);
  ASSERT_EQ(nodes[0]->log().committed(), LogIndex(1));

  deliver_until_quiet(nodes, {NodeId(3)});  // the no-op 3@4 reaches node 2 as well

  EXPECT_EQ(nodes[0]->log().committed(), LogIndex(3));
  EXPECT_EQ(nodes[1]->log().committed(), LogIndex(3));
  EXPECT_EQ(log_terms(nodes[1]->log()), (std::vector<uint64_t>{1, 2, 4}));
  // Node 3's log can no longer win an election: the majority's last term is 4.
  EXPECT_FALSE(nodes[1]->log().is_up_to_date(LogIndex(2), Term(3)));
}

// =================================================================================================
// §5.3: consistency check, conflict hints and repair

TEST(RaftReplication, FollowerRejectsAppendWithMismatchedPrevEntryAndSendsHint) {
  TestNode follower = test::make_node({.id = 2}, make_entries(LogIndex(1), {1, 1, 3, 3, 3}),
                                      {Term(3), kNoNode, LogIndex(2)});
  const uint64_t before = mark_count("raft.append_rejected");

  // The leader's entry 5 is of term 2: our whole term-3 run differs, so the hint skips it.
  receive(follower, test::make_append(1, 2, 4, 5, 2, make_entries(LogIndex(6), {4}), 2));
  const Ready ready = follower->take_ready();

  EXPECT_TRUE(ready.entries_to_persist.empty());
  EXPECT_EQ(log_terms(follower->log()), (std::vector<uint64_t>{1, 1, 3, 3, 3}));
  ASSERT_EQ(ready.messages_after_persist.size(), 1u);
  const Message& response = ready.messages_after_persist[0];
  EXPECT_EQ(response.type, MessageType::kAppendResponse);
  EXPECT_TRUE(response.reject);
  EXPECT_EQ(response.term, Term(4));
  EXPECT_EQ(response.index, LogIndex(5));        // the rejected probe
  EXPECT_EQ(response.reject_hint, LogIndex(2));  // our last entry of term <= 2
  EXPECT_EQ(response.log_term, Term(1));
  EXPECT_EQ(mark_count("raft.append_rejected"), before + 1);
}

TEST(RaftReplication, FollowerWithShorterLogHintsItsLastEntry) {
  TestNode follower = test::make_node({.id = 2}, make_entries(LogIndex(1), {1, 1, 3}),
                                      {Term(3), kNoNode, LogIndex(2)});

  receive(follower, test::make_append(1, 2, 4, 7, 4, {}, 2));
  const Ready ready = follower->take_ready();

  ASSERT_EQ(ready.messages_after_persist.size(), 1u);
  const Message& response = ready.messages_after_persist[0];
  EXPECT_TRUE(response.reject);
  EXPECT_EQ(response.index, LogIndex(7));
  EXPECT_EQ(response.reject_hint, LogIndex(3));
  EXPECT_EQ(response.log_term, Term(3));
}

// Node 1 leads term 5 with 1,1,1,4,4,4,4 (node 3 has the same); node 2 holds a long tail of terms
// 2 and 3 that never committed.
std::vector<TestNode> conflicting_cluster() {
  NodeOptions options{.pre_vote = false, .check_quorum = false};
  std::vector<TestNode> nodes;
  options.id = 1;
  nodes.push_back(test::make_node(options, make_entries(LogIndex(1), {1, 1, 1, 4, 4, 4, 4}),
                                  {Term(4), kNoNode, LogIndex(3)}));
  options.id = 2;
  nodes.push_back(test::make_node(options,
                                  make_entries(LogIndex(1), {1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3}),
                                  {Term(3), kNoNode, LogIndex(3)}));
  options.id = 3;
  nodes.push_back(test::make_node(options, make_entries(LogIndex(1), {1, 1, 1, 4, 4, 4, 4}),
                                  {Term(4), kNoNode, LogIndex(3)}));
  return nodes;
}

TEST(RaftReplication, LeaderBacksOffPastWholeConflictingTermInOneRoundTrip) {
  std::vector<TestNode> nodes = conflicting_cluster();
  test::NetworkTrace trace;
  nodes[0]->campaign();
  deliver_until_quiet(nodes, {}, &trace);
  ASSERT_EQ(nodes[0]->role(), Role::kLeader);

  std::vector<Message> appends_to_2;
  int rejections = 0;
  for (const Message& m : trace.delivered) {
    if (m.type == MessageType::kAppend && m.to == NodeId(2)) appends_to_2.push_back(m);
    if (m.type == MessageType::kAppendResponse && m.from == NodeId(2) && m.reject) ++rejections;
  }
  // One probe at 7@4 is refused with the hint 7@2; the leader has no entry of term <= 2 after
  // index 3, so its next append starts right after 3. Stepping back one index per round trip would
  // have taken four refusals.
  EXPECT_EQ(rejections, 1);
  ASSERT_GE(appends_to_2.size(), 2u);
  EXPECT_EQ(appends_to_2[0].index, LogIndex(7));
  EXPECT_EQ(appends_to_2[1].index, LogIndex(3));
  EXPECT_EQ(indexes(appends_to_2[1].entries), (std::vector<uint64_t>{4, 5, 6, 7, 8}));
}

TEST(RaftReplication, LeaderRepairsFollowerLogByReplacingConflictingEntries) {
  std::vector<TestNode> nodes = conflicting_cluster();
  nodes[0]->campaign();
  deliver_until_quiet(nodes);
  ASSERT_EQ(nodes[0]->role(), Role::kLeader);

  const std::vector<uint64_t> leader_log{1, 1, 1, 4, 4, 4, 4, 5};
  EXPECT_EQ(log_terms(nodes[0]->log()), leader_log);
  EXPECT_EQ(log_terms(nodes[1]->log()), leader_log);
  EXPECT_EQ(test::store_terms(*nodes[1].store), leader_log);  // entries 9..11 are gone on disk too
  EXPECT_EQ(nodes[1]->log().committed(), LogIndex(8));
}

TEST(RaftReplication, FollowerCommitIsCappedByLastNewEntry) {
  TestNode follower = test::make_node({.id = 2}, make_entries(LogIndex(1), {1, 1, 1, 1, 1}),
                                      {Term(1), kNoNode, LogIndex(0)});

  // The leader has committed 4 but vouches here only for our log up to index 2.
  receive(follower, test::make_append(1, 2, 1, 1, 1, make_entries(LogIndex(2), {1}), 4));
  const Ready ready = follower->take_ready();

  EXPECT_EQ(follower->log().committed(), LogIndex(2));
  ASSERT_TRUE(ready.hard_state.has_value());
  EXPECT_EQ(ready.hard_state->commit, LogIndex(2));
  EXPECT_EQ(indexes(ready.entries_to_apply), (std::vector<uint64_t>{1, 2}));
  test::handle(follower, ready);

  // The next append carries the leader's commit index on.
  receive(follower, test::make_append(1, 2, 1, 2, 1, make_entries(LogIndex(3), {1}), 4));
  EXPECT_EQ(follower->log().committed(), LogIndex(3));
  receive(follower, test::make_append(1, 2, 1, 3, 1, {}, 2));  // a stale one: no step back
  EXPECT_EQ(follower->log().committed(), LogIndex(3));
}

TEST(RaftReplication, AppendBelowCommitIndexIsAnsweredWithCommitIndex) {
  TestNode follower = test::make_node({.id = 2}, make_entries(LogIndex(1), {1, 1, 1, 1}),
                                      {Term(1), kNoNode, LogIndex(3)});

  // A late duplicate of an old append: everything up to our commit index is known to match.
  receive(follower, test::make_append(1, 2, 1, 1, 1, make_entries(LogIndex(2), {1}), 2));
  const Ready ready = follower->take_ready();

  ASSERT_EQ(ready.messages_after_persist.size(), 1u);
  EXPECT_FALSE(ready.messages_after_persist[0].reject);
  EXPECT_EQ(ready.messages_after_persist[0].index, LogIndex(3));
  EXPECT_EQ(log_terms(follower->log()), (std::vector<uint64_t>{1, 1, 1, 1}));
  EXPECT_EQ(follower->log().committed(), LogIndex(3));
}

TEST(RaftReplication, LeaderIgnoresStaleRejection) {
  std::vector<TestNode> nodes = stable_cluster();
  TestNode& leader = nodes[0];
  propose_times(leader, 3);
  deliver_until_quiet(nodes);
  ASSERT_EQ(leader->progress(NodeId(2))->match, LogIndex(4));

  // A refusal of an append at index 1, from before node 2 caught up, arrives late.
  Message stale = test::make_append_response(2, 1, 1, 1);
  stale.reject = true;
  stale.reject_hint = LogIndex(0);
  receive(leader, stale);

  EXPECT_EQ(leader->progress(NodeId(2))->match, LogIndex(4));
  EXPECT_EQ(leader->progress(NodeId(2))->state, ProgressState::kReplicate);
  EXPECT_FALSE(leader->has_ready());
}

// A peer that claims to hold more of the log than the leader has is refused, not trusted: the
// leader would otherwise try to send entries it does not have.
TEST(RaftReplication, LeaderIgnoresAckBeyondItsLastIndex) {
  std::vector<TestNode> nodes = stable_cluster();
  TestNode& leader = nodes[0];
  const uint64_t marks_before = grape::mark_count("raft.ack_beyond_last_index_ignored");

  receive(leader, test::make_append_response(2, 1, 1, 50));

  EXPECT_EQ(leader->progress(NodeId(2))->match, LogIndex(1));
  EXPECT_EQ(leader->log().committed(), LogIndex(1));
  EXPECT_EQ(grape::mark_count("raft.ack_beyond_last_index_ignored"), marks_before + 1);
}

// Likewise a heartbeat can never make a follower commit entries it does not hold.
TEST(RaftReplication, HeartbeatCommitIsClampedToTheFollowersLog) {
  TestNode follower = test::make_node({.id = 2}, make_entries(LogIndex(1), {1, 1}),
                                      {Term(1), kNoNode, LogIndex(1)});

  receive(follower, test::make_heartbeat(1, 2, 1, 9));

  EXPECT_EQ(follower->log().committed(), LogIndex(2));
}

TEST(RaftReplication, FollowerCommitAdvancesWithHeartbeat) {
  TestNode follower = test::make_node({.id = 2}, make_entries(LogIndex(1), {1, 1, 1}),
                                      {Term(1), kNoNode, LogIndex(1)});

  receive(follower, test::make_heartbeat(1, 2, 1, 3));
  const Ready ready = follower->take_ready();

  EXPECT_EQ(follower->log().committed(), LogIndex(3));
  EXPECT_EQ(follower->leader(), NodeId(1));
  EXPECT_EQ(indexes(ready.entries_to_apply), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(recipients(ready.messages, MessageType::kHeartbeatResponse), std::vector{NodeId(1)});
}

TEST(RaftReplication, HeartbeatCarriesCommitLimitedByFollowersMatch) {
  std::vector<TestNode> nodes = stable_cluster();
  TestNode& leader = nodes[0];
  propose_times(leader, 2);
  deliver_until_quiet(nodes, {NodeId(3)});
  ASSERT_EQ(leader->log().committed(), LogIndex(3));
  ASSERT_EQ(leader->progress(NodeId(3))->match, LogIndex(1));

  leader->tick();
  const Ready ready = leader->take_ready();

  const auto heartbeats = of_type(ready.messages, MessageType::kHeartbeat);
  ASSERT_EQ(heartbeats.size(), 2u);
  EXPECT_EQ(to_node(heartbeats, NodeId(2)).at(0).commit, LogIndex(3));
  // Node 3's entries 2 and 3 may still differ from ours: it must not commit them on our word.
  EXPECT_EQ(to_node(heartbeats, NodeId(3)).at(0).commit, LogIndex(1));
}

// =================================================================================================
// Batching and pipelining

TEST(RaftReplication, ProbingLeaderSendsOneAppendAtATime) {
  std::vector<TestNode> nodes = test::make_cluster({.append_entries_max = 1});
  TestNode& leader = nodes[0];
  leader->campaign();
  for (int round = 0; round < 20 && leader->role() != Role::kLeader; ++round) {
    test::deliver_round(nodes);
  }
  ASSERT_EQ(leader->role(), Role::kLeader);
  // A new leader does not know where the followers' logs end: it probes.
  ASSERT_EQ(leader->progress(NodeId(2))->state, ProgressState::kProbe);
  propose_times(leader, 3);

  const Ready ready = leader->take_ready();

  // One append per follower (the no-op), not four, until an answer says where to go on.
  EXPECT_EQ(recipients(ready.messages, MessageType::kAppend), (std::vector{NodeId(2), NodeId(3)}));
  EXPECT_TRUE(leader->progress(NodeId(2))->is_paused());

  for (const Message& m : test::handle(leader, ready).messages) {
    if (m.to == NodeId(2)) receive(nodes[1], m);
  }
  for (const Message& m : test::handle_ready(nodes[1]).messages) receive(leader, m);
  EXPECT_EQ(leader->progress(NodeId(2))->state, ProgressState::kReplicate);
  const Ready next = leader->take_ready();
  std::vector<uint64_t> streamed;  // now several appends at once
  for (const Message& m : to_node(of_type(next.messages, MessageType::kAppend), NodeId(2))) {
    for (const Entry& e : m.entries) streamed.push_back(e.index.value);
  }
  EXPECT_EQ(streamed, (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_TRUE(to_node(of_type(next.messages, MessageType::kAppend), NodeId(3)).empty());
}

TEST(RaftReplication, ProposalsBeforeOneReadyLeaveAsOneAppendPerFollower) {
  std::vector<TestNode> nodes = stable_cluster();
  propose_times(nodes[0], 5);

  const Ready ready = nodes[0]->take_ready();

  const auto appends = of_type(ready.messages, MessageType::kAppend);
  EXPECT_EQ(recipients(appends, MessageType::kAppend), (std::vector{NodeId(2), NodeId(3)}));
  for (const Message& m : appends) {
    EXPECT_EQ(indexes(m.entries), (std::vector<uint64_t>{2, 3, 4, 5, 6}));
  }
  EXPECT_EQ(ready.entries_to_persist.size(), 5u);
}

TEST(RaftReplication, AppendBatchesAreBoundedByAppendEntriesMax) {
  std::vector<TestNode> nodes = stable_cluster({.append_entries_max = 2});
  propose_times(nodes[0], 5);

  const Ready ready = nodes[0]->take_ready();

  for (uint64_t follower : {2, 3}) {
    const auto appends = to_node(of_type(ready.messages, MessageType::kAppend), NodeId(follower));
    ASSERT_EQ(appends.size(), 3u) << "follower " << follower;
    EXPECT_EQ(indexes(appends[0].entries), (std::vector<uint64_t>{2, 3}));
    EXPECT_EQ(indexes(appends[1].entries), (std::vector<uint64_t>{4, 5}));
    EXPECT_EQ(indexes(appends[2].entries), (std::vector<uint64_t>{6}));
    EXPECT_EQ(appends[1].index, LogIndex(3));  // each follows on from the one before
    EXPECT_EQ(appends[2].index, LogIndex(5));
  }
}

TEST(RaftReplication, PipelineKeepsAtMostInflightAppendsMaxInFlight) {
  std::vector<TestNode> nodes =
      stable_cluster({.append_entries_max = 1, .inflight_appends_max = 3});
  TestNode& leader = nodes[0];
  propose_times(leader, 5);  // entries 2..6

  const test::Handled sent = test::handle_ready(leader);
  const auto to_2 = to_node(of_type(sent.messages, MessageType::kAppend), NodeId(2));
  ASSERT_EQ(to_2.size(), 3u);  // 2, 3 and 4 without waiting for an answer; 5 and 6 wait
  EXPECT_EQ(indexes(to_2[2].entries), (std::vector<uint64_t>{4}));
  EXPECT_EQ(leader->progress(NodeId(2))->inflights.count(), 3u);
  EXPECT_TRUE(leader->progress(NodeId(2))->is_paused());

  // Node 2 acknowledges the first append: one slot frees, entry 5 goes out.
  receive(nodes[1], to_2[0]);
  for (const Message& m : test::handle_ready(nodes[1]).messages) receive(leader, m);
  const Ready next = leader->take_ready();

  const auto appends = of_type(next.messages, MessageType::kAppend);
  ASSERT_EQ(appends.size(), 1u);
  EXPECT_EQ(appends[0].to, NodeId(2));
  EXPECT_EQ(indexes(appends[0].entries), (std::vector<uint64_t>{5}));
  EXPECT_EQ(leader->progress(NodeId(2))->inflights.count(), 3u);
}

TEST(RaftReplication, AcknowledgementRefillsTheWholeFreedWindow) {
  std::vector<TestNode> nodes =
      stable_cluster({.append_entries_max = 1, .inflight_appends_max = 3});
  TestNode& leader = nodes[0];
  propose_times(leader, 5);  // entries 2..6
  // The leader's own copy is not durable yet, so the answer below commits nothing: what leaves
  // is owed to the freed window alone.
  const Ready ready = leader->take_ready();
  const auto to_2 = to_node(of_type(ready.messages, MessageType::kAppend), NodeId(2));
  ASSERT_EQ(to_2.size(), 3u);

  for (const Message& m : to_2) receive(nodes[1], m);
  const auto answers = test::handle_ready(nodes[1]).messages;
  ASSERT_EQ(answers.back().index, LogIndex(4));
  receive(leader, answers.back());  // acknowledges all three appends at once

  // Entries 5 and 6 both went out: two appends in flight, nothing left to send.
  EXPECT_EQ(leader->log().committed(), LogIndex(1));
  EXPECT_EQ(leader->progress(NodeId(2))->inflights.count(), 2u);
  EXPECT_EQ(leader->progress(NodeId(2))->next, LogIndex(7));
}

TEST(RaftReplication, LostProbeIsResentAfterHeartbeatResponse) {
  std::vector<TestNode> nodes = test::make_cluster({});
  TestNode& leader = nodes[0];
  leader->campaign();
  for (int round = 0; round < 20 && leader->role() != Role::kLeader; ++round) {
    test::deliver_round(nodes, {NodeId(3)});
  }
  ASSERT_EQ(leader->role(), Role::kLeader);
  test::handle_ready(leader);  // the probe to node 3 is lost
  ASSERT_TRUE(leader->progress(NodeId(3))->is_paused());

  receive(leader, test::make_message(MessageType::kHeartbeatResponse, 3, 1, 1));
  const Ready ready = leader->take_ready();

  const auto appends = to_node(of_type(ready.messages, MessageType::kAppend), NodeId(3));
  ASSERT_EQ(appends.size(), 1u);
  EXPECT_EQ(indexes(appends[0].entries), (std::vector<uint64_t>{1}));
}

TEST(RaftReplication, FullWindowIsReleasedByHeartbeatResponse) {
  std::vector<TestNode> nodes =
      stable_cluster({.append_entries_max = 1, .inflight_appends_max = 3});
  TestNode& leader = nodes[0];
  propose_times(leader, 5);
  test::handle_ready(leader);  // the three appends to node 3 are lost
  ASSERT_TRUE(leader->progress(NodeId(3))->is_paused());

  leader->tick();
  const test::Handled heartbeat_round = test::handle_ready(leader);
  EXPECT_TRUE(to_node(of_type(heartbeat_round.messages, MessageType::kAppend), NodeId(3)).empty());

  receive(leader, test::make_message(MessageType::kHeartbeatResponse, 3, 1, 1));
  const Ready ready = leader->take_ready();

  const auto appends = to_node(of_type(ready.messages, MessageType::kAppend), NodeId(3));
  ASSERT_EQ(appends.size(), 1u);
  EXPECT_EQ(indexes(appends[0].entries), (std::vector<uint64_t>{5}));
}

// =================================================================================================
// Applying, persistence and recovery

TEST(RaftReplication, CommittedEntriesAreAppliedInOrderExactlyOnce) {
  std::vector<TestNode> nodes = test::make_cluster({.seed = 5});
  test::NetworkTrace trace;
  nodes[0]->campaign();
  deliver_until_quiet(nodes, {}, &trace);
  ASSERT_EQ(nodes[0]->role(), Role::kLeader);

  // Several batches; node 3 misses the first ones and catches up later.
  for (int batch = 0; batch < 5; ++batch) {
    const std::set<NodeId> isolated = batch < 3 ? std::set<NodeId>{NodeId(3)} : std::set<NodeId>{};
    propose_times(nodes[0], 4);
    deliver_until_quiet(nodes, isolated, &trace);
    test::tick_all(nodes, isolated, &trace);
  }
  for (int tick = 0; tick < 3; ++tick) test::tick_all(nodes, {}, &trace);

  const LogIndex last = nodes[0]->log().last_index();
  ASSERT_EQ(last, LogIndex(21));
  const std::vector<Entry> log = nodes[0]->log().entries_from(LogIndex(1), 21, SIZE_MAX);
  for (const TestNode& n : nodes) {
    EXPECT_EQ(n->log().committed(), last) << "node " << n.id();
    EXPECT_EQ(trace.applied[n.id()], log) << "node " << n.id();
  }
}

TEST(RaftReplication, AppendResponseLeavesOnlyAfterEntriesArePersisted) {
  TestNode follower = test::make_node({.id = 2});

  receive(follower, test::make_append(1, 2, 1, 0, 0, make_entries(LogIndex(1), {1, 1}), 0));
  const Ready ready = follower->take_ready();

  EXPECT_EQ(indexes(ready.entries_to_persist), (std::vector<uint64_t>{1, 2}));
  ASSERT_TRUE(ready.hard_state.has_value());  // the new term too
  EXPECT_EQ(ready.hard_state->term, Term(1));
  EXPECT_TRUE(ready.messages.empty());
  ASSERT_EQ(ready.messages_after_persist.size(), 1u);
  EXPECT_EQ(ready.messages_after_persist[0].type, MessageType::kAppendResponse);
  EXPECT_EQ(ready.messages_after_persist[0].index, LogIndex(2));
}

TEST(RaftReplication, LeaderAppendsMayLeaveBeforeItsOwnEntriesArePersisted) {
  std::vector<TestNode> nodes = stable_cluster();
  ASSERT_TRUE(nodes[0]->propose(to_bytes("x")).has_value());

  const Ready ready = nodes[0]->take_ready();

  EXPECT_EQ(ready.entries_to_persist.size(), 1u);
  EXPECT_EQ(of_type(ready.messages, MessageType::kAppend).size(), 2u);
  EXPECT_TRUE(ready.messages_after_persist.empty());
}

TEST(RaftReplication, RestartedNodeRecoversTermVoteLogAndCommit) {
  std::vector<TestNode> nodes = stable_cluster({.pre_vote = false});
  propose_times(nodes[0], 3);
  deliver_until_quiet(nodes);
  TestNode& node = nodes[1];
  ASSERT_EQ(node->log().committed(), LogIndex(4));

  node.restart();

  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term(1));
  EXPECT_EQ(node->vote(), NodeId(1));
  EXPECT_EQ(log_terms(node->log()), (std::vector<uint64_t>{1, 1, 1, 1}));
  EXPECT_EQ(node->log().committed(), LogIndex(4));
  // The state machine is memory only: it is rebuilt from the committed entries.
  const Ready ready = node->take_ready();
  EXPECT_FALSE(ready.hard_state.has_value());
  EXPECT_EQ(indexes(ready.entries_to_apply), (std::vector<uint64_t>{1, 2, 3, 4}));
  test::handle(node, ready);

  // Its vote of term 1 survived: a rival of the same term is refused.
  receive(node, test::make_vote(3, 2, 1, 4, 1));
  const auto responses = test::handle_ready(node).messages;
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_TRUE(responses[0].reject);

  // And it rejoins replication where it left off.
  ASSERT_TRUE(nodes[0]->propose(to_bytes("y")).has_value());
  deliver_until_quiet(nodes);
  EXPECT_EQ(node->log().committed(), LogIndex(5));
}

}  // namespace
}  // namespace grape::raft
