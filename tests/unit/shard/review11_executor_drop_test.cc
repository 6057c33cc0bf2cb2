// Review 11: the drops the executor owes (Executor::send_drops, record_drops_acked), compared
// with TiKV's leader polling removed peers (raftstore-v2 operation/life.rs: "Leader is
// responsible to keep polling all removed peers"; a GC/tombstone message names the peer
// INCARNATION, its peer id, and a peer re-created on the same store has a larger id, so an old
// message never destroys it) and with its clean-up for stores that are gone for good (removed
// records of peers on a tombstone store are dropped: test_gc_peer_on_tombstone_store).

#include "core/shard/executor.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "core/kv/kv.h"
#include "core/shard/meta.h"
#include "tests/unit/shard/executor_test_util.h"

namespace grape::shard {
namespace {

using test::MetaGroup;
using test::nodes;
using test::options;

size_t drops_to(const ExecutorOutput& out, NodeId node, uint64_t move) {
  return static_cast<size_t>(std::count_if(out.sends.begin(), out.sends.end(), [&](const auto& s) {
    return s.first == node && s.second.kind == ControlKind::kDrop && s.second.move_id == move;
  }));
}

// Move 1 took shard S off n1 (done) while n1 was down, so its drop is still owed. Move 2 then
// brought S back to n1 (done, acknowledged): the map gives S to n1 again, and n1's replica is a
// voter of S's group. The executor still sends move 1's drop to n1. n1's host refuses it only if
// it happens to have recorded move 2's kMove (created_by_move_); a replica that was already there
// (n1 restarted with its old replica, which the leader of S then caught up and promoted, the
// kMove lost or cut on its way from the metadata leader) has created_by 0, and the drop removes a
// current voter, which the map keeps listing: the shard stays one replica short for good.
// TiKV: the destroy message names the peer id, which a re-created peer does not share.
TEST(Review11ExecutorDrops, NoDropIsSentToANodeTheMapGivesTheShardAgain) {
  MetaGroup meta;
  Executor executor(options(8));
  uint64_t tick = 0;
  auto look = [&](uint64_t step) {
    ExecutorOutput out = executor.tick(meta.state(), tick += step);
    meta.apply(out.proposals);
    return out;
  };
  look(1);  // the first map
  const MetaState first = meta.state();
  ASSERT_TRUE(first.initialized());
  uint32_t shard = 0;
  while (std::find(first.map.shards[shard].replicas.begin(), first.map.shards[shard].replicas.end(),
                   NodeId(1)) == first.map.shards[shard].replicas.end()) {
    ++shard;
  }
  meta.apply({put_node({NodeId(4), 1, NodeState::kActive}),
              put_move({1, Move{shard, NodeId(1), NodeId(4)}, MoveState::kDone}),
              put_move({2, Move{shard, NodeId(4), NodeId(1)}, MoveState::kDone, true})});
  // (The map's entry for the shard lists n1, as after move 2.)
  size_t sent = 0;
  for (int i = 0; i < 10; ++i) sent += drops_to(look(25), NodeId(1), 1);
  EXPECT_EQ(sent, 0u) << "move 1's drop went " << sent << " time(s) to n1, which the map gives shard "
                      << shard << " again (move 2): it may remove a current voter";
}

// n4 went down for good and was removed (leaving; the map lists it nowhere). Its replicas moved
// away, so every one of those moves owes n4 a drop, and no acknowledgement can come. Review 11
// asked that such drops stop being owed (TiKV drops the removed records of peers on a tombstone
// store). They stay owed: n4 may come back, however late, with its old replicas on disk, and two
// of them that were a majority of an old configuration could elect one of them and overwrite
// committed entries on a current member of that configuration; the drop is what ends them. What
// is bounded is the cost: once the back-off is at its longest, each owed drop is one message per
// 32 x resend_ticks.
TEST(Review11ExecutorDrops, DropsOwedToANodeThatLeftCostOneMessagePerLongestBackOff) {
  MetaGroup meta;
  Executor executor(options(8));
  uint64_t tick = 0;
  auto look = [&](uint64_t step) {
    ExecutorOutput out = executor.tick(meta.state(), tick += step);
    meta.apply(out.proposals);
    return out;
  };
  look(1);
  std::vector<kv::Command> writes{put_node({NodeId(4), 1, NodeState::kLeaving})};
  for (uint64_t id = 1; id <= 8; ++id) {
    writes.push_back(put_move({id, Move{static_cast<uint32_t>(id - 1), NodeId(4), NodeId(1)},
                               MoveState::kDone}));
  }
  meta.apply(writes);
  // A long while later: the last 10,000 of 100,000 ticks.
  size_t late = 0;
  for (int i = 0; i < 1000; ++i) {
    const ExecutorOutput out = look(100);
    if (i >= 900) {
      for (uint64_t id = 1; id <= 8; ++id) late += drops_to(out, NodeId(4), id);
    }
  }
  const size_t longest = 20 * 32;  // resend_ticks x 2^5
  EXPECT_GT(late, 0u) << "a drop owed to a node that may come back was given up";
  EXPECT_LE(late, 8 * (10'000 / longest + 1)) << "more than one message per drop per back-off";
  EXPECT_EQ(meta.state().drops_unacked(), 8u);
}

}  // namespace
}  // namespace grape::shard
