// Elections: the rules of the Raft paper §5.1, §5.2 and §5.4.1, and the thesis' pre-vote (§9.6),
// check-quorum (§6.2), leader stickiness (§4.2.3) and leadership transfer (§3.10).

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/mark.h"
#include "core/raft/raft.h"
#include "tests/unit/raft/raft_test_util.h"

namespace grape::raft {
namespace {

using test::make_entries;
using test::make_heartbeat;
using test::make_vote;
using test::make_vote_response;
using test::NodeOptions;
using test::of_type;
using test::receive;
using test::recipients;
using test::TestNode;
using test::tick_times;

// Ticks a lone follower until it campaigns; returns how many ticks that took.
int ticks_until_campaign(TestNode& node) {
  for (int ticks = 1; ticks <= 1000; ++ticks) {
    node->tick();
    if (node->role() != Role::kFollower) return ticks;
  }
  ADD_FAILURE() << "node " << node.id() << " never campaigned";
  return -1;
}

// Makes a lone node leader by feeding it the answers of node 2 (pre-vote first when enabled).
void make_leader(TestNode& node) {
  node->campaign();
  test::handle_ready(node);  // the campaign is durable: our own vote counts
  if (node->role() == Role::kPreCandidate) {
    receive(node, make_vote_response(2, node.id().value, node->term().value + 1, true,
                                     MessageType::kPreVoteResponse));
    test::handle_ready(node);
  }
  ASSERT_EQ(node->role(), Role::kCandidate);
  receive(node, make_vote_response(2, node.id().value, node->term().value, true));
  ASSERT_EQ(node->role(), Role::kLeader);
  test::handle_all_ready(node);
}

// =================================================================================================
// §5.1–5.2: terms and elections

TEST(RaftElection, FollowerCampaignsAfterElectionTimeout) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3, .pre_vote = false, .seed = 7});

  tick_times(node, 9);  // the timeout is drawn from [10, 20)
  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_FALSE(node->has_ready());

  tick_times(node, 10);  // 19 ticks in all: exactly one campaign
  const Ready ready = node->take_ready();

  EXPECT_EQ(node->role(), Role::kCandidate);
  EXPECT_EQ(node->term(), Term(1));
  EXPECT_EQ(node->vote(), NodeId(1));  // votes for itself
  EXPECT_EQ(ready.hard_state, (HardState{Term(1), NodeId(1), LogIndex(0)}));
  // The requests promise the new term and self-vote: they leave only once those are durable.
  EXPECT_TRUE(of_type(ready.messages, MessageType::kVote).empty());
  EXPECT_EQ(recipients(ready.messages_after_persist, MessageType::kVote),
            (std::vector{NodeId(2), NodeId(3)}));
  for (const Message& m : ready.messages_after_persist) {
    EXPECT_EQ(m.term, Term(1));
    EXPECT_EQ(m.index, LogIndex(0));
    EXPECT_EQ(m.log_term, Term(0));
    EXPECT_FALSE(m.transfer);
  }
}

TEST(RaftElection, ElectionTimeoutIsDrawnFromTheWholeConfiguredRange) {
  int shortest = 1000;
  int longest = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    TestNode node =
        test::make_node({.id = 1, .election_ticks = 10, .pre_vote = false, .seed = seed});
    const int ticks = ticks_until_campaign(node);
    ASSERT_GE(ticks, 10) << "seed " << seed;
    ASSERT_LT(ticks, 20) << "seed " << seed;
    shortest = std::min(shortest, ticks);
    longest = std::max(longest, ticks);
  }
  // 200 draws from ten values reach both ends: the range is [election_ticks, 2 * election_ticks).
  EXPECT_EQ(shortest, 10);
  EXPECT_EQ(longest, 19);
}

TEST(RaftElection, ElectionTimeoutDependsOnlyOnTheSeed) {
  std::set<int> timeouts;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    TestNode first = test::make_node({.id = 1, .pre_vote = false, .seed = seed});
    TestNode second = test::make_node({.id = 1, .pre_vote = false, .seed = seed});
    const int ticks = ticks_until_campaign(first);
    EXPECT_EQ(ticks_until_campaign(second), ticks) << "seed " << seed;
    timeouts.insert(ticks);
  }
  EXPECT_GT(timeouts.size(), 1u) << "ten seeds all drew the same timeout";
}

TEST(RaftElection, NodeGrantsAtMostOneVotePerTerm) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3, .pre_vote = false});

  receive(node, make_vote(2, 1, 1, 0, 0));
  const Ready first = node->take_ready();
  test::handle(node, first);
  receive(node, make_vote(3, 1, 1, 0, 0));
  const Ready second = node->take_ready();

  ASSERT_EQ(first.messages_after_persist.size(), 1u);
  EXPECT_FALSE(first.messages_after_persist[0].reject);
  EXPECT_EQ(first.hard_state, (HardState{Term(1), NodeId(2), LogIndex(0)}));
  ASSERT_EQ(second.messages_after_persist.size(), 1u);
  EXPECT_EQ(second.messages_after_persist[0].to, NodeId(3));
  EXPECT_TRUE(second.messages_after_persist[0].reject);
  EXPECT_EQ(node->vote(), NodeId(2));
}

TEST(RaftElection, NodeGrantsItsVoteAgainToTheSameCandidate) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3, .pre_vote = false});
  receive(node, make_vote(2, 1, 1, 0, 0));
  test::handle_ready(node);

  // The first answer was lost; the candidate asks again.
  receive(node, make_vote(2, 1, 1, 0, 0));
  const Ready ready = node->take_ready();

  ASSERT_EQ(ready.messages_after_persist.size(), 1u);
  EXPECT_EQ(ready.messages_after_persist[0].type, MessageType::kVoteResponse);
  EXPECT_FALSE(ready.messages_after_persist[0].reject);
  EXPECT_EQ(node->vote(), NodeId(2));
}

TEST(RaftElection, GrantingVoteRestartsElectionTimer) {
  // Two nodes with one seed draw the same timeouts: the twin shows when the timer would fire.
  const NodeOptions options{.id = 1, .pre_vote = false, .seed = 9};
  const HardState state{Term(1), kNoNode, LogIndex(0)};
  TestNode twin = test::make_node(options, {}, state);
  const int timeout = ticks_until_campaign(twin);
  TestNode node = test::make_node(options, {}, state);

  tick_times(node, timeout - 1);
  receive(node, make_vote(2, 1, 1, 0, 0));  // granted within our own term
  ASSERT_EQ(node->vote(), NodeId(2));
  node->tick();

  EXPECT_EQ(node->role(), Role::kFollower);  // §5.2: granting a vote counts as hearing a leader
  EXPECT_EQ(node->term(), Term(1));
}

TEST(RaftElection, HeartbeatRestartsElectionTimer) {
  const NodeOptions options{.id = 1, .pre_vote = false, .seed = 9};
  const HardState state{Term(1), kNoNode, LogIndex(0)};
  TestNode twin = test::make_node(options, {}, state);
  const int timeout = ticks_until_campaign(twin);
  TestNode node = test::make_node(options, {}, state);

  tick_times(node, timeout - 1);
  receive(node, make_heartbeat(2, 1, 1, 0));  // from the leader of our own term
  tick_times(node, timeout - 1);

  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term(1));
}

TEST(RaftElection, AppendFromLeaderRestartsElectionTimer) {
  const NodeOptions options{.id = 1, .pre_vote = false, .seed = 9};
  const HardState state{Term(1), kNoNode, LogIndex(0)};
  TestNode twin = test::make_node(options, {}, state);
  const int timeout = ticks_until_campaign(twin);
  TestNode node = test::make_node(options, {}, state);

  tick_times(node, timeout - 1);
  receive(node, test::make_append(2, 1, 1, 0, 0, make_entries(LogIndex(1), {1}), 0));
  tick_times(node, timeout - 1);

  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term(1));
}

TEST(RaftElection, VoteDeniedToCandidateWithLowerLastTerm) {
  // Our log ends 3@2; the candidate's is longer but ends in term 1.
  TestNode node =
      test::make_node({.id = 1, .pre_vote = false}, make_entries(LogIndex(1), {1, 1, 2}),
                      {Term(2), kNoNode, LogIndex(0)});

  receive(node, make_vote(2, 1, 3, 5, 1));
  const Ready ready = node->take_ready();

  ASSERT_EQ(ready.messages_after_persist.size(), 1u);
  EXPECT_TRUE(ready.messages_after_persist[0].reject);
  EXPECT_EQ(ready.messages_after_persist[0].term, Term(3));
  EXPECT_EQ(node->term(), Term(3));  // the term is adopted all the same (§5.1)
  EXPECT_EQ(node->vote(), kNoNode);
}

TEST(RaftElection, VoteDeniedToCandidateWithShorterLogOfSameLastTerm) {
  TestNode node =
      test::make_node({.id = 1, .pre_vote = false}, make_entries(LogIndex(1), {1, 1, 2, 2}),
                      {Term(2), kNoNode, LogIndex(0)});

  receive(node, make_vote(2, 1, 3, 3, 2));
  const Ready ready = node->take_ready();

  ASSERT_EQ(ready.messages_after_persist.size(), 1u);
  EXPECT_TRUE(ready.messages_after_persist[0].reject);
  EXPECT_EQ(node->vote(), kNoNode);
}

TEST(RaftElection, VoteGrantedToCandidateWithHigherLastTermAndShorterLog) {
  TestNode node =
      test::make_node({.id = 1, .pre_vote = false}, make_entries(LogIndex(1), {1, 1, 1, 1}),
                      {Term(1), kNoNode, LogIndex(0)});

  receive(node, make_vote(2, 1, 3, 2, 2));
  const Ready ready = node->take_ready();

  ASSERT_EQ(ready.messages_after_persist.size(), 1u);
  EXPECT_FALSE(ready.messages_after_persist[0].reject);
  EXPECT_EQ(node->vote(), NodeId(2));
}

TEST(RaftElection, LeaderStepsDownOnMessageWithHigherTerm) {
  TestNode node = test::make_node({.id = 1, .pre_vote = false});
  make_leader(node);
  ASSERT_EQ(node->term(), Term(1));

  receive(node, make_heartbeat(2, 1, 5, 0));

  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term(5));
  EXPECT_EQ(node->leader(), NodeId(2));
  EXPECT_EQ(node->vote(), kNoNode);
}

TEST(RaftElection, CandidateStepsDownOnMessageWithHigherTerm) {
  TestNode node = test::make_node({.id = 1, .pre_vote = false});
  node->campaign();
  ASSERT_EQ(node->role(), Role::kCandidate);

  // A refusal from a voter that has moved on to term 4.
  receive(node, make_vote_response(2, 1, 4, false));

  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term(4));
  EXPECT_EQ(node->vote(), kNoNode);
}

TEST(RaftElection, FollowerAdoptsHigherTermAndForgetsItsVote) {
  TestNode node =
      test::make_node({.id = 1, .pre_vote = false}, {}, {Term(2), NodeId(3), LogIndex(0)});

  receive(node, test::make_append(2, 1, 3, 0, 0, {}, 0));
  const Ready ready = node->take_ready();

  EXPECT_EQ(node->term(), Term(3));
  EXPECT_EQ(node->vote(), kNoNode);
  EXPECT_EQ(node->leader(), NodeId(2));
  EXPECT_EQ(ready.hard_state, (HardState{Term(3), kNoNode, LogIndex(0)}));
}

TEST(RaftElection, StaleTermVoteRequestIsIgnored) {
  TestNode node =
      test::make_node({.id = 1, .pre_vote = false}, {}, {Term(3), kNoNode, LogIndex(0)});

  receive(node, make_vote(2, 1, 2, 0, 0));

  EXPECT_FALSE(node->has_ready());
  EXPECT_EQ(node->term(), Term(3));
  EXPECT_EQ(node->vote(), kNoNode);
}

TEST(RaftElection, StaleVoteResponseDoesNotCount) {
  TestNode node =
      test::make_node({.id = 1, .pre_vote = false}, {}, {Term(1), kNoNode, LogIndex(0)});
  node->campaign();
  ASSERT_EQ(node->term(), Term(2));

  receive(node, make_vote_response(2, 1, 1, true));  // a grant from the election of term 1

  EXPECT_EQ(node->role(), Role::kCandidate);
}

TEST(RaftElection, StaleLeaderIsToldTheNewerTerm) {
  TestNode node = test::make_node({.id = 1, .pre_vote = false}, make_entries(LogIndex(1), {1}),
                                  {Term(3), kNoNode, LogIndex(0)});
  const uint64_t before = mark_count("raft.stale_leader_told_newer_term");

  receive(node, test::make_append(2, 1, 2, 1, 1, make_entries(LogIndex(2), {2}), 1));
  const Ready ready = node->take_ready();

  ASSERT_EQ(ready.messages_after_persist.size(), 1u);
  const Message& response = ready.messages_after_persist[0];
  EXPECT_EQ(response.type, MessageType::kAppendResponse);
  EXPECT_EQ(response.to, NodeId(2));
  EXPECT_EQ(response.term, Term(3));
  EXPECT_TRUE(ready.entries_to_persist.empty());  // the stale entries were not taken
  EXPECT_EQ(node->log().last_index(), LogIndex(1));
  EXPECT_EQ(node->leader(), kNoNode);
  EXPECT_EQ(mark_count("raft.stale_leader_told_newer_term"), before + 1);
}

TEST(RaftElection, StaleLeaderStepsDownWhenToldTheNewerTerm) {
  TestNode node = test::make_node({.id = 1, .pre_vote = false});
  make_leader(node);

  receive(node, test::make_append_response(3, 1, 3, 0));

  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term(3));
  EXPECT_EQ(node->leader(), kNoNode);
}

TEST(RaftElection, CandidateWithMajorityBecomesLeaderAndAppendsNoOp) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3, .pre_vote = false});
  node->campaign();
  test::handle_ready(node);

  receive(node, make_vote_response(2, 1, 1, true));  // with its own: 2 of 3
  ASSERT_EQ(node->role(), Role::kLeader);
  const Ready ready = node->take_ready();

  EXPECT_EQ(node->leader(), NodeId(1));
  ASSERT_EQ(ready.entries_to_persist.size(), 1u);
  const Entry& no_op = ready.entries_to_persist[0];
  EXPECT_EQ(no_op.index, LogIndex(1));
  EXPECT_EQ(no_op.term, Term(1));
  EXPECT_TRUE(no_op.data.empty());
  EXPECT_EQ(recipients(ready.messages, MessageType::kAppend), (std::vector{NodeId(2), NodeId(3)}));
  for (const Message& m : of_type(ready.messages, MessageType::kAppend)) {
    EXPECT_EQ(m.term, Term(1));
    EXPECT_EQ(m.entries, std::vector<Entry>{no_op});
  }
}

TEST(RaftElection, DuplicateGrantIsCountedOnce) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 5, .pre_vote = false});
  node->campaign();
  test::handle_ready(node);

  receive(node, make_vote_response(2, 1, 1, true));
  receive(node, make_vote_response(2, 1, 1, true));  // a duplicate on the network
  EXPECT_EQ(node->role(), Role::kCandidate);         // 2 of 5, not 3

  receive(node, make_vote_response(3, 1, 1, true));
  EXPECT_EQ(node->role(), Role::kLeader);
}

TEST(RaftElection, CandidateConcedesToAppendFromLeaderOfItsTerm) {
  TestNode node = test::make_node({.id = 1, .pre_vote = false});
  node->campaign();
  test::handle_ready(node);
  ASSERT_EQ(node->term(), Term(1));

  receive(node, test::make_append(2, 1, 1, 0, 0, make_entries(LogIndex(1), {1}), 0));
  const Ready ready = node->take_ready();

  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term(1));
  EXPECT_EQ(node->leader(), NodeId(2));
  ASSERT_EQ(ready.messages_after_persist.size(), 1u);
  EXPECT_FALSE(ready.messages_after_persist[0].reject);
  EXPECT_EQ(ready.messages_after_persist[0].index, LogIndex(1));
}

TEST(RaftElection, CandidateThatLosesBecomesFollowerAndKeepsItsVote) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3, .pre_vote = false});
  node->campaign();
  test::handle_ready(node);

  receive(node, make_vote_response(2, 1, 1, false));
  EXPECT_EQ(node->role(), Role::kCandidate);  // one refusal: 3 could still grant
  receive(node, make_vote_response(3, 1, 1, false));

  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term(1));
  EXPECT_EQ(node->vote(), NodeId(1));  // still voted for itself in term 1
}

TEST(RaftElection, SplitVoteLeadsToNewElectionAtHigherTerm) {
  std::vector<TestNode> nodes =
      test::make_cluster({.cluster_size = 4, .pre_vote = false, .check_quorum = false, .seed = 3});
  nodes[0]->campaign();
  nodes[1]->campaign();
  const auto requests_1 = test::handle_ready(nodes[0]).messages;
  const auto requests_2 = test::handle_ready(nodes[1]).messages;
  // Node 3 hears from candidate 1 first, node 4 from candidate 2 first: two votes each.
  for (const Message& m : requests_1) {
    if (m.to == NodeId(3)) receive(nodes[2], m);
  }
  for (const Message& m : requests_2) {
    if (m.to == NodeId(4)) receive(nodes[3], m);
  }
  for (const Message& m : requests_1) {
    if (m.to != NodeId(3)) receive(test::node_by_id(nodes, m.to), m);
  }
  for (const Message& m : requests_2) {
    if (m.to != NodeId(4)) receive(test::node_by_id(nodes, m.to), m);
  }
  test::deliver_until_quiet(nodes);

  for (const TestNode& n : nodes) {
    EXPECT_NE(n->role(), Role::kLeader) << "node " << n.id();
    EXPECT_EQ(n->term(), Term(1)) << "node " << n.id();
  }

  // Timers run out and someone stands again, at a higher term, and wins.
  const TestNode* leader = nullptr;
  for (int tick = 0; tick < 100 && leader == nullptr; ++tick) {
    test::tick_all(nodes);
    for (const TestNode& n : nodes) {
      if (n->role() == Role::kLeader) leader = &n;
    }
  }
  ASSERT_NE(leader, nullptr);
  EXPECT_GT((*leader)->term(), Term(1));
}

TEST(RaftElection, CandidateWithoutMajorityCampaignsAgainAtHigherTerm) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3, .pre_vote = false, .seed = 5});
  node->campaign();
  test::handle_ready(node);
  ASSERT_EQ(node->term(), Term(1));

  tick_times(node, 19);  // its fresh timeout from [10, 20) runs out once; no answer came
  const Ready ready = node->take_ready();

  EXPECT_EQ(node->role(), Role::kCandidate);
  EXPECT_EQ(node->term(), Term(2));
  EXPECT_EQ(recipients(ready.messages_after_persist, MessageType::kVote),
            (std::vector{NodeId(2), NodeId(3)}));
  EXPECT_EQ(ready.messages_after_persist[0].term, Term(2));
}

TEST(RaftElection, SingleNodeClusterElectsItselfAndCommits) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 1});

  tick_times(node, 19);
  test::handle_ready(node);  // pre-vote: its own answer counts once handled
  test::handle_ready(node);  // its term and vote are durable: it wins
  ASSERT_EQ(node->role(), Role::kLeader);
  EXPECT_EQ(node->term(), Term(1));

  // Its no-op commits once it is durable, on the Ready after.
  const test::Handled first = test::handle_ready(node);
  EXPECT_EQ(node->log().committed(), LogIndex(1));
  EXPECT_TRUE(first.messages.empty());
  const Ready second = node->take_ready();
  EXPECT_EQ(second.hard_state, (HardState{Term(1), NodeId(1), LogIndex(1)}));
  ASSERT_EQ(second.entries_to_apply.size(), 1u);
  EXPECT_EQ(second.entries_to_apply[0].index, LogIndex(1));
}

TEST(RaftElection, StepRefusesMessagesForOthersOrFromUnknownPeers) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3});

  const auto for_other = node->step(make_heartbeat(2, 3, 1, 0));
  // A vote request from a stranger is answered (its configuration may be newer than ours:
  // RaftReview.LaggingVoter...), but nothing else from one is taken, a grant least of all.
  const auto from_stranger = node->step(make_vote_response(9, 1, 1, true));
  const auto from_self = node->step(make_heartbeat(1, 1, 1, 0));

  ASSERT_FALSE(for_other.is_ok());
  EXPECT_EQ(for_other.error().code, StepErrorCode::kWrongRecipient);
  ASSERT_FALSE(from_stranger.is_ok());
  EXPECT_EQ(from_stranger.error().code, StepErrorCode::kUnknownPeer);
  ASSERT_FALSE(from_self.is_ok());
  EXPECT_EQ(from_self.error().code, StepErrorCode::kUnknownPeer);
  EXPECT_EQ(node->term(), Term(0));
  EXPECT_FALSE(node->has_ready());
}

// A node joining the group starts from an older configuration that may not list the current
// leader: it follows the leader's appends all the same, and learns the configuration from them.
TEST(RaftElection, FollowsALeaderItsConfigurationDoesNotListYet) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3});

  const auto status = node->step(make_heartbeat(9, 1, 1, 0));

  EXPECT_TRUE(status.is_ok());
  EXPECT_EQ(node->leader(), NodeId(9));
  EXPECT_EQ(node->term(), Term(1));
}

TEST(RaftElection, VoteFromNonMemberDoesNotCount) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3, .pre_vote = false});
  node->campaign();
  test::handle_ready(node);

  // Node 9 is not in the configuration: its grant must not make a majority with ours.
  (void)node->step(make_vote_response(9, 1, 1, true));

  EXPECT_EQ(node->role(), Role::kCandidate);
}

// =================================================================================================
// Pre-vote (thesis §9.6)

TEST(RaftPreVote, PreCandidateKeepsItsTermAndVote) {
  TestNode node =
      test::make_node({.id = 1, .cluster_size = 3, .pre_vote = true},
                      make_entries(LogIndex(1), {1, 2}), {Term(2), NodeId(3), LogIndex(0)});

  tick_times(node, 19);
  const Ready ready = node->take_ready();

  EXPECT_EQ(node->role(), Role::kPreCandidate);
  EXPECT_EQ(node->term(), Term(2));
  EXPECT_EQ(node->vote(), NodeId(3));
  EXPECT_FALSE(ready.hard_state.has_value());  // nothing to persist: nothing changed
  EXPECT_TRUE(ready.messages_after_persist.empty());
  EXPECT_EQ(recipients(ready.messages, MessageType::kPreVote), (std::vector{NodeId(2), NodeId(3)}));
  for (const Message& m : ready.messages) {
    EXPECT_EQ(m.term, Term(3));  // the term it would stand at
    EXPECT_EQ(m.index, LogIndex(2));
    EXPECT_EQ(m.log_term, Term(2));
  }
}

TEST(RaftPreVote, PreVoteMajorityStartsRealElection) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3, .pre_vote = true});
  node->campaign();
  test::handle_ready(node);
  ASSERT_EQ(node->role(), Role::kPreCandidate);

  receive(node, make_vote_response(2, 1, 1, true, MessageType::kPreVoteResponse));
  const Ready ready = node->take_ready();

  EXPECT_EQ(node->role(), Role::kCandidate);
  EXPECT_EQ(node->term(), Term(1));
  EXPECT_EQ(node->vote(), NodeId(1));
  EXPECT_EQ(ready.hard_state, (HardState{Term(1), NodeId(1), LogIndex(0)}));
  EXPECT_EQ(recipients(ready.messages_after_persist, MessageType::kVote),
            (std::vector{NodeId(2), NodeId(3)}));
}

TEST(RaftPreVote, GrantingPreVoteChangesNothing) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3, .pre_vote = true}, {},
                                  {Term(2), NodeId(3), LogIndex(0)});

  receive(node, make_vote(2, 1, 3, 0, 0, MessageType::kPreVote));
  const Ready ready = node->take_ready();

  ASSERT_EQ(ready.messages.size(), 1u);
  EXPECT_EQ(ready.messages[0].type, MessageType::kPreVoteResponse);
  EXPECT_FALSE(ready.messages[0].reject);
  EXPECT_EQ(ready.messages[0].term, Term(3));
  EXPECT_FALSE(ready.hard_state.has_value());
  EXPECT_EQ(node->term(), Term(2));
  EXPECT_EQ(node->vote(), NodeId(3));
}

TEST(RaftPreVote, PreVoteDeniedToCandidateWithStaleLog) {
  TestNode node =
      test::make_node({.id = 1, .cluster_size = 3, .pre_vote = true},
                      make_entries(LogIndex(1), {1, 1, 2}), {Term(2), kNoNode, LogIndex(0)});

  receive(node, make_vote(2, 1, 3, 5, 1, MessageType::kPreVote));
  const Ready ready = node->take_ready();

  ASSERT_EQ(ready.messages.size(), 1u);
  EXPECT_EQ(ready.messages[0].type, MessageType::kPreVoteResponse);
  EXPECT_TRUE(ready.messages[0].reject);
  EXPECT_EQ(node->term(), Term(2));
  EXPECT_EQ(node->vote(), kNoNode);
}

TEST(RaftPreVote, PreCandidateRefusedByMajorityStaysAtItsTerm) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3, .pre_vote = true}, {},
                                  {Term(2), kNoNode, LogIndex(0)});
  node->campaign();
  test::handle_ready(node);

  receive(node, make_vote_response(2, 1, 2, false, MessageType::kPreVoteResponse));
  receive(node, make_vote_response(3, 1, 2, false, MessageType::kPreVoteResponse));

  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term(2));
}

TEST(RaftPreVote, PreCandidateForgetsItsLeader) {
  TestNode node = test::make_node({.id = 1, .pre_vote = true}, {}, {Term(1), kNoNode, LogIndex(0)});
  receive(node, make_heartbeat(2, 1, 1, 0));
  ASSERT_EQ(node->leader(), NodeId(2));

  node->campaign();

  EXPECT_EQ(node->role(), Role::kPreCandidate);
  EXPECT_EQ(node->leader(), kNoNode);  // clients are no longer sent to node 2
  EXPECT_EQ(node->propose(to_bytes("x")).error().leader_hint, kNoNode);
}

TEST(RaftPreVote, StalePreVoteIsRefusedWithTheNewerTerm) {
  TestNode node = test::make_node({.id = 1, .pre_vote = true}, {}, {Term(5), kNoNode, LogIndex(0)});

  receive(node, make_vote(2, 1, 3, 0, 0, MessageType::kPreVote));
  const Ready ready = node->take_ready();

  // Unlike a stale vote request, which gets no answer, a pre-candidate learns our term: it would
  // otherwise never learn it, since pre-voting does not raise terms.
  ASSERT_EQ(ready.messages.size(), 1u);
  EXPECT_EQ(ready.messages[0].type, MessageType::kPreVoteResponse);
  EXPECT_TRUE(ready.messages[0].reject);
  EXPECT_EQ(ready.messages[0].term, Term(5));
  EXPECT_EQ(node->term(), Term(5));
}

TEST(RaftPreVote, PreCandidateAdoptsNewerTermFromRefusal) {
  TestNode node = test::make_node({.id = 1, .pre_vote = true}, {}, {Term(2), kNoNode, LogIndex(0)});
  node->campaign();
  test::handle_ready(node);

  receive(node, make_vote_response(2, 1, 5, false, MessageType::kPreVoteResponse));

  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term(5));
}

TEST(RaftPreVote, PartitionedNodeDoesNotInflateItsTerm) {
  std::vector<TestNode> nodes = test::make_cluster({.pre_vote = true, .seed = 11});
  test::elect(nodes, 1);
  const std::set<NodeId> isolated{NodeId(3)};

  for (int tick = 0; tick < 10 * 20; ++tick) test::tick_all(nodes, isolated);  // >= 10 timeouts
  EXPECT_EQ(nodes[2]->term(), Term(1));

  // Back in touch, it rejoins without disturbing the leader.
  for (int tick = 0; tick < 3; ++tick) test::tick_all(nodes);
  EXPECT_EQ(nodes[0]->role(), Role::kLeader);
  EXPECT_EQ(nodes[0]->term(), Term(1));
  EXPECT_EQ(nodes[2]->role(), Role::kFollower);
  EXPECT_EQ(nodes[2]->leader(), NodeId(1));
}

TEST(RaftPreVote, WithoutPreVotePartitionedNodeInflatesItsTerm) {
  std::vector<TestNode> nodes = test::make_cluster({.pre_vote = false, .seed = 11});
  test::elect(nodes, 1);

  for (int tick = 0; tick < 10 * 20; ++tick) test::tick_all(nodes, {NodeId(3)});

  EXPECT_GE(nodes[2]->term(), Term(10));  // one election per timeout of at most 20 ticks
}

// =================================================================================================
// Check-quorum (thesis §6.2)

TEST(RaftCheckQuorum, LeaderStepsDownWithoutHearingFromMajority) {
  std::vector<TestNode> nodes = test::make_cluster({.check_quorum = true});
  test::elect(nodes, 1);
  TestNode& leader = nodes[0];
  const uint64_t before = mark_count("raft.leader_steps_down_without_quorum");

  // Cut off from both followers. The first round still counts the answers from the election;
  // the second finds nobody.
  for (int tick = 0; tick < 2 * 10; ++tick) {
    leader->tick();
    test::handle_all_ready(leader);
  }

  EXPECT_EQ(leader->role(), Role::kFollower);
  EXPECT_EQ(leader->term(), Term(1));
  EXPECT_EQ(leader->leader(), kNoNode);
  EXPECT_EQ(mark_count("raft.leader_steps_down_without_quorum"), before + 1);
}

TEST(RaftCheckQuorum, LeaderStaysWhileMajorityAnswers) {
  std::vector<TestNode> nodes = test::make_cluster({.check_quorum = true});
  test::elect(nodes, 1);

  // Node 3 is gone; node 2 and the leader are a majority.
  for (int tick = 0; tick < 10 * 10; ++tick) test::tick_all(nodes, {NodeId(3)});

  EXPECT_EQ(nodes[0]->role(), Role::kLeader);
  EXPECT_EQ(nodes[0]->term(), Term(1));
}

TEST(RaftCheckQuorum, AppendResponsesCountAsActivity) {
  std::vector<TestNode> nodes = test::make_cluster({.check_quorum = true});
  test::elect(nodes, 1);

  // Every heartbeat and its answer is lost, but appends and their answers get through.
  for (int tick = 0; tick < 3 * 10; ++tick) {
    for (TestNode& n : nodes) n->tick();
    ASSERT_TRUE(nodes[0]->propose(to_bytes("x")).has_value());
    for (int round = 0; round < 10; ++round) {
      std::vector<Message> in_flight;
      for (TestNode& n : nodes) {
        const auto sent = test::handle_all_ready(n).messages;
        in_flight.insert(in_flight.end(), sent.begin(), sent.end());
      }
      for (const Message& m : in_flight) {
        if (m.type == MessageType::kAppend || m.type == MessageType::kAppendResponse) {
          receive(test::node_by_id(nodes, m.to), m);
        }
      }
    }
  }

  EXPECT_EQ(nodes[0]->role(), Role::kLeader);
  EXPECT_EQ(nodes[0]->log().committed(), LogIndex(31));
}

TEST(RaftCheckQuorum, WithoutCheckQuorumLeaderStaysAlone) {
  std::vector<TestNode> nodes = test::make_cluster({.check_quorum = false});
  test::elect(nodes, 1);

  for (int tick = 0; tick < 10 * 10; ++tick) {
    nodes[0]->tick();
    test::handle_all_ready(nodes[0]);
  }

  EXPECT_EQ(nodes[0]->role(), Role::kLeader);
}

// =================================================================================================
// Leader stickiness (thesis §4.2.3)

TEST(RaftLeaderStickiness, FollowerIgnoresHigherTermVoteWhileLeaderIsAlive) {
  std::vector<TestNode> nodes = test::make_cluster({.pre_vote = false});
  test::elect(nodes, 1);
  TestNode& follower = nodes[1];
  const uint64_t before = mark_count("raft.vote_ignored_in_lease");

  receive(follower, make_vote(3, 2, 2, 1, 1));  // an up-to-date log, one term ahead

  EXPECT_FALSE(follower->has_ready());  // no answer at all
  EXPECT_EQ(follower->term(), Term(1));
  EXPECT_EQ(follower->vote(), NodeId(1));
  EXPECT_EQ(follower->leader(), NodeId(1));
  EXPECT_EQ(mark_count("raft.vote_ignored_in_lease"), before + 1);
}

// Issue 6: stickiness follows check-quorum (etcd, raft-rs). Without check-quorum a leader that
// hears nobody never steps down, so followers that still hear it must not refuse candidates.
TEST(RaftLeaderStickiness, WithoutCheckQuorumFollowerGrantsVoteWhileLeaderIsAlive) {
  std::vector<TestNode> nodes = test::make_cluster({.pre_vote = false, .check_quorum = false});
  test::elect(nodes, 1);
  TestNode& follower = nodes[1];
  const uint64_t before = mark_count("raft.vote_ignored_in_lease");

  receive(follower, make_vote(3, 2, 2, 1, 1));
  const std::vector<Message> sent = test::handle_all_ready(follower).messages;

  EXPECT_EQ(follower->term(), Term(2));
  EXPECT_EQ(follower->vote(), NodeId(3));
  ASSERT_EQ(of_type(sent, MessageType::kVoteResponse).size(), 1u);
  EXPECT_FALSE(of_type(sent, MessageType::kVoteResponse)[0].reject);
  EXPECT_EQ(mark_count("raft.vote_ignored_in_lease"), before);
}

TEST(RaftLeaderStickiness, FollowerIgnoresHigherTermPreVoteWhileLeaderIsAlive) {
  std::vector<TestNode> nodes = test::make_cluster({.pre_vote = true});
  test::elect(nodes, 1);
  TestNode& follower = nodes[1];
  const uint64_t before = mark_count("raft.vote_ignored_in_lease");

  receive(follower, make_vote(3, 2, 2, 1, 1, MessageType::kPreVote));

  EXPECT_FALSE(follower->has_ready());
  EXPECT_EQ(follower->term(), Term(1));
  EXPECT_EQ(mark_count("raft.vote_ignored_in_lease"), before + 1);
}

TEST(RaftLeaderStickiness, FollowerGrantsVoteOnceElectionTimeoutPasses) {
  // Pre-vote on: should the follower's own timer fire at tick 10 it only pre-campaigns, which
  // changes neither its term nor its vote.
  std::vector<TestNode> nodes = test::make_cluster({.pre_vote = true});
  test::elect(nodes, 1);
  TestNode& follower = nodes[1];

  tick_times(follower, 9);  // the leader went quiet: still within election_ticks
  receive(follower, make_vote(3, 2, 2, 1, 1));
  EXPECT_EQ(follower->term(), Term(1));

  follower->tick();  // election_ticks without a word from the leader
  test::handle_all_ready(follower);
  receive(follower, make_vote(3, 2, 2, 1, 1));
  const Ready ready = follower->take_ready();

  EXPECT_EQ(follower->term(), Term(2));
  EXPECT_EQ(follower->vote(), NodeId(3));
  const auto responses = of_type(ready.messages_after_persist, MessageType::kVoteResponse);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_FALSE(responses[0].reject);
}

TEST(RaftLeaderStickiness, TransferVoteBypassesStickiness) {
  std::vector<TestNode> nodes = test::make_cluster({.pre_vote = true});
  test::elect(nodes, 1);
  TestNode& follower = nodes[1];

  Message vote = make_vote(3, 2, 2, 1, 1);
  vote.transfer = true;  // the leader itself asked node 3 to take over
  receive(follower, vote);
  const Ready ready = follower->take_ready();

  EXPECT_EQ(follower->term(), Term(2));
  EXPECT_EQ(follower->vote(), NodeId(3));
  ASSERT_EQ(ready.messages_after_persist.size(), 1u);
  EXPECT_FALSE(ready.messages_after_persist[0].reject);
}

// =================================================================================================
// Leadership transfer (thesis §3.10)

TEST(RaftTransfer, TransferToUpToDateFollowerSendsTimeoutNow) {
  std::vector<TestNode> nodes = test::make_cluster({});
  test::elect(nodes, 1);

  ASSERT_TRUE(nodes[0]->transfer_leadership(NodeId(2)).is_ok());
  const Ready ready = nodes[0]->take_ready();

  EXPECT_EQ(nodes[0]->transfer_target(), NodeId(2));
  const auto timeout_now = of_type(ready.messages, MessageType::kTimeoutNow);
  ASSERT_EQ(timeout_now.size(), 1u);
  EXPECT_EQ(timeout_now[0].to, NodeId(2));
  EXPECT_EQ(timeout_now[0].term, Term(1));
}

TEST(RaftTransfer, TargetCampaignsWithoutPreVoteAndWins) {
  std::vector<TestNode> nodes = test::make_cluster({.pre_vote = true});
  test::elect(nodes, 1);
  ASSERT_TRUE(nodes[0]->transfer_leadership(NodeId(2)).is_ok());
  const auto sent = test::handle_ready(nodes[0]).messages;
  const auto timeout_now = of_type(sent, MessageType::kTimeoutNow);
  ASSERT_EQ(timeout_now.size(), 1u);

  receive(nodes[1], timeout_now[0]);
  const Ready ready = nodes[1]->take_ready();

  // A real election straight away, flagged so that followers in lease still answer.
  EXPECT_EQ(nodes[1]->role(), Role::kCandidate);
  EXPECT_EQ(nodes[1]->term(), Term(2));
  const auto votes = of_type(ready.messages_after_persist, MessageType::kVote);
  ASSERT_EQ(votes.size(), 2u);
  for (const Message& m : votes) EXPECT_TRUE(m.transfer);

  for (const Message& m : test::handle(nodes[1], ready).messages) {
    receive(test::node_by_id(nodes, m.to), m);
  }
  test::deliver_until_quiet(nodes);

  EXPECT_EQ(nodes[1]->role(), Role::kLeader);
  EXPECT_EQ(nodes[1]->term(), Term(2));
  EXPECT_EQ(nodes[0]->role(), Role::kFollower);
  EXPECT_EQ(nodes[0]->leader(), NodeId(2));
  EXPECT_EQ(nodes[2]->leader(), NodeId(2));
}

TEST(RaftTransfer, ProposalsRefusedDuringTransfer) {
  std::vector<TestNode> nodes = test::make_cluster({});
  test::elect(nodes, 1);
  ASSERT_TRUE(nodes[0]->transfer_leadership(NodeId(2)).is_ok());

  const auto proposed = nodes[0]->propose(to_bytes("x"));

  ASSERT_FALSE(proposed.has_value());
  EXPECT_EQ(proposed.error().code, ProposeErrorCode::kTransferInProgress);
  EXPECT_EQ(proposed.error().leader_hint, NodeId(2));
}

TEST(RaftTransfer, TransferRefusedByFollowerAndForStrangers) {
  std::vector<TestNode> nodes = test::make_cluster({});
  test::elect(nodes, 1);

  const auto on_follower = nodes[1]->transfer_leadership(NodeId(3));
  const auto to_stranger = nodes[0]->transfer_leadership(NodeId(9));

  ASSERT_FALSE(on_follower.is_ok());
  EXPECT_EQ(on_follower.error().code, TransferErrorCode::kNotLeader);
  ASSERT_FALSE(to_stranger.is_ok());
  EXPECT_EQ(to_stranger.error().code, TransferErrorCode::kUnknownPeer);
  EXPECT_EQ(nodes[0]->transfer_target(), kNoNode);
}

TEST(RaftTransfer, TransferToLaggingFollowerCatchesItUpFirst) {
  std::vector<TestNode> nodes = test::make_cluster({});
  test::elect(nodes, 1);
  const std::set<NodeId> isolated{NodeId(3)};
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(nodes[0]->propose(to_bytes("x")).has_value());
  test::deliver_until_quiet(nodes, isolated);
  ASSERT_LT(nodes[2]->log().last_index(), nodes[0]->log().last_index());

  ASSERT_TRUE(nodes[0]->transfer_leadership(NodeId(3)).is_ok());
  const auto sent = test::handle_ready(nodes[0]).messages;
  EXPECT_TRUE(of_type(sent, MessageType::kTimeoutNow).empty());  // not before it caught up
  EXPECT_EQ(recipients(sent, MessageType::kAppend), std::vector{NodeId(3)});
  for (const Message& m : sent) receive(test::node_by_id(nodes, m.to), m);
  test::deliver_until_quiet(nodes);

  EXPECT_EQ(nodes[2]->role(), Role::kLeader);
  EXPECT_EQ(nodes[2]->term(), Term(2));
  EXPECT_EQ(nodes[0]->leader(), NodeId(3));
}

TEST(RaftTransfer, TransferIsAbandonedAfterElectionTimeout) {
  std::vector<TestNode> nodes = test::make_cluster({});
  test::elect(nodes, 1);
  const uint64_t before = mark_count("raft.transfer_aborted_after_timeout");
  for (int tick = 0; tick < 5; ++tick) test::tick_all(nodes);
  ASSERT_TRUE(nodes[0]->transfer_leadership(NodeId(2)).is_ok());
  test::handle_ready(nodes[0]);  // the TimeoutNow is lost

  // A whole election timeout from the request, not from the leader's last check-quorum round.
  for (int tick = 0; tick < 9; ++tick) test::tick_all(nodes);
  EXPECT_EQ(nodes[0]->transfer_target(), NodeId(2));
  test::tick_all(nodes);

  EXPECT_EQ(nodes[0]->role(), Role::kLeader);
  EXPECT_EQ(nodes[0]->transfer_target(), kNoNode);
  EXPECT_TRUE(nodes[0]->propose(to_bytes("x")).has_value());
  EXPECT_EQ(mark_count("raft.transfer_aborted_after_timeout"), before + 1);
}

// Issue 6, defect 1: a single voter that counted its own vote at once led a term it could forget
// in a crash (its appends leave before the sync), so a restart could elect it in that term again
// with a different log. It now counts its vote only once the Ready with its term is persisted.
TEST(RaftElection, SingleVoterLeadsOnlyOnceItsTermAndVoteAreDurable) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 1, .pre_vote = false});

  node->campaign();
  const Role before_persist = node->role();
  const Ready ready = node->take_ready();
  const Role after_take = node->role();
  test::handle(node, ready);

  EXPECT_EQ(before_persist, Role::kCandidate);
  EXPECT_EQ(after_take, Role::kCandidate);
  ASSERT_TRUE(ready.hard_state.has_value());
  EXPECT_EQ(ready.hard_state->term, Term(1));
  EXPECT_EQ(ready.hard_state->vote, NodeId(1));
  EXPECT_EQ(node->role(), Role::kLeader);
}

// A campaign the candidate has left (a higher term arrived) before its Ready was handled: its own
// vote must not count towards it afterwards.
TEST(RaftElection, SelfVoteOfAnAbandonedCampaignDoesNotCount) {
  TestNode node = test::make_node({.id = 1, .cluster_size = 3, .pre_vote = false});

  node->campaign();
  const Ready ready = node->take_ready();
  receive(node, make_vote_response(2, 1, 1, true));  // one grant: with our vote, a majority
  receive(node, make_heartbeat(3, 1, 3, 0));         // but a leader of term 3 exists
  test::handle(node, ready);

  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term(3));
  EXPECT_EQ(node->leader(), NodeId(3));
}

}  // namespace
}  // namespace grape::raft
