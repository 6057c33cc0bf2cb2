// node::Host and the drops a move owes: every kDrop is acknowledged (kDropDone, to the executor
// that sent it) once what it changed is durable, that is after the Ready that carries it has been
// persisted (advance), whether it dropped a replica, found none, or was stale; and a drop for a
// replica still being created is not acknowledged (the executor's resend drops it once it exists).

#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "core/node/host.h"
#include "core/raft/log_store.h"
#include "core/shard/control.h"
#include "core/shard/routing.h"

namespace grape::node {
namespace {

constexpr uint32_t kShard = 0;
const GroupId kGroup = shard::group_of(kShard);
const NodeId kExecutor{9};

NodeConfig config_for(NodeId id) {
  NodeConfig c;
  c.raft.id = id;
  c.raft.voters = {NodeId(1), NodeId(2), NodeId(3)};
  c.raft.election_ticks = 10;
  c.raft.heartbeat_ticks = 3;
  return c;
}

GroupMessage control(NodeId to, shard::Control c) {
  GroupMessage m;
  m.group = kGroup;
  m.message.from = kExecutor;
  m.message.to = to;
  m.control = std::move(c);
  return m;
}

shard::Control move(uint64_t id, NodeId from, NodeId to) {
  return shard::Control{shard::ControlKind::kMove, id, kShard, from, to,
                        {NodeId(1), NodeId(2), NodeId(3)}, {}, {}};
}

shard::Control drop(uint64_t id, NodeId from, NodeId to) {
  return shard::Control{shard::ControlKind::kDrop, id, kShard, from, to, {}, {}, {}};
}

// The move ids acknowledged to the executor in this Ready.
std::vector<uint64_t> acks_in(const HostReady& ready) {
  std::vector<uint64_t> out;
  for (const PeerBatch& batch : ready.batches) {
    for (const GroupMessage& m : batch.messages) {
      if (m.control && m.control->kind == shard::ControlKind::kDropDone) {
        EXPECT_EQ(batch.to, kExecutor);
        out.push_back(m.control->move_id);
      }
    }
  }
  return out;
}

TEST(HostDrop, ADropIsAcknowledgedOnlyAfterTheReadyCarryingItIsPersisted) {
  Host host(NodeId(1), 3);
  raft::MemoryLogStore store;
  ASSERT_TRUE(host.add_group(kGroup, config_for(NodeId(1)), store, Rng(1)).is_ok());
  ASSERT_TRUE(host.step(control(NodeId(1), drop(5, NodeId(1), NodeId(4)))).is_ok());
  EXPECT_FALSE(host.hosts(kGroup));
  HostReady ready = host.take_ready();
  EXPECT_EQ(ready.dropped, std::vector<GroupId>{kGroup});
  ASSERT_EQ(ready.history.size(), 1u);
  EXPECT_EQ(ready.history[0].dropped_by, 5u);
  EXPECT_TRUE(acks_in(ready).empty()) << "acknowledged before the drop was durable";
  host.advance();  // the driver persisted it
  ASSERT_TRUE(host.has_ready());
  EXPECT_EQ(acks_in(host.take_ready()), std::vector<uint64_t>{5});
}

TEST(HostDrop, ADropResentAfterTheReplicaIsGoneIsAcknowledgedAgain) {
  Host host(NodeId(1), 3);
  raft::MemoryLogStore store;
  ASSERT_TRUE(host.add_group(kGroup, config_for(NodeId(1)), store, Rng(1)).is_ok());
  ASSERT_TRUE(host.step(control(NodeId(1), drop(5, NodeId(1), NodeId(4)))).is_ok());
  (void)host.take_ready();
  host.advance();
  (void)host.take_ready();  // the first acknowledgement, lost on its way
  host.advance();
  ASSERT_TRUE(host.step(control(NodeId(1), drop(5, NodeId(1), NodeId(4)))).is_ok());
  HostReady ready = host.take_ready();
  EXPECT_TRUE(ready.dropped.empty());
  EXPECT_TRUE(ready.history.empty()) << "nothing changed";
  host.advance();
  EXPECT_EQ(acks_in(host.take_ready()), std::vector<uint64_t>{5});
}

TEST(HostDrop, ADropForAReplicaNeverCreatedHereBlocksItsLateCreation) {
  Host host(NodeId(4), 3);
  // Move 5 to n4 was rolled back before its command reached n4.
  ASSERT_TRUE(host.step(control(NodeId(4), drop(5, NodeId(1), NodeId(4)))).is_ok());
  HostReady ready = host.take_ready();
  ASSERT_EQ(ready.history.size(), 1u);
  EXPECT_EQ(ready.history[0].dropped_by, 5u);
  host.advance();
  EXPECT_EQ(acks_in(host.take_ready()), std::vector<uint64_t>{5});
  host.advance();
  ASSERT_TRUE(host.step(control(NodeId(4), move(5, NodeId(1), NodeId(4)))).is_ok());
  EXPECT_TRUE(host.take_ready().create.empty()) << "the late command of move 5 created a replica";
}

TEST(HostDrop, AStaleDropIsAcknowledgedWithoutTouchingTheNewerReplica) {
  Host host(NodeId(1), 3);
  raft::MemoryLogStore store;
  ASSERT_TRUE(host.add_group(kGroup, config_for(NodeId(1)), store, Rng(1)).is_ok());
  ASSERT_TRUE(host.step(control(NodeId(1), move(7, NodeId(2), NodeId(1)))).is_ok());
  ASSERT_TRUE(host.step(control(NodeId(1), drop(5, NodeId(1), NodeId(4)))).is_ok());
  EXPECT_TRUE(host.hosts(kGroup));
  (void)host.take_ready();
  host.advance();
  EXPECT_EQ(acks_in(host.take_ready()), std::vector<uint64_t>{5});
}

TEST(HostDrop, ADropForAReplicaBeingCreatedWaitsForTheResend) {
  Host host(NodeId(4), 3);
  raft::MemoryLogStore store;
  ASSERT_TRUE(host.step(control(NodeId(4), move(5, NodeId(1), NodeId(4)))).is_ok());
  HostReady first = host.take_ready();
  ASSERT_EQ(first.create.size(), 1u);  // the driver is creating it
  ASSERT_TRUE(host.step(control(NodeId(4), drop(5, NodeId(1), NodeId(4)))).is_ok());
  ASSERT_TRUE(host.add_group(kGroup, config_for(NodeId(4)), store, Rng(1)).is_ok());
  host.advance();
  EXPECT_TRUE(acks_in(host.take_ready()).empty()) << "acknowledged a drop it did not do";
  host.advance();
  ASSERT_TRUE(host.step(control(NodeId(4), drop(5, NodeId(1), NodeId(4)))).is_ok());  // resent
  EXPECT_FALSE(host.hosts(kGroup));
  (void)host.take_ready();
  host.advance();
  EXPECT_EQ(acks_in(host.take_ready()), std::vector<uint64_t>{5});
}

// A replica a move creates starts passive (it may hold a stale configuration in which it is a
// voter: raft::Config::passive) until its configuration lists it as a learner; then the host
// records it caught up, and a restart with that history starts it as any other replica.
TEST(HostPassive, AReplicaAMoveCreatesIsPassiveUntilItSeesItselfALearner) {
  raft::MemoryLogStore store;
  ReplicaHistory kept;
  {
    Host host(NodeId(1), 3);
    PlacementHostOptions options;
    options.interval_ticks = 1;
    host.enable_placement(options);
    ASSERT_TRUE(host.step(control(NodeId(1), move(5, NodeId(4), NodeId(1)))).is_ok());
    HostReady ready = host.take_ready();
    ASSERT_EQ(ready.create.size(), 1u);
    ASSERT_EQ(ready.history.size(), 1u);
    EXPECT_FALSE(ready.history[0].caught_up);
    // Created with the group's first configuration, in which n1 is a voter.
    ASSERT_TRUE(host.add_group(kGroup, config_for(NodeId(1)), store, Rng(1)).is_ok());
    host.advance();
    EXPECT_TRUE(host.group(kGroup)->raft().passive());
    for (int i = 0; i < 100; ++i) host.tick();
    EXPECT_NE(host.group(kGroup)->raft().role(), raft::Role::kPreCandidate) << "it campaigned";
    EXPECT_NE(host.group(kGroup)->raft().role(), raft::Role::kCandidate) << "it campaigned";
    // The leader's snapshot names it a learner: it is no longer passive, and that is recorded.
    raft::Message snapshot;
    snapshot.type = raft::MessageType::kSnapshot;
    snapshot.from = NodeId(2);
    snapshot.to = NodeId(1);
    snapshot.term = Term(5);
    snapshot.index = LogIndex(10);
    snapshot.log_term = Term(4);
    snapshot.conf_state.voters = {NodeId(2), NodeId(3), NodeId(4)};
    snapshot.conf_state.learners = {NodeId(1)};
    snapshot.done = true;
    GroupMessage m;
    m.group = kGroup;
    m.message = snapshot;
    ASSERT_TRUE(host.step(m).is_ok());
    EXPECT_FALSE(host.group(kGroup)->raft().passive());
    host.tick();
    HostReady after = host.take_ready();
    ASSERT_FALSE(after.history.empty());
    kept = after.history.back();
    EXPECT_TRUE(kept.caught_up);
  }
  Host restarted(NodeId(1), 3);
  restarted.restore_replica_history(kept);
  raft::MemoryLogStore fresh;
  ASSERT_TRUE(restarted.add_group(kGroup, config_for(NodeId(1)), fresh, Rng(1)).is_ok());
  EXPECT_FALSE(restarted.group(kGroup)->raft().passive());
  Host not_caught_up(NodeId(1), 3);
  not_caught_up.restore_replica_history(ReplicaHistory{kGroup, 5, 0, false});
  ASSERT_TRUE(not_caught_up.add_group(kGroup, config_for(NodeId(1)), fresh, Rng(1)).is_ok());
  EXPECT_TRUE(not_caught_up.group(kGroup)->raft().passive());
}

}  // namespace
}  // namespace grape::node
