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

}  // namespace
}  // namespace grape::node
