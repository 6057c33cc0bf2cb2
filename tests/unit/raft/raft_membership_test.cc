// Membership change: learners, simple changes of one voter, joint consensus (thesis §4.3) with
// etcd's auto-leave, removal of followers and of the leader, configurations restored on restart,
// and the byte encoding of ConfChange.

#include <cstdint>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/mark.h"
#include "core/raft/raft.h"
#include "tests/unit/raft/raft_test_util.h"

namespace grape::raft {
namespace {

using test::make_vote_response;
using test::receive;
using test::recipients;
using test::Refusals;
using test::TestNode;

std::vector<NodeId> ids(std::initializer_list<uint64_t> values) {
  std::vector<NodeId> out;
  for (uint64_t v : values) out.push_back(NodeId(v));
  return out;
}

ConfChangeItem add_voter(uint64_t id) { return {ConfChangeType::kAddVoter, NodeId(id)}; }
ConfChangeItem add_learner(uint64_t id) { return {ConfChangeType::kAddLearner, NodeId(id)}; }
ConfChangeItem remove_node(uint64_t id) { return {ConfChangeType::kRemoveNode, NodeId(id)}; }

// Nodes 1..3 (the initial configuration), node 1 elected in term 1, plus fresh nodes 4..total
// that start from the same initial configuration and an empty log, as a node added later does.
std::vector<TestNode> stable_cluster(uint64_t total = 3) {
  std::vector<TestNode> nodes = test::make_cluster({.cluster_size = 3});
  for (uint64_t id = 4; id <= total; ++id) nodes.push_back(test::make_node({.id = id}));
  test::elect(nodes, 1);
  return nodes;
}

// Delivery as a real driver does it: messages from peers a node no longer knows are dropped.
void deliver(std::vector<TestNode>& nodes, const std::set<NodeId>& isolated = {}) {
  test::deliver_until_quiet(nodes, isolated, nullptr, Refusals::kDropUnknownPeers);
}

void tick_all_times(std::vector<TestNode>& nodes, int ticks,
                    const std::set<NodeId>& isolated = {}) {
  for (int i = 0; i < ticks; ++i)
    test::tick_all(nodes, isolated, nullptr, Refusals::kDropUnknownPeers);
}

// Proposes `change` on `leader`, which must accept it, and delivers until quiet.
void change_and_deliver(std::vector<TestNode>& nodes, TestNode& leader, ConfChange change) {
  ASSERT_TRUE(leader->propose_conf_change(change).has_value()) << change;
  deliver(nodes);
}

ConfState conf(std::vector<NodeId> voters, std::vector<NodeId> outgoing = {},
               std::vector<NodeId> learners = {}) {
  return ConfState{std::move(voters), std::move(outgoing), std::move(learners), {}};
}

// Delivers round by round until the leader has applied a joint configuration.
void deliver_until_leader_is_joint(std::vector<TestNode>& nodes, TestNode& leader) {
  for (int round = 0; round < 100 && !leader->conf_state().is_joint(); ++round) {
    test::deliver_round(nodes, {}, nullptr, Refusals::kDropUnknownPeers);
  }
  ASSERT_TRUE(leader->conf_state().is_joint());
}

NodeId the_leader(std::vector<TestNode>& nodes) {
  NodeId leader;
  for (const TestNode& n : nodes) {
    if (n->role() == Role::kLeader) {
      EXPECT_EQ(leader, kNoNode) << "two leaders";
      leader = n.id();
    }
  }
  return leader;
}

// =================================================================================================
// Learners

TEST(RaftMembership, AddedLearnerReceivesTheLogButDoesNotCountForCommit) {
  std::vector<TestNode> nodes = stable_cluster(4);
  TestNode& leader = nodes[0];

  change_and_deliver(nodes, leader, {{add_learner(4)}});
  for (const TestNode& n : nodes) {
    EXPECT_EQ(n->conf_state(), conf(ids({1, 2, 3}), {}, ids({4}))) << "node " << n.id();
  }
  EXPECT_EQ(test::log_terms(nodes[3]->log()), test::log_terms(leader->log()));

  // With both voting followers gone, the learner's copy is no majority.
  const LogIndex committed = leader->log().committed();
  ASSERT_TRUE(leader->propose(to_bytes("x")).has_value());
  deliver(nodes, {NodeId(2), NodeId(3)});

  EXPECT_EQ(nodes[3]->log().last_index(), leader->log().last_index());
  EXPECT_EQ(leader->progress(NodeId(4))->match, leader->log().last_index());
  EXPECT_EQ(leader->log().committed(), committed);
}

TEST(RaftMembership, LearnerNeverCampaigns) {
  std::vector<TestNode> nodes = stable_cluster(4);
  change_and_deliver(nodes, nodes[0], {{add_learner(4)}});
  TestNode& learner = nodes[3];

  learner->campaign();
  for (int tick = 0; tick < 100; ++tick) learner->tick();

  EXPECT_EQ(learner->role(), Role::kFollower);
  EXPECT_EQ(learner->term(), Term(1));
  EXPECT_TRUE(test::handle_all_ready(learner).messages.empty());
}

TEST(RaftMembership, LearnersVoteDoesNotCountInElection) {
  std::vector<TestNode> nodes = stable_cluster(4);
  change_and_deliver(nodes, nodes[0], {{add_learner(4)}});
  TestNode& candidate = nodes[1];
  candidate.config.pre_vote = false;
  candidate.restart();
  test::handle_all_ready(candidate);  // re-applies the log, learner included
  ASSERT_EQ(candidate->conf_state().learners, ids({4}));

  candidate->campaign();
  const auto asked = recipients(test::handle_all_ready(candidate).messages, MessageType::kVote);
  receive(candidate, make_vote_response(4, 2, candidate->term().value, true));

  EXPECT_EQ(asked, ids({1, 3}));
  EXPECT_EQ(candidate->role(), Role::kCandidate);
}

TEST(RaftMembership, PromotedLearnerCountsForCommit) {
  std::vector<TestNode> nodes = stable_cluster(4);
  TestNode& leader = nodes[0];
  change_and_deliver(nodes, leader, {{add_learner(4)}});
  ASSERT_EQ(leader->progress(NodeId(4))->match, leader->log().last_index());  // caught up

  change_and_deliver(nodes, leader, {{add_voter(4)}});
  for (const TestNode& n : nodes) {
    EXPECT_EQ(n->conf_state(), conf(ids({1, 2, 3, 4}))) << "node " << n.id();
  }

  // Three of four voters hold the entry only with the promoted node's copy.
  const auto index = leader->propose(to_bytes("x"));
  ASSERT_TRUE(index.has_value());
  deliver(nodes, {NodeId(3)});
  EXPECT_EQ(leader->log().committed(), *index);
}

TEST(RaftMembership, InitialLearnersComeFromTheConfig) {
  TestNode node = test::make_node({.id = 4});
  node.config.learners = {NodeId(4)};
  node.restart();

  node->campaign();

  EXPECT_EQ(node->conf_state(), conf(ids({1, 2, 3}), {}, ids({4})));
  EXPECT_EQ(node->role(), Role::kFollower);
}

TEST(RaftMembership, TransferToLearnerIsRefused) {
  std::vector<TestNode> nodes = stable_cluster(4);
  change_and_deliver(nodes, nodes[0], {{add_learner(4)}});

  const auto status = nodes[0]->transfer_leadership(NodeId(4));

  ASSERT_FALSE(status.is_ok());
  EXPECT_EQ(status.error().code, TransferErrorCode::kUnknownPeer);
  EXPECT_EQ(nodes[0]->transfer_target(), kNoNode);
}

// =================================================================================================
// Joint consensus (thesis §4.3)

TEST(RaftMembership, AddingTwoVotersGoesThroughJointConfigurationAndLeaderLeavesIt) {
  std::vector<TestNode> nodes = stable_cluster(5);
  TestNode& leader = nodes[0];
  const uint64_t before = mark_count("raft.auto_leave_proposed");
  ASSERT_TRUE(leader->propose_conf_change({{add_voter(4), add_voter(5)}}).has_value());

  std::vector<ConfState> seen_by_leader;
  test::NetworkTrace trace;
  for (int round = 0; round < 100; ++round) {
    if (test::deliver_round(nodes, {}, &trace, Refusals::kDropUnknownPeers) == 0) break;
    if (seen_by_leader.empty() || seen_by_leader.back() != leader->conf_state()) {
      seen_by_leader.push_back(leader->conf_state());
    }
  }

  EXPECT_EQ(seen_by_leader,
            (std::vector{conf(ids({1, 2, 3})), conf(ids({1, 2, 3, 4, 5}), ids({1, 2, 3})),
                         conf(ids({1, 2, 3, 4, 5}))}));
  EXPECT_EQ(mark_count("raft.auto_leave_proposed"), before + 1);
  for (TestNode& n : nodes) {
    std::vector<ConfChange> applied;
    for (const Entry& e : trace.applied[n.id()]) {
      if (e.type == EntryType::kConfChange) applied.push_back(*decode_conf_change(e.data));
    }
    EXPECT_EQ(applied, (std::vector{ConfChange{{add_voter(4), add_voter(5)}}, ConfChange{}}))
        << "node " << n.id();
    EXPECT_EQ(n->conf_state(), conf(ids({1, 2, 3, 4, 5}))) << "node " << n.id();
  }
}

// C_old = {1, 2, 3}, C_new = {1, 4, 5}: with 2 and 3 cut off, C_new alone holds the entry.
TEST(RaftMembership, WhileJointCommitNeedsTheOldMajorityToo) {
  std::vector<TestNode> nodes = stable_cluster(5);
  TestNode& leader = nodes[0];
  ASSERT_TRUE(
      leader->propose_conf_change({{add_voter(4), add_voter(5), remove_node(2), remove_node(3)}})
          .has_value());
  deliver_until_leader_is_joint(nodes, leader);
  const LogIndex committed = leader->log().committed();

  const auto index = leader->propose(to_bytes("x"));
  ASSERT_TRUE(index.has_value());
  deliver(nodes, {NodeId(2), NodeId(3)});

  EXPECT_EQ(leader->conf_state(), conf(ids({1, 4, 5}), ids({1, 2, 3})));
  EXPECT_EQ(leader->progress(NodeId(4))->match, *index);
  EXPECT_EQ(leader->progress(NodeId(5))->match, *index);
  EXPECT_EQ(leader->log().committed(), committed);

  // Once the old voters are back, everything commits, the leave (proposed before x) included.
  tick_all_times(nodes, 1);
  EXPECT_EQ(leader->log().committed(), *index);
  EXPECT_EQ(leader->conf_state(), conf(ids({1, 4, 5})));
  EXPECT_EQ(leader->role(), Role::kLeader);
}

TEST(RaftMembership, WhileJointCommitNeedsTheNewMajorityToo) {
  std::vector<TestNode> nodes = stable_cluster(5);
  TestNode& leader = nodes[0];
  ASSERT_TRUE(
      leader->propose_conf_change({{add_voter(4), add_voter(5), remove_node(2), remove_node(3)}})
          .has_value());
  deliver_until_leader_is_joint(nodes, leader);
  const LogIndex committed = leader->log().committed();

  const auto index = leader->propose(to_bytes("x"));
  ASSERT_TRUE(index.has_value());
  deliver(nodes, {NodeId(4), NodeId(5)});

  EXPECT_EQ(leader->progress(NodeId(2))->match, *index);
  EXPECT_EQ(leader->log().committed(), committed);
}

// A node that has applied C_old,new = {1, 2, 3},{1, 4, 5} campaigns.
TestNode joint_candidate(bool pre_vote) {
  TestNode node = test::make_node({.id = 1, .pre_vote = pre_vote});
  node->apply_conf_change({{add_voter(4), add_voter(5), remove_node(2), remove_node(3)}});
  EXPECT_EQ(node->conf_state(), conf(ids({1, 4, 5}), ids({1, 2, 3})));
  node->campaign();
  return node;
}

TEST(RaftMembership, WhileJointElectionNeedsBothMajorities) {
  TestNode node = joint_candidate(/*pre_vote=*/false);
  const auto asked = recipients(test::handle_all_ready(node).messages, MessageType::kVote);

  receive(node, make_vote_response(4, 1, 1, true));
  receive(node, make_vote_response(5, 1, 1, true));
  const Role with_new_majority = node->role();
  receive(node, make_vote_response(2, 1, 1, true));

  EXPECT_EQ(asked, ids({2, 3, 4, 5}));
  EXPECT_EQ(with_new_majority, Role::kCandidate);
  EXPECT_EQ(node->role(), Role::kLeader);
}

TEST(RaftMembership, WhileJointPreVoteNeedsBothMajorities) {
  TestNode node = joint_candidate(/*pre_vote=*/true);
  ASSERT_EQ(node->role(), Role::kPreCandidate);
  test::handle_ready(node);  // our own pre-vote counts once the campaign's Ready is handled

  receive(node, make_vote_response(2, 1, 1, true, MessageType::kPreVoteResponse));
  receive(node, make_vote_response(3, 1, 1, true, MessageType::kPreVoteResponse));
  const Role with_old_majority = node->role();
  receive(node, make_vote_response(4, 1, 1, true, MessageType::kPreVoteResponse));

  EXPECT_EQ(with_old_majority, Role::kPreCandidate);
  EXPECT_EQ(node->role(), Role::kCandidate);
}

TEST(RaftMembership, WhileJointRefusalByOldMajorityLosesElection) {
  TestNode node = joint_candidate(/*pre_vote=*/false);

  receive(node, make_vote_response(4, 1, 1, true));
  receive(node, make_vote_response(5, 1, 1, true));
  receive(node, make_vote_response(2, 1, 1, false));
  receive(node, make_vote_response(3, 1, 1, false));

  EXPECT_EQ(node->role(), Role::kFollower);
}

TEST(RaftMembership, WhileJointLeaderWithoutOldMajorityStepsDownOnCheckQuorum) {
  std::vector<TestNode> nodes = stable_cluster(5);
  TestNode& leader = nodes[0];
  ASSERT_TRUE(
      leader->propose_conf_change({{add_voter(4), add_voter(5), remove_node(2), remove_node(3)}})
          .has_value());
  deliver_until_leader_is_joint(nodes, leader);

  // 4 and 5 answer every heartbeat, but of C_old only the leader is left.
  tick_all_times(nodes, 2 * 10, {NodeId(2), NodeId(3)});

  EXPECT_NE(leader->role(), Role::kLeader);
}

// =================================================================================================
// Removal

TEST(RaftMembership, RemovedFollowerGetsNoMoreEntriesAndNeverCampaigns) {
  std::vector<TestNode> nodes = stable_cluster();
  TestNode& leader = nodes[0];

  change_and_deliver(nodes, leader, {{remove_node(3)}});
  EXPECT_EQ(leader->conf_state(), conf(ids({1, 2})));
  EXPECT_EQ(nodes[2]->conf_state(), conf(ids({1, 2})));  // it applied its own removal
  EXPECT_EQ(leader->progress(NodeId(3)), nullptr);
  const LogIndex removed_at = nodes[2]->log().last_index();

  const auto index = leader->propose(to_bytes("x"));
  ASSERT_TRUE(index.has_value());
  tick_all_times(nodes, 5 * 10);

  EXPECT_EQ(leader->log().committed(), *index);  // 1 and 2 are the majority now
  EXPECT_EQ(nodes[2]->log().last_index(), removed_at);
  EXPECT_EQ(nodes[2]->role(), Role::kFollower);
  EXPECT_EQ(nodes[2]->term(), Term(1));
  EXPECT_EQ(leader->role(), Role::kLeader);
}

// A removed leader does not step down at once (the others may not know yet that its removal
// committed, and would need its vote): it hands leadership to the most caught-up remaining voter,
// whose election in the next term ends its own leadership.
TEST(RaftMembership, RemovedLeaderHandsLeadershipToARemainingVoter) {
  std::vector<TestNode> nodes = stable_cluster();
  TestNode& old_leader = nodes[0];
  const uint64_t before = mark_count("raft.removed_leader_hands_off");

  change_and_deliver(nodes, old_leader, {{remove_node(1)}});
  tick_all_times(nodes, 5 * 10);  // a TimeoutNow that came too early is retried after a timeout
  deliver(nodes);
  for (const TestNode& n : nodes) {
    EXPECT_EQ(n->conf_state(), conf(ids({2, 3}))) << "node " << n.id();
  }

  const NodeId new_leader = the_leader(nodes);
  ASSERT_TRUE(new_leader == NodeId(2) || new_leader == NodeId(3)) << "leader " << new_leader;
  EXPECT_GE(mark_count("raft.removed_leader_hands_off"), before + 1);
  TestNode& leader = test::node_by_id(nodes, new_leader);
  const auto index = leader->propose(to_bytes("x"));
  ASSERT_TRUE(index.has_value());
  deliver(nodes);

  EXPECT_EQ(leader->log().committed(), *index);
  EXPECT_EQ(old_leader->role(), Role::kFollower);
  EXPECT_EQ(old_leader->term(), Term(2));  // the hand-off's election, nothing more
}

// Found by the stateful property: the commit of the removal is lost on its way to the others.
// A leader that stepped down at once left them needing its vote under the old configuration,
// which it never gave (its log is longer and, no voter, it never campaigns): no leader, ever.
TEST(RaftMembership, RemovedLeaderWhoseCommitIsLostStillHandsOff) {
  std::vector<TestNode> nodes = stable_cluster();
  TestNode& old_leader = nodes[0];
  const auto removal = old_leader->propose_conf_change({{remove_node(1)}});
  ASSERT_TRUE(removal.has_value());
  // Replicate the change, but drop every message that would tell n2 and n3 it committed.
  for (int round = 0; round < 20; ++round) {
    for (TestNode& n : nodes) {
      for (const Message& m : test::handle_all_ready(n).messages) {
        const bool tells_commit = m.from == NodeId(1) && m.commit >= *removal;
        if (!tells_commit) (void)test::node_by_id(nodes, m.to)->step(m);
      }
    }
  }
  ASSERT_EQ(old_leader->conf_state(), conf(ids({2, 3})));

  tick_all_times(nodes, 5 * 10);
  deliver(nodes);

  const NodeId new_leader = the_leader(nodes);
  EXPECT_TRUE(new_leader == NodeId(2) || new_leader == NodeId(3)) << "leader " << new_leader;
}

TEST(RaftMembership, LeaderOfOldConfigurationOnlyStepsDownAfterLeavingJoint) {
  std::vector<TestNode> nodes = stable_cluster(5);
  TestNode& old_leader = nodes[0];
  ASSERT_TRUE(
      old_leader->propose_conf_change({{add_voter(4), add_voter(5), remove_node(1)}}).has_value());
  deliver_until_leader_is_joint(nodes, old_leader);
  EXPECT_EQ(old_leader->role(), Role::kLeader);  // still a voter of C_old: it runs the leave

  deliver(nodes);  // the leave commits; n1, a voter no more, hands off
  tick_all_times(nodes, 5 * 10);

  EXPECT_EQ(old_leader->role(), Role::kFollower);
  const NodeId new_leader = the_leader(nodes);
  EXPECT_NE(new_leader, kNoNode);
  EXPECT_NE(new_leader, NodeId(1));
  for (const TestNode& n : nodes) {
    EXPECT_EQ(n->conf_state(), conf(ids({2, 3, 4, 5}))) << "node " << n.id();
  }
}

// =================================================================================================
// Proposals

TEST(RaftMembership, SecondConfChangeWhileOneIsPendingIsRefused) {
  std::vector<TestNode> nodes = stable_cluster(5);
  TestNode& leader = nodes[0];
  ASSERT_TRUE(leader->propose_conf_change({{add_learner(4)}}).has_value());

  const auto second = leader->propose_conf_change({{add_learner(5)}});
  deliver(nodes);
  const auto after_apply = leader->propose_conf_change({{add_learner(5)}});

  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ProposeErrorCode::kConfChangePending);
  EXPECT_TRUE(after_apply.has_value());
}

// A new leader may hold a conf change of its predecessor that it has not applied yet: it must not
// propose another before it has (etcd sets pendingConfIndex to its last index when elected).
TEST(RaftMembership, NewLeaderRefusesConfChangeUntilItHasAppliedItsLog) {
  std::vector<TestNode> nodes = stable_cluster(5);
  TestNode& old_leader = nodes[0];
  ASSERT_TRUE(old_leader->propose_conf_change({{add_learner(4)}}).has_value());
  // The entry reaches 2 and 3, but 1 is cut off before it learns that they hold it.
  for (const Message& m : test::handle_ready(old_leader).messages) {
    receive(test::node_by_id(nodes, m.to), m);
  }
  const std::set<NodeId> cut_off = {NodeId(1)};

  NodeId new_leader;
  for (int tick = 0; tick < 100 && new_leader == kNoNode; ++tick) {
    for (TestNode& n : nodes) n->tick();
    for (int round = 0; round < 100 && new_leader == kNoNode; ++round) {
      if (test::deliver_round(nodes, cut_off, nullptr, Refusals::kDropUnknownPeers) == 0) break;
      for (const TestNode& n : nodes) {
        if (n.id() != NodeId(1) && n->role() == Role::kLeader) new_leader = n.id();
      }
    }
  }
  ASSERT_NE(new_leader, kNoNode);
  TestNode& leader = test::node_by_id(nodes, new_leader);
  const auto at_election = leader->propose_conf_change({{add_learner(5)}});
  deliver(nodes, cut_off);
  const auto once_applied = leader->propose_conf_change({{add_learner(5)}});

  ASSERT_FALSE(at_election.has_value());
  EXPECT_EQ(at_election.error().code, ProposeErrorCode::kConfChangePending);
  EXPECT_EQ(leader->conf_state().learners, ids({4}));
  EXPECT_TRUE(once_applied.has_value());
}

TEST(RaftMembership, InvalidConfChangesAreRefused) {
  std::vector<TestNode> nodes = stable_cluster();
  TestNode& leader = nodes[0];

  const auto leave_while_simple = leader->propose_conf_change({});
  const auto no_voters_left =
      leader->propose_conf_change({{remove_node(1), remove_node(2), remove_node(3)}});
  const auto on_follower = nodes[1]->propose_conf_change({{add_learner(4)}});

  ASSERT_FALSE(leave_while_simple.has_value());
  EXPECT_EQ(leave_while_simple.error().code, ProposeErrorCode::kConfChangeInvalid);
  ASSERT_FALSE(no_voters_left.has_value());
  EXPECT_EQ(no_voters_left.error().code, ProposeErrorCode::kConfChangeInvalid);
  ASSERT_FALSE(on_follower.has_value());
  EXPECT_EQ(on_follower.error().code, ProposeErrorCode::kNotLeader);
  EXPECT_EQ(leader->log().last_index(), LogIndex(1));
}

// =================================================================================================
// Restart

TEST(RaftMembership, ConfChangesSurviveRestartByReapplyingTheLog) {
  std::vector<TestNode> nodes = stable_cluster(4);
  TestNode& leader = nodes[0];
  change_and_deliver(nodes, leader, {{add_learner(4)}});
  change_and_deliver(nodes, leader, {{add_voter(4)}});
  change_and_deliver(nodes, leader, {{remove_node(3)}});
  const ConfState expected = conf(ids({1, 2, 4}));
  ASSERT_EQ(nodes[1]->conf_state(), expected);

  TestNode& follower = nodes[1];
  follower.restart();
  const ConfState initial = follower->conf_state();
  test::handle_all_ready(follower);  // the driver re-applies every committed entry

  EXPECT_EQ(initial, conf(ids({1, 2, 3})));
  EXPECT_EQ(follower->conf_state(), expected);
  leader.restart();
  test::handle_all_ready(leader);
  EXPECT_EQ(leader->conf_state(), expected);
}

// =================================================================================================
// Encoding

TEST(RaftMembership, ConfChangeEncodingRoundTrips) {
  const std::vector<ConfChange> changes = {
      ConfChange{},
      ConfChange{{add_learner(4)}},
      ConfChange{{add_voter(7), remove_node(2), add_learner(UINT64_MAX)}},
  };
  for (const ConfChange& change : changes) {
    const auto decoded = decode_conf_change(encode_conf_change(change));
    ASSERT_TRUE(decoded.has_value()) << change << ": " << decoded.error().detail;
    EXPECT_EQ(*decoded, change);
  }
}

TEST(RaftMembership, GarbageConfChangeDecodesToError) {
  const Bytes good = encode_conf_change({{add_voter(4)}});
  auto with = [&](size_t at, uint8_t value) {
    Bytes bytes = good;
    bytes[at] = std::byte{value};
    return bytes;
  };
  Bytes trailing = good;
  trailing.push_back(std::byte{0});
  Bytes truncated(good.begin(), good.end() - 1);

  const std::vector<Bytes> garbage = {
      Bytes{},
      truncated,
      trailing,
      with(0, 9),                                   // unknown version
      with(1, 2),                                   // count 2, one item
      with(4, 0x80),                                // huge count
      with(5, 0),                                   // unknown change type
      with(5, 4),                                   // unknown change type
      Bytes(encode_conf_change({{add_voter(0)}})),  // node 0
      to_bytes("put k v"),
  };
  for (const Bytes& bytes : garbage) {
    EXPECT_FALSE(decode_conf_change(bytes).has_value()) << bytes.size() << " bytes";
  }
}

// Issue 6, defect 2 (A): a group grown from {n1} to {n1,n2,n3}. On restart n1 starts from the
// initial configuration {n1}; until it has re-applied the committed changes it must not campaign,
// or it would win a term alone and could commit alone.
TEST(RaftMembership, RestartedNodeDoesNotCampaignBeforeApplyingCommittedConfChanges) {
  std::vector<Entry> log = test::make_entries(LogIndex(1), {1, 1, 1});
  log[1].type = EntryType::kConfChange;
  log[1].data = encode_conf_change({{add_voter(2)}});
  log[2].type = EntryType::kConfChange;
  log[2].data = encode_conf_change({{add_voter(3)}});
  TestNode node = test::make_node({.id = 1, .cluster_size = 1, .pre_vote = false}, log,
                                  HardState{Term(1), NodeId(1), LogIndex(3)});
  const uint64_t before = mark_count("raft.campaign_refused_unapplied_conf_change");

  node->campaign();
  const Role before_apply = node->role();
  const Term term_before_apply = node->term();
  test::handle_all_ready(node);  // re-applies entries 1..3: configuration {n1, n2, n3}
  node->campaign();
  test::handle_all_ready(node);

  EXPECT_EQ(before_apply, Role::kFollower);
  EXPECT_EQ(term_before_apply, Term(1));
  EXPECT_EQ(mark_count("raft.campaign_refused_unapplied_conf_change"), before + 1);
  EXPECT_EQ(node->voters(), ids({1, 2, 3}));
  EXPECT_EQ(node->role(), Role::kCandidate);  // now it needs n2 or n3
}

// Defect 2 (A) through the timer and TimeoutNow as well: neither may start the campaign.
TEST(RaftMembership, TimerAndTimeoutNowWaitForCommittedConfChangesToApply) {
  std::vector<Entry> log = test::make_entries(LogIndex(1), {1, 1});
  log[1].type = EntryType::kConfChange;
  log[1].data = encode_conf_change({{add_voter(2)}});
  TestNode node = test::make_node({.id = 1, .cluster_size = 1, .pre_vote = false}, log,
                                  HardState{Term(1), NodeId(1), LogIndex(2)});

  test::tick_times(node, 100);
  const Role after_ticks = node->role();
  Message timeout_now;
  timeout_now.type = MessageType::kTimeoutNow;
  timeout_now.from = NodeId(2);
  timeout_now.to = NodeId(1);
  timeout_now.term = Term(1);
  (void)node->step(timeout_now);

  EXPECT_EQ(after_ticks, Role::kFollower);
  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term(1));
}

}  // namespace
}  // namespace grape::raft
