#include "sim/network.h"

#include <gtest/gtest.h>

namespace grape::sim {
namespace {

std::vector<VirtualTime> route(SimNetwork& net, uint64_t from, uint64_t to, VirtualTime now = {}) {
  std::vector<VirtualTime> out;
  net.route(NodeId(from), NodeId(to), now, out);
  return out;
}

TEST(SimNetwork, DeliversWithinTheLatencyRange) {
  SimNetwork net(3, LinkSpec{milliseconds(2), milliseconds(5), 0.0, 0.0, true}, Rng(1));
  for (int i = 0; i < 200; ++i) {
    auto arrivals = route(net, 1, 2, VirtualTime{1000});
    ASSERT_EQ(arrivals.size(), 1u);
    EXPECT_GE(arrivals[0], VirtualTime{1000} + milliseconds(2));
    EXPECT_LE(arrivals[0], VirtualTime{1000} + milliseconds(5));
  }
}

TEST(SimNetwork, PartitionBlocksBothDirectionsBetweenGroupsOnly) {
  SimNetwork net(5, LinkSpec{}, Rng(1));
  net.partition({{NodeId(1), NodeId(2)}});  // 3, 4, 5 form the other group
  EXPECT_TRUE(route(net, 1, 2).size() == 1);
  EXPECT_TRUE(route(net, 3, 5).size() == 1);
  EXPECT_TRUE(route(net, 1, 3).empty());
  EXPECT_TRUE(route(net, 4, 2).empty());
  EXPECT_EQ(net.dropped(), 2u);
  net.heal_all();
  EXPECT_EQ(route(net, 1, 3).size(), 1u);
  EXPECT_FALSE(net.has_faults());
}

TEST(SimNetwork, CutIsOneWay) {
  SimNetwork net(3, LinkSpec{}, Rng(1));
  net.cut({NodeId(1)}, {NodeId(2), NodeId(3)});
  EXPECT_TRUE(route(net, 1, 2).empty());
  EXPECT_TRUE(route(net, 1, 3).empty());
  EXPECT_EQ(route(net, 2, 1).size(), 1u);
  EXPECT_TRUE(net.has_faults());
}

TEST(SimNetwork, DropAndDuplicateFollowTheirProbabilities) {
  SimNetwork net(2, LinkSpec{milliseconds(1), milliseconds(1), 0.5, 0.0, true}, Rng(7));
  int delivered = 0;
  for (int i = 0; i < 2000; ++i) delivered += static_cast<int>(route(net, 1, 2).size());
  EXPECT_GT(delivered, 850);
  EXPECT_LT(delivered, 1150);

  net.set_all_links(LinkSpec{milliseconds(1), milliseconds(1), 0.0, 1.0, true});
  EXPECT_EQ(route(net, 1, 2).size(), 2u);
}

TEST(SimNetwork, FifoLinkNeverReorders) {
  SimNetwork net(2, LinkSpec{milliseconds(1), milliseconds(50), 0.0, 0.0, false}, Rng(3));
  VirtualTime last;
  for (int i = 0; i < 500; ++i) {
    auto arrivals = route(net, 1, 2, VirtualTime{i * 100'000});
    ASSERT_EQ(arrivals.size(), 1u);
    EXPECT_GE(arrivals[0], last);
    last = arrivals[0];
  }
}

TEST(SimNetwork, ReorderingLinkDoesReorder) {
  SimNetwork net(2, LinkSpec{milliseconds(1), milliseconds(50), 0.0, 0.0, true}, Rng(3));
  VirtualTime last;
  int inversions = 0;
  for (int i = 0; i < 500; ++i) {
    auto arrivals = route(net, 1, 2, VirtualTime{i * 100'000});
    inversions += arrivals[0] < last ? 1 : 0;
    last = arrivals[0];
  }
  EXPECT_GT(inversions, 0);
}

TEST(SimNetwork, AddedNodeKeepsExistingFaults) {
  SimNetwork net(2, LinkSpec{}, Rng(1));
  net.cut({NodeId(1)}, {NodeId(2)});
  net.add_node();
  EXPECT_EQ(net.node_count(), 3u);
  EXPECT_TRUE(route(net, 1, 2).empty());
  EXPECT_EQ(route(net, 1, 3).size(), 1u);
}

}  // namespace
}  // namespace grape::sim
