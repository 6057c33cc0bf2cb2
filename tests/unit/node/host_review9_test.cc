// Review 9: the replica-move protocol of node::Host compared with TiKV/PD (peer GC with tombstones
// and per-creation peer ids, operators that promote a learner only once it is no longer pending).
// Each test states what the reference design guarantees; each failed on the code the review read
// (2026-11-30), and passes since the fixes (move-ordered drops and creations, durable replica
// histories, no promotion of a learner that never answered).

#include <map>
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

GroupMessage control(NodeId from, NodeId to, shard::Control c) {
  GroupMessage m;
  m.group = kGroup;
  m.message.from = from;
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

// Q4. The executor recorded move 5 (n1 -> n4) done and sent kDrop(5) to n1; that message is
// delayed (a different metadata leader, a peer link queue waiting on a redial). Meanwhile a newer
// executor starts move 7 (n2 -> n1) back to n1, whose old replica is still there: kMove(7) finds
// it hosted, so created_by_move_ is not updated. The late kDrop(5) then drops the replica that
// move 7 is adding (TiKV: a destroy for an older peer id / region epoch never touches the new
// peer).
TEST(HostReview9, AStaleDropDoesNotRemoveTheReplicaANewerMoveBringsBack) {
  Host host(NodeId(1), 3);
  raft::MemoryLogStore store;
  ASSERT_TRUE(host.add_group(kGroup, config_for(NodeId(1)), store, Rng(1)).is_ok());
  ASSERT_TRUE(host.step(control(kExecutor, NodeId(1), move(7, NodeId(2), NodeId(1)))).is_ok());
  ASSERT_TRUE(host.step(control(kExecutor, NodeId(1), drop(5, NodeId(1), NodeId(4)))).is_ok());
  EXPECT_TRUE(host.hosts(kGroup)) << "the drop of move 5 removed the replica move 7 is adding";
}

// Q4. A replica's history must survive a restart: after one (World::boot re-creates the replica
// from groups_in_log), a late kDrop for the move BEFORE the one that created the replica must
// still be ignored. The host hands its history to the driver in each Ready (HostReady::history),
// which keeps it durable and gives it back at the restart, as a driver does.
TEST(HostReview9, ARestartForgetsWhichMoveCreatedTheReplica) {
  raft::MemoryLogStore store;
  std::map<GroupId, ReplicaHistory> kept;  // what the driver keeps durable
  {
    Host before(NodeId(4), 3);
    ASSERT_TRUE(before.step(control(kExecutor, NodeId(4), move(7, NodeId(2), NodeId(4)))).is_ok());
    HostReady ready = before.take_ready();
    ASSERT_EQ(ready.create.size(), 1u);
    for (const ReplicaHistory& h : ready.history) kept[h.group] = h;
    ASSERT_TRUE(before.add_group(kGroup, config_for(NodeId(4)), store, Rng(1)).is_ok());
    before.advance();
    ASSERT_TRUE(before.step(control(kExecutor, NodeId(4), drop(5, NodeId(4), NodeId(3)))).is_ok());
    ASSERT_TRUE(before.hosts(kGroup)) << "before a restart the stale drop is ignored";
  }
  ASSERT_EQ(kept.at(kGroup).created_by, 7u);
  Host after(NodeId(4), 3);  // restarted: the replica is recovered from the log
  for (const auto& [group, history] : kept) after.restore_replica_history(history);
  ASSERT_TRUE(after.add_group(kGroup, config_for(NodeId(4)), store, Rng(1)).is_ok());
  ASSERT_TRUE(after.step(control(kExecutor, NodeId(4), drop(5, NodeId(4), NodeId(3)))).is_ok());
  EXPECT_TRUE(after.hosts(kGroup)) << "after a restart the same stale drop removes it";
}

// Q4/Q3. After move 9 took n4's replica away (kDrop(9) handled), a duplicated or late kMove of
// the older move 5 (to n4) creates the replica again; nothing will ever drop it (the executor sends
// a drop once, for a move it records done). TiKV keeps a tombstone with the region epoch and
// ignores messages older than it.
TEST(HostReview9, ALateMoveDoesNotRecreateAReplicaANewerMoveDropped) {
  Host host(NodeId(4), 3);
  raft::MemoryLogStore store;
  ASSERT_TRUE(host.step(control(kExecutor, NodeId(4), move(5, NodeId(1), NodeId(4)))).is_ok());
  HostReady first = host.take_ready();
  ASSERT_EQ(first.create.size(), 1u);
  ASSERT_TRUE(host.add_group(kGroup, config_for(NodeId(4)), store, Rng(1)).is_ok());
  host.advance();
  ASSERT_TRUE(host.step(control(kExecutor, NodeId(4), drop(9, NodeId(4), NodeId(2)))).is_ok());
  ASSERT_FALSE(host.hosts(kGroup));
  (void)host.take_ready();
  host.advance();
  ASSERT_TRUE(host.step(control(kExecutor, NodeId(4), move(5, NodeId(1), NodeId(4)))).is_ok());
  HostReady late = host.take_ready();
  EXPECT_TRUE(late.create.empty()) << "a replica was created again for move 5, done long ago";
}

// Q3. The move promotes its learner once `match + catch_up_lag >= last_index`. In a young group
// (fewer than catch_up_lag entries) a learner that never answered (match 0: its node is down, its
// replica never created) passes, and is swapped in as a voter by joint consensus: the group then
// has a voter with nothing, and the move's promise (DESIGN 2.4: "a new replica becomes a voter only
// once it has caught up") is broken. PD promotes only a learner that is no longer pending (TiKV
// reports a peer as pending while its matched index is below the leader's truncated index, which
// a peer that never answered always is).
TEST(HostReview9, ALearnerThatNeverAnsweredIsNotPromoted) {
  std::vector<std::unique_ptr<Host>> hosts;
  std::map<uint64_t, std::unique_ptr<raft::MemoryLogStore>> stores;
  for (uint64_t h = 1; h <= 3; ++h) {
    hosts.push_back(std::make_unique<Host>(NodeId(h), 3));
    stores[h] = std::make_unique<raft::MemoryLogStore>();
    ASSERT_TRUE(hosts.back()->add_group(kGroup, config_for(NodeId(h)), *stores[h], Rng(10 + h)).is_ok());
    PlacementHostOptions options;
    options.interval_ticks = 1;
    hosts.back()->enable_placement(options);
  }
  auto pump = [&] {
    for (int round = 0; round < 50; ++round) {
      std::vector<PeerBatch> flight;
      for (uint64_t h = 1; h <= 3; ++h) {
        Host& host = *hosts[h - 1];
        while (host.has_ready()) {
          HostReady ready = host.take_ready();
          for (GroupReady& g : ready.groups) {
            EXPECT_TRUE(stores[h]->append(g.ready.raft.entries_to_persist).is_ok());
            if (g.ready.raft.hard_state) {
              EXPECT_TRUE(stores[h]->set_hard_state(*g.ready.raft.hard_state).is_ok());
            }
          }
          for (auto* batches : {&ready.batches, &ready.batches_after_persist}) {
            for (PeerBatch& b : *batches) flight.push_back(std::move(b));
          }
          host.advance();
        }
      }
      if (flight.empty()) return;
      for (const PeerBatch& b : flight) {
        if (b.to.value >= 1 && b.to.value <= 3) (void)hosts[b.to.value - 1]->step(b);  // n4 is down
      }
    }
  };
  auto leader = [&]() -> Host* {
    for (auto& h : hosts) {
      if (h->group(kGroup)->raft().role() == raft::Role::kLeader) return h.get();
    }
    return nullptr;
  };
  for (int t = 0; t < 100 && leader() == nullptr; ++t) {
    for (auto& h : hosts) h->tick();
    pump();
  }
  Host* lead = leader();
  ASSERT_NE(lead, nullptr);
  const NodeId from = lead->id() == NodeId(3) ? NodeId(2) : NodeId(3);  // a follower leaves
  ASSERT_TRUE(lead->step(control(kExecutor, lead->id(), move(1, from, NodeId(4)))).is_ok());
  for (int t = 0; t < 200; ++t) {
    for (auto& h : hosts) h->tick();
    pump();
  }
  Host* now = leader();
  ASSERT_NE(now, nullptr);
  const raft::ConfState& conf = now->group(kGroup)->raft().conf_state();
  const raft::Progress* pr = now->group(kGroup)->raft().progress(NodeId(4));
  EXPECT_FALSE(std::count(conf.voters.begin(), conf.voters.end(), NodeId(4)))
      << "n4, down all along (match " << (pr ? pr->match.value : 0) << "), was made a voter; last index "
      << now->group(kGroup)->raft().log().last_index().value;
}

}  // namespace
}  // namespace grape::node
