// Raft::report_peer_down: the transport saw the connection from a peer close. A follower that
// loses its leader this way campaigns within two heartbeats instead of a whole election timeout;
// a false alarm (the leader is alive) moves no term and deposes no one.

#include <set>

#include <gtest/gtest.h>

#include "tests/unit/raft/raft_test_util.h"

namespace grape::raft {
namespace {

using test::deliver_until_quiet;
using test::elect;
using test::make_cluster;
using test::node_by_id;
using test::NodeOptions;
using test::TestNode;

NodeOptions options() {
  NodeOptions o;
  o.election_ticks = 100;  // so that "within two heartbeats" is far from a whole timeout
  o.heartbeat_ticks = 10;
  return o;
}

TEST(RaftPeerDown, AFollowerWhoseLeaderDiesLeadsWithinTwoHeartbeats) {
  std::vector<TestNode> nodes = make_cluster(options());
  elect(nodes, 1);
  const Term before = node_by_id(nodes, NodeId(1))->term();
  const std::set<NodeId> dead{NodeId(1)};
  node_by_id(nodes, NodeId(2))->report_peer_down(NodeId(1));
  node_by_id(nodes, NodeId(3))->report_peer_down(NodeId(1));
  EXPECT_EQ(node_by_id(nodes, NodeId(2))->leader(), kNoNode);
  int ticks = 0;
  auto led = [&] {
    return node_by_id(nodes, NodeId(2))->role() == Role::kLeader ||
           node_by_id(nodes, NodeId(3))->role() == Role::kLeader;
  };
  while (!led() && ticks < 100) {
    for (uint64_t id : {2, 3}) node_by_id(nodes, NodeId(id))->tick();
    deliver_until_quiet(nodes, dead);
    ++ticks;
  }
  EXPECT_TRUE(led());
  EXPECT_LE(ticks, 2 * 10 + 1) << "not within two heartbeats of the report";
  EXPECT_EQ(std::max(node_by_id(nodes, NodeId(2))->term(), node_by_id(nodes, NodeId(3))->term()),
            Term(before.value + 1));
}

TEST(RaftPeerDown, AFalseAlarmMovesNoTermAndDeposesNoOne) {
  std::vector<TestNode> nodes = make_cluster(options());
  elect(nodes, 1);
  const Term before = node_by_id(nodes, NodeId(1))->term();
  // n2 thinks its leader is gone; n1 is alive and n3 still hears it.
  node_by_id(nodes, NodeId(2))->report_peer_down(NodeId(1));
  for (int i = 0; i < 300; ++i) {
    for (TestNode& n : nodes) n->tick();
    deliver_until_quiet(nodes);
  }
  EXPECT_EQ(node_by_id(nodes, NodeId(1))->role(), Role::kLeader);
  EXPECT_EQ(node_by_id(nodes, NodeId(1))->term(), before);
  EXPECT_EQ(node_by_id(nodes, NodeId(2))->leader(), NodeId(1)) << "n2 follows n1 again";
}

TEST(RaftPeerDown, OnlyTheLeadersConnectionCountsAndOnlyWithPreVoteAndCheckQuorum) {
  std::vector<TestNode> nodes = make_cluster(options());
  elect(nodes, 1);
  node_by_id(nodes, NodeId(2))->report_peer_down(NodeId(3));  // not its leader
  EXPECT_EQ(node_by_id(nodes, NodeId(2))->leader(), NodeId(1));
  node_by_id(nodes, NodeId(1))->report_peer_down(NodeId(2));  // a leader ignores it
  EXPECT_EQ(node_by_id(nodes, NodeId(1))->role(), Role::kLeader);

  NodeOptions plain = options();
  plain.pre_vote = false;
  std::vector<TestNode> others = make_cluster(plain);
  elect(others, 1);
  node_by_id(others, NodeId(2))->report_peer_down(NodeId(1));
  EXPECT_EQ(node_by_id(others, NodeId(2))->leader(), NodeId(1))
      << "without pre-vote an early election could depose a live leader: ignored";
}

}  // namespace
}  // namespace grape::raft
