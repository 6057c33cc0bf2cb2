#include "sim/world.h"

#include "sim/membership.h"

#include <gtest/gtest.h>

namespace grape::sim {
namespace {

bool has_leader(const World& w) { return w.leader().has_value(); }

// Proposes at the current leader (if any) every `period`, until `until`.
void keep_proposing(World& world, Duration period, VirtualTime until, int* proposed) {
  world.schedule(world.now() + period, [=](World& w) {
    if (w.now() > until) return;
    if (auto leader = w.leader()) {
      if (w.propose(*leader, to_bytes("v" + std::to_string(*proposed)))) ++*proposed;
    }
    keep_proposing(w, period, until, proposed);
  });
}

TEST(SimWorld, ElectsExactlyOneLeader) {
  World world({.nodes = 5, .seed = 3});
  ASSERT_TRUE(world.run_until(has_leader, seconds(5)));
  world.run_for(seconds(2));
  int leaders = 0;
  for (NodeId id : world.node_ids()) leaders += world.raft(id)->role() == raft::Role::kLeader;
  EXPECT_EQ(leaders, 1);
  EXPECT_TRUE(world.checks_passed()) << world.failure_report();
}

uint64_t run_with_faults(uint64_t seed, std::vector<std::string>* log = nullptr) {
  World world({.nodes = 5, .seed = seed, .network = {milliseconds(1), milliseconds(20), 0.05, 0.05, true}});
  if (log) {
    world.set_trace_sink([log](const TraceEvent& e) {
      log->push_back(std::to_string(e.at.ns) + ":" + std::to_string(static_cast<int>(e.kind)) +
                     ":" + std::to_string(e.node.value) + ":" + std::to_string(e.term.value));
    });
  }
  int proposed = 0;
  keep_proposing(world, milliseconds(10), VirtualTime{} + seconds(6), &proposed);
  world.schedule(VirtualTime{} + seconds(2), [](World& w) {
    if (auto leader = w.leader()) w.crash(*leader);
  });
  world.schedule(VirtualTime{} + seconds(3), [](World& w) { w.partition({{NodeId(1), NodeId(2)}}); });
  world.schedule(VirtualTime{} + seconds(4), [](World& w) {
    w.heal_all();
    for (NodeId id : w.node_ids()) w.restart(id);
  });
  world.run_for(seconds(8));
  EXPECT_TRUE(world.checks_passed()) << world.failure_report();
  return world.trace_hash();
}

TEST(SimWorld, SameSeedGivesTheSameRunEventForEvent) {
  std::vector<std::string> first;
  std::vector<std::string> second;
  const uint64_t a = run_with_faults(17, &first);
  const uint64_t b = run_with_faults(17, &second);
  EXPECT_EQ(a, b);
  EXPECT_EQ(first, second);
  EXPECT_FALSE(first.empty());
}

TEST(SimWorld, DifferentSeedsGiveDifferentRuns) {
  EXPECT_NE(run_with_faults(1), run_with_faults(2));
}

// A leader cut off from both peers is replaced and every committed entry survives.
TEST(SimWorld, IsolatedLeaderIsReplacedWithoutLosingCommittedEntries) {
  World world({.nodes = 3, .seed = 11});
  ASSERT_TRUE(world.run_until(has_leader, seconds(5)));
  const NodeId old_leader = *world.leader();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(world.propose(old_leader, to_bytes("x")));
  world.run_for(seconds(1));
  const LogIndex committed = world.max_commit_index();
  ASSERT_GE(committed, LogIndex(21));

  world.network().isolate(old_leader);
  ASSERT_TRUE(world.run_until([&](const World& w) { return w.leader() && *w.leader() != old_leader; },
                              seconds(5)));
  world.run_for(seconds(1));
  // Check-quorum: the isolated leader has stepped down by now.
  EXPECT_NE(world.raft(old_leader)->role(), raft::Role::kLeader);
  world.heal_all();
  world.run_for(seconds(2));

  for (NodeId id : world.node_ids()) {
    EXPECT_GE(world.raft(id)->log().committed(), committed) << "n" << id;
  }
  EXPECT_TRUE(world.checks_passed()) << world.failure_report();
}

TEST(SimWorld, CrashedNodeRecoversItsLogAndCatchesUp) {
  World world({.nodes = 3, .seed = 5});
  ASSERT_TRUE(world.run_until(has_leader, seconds(5)));
  const NodeId leader = *world.leader();
  const NodeId follower = leader == NodeId(1) ? NodeId(2) : NodeId(1);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(world.propose(leader, to_bytes("a")));
  world.run_for(seconds(1));
  const LogIndex before_crash = world.store(follower).last_index();
  ASSERT_GE(before_crash, LogIndex(11));

  world.crash(follower);
  EXPECT_FALSE(world.is_up(follower));
  EXPECT_EQ(world.raft(follower), nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(world.propose(leader, to_bytes("b")));
  world.run_for(seconds(1));
  world.restart(follower);
  // Recovered from its store: the log it had persisted is there at once.
  EXPECT_EQ(world.raft(follower)->log().last_index(), before_crash);
  world.run_for(seconds(1));
  EXPECT_EQ(world.raft(follower)->log().committed(), world.raft(leader)->log().committed());
  EXPECT_TRUE(world.checks_passed()) << world.failure_report();
}

TEST(SimWorld, CrashLosesWritesNotYetSynced) {
  World world({.nodes = 1, .seed = 2, .disk_sync_min = milliseconds(5), .disk_sync_max = milliseconds(5)});
  ASSERT_TRUE(world.run_until(has_leader, seconds(5)));
  world.run_for(milliseconds(50));
  const LogIndex durable = world.store(NodeId(1)).last_index();
  ASSERT_TRUE(world.propose(NodeId(1), to_bytes("unsynced")));
  world.run_for(milliseconds(1));  // the sync takes 5 ms
  // A plain crash may land after the pending sync completed; this one lands before it.
  world.arm_crash_fault(NodeId(1), World::CrashFault::kLoseUnsynced);
  world.crash(NodeId(1));
  world.restart(NodeId(1));
  EXPECT_EQ(world.store(NodeId(1)).last_index(), durable);
  EXPECT_EQ(world.raft(NodeId(1))->log().last_index(), durable);
}

TEST(SimWorld, FaultsOnADownOrUpNodeAreNoOps) {
  World world({.nodes = 3, .seed = 1});
  world.restart(NodeId(1));  // already up
  EXPECT_TRUE(world.is_up(NodeId(1)));
  world.crash(NodeId(2));
  world.crash(NodeId(2));  // already down
  EXPECT_FALSE(world.is_up(NodeId(2)));
  ASSERT_TRUE(world.run_until(has_leader, seconds(5)));
  EXPECT_TRUE(world.checks_passed());
}

TEST(SimWorld, MinorityPartitionCannotCommit) {
  World world({.nodes = 5, .seed = 21});
  ASSERT_TRUE(world.run_until(has_leader, seconds(5)));
  const NodeId leader = *world.leader();
  const NodeId buddy = leader == NodeId(1) ? NodeId(2) : NodeId(1);
  world.partition({{leader, buddy}});
  const LogIndex before = world.raft(leader)->log().committed();
  // The old leader accepts the proposal until check-quorum deposes it, but cannot commit it.
  auto index = world.propose(leader, to_bytes("lost"));
  ASSERT_TRUE(index);
  world.run_for(seconds(3));
  EXPECT_EQ(world.raft(leader)->log().committed(), before);
  EXPECT_NE(world.raft(leader)->role(), raft::Role::kLeader);
  // The majority elected a leader among themselves and moved on.
  ASSERT_TRUE(world.leader().has_value());
  EXPECT_NE(*world.leader(), leader);
  EXPECT_NE(*world.leader(), buddy);
  world.heal_all();
  world.run_for(seconds(2));
  // The unacknowledged proposal was overwritten everywhere: the logs agree.
  EXPECT_EQ(world.raft(leader)->log().committed(), world.raft(*world.leader())->log().committed());
  EXPECT_TRUE(world.checks_passed()) << world.failure_report();
}

TEST(SimWorld, TransferMovesLeadership) {
  World world({.nodes = 3, .seed = 8});
  ASSERT_TRUE(world.run_until(has_leader, seconds(5)));
  const NodeId from = *world.leader();
  const NodeId to = from == NodeId(3) ? NodeId(1) : NodeId(3);
  world.run_for(milliseconds(200));
  ASSERT_TRUE(world.transfer_leadership(from, to).is_ok());
  world.run_for(milliseconds(200));
  EXPECT_EQ(world.leader(), to);
  EXPECT_TRUE(world.checks_passed()) << world.failure_report();
}

TEST(SimMembership, GroupGrowsThenLosesItsLeaderAndEndsWithTheRightVoters) {
  World world({.nodes = 3, .seed = 4});
  MembershipDriver membership(world);
  ASSERT_TRUE(world.run_until(has_leader, seconds(5)));
  membership.add(NodeId(4));
  membership.add(NodeId(5));
  ASSERT_TRUE(world.run_until([&](const World&) { return membership.idle(); }, seconds(10)));
  const NodeId old_leader = *world.leader();
  membership.remove(old_leader);
  ASSERT_TRUE(world.run_until([&](const World&) { return membership.idle(); }, seconds(10)));
  world.run_for(seconds(1));

  ASSERT_TRUE(world.leader().has_value());
  const raft::ConfState& conf = world.raft(*world.leader())->conf_state();
  std::vector<NodeId> expected;
  for (uint64_t id = 1; id <= 5; ++id) {
    if (NodeId(id) != old_leader) expected.push_back(NodeId(id));
  }
  EXPECT_EQ(conf.voters, expected);
  EXPECT_FALSE(conf.is_joint());
  EXPECT_TRUE(conf.learners.empty());
  EXPECT_FALSE(world.is_up(old_leader));
  EXPECT_FALSE(world.restart(old_leader));  // decommissioned for good
  // The new members hold the whole log.
  EXPECT_EQ(world.raft(NodeId(5))->log().committed(), world.raft(*world.leader())->log().committed());
  EXPECT_TRUE(world.checks_passed()) << world.failure_report();
}

}  // namespace
}  // namespace grape::sim
