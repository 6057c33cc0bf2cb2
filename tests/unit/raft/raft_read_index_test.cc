// ReadIndex (thesis §6.4): a read comes out as a ReadState only once the leader has committed an
// entry of its term and a majority has confirmed, with one heartbeat round, that it still leads;
// reads that arrive meanwhile share a round; a follower gets the index from the leader.

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "tests/unit/raft/raft_test_util.h"

namespace grape::test {
namespace {

using raft::MessageType;
using raft::ReadState;
using raft::Role;

// Delivers until quiet, as deliver_until_quiet does, keeping the read states node 1 puts out.
std::vector<ReadState> deliver_keeping_reads(std::vector<TestNode>& nodes) {
  std::vector<ReadState> states;
  for (int round = 0; round < 100; ++round) {
    std::vector<raft::Message> in_flight;
    for (TestNode& n : nodes) {
      for (int i = 0; i < 10 && n->has_ready(); ++i) {
        const raft::Ready ready = n->take_ready();
        if (n.id() == NodeId(1)) {
          states.insert(states.end(), ready.read_states.begin(), ready.read_states.end());
        }
        const Handled h = handle(n, ready);
        in_flight.insert(in_flight.end(), h.messages.begin(), h.messages.end());
      }
    }
    if (in_flight.empty()) break;
    for (const raft::Message& m : in_flight) receive(node_by_id(nodes, m.to), m);
  }
  return states;
}

std::vector<ReadState> read_states_of(TestNode& node) {
  std::vector<ReadState> out;
  for (int i = 0; i < 10 && node->has_ready(); ++i) {
    const raft::Ready ready = node->take_ready();
    out.insert(out.end(), ready.read_states.begin(), ready.read_states.end());
    (void)handle(node, ready);
  }
  return out;
}

TEST(RaftReadIndex, LeaderServesAReadOnlyAfterAMajorityConfirmsItsLeadership) {
  std::vector<TestNode> nodes = make_cluster({});
  elect(nodes, 1);
  TestNode& leader = nodes[0];
  ASSERT_TRUE(leader->read_index(7).is_ok());
  // The round is out: heartbeats carrying its id, and no read state yet.
  const raft::Ready ready = leader->take_ready();
  EXPECT_TRUE(ready.read_states.empty());
  const auto heartbeats = of_type(ready.messages, MessageType::kHeartbeat);
  ASSERT_EQ(heartbeats.size(), 2u);
  EXPECT_NE(heartbeats[0].context, 0u);
  (void)handle(leader, ready);
  // One follower's answer is a majority with the leader.
  receive(nodes[1], heartbeats[0].to == NodeId(2) ? heartbeats[0] : heartbeats[1]);
  const auto answers = of_type(handle_all_ready(nodes[1]).messages, MessageType::kHeartbeatResponse);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].context, heartbeats[0].context);
  receive(leader, answers[0]);
  const auto states = read_states_of(leader);
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].context, 7u);
  EXPECT_EQ(states[0].index, leader->log().committed());
}

TEST(RaftReadIndex, HeartbeatAnswersWithoutTheRoundsIdDoNotConfirmIt) {
  std::vector<TestNode> nodes = make_cluster({});
  elect(nodes, 1);
  TestNode& leader = nodes[0];
  ASSERT_TRUE(leader->read_index(1).is_ok());
  (void)handle_all_ready(leader);
  // Answers to ordinary heartbeats (context 0) prove nothing about this round.
  receive(leader, make_message(MessageType::kHeartbeatResponse, 2, 1, leader->term().value));
  receive(leader, make_message(MessageType::kHeartbeatResponse, 3, 1, leader->term().value));
  EXPECT_TRUE(read_states_of(leader).empty());
}

TEST(RaftReadIndex, ReadsWaitForTheLeadersFirstCommitInItsTerm) {
  std::vector<TestNode> nodes = make_cluster({});
  TestNode& n1 = nodes[0];
  // n1 wins, but its no-op is not committed yet: nothing delivered after the votes.
  n1->campaign();
  for (int round = 0; round < 6 && n1->role() != Role::kLeader; ++round) {
    deliver_round(nodes);
  }
  ASSERT_EQ(n1->role(), Role::kLeader);
  ASSERT_NE(n1->log().term(n1->log().committed()), n1->term());
  ASSERT_TRUE(n1->read_index(3).is_ok());
  const auto early = n1->has_ready() ? n1->take_ready() : raft::Ready{};
  EXPECT_TRUE(early.read_states.empty());
  // Heartbeats may go out for other reasons, but none carries a read round yet.
  for (const auto& m : of_type(early.messages, MessageType::kHeartbeat)) EXPECT_EQ(m.context, 0u);
  for (const raft::Message& m : handle(n1, early).messages) receive(node_by_id(nodes, m.to), m);
  // Once the no-op commits, the round runs; its read index covers the no-op.
  const std::vector<ReadState> states = deliver_keeping_reads(nodes);
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].context, 3u);
  EXPECT_EQ(n1->log().term(states[0].index), n1->term());
}

TEST(RaftReadIndex, ReadsArrivingDuringARoundShareTheNextOne) {
  std::vector<TestNode> nodes = make_cluster({});
  elect(nodes, 1);
  TestNode& leader = nodes[0];
  ASSERT_TRUE(leader->read_index(1).is_ok());
  const raft::Ready first = leader->take_ready();
  const auto round1 = of_type(first.messages, MessageType::kHeartbeat);
  ASSERT_EQ(round1.size(), 2u);
  (void)handle(leader, first);
  // Three more reads while round 1 is out: no new heartbeats for them yet.
  for (uint64_t c = 2; c <= 4; ++c) ASSERT_TRUE(leader->read_index(c).is_ok());
  EXPECT_TRUE(of_type(handle_all_ready(leader).messages, MessageType::kHeartbeat).empty());
  // Round 1 confirmed: read 1 comes out, and one round (two heartbeats) starts for reads 2-4.
  receive(leader, [&] {
    raft::Message r = make_message(MessageType::kHeartbeatResponse, 2, 1, leader->term().value);
    r.context = round1[0].context;
    return r;
  }());
  const raft::Ready second = leader->take_ready();
  ASSERT_EQ(second.read_states.size(), 1u);
  EXPECT_EQ(second.read_states[0].context, 1u);
  const auto round2 = of_type(second.messages, MessageType::kHeartbeat);
  ASSERT_EQ(round2.size(), 2u);
  EXPECT_NE(round2[0].context, round1[0].context);
  (void)handle(leader, second);
  raft::Message r = make_message(MessageType::kHeartbeatResponse, 3, 1, leader->term().value);
  r.context = round2[0].context;
  receive(leader, r);
  const auto states = read_states_of(leader);
  ASSERT_EQ(states.size(), 3u);
  std::set<uint64_t> contexts;
  for (const ReadState& s : states) contexts.insert(s.context);
  EXPECT_EQ(contexts, (std::set<uint64_t>{2, 3, 4}));
}

TEST(RaftReadIndex, SingleVoterServesAtOnce) {
  NodeOptions o;
  o.cluster_size = 1;
  std::vector<TestNode> nodes = make_cluster(o);
  nodes[0]->campaign();
  for (int i = 0; i < 5; ++i) (void)handle_all_ready(nodes[0]);
  ASSERT_EQ(nodes[0]->role(), Role::kLeader);
  ASSERT_TRUE(nodes[0]->read_index(9).is_ok());
  const auto states = read_states_of(nodes[0]);
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].index, nodes[0]->log().committed());
}

TEST(RaftReadIndex, FollowerGetsTheIndexFromTheLeader) {
  std::vector<TestNode> nodes = make_cluster({});
  elect(nodes, 1);
  TestNode& n2 = nodes[1];
  ASSERT_TRUE(n2->read_index(42).is_ok());
  NetworkTrace trace;
  deliver_until_quiet(nodes, {}, &trace);
  // The answer came back as a read index response; the read state is in n2's next Readies
  // (deliver_until_quiet handled them: look at what was delivered).
  const auto answers = of_type(trace.delivered, MessageType::kReadIndexResponse);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].to, NodeId(2));
  EXPECT_EQ(answers[0].context, 42u);
  EXPECT_EQ(answers[0].index, nodes[0]->log().committed());
}

TEST(RaftReadIndex, FollowerWithoutALeaderRefusesAndDeposedLeaderDropsItsReads) {
  std::vector<TestNode> nodes = make_cluster({});
  EXPECT_FALSE(nodes[1]->read_index(1).is_ok());  // no leader known yet
  elect(nodes, 1);
  TestNode& leader = nodes[0];
  ASSERT_TRUE(leader->read_index(5).is_ok());
  (void)handle_all_ready(leader);
  // A higher term arrives before any confirmation: the read never comes out.
  receive(leader, make_heartbeat(2, 1, leader->term().value + 1, 0));
  EXPECT_NE(leader->role(), Role::kLeader);
  raft::Message late = make_message(MessageType::kHeartbeatResponse, 2, 1, leader->term().value);
  late.context = 1;
  (void)leader->step(late);
  EXPECT_TRUE(read_states_of(leader).empty());
}

}  // namespace
}  // namespace grape::test
