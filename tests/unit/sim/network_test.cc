#include "sim/network.h"

#include <gtest/gtest.h>

namespace grape::sim {
namespace {

std::vector<VirtualTime> route(SimNetwork& net, uint64_t from, uint64_t to, VirtualTime now = {}) {
  std::vector<VirtualTime> out;
  net.route(NodeId(from), NodeId(to), kind_bit(0), now, out);
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

TEST(SimNetwork, CutCanBeNarrowedToSomeMessageKinds) {
  SimNetwork net(2, LinkSpec{}, Rng(1));
  net.cut({NodeId(1)}, {NodeId(2)}, kind_bit(0));  // appends only
  std::vector<VirtualTime> out;
  net.route(NodeId(1), NodeId(2), kind_bit(0), VirtualTime{}, out);
  EXPECT_TRUE(out.empty());
  net.route(NodeId(1), NodeId(2), kind_bit(6), VirtualTime{}, out);  // a heartbeat passes
  EXPECT_EQ(out.size(), 1u);
}

TEST(SimNetwork, TimedRulesExpireByThemselves) {
  SimNetwork net(2, LinkSpec{milliseconds(1), milliseconds(1), 0.0, 0.0, true}, Rng(1));
  LinkRule slow;
  slow.effect = LinkRule::Effect::kLatency;
  slow.from = {NodeId(1)};
  slow.to = {NodeId(2)};
  slow.latency_min = slow.latency_max = milliseconds(300);
  slow.until = VirtualTime{} + seconds(1);
  net.add_rule(slow);
  EXPECT_EQ(route(net, 1, 2, VirtualTime{})[0], VirtualTime{} + milliseconds(300));
  EXPECT_EQ(route(net, 2, 1, VirtualTime{})[0], VirtualTime{} + milliseconds(1));
  const VirtualTime later = VirtualTime{} + seconds(2);
  EXPECT_EQ(route(net, 1, 2, later)[0], later + milliseconds(1));
  EXPECT_FALSE(net.has_faults());  // timed rules are not healed, they end
}

}  // namespace
}  // namespace grape::sim
