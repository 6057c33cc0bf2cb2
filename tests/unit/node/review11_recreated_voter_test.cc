// Review 11: a replica a move creates again on a node that hosted it before.
//
// The drop forgets the log (kForget keeps term and vote only) and removes the snapshot files; a
// later move creates the replica again with the group's INITIAL configuration
// (GroupToCreate::initial_voters -> World::start_group / Runtime::start_group: config.raft.voters),
// so on a node that was one of the group's first voters the new replica is a voter with an empty
// log from its first tick. Two such replicas (the second one, say, left by a move rolled back
// whose drop has not reached it yet), cut off from the group's leader, elect one of them with
// an empty log: a leader that lacks every entry the group committed (Leader Completeness), whose
// own entry 1 then commits in the initial configuration.
//
// TiKV never gets there: a peer re-created on a store gets a NEW peer id (the tombstone refuses
// any message for to_peer.id <= its own: raftstore-v2 operation/life.rs, Store::on_raft_message),
// and a peer created by a message is uninitialized, with no voters, until the leader's snapshot
// arrives, so it can neither campaign nor grant a vote that counts.

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <vector>

#include "core/base/rng.h"
#include "core/node/node.h"
#include "core/node/node_storage.h"
#include "sim/sim_disk.h"

namespace grape::node {
namespace {

const GroupId kGroup(2);

std::shared_ptr<const raft::Snapshot> first_snapshot() {
  auto s = std::make_shared<raft::Snapshot>();
  s->meta.index = LogIndex(3);
  s->meta.term = Term(2);
  s->meta.conf_state.voters = {NodeId(1), NodeId(2), NodeId(3)};
  return s;
}

struct Replica {
  sim::SimDisk disk;
  std::unique_ptr<NodeStorage> storage;
  std::unique_ptr<Node> node;
};

// Node `id` hosted the group (entries 4..8 of term 3, 6 committed), a move took it away (the
// drop), and a later move created it here again, as the drivers do.
void recreate(Replica& r, NodeId id) {
  NodeStorageOptions o;
  o.wal.preallocate = false;
  auto opened = NodeStorage::open(r.disk, o);
  ASSERT_TRUE(opened);
  r.storage = std::move(*opened);
  NodeStorage& s = *r.storage;
  ASSERT_TRUE(s.bootstrap(kGroup, first_snapshot(), true).is_ok());
  std::vector<raft::Entry> tail;
  for (uint64_t i = 4; i <= 8; ++i) {
    raft::Entry e;
    e.index = LogIndex(i);
    e.term = Term(3);
    tail.push_back(e);
  }
  ASSERT_TRUE(s.log(kGroup).append(tail).is_ok());
  ASSERT_TRUE(s.log(kGroup).set_hard_state(raft::HardState{Term(3), NodeId(3), LogIndex(6)}).is_ok());
  ASSERT_TRUE(s.wal().sync().is_ok());
  // The drop (move 7), then the new life (move 9).
  s.keep_history(ReplicaHistory{kGroup, 0, 7});
  s.close_group(kGroup);
  s.keep_history(ReplicaHistory{kGroup, 9, 7});
  ASSERT_TRUE(s.open_group(kGroup).is_ok());
  r.disk.complete_syncs();
  NodeConfig config;
  config.raft.id = id;
  config.raft.voters = {NodeId(1), NodeId(2), NodeId(3)};  // the group's initial configuration
  config.raft.election_ticks = 10;
  config.raft.heartbeat_ticks = 2;
  config.raft.snapshot = s.snapshot(kGroup);
  // As node::Host::add_group starts a replica a move created (its history: created by move 9,
  // not caught up): passive until a configuration lists it as a learner.
  config.raft.passive = true;
  r.node = std::make_unique<Node>(config, s.log(kGroup), Rng(id.value));
}

TEST(Review11RecreatedReplica, AReplicaCreatedAgainNeverLeadsWithAnEmptyLog) {
  Replica a, b;
  recreate(a, NodeId(1));
  recreate(b, NodeId(2));
  ASSERT_TRUE(a.node && b.node);
  EXPECT_EQ(a.node->raft().log().last_index(), LogIndex(0));
  EXPECT_EQ(a.node->raft().term(), Term(3)) << "the term is kept (the drop's tombstone)";
  Replica* replicas[] = {&a, &b};
  std::deque<raft::Message> wire;  // n1 <-> n2; n3 (and the real leader) unreachable
  for (int tick = 0; tick < 300; ++tick) {
    for (Replica* r : replicas) {
      r->node->tick();
      while (r->node->has_ready()) {
        NodeReady ready = r->node->take_ready();
        for (raft::Message& m : ready.raft.messages) wire.push_back(m);
        ASSERT_TRUE(r->storage->persist(kGroup, ready).is_ok());
        r->disk.complete_syncs();
        for (raft::Message& m : ready.raft.messages_after_persist) wire.push_back(m);
        r->node->advance();
      }
    }
    while (!wire.empty()) {
      raft::Message m = wire.front();
      wire.pop_front();
      if (m.to == NodeId(1)) (void)a.node->step(m);
      if (m.to == NodeId(2)) (void)b.node->step(m);
    }
    for (Replica* r : replicas) {
      const raft::Raft& raft = r->node->raft();
      ASSERT_NE(raft.role(), raft::Role::kLeader)
          << "n" << raft.id().value << ", created again for a move, leads the group in term "
          << raft.term().value << " with a log ending at " << raft.log().last_index().value
          << " (the group had committed up to 6 in term 3), committed up to "
          << raft.log().committed().value;
    }
  }
}

}  // namespace
}  // namespace grape::node
