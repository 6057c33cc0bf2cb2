// The metadata state's encoding and the executor's steps, driven by hand: the first map, a plan
// when a node joins, moves started at most N at once and recorded running before their commands
// go out, commands re-sent, a done report recorded with the shard's epoch one higher and a drop
// for the node left, and routes sent to every node.

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

TEST(MetaState, RoundTripsThroughTheKeyValueStore) {
  MetaGroup meta;
  const ShardMap map = *initial_placement(nodes(3), options(8).placement);
  std::vector<kv::Command> writes;
  for (uint32_t s = 0; s < 8; ++s) writes.push_back(put_shard(s, map.shards[s]));
  writes.push_back(put_node({NodeId(4), 2, NodeState::kLeaving}));
  writes.push_back(put_move({12, Move{5, NodeId(2), NodeId(4)}, MoveState::kRunning}));
  writes.push_back(put_move({13, Move{6, NodeId(1), NodeId(4)}, MoveState::kDone, true}));
  writes.push_back(put_version(7));
  writes.push_back(put_rebalances(3));
  kv::Command user;  // a client's key is not metadata
  user.op = kv::Op::kPut;
  user.key = "shard/1";
  user.value = "x";
  writes.push_back(user);
  meta.apply(writes);
  const MetaState state = meta.state();
  EXPECT_TRUE(state.initialized());
  EXPECT_EQ(state.map.shards, map.shards);
  EXPECT_EQ(state.map.version, 7u);
  EXPECT_EQ(state.map.replication, 3u);
  ASSERT_EQ(state.nodes.size(), 1u);
  EXPECT_EQ(state.nodes[0], (MetaNode{NodeId(4), 2, NodeState::kLeaving}));
  ASSERT_EQ(state.moves.size(), 2u);
  EXPECT_EQ(state.moves.at(12).move, (Move{5, NodeId(2), NodeId(4)}));
  EXPECT_EQ(state.moves.at(12).state, MoveState::kRunning);
  EXPECT_FALSE(state.moves.at(12).drop_acked);
  EXPECT_EQ(state.moves.at(13).state, MoveState::kDone);
  EXPECT_TRUE(state.moves.at(13).drop_acked);
  EXPECT_EQ(state.rebalances, 3u);
  EXPECT_EQ(state.next_move_id(), 14u);
}

TEST(MetaState, AFirstMapCutShortIsNotInitialized) {
  MetaGroup meta;
  const ShardMap map = *initial_placement(nodes(3), options(8).placement);
  meta.apply({put_shard(0, map.shards[0]), put_shard(1, map.shards[1])});  // no version yet
  EXPECT_FALSE(meta.state().initialized());
}

TEST(Executor, WritesTheFirstMapThenPlansAJoinAndRunsItsMoves) {
  MetaGroup meta;
  Executor executor(options(8));
  uint64_t tick = 0;
  auto look = [&] {
    ExecutorOutput out = executor.tick(meta.state(), tick += 10);
    meta.apply(out.proposals);
    return out;
  };
  look();  // the first map
  ASSERT_TRUE(meta.state().initialized());
  EXPECT_EQ(meta.state().map, *initial_placement(nodes(3), options(8).placement));
  EXPECT_TRUE(look().empty());  // balanced: nothing to do

  meta.apply({put_node({NodeId(4), 1, NodeState::kActive})});
  look();  // the plan: n4's share, 6 of the 24 replicas, pending
  MetaState state = meta.state();
  ASSERT_EQ(state.moves.size(), 6u);
  for (const auto& [id, record] : state.moves) {
    EXPECT_EQ(record.state, MoveState::kPending);
    EXPECT_EQ(record.move.to, NodeId(4));
  }

  look();  // two start (the limit): recorded running, no command yet
  state = meta.state();
  auto running = [&] {
    std::vector<MoveRecord> out;
    for (const auto& [id, r] : meta.state().moves) {
      if (r.state == MoveState::kRunning) out.push_back(r);
    }
    return out;
  };
  ASSERT_EQ(running().size(), 2u);

  ExecutorOutput out = look();  // their commands: to the shard's replicas and to n4
  size_t commands = 0;
  for (const auto& [to, control] : out.sends) {
    if (control.kind != ControlKind::kMove) continue;
    ++commands;
    EXPECT_EQ(control.to, NodeId(4));
  }
  EXPECT_EQ(commands, 2u * 4);  // 3 replicas + n4, each
  EXPECT_TRUE(look().sends.empty());  // not again before resend_ticks
  out = look();
  EXPECT_FALSE(out.sends.empty());  // and then again

  // The first running move is reported done: recorded, the node left told to drop its replica.
  const MoveRecord first = running().front();
  const ShardPlacement before = meta.state().map.shards[first.move.shard];
  std::vector<NodeId> after = before.replicas;
  std::replace(after.begin(), after.end(), first.move.from, first.move.to);
  executor.on_move_done(Control{ControlKind::kMoveDone, first.id, first.move.shard,
                                first.move.from, first.move.to, {},
                                {RouteEntry{first.move.shard, Epoch(0), after, NodeId(4)}}});
  out = look();
  state = meta.state();
  EXPECT_EQ(state.moves.at(first.id).state, MoveState::kDone);
  EXPECT_EQ(state.map.shards[first.move.shard].replicas, after);
  EXPECT_EQ(state.map.shards[first.move.shard].epoch, before.epoch.next());
  EXPECT_GT(state.map.version, 1u);
  auto drops_to_source = [&](const ExecutorOutput& o) {
    return std::count_if(o.sends.begin(), o.sends.end(), [&](const auto& send) {
      return send.first == first.move.from && send.second.kind == ControlKind::kDrop &&
             send.second.move_id == first.id;
    });
  };
  EXPECT_EQ(drops_to_source(out), 0) << "no drop before the move is recorded done";
  // Once it is: the node left is told to drop its replica, and the changed route goes to every
  // node.
  out = look();
  EXPECT_EQ(drops_to_source(out), 1);
  size_t routes = 0;
  for (const auto& [to, control] : out.sends) {
    if (control.kind == ControlKind::kRoute) ++routes;
  }
  EXPECT_EQ(routes, 4u);
}

// Load reports split what leaders and followers served; a node far above the mean gets a plan
// that swaps its busier shards' leadership for lighter ones (leader counts stay even), and no
// plan after it (its own version written, the next load checks) moves anything again.
TEST(Executor, ALoadAwarePlanMovesLeadersAndNoLaterPlanUndoesIt) {
  MetaGroup meta;
  ExecutorOptions o = options(9);
  o.load_check_ticks = 30;
  Executor executor(o);
  uint64_t tick = 0;
  auto look = [&] {
    ExecutorOutput out = executor.tick(meta.state(), tick += 10);
    meta.apply(out.proposals);
    return out;
  };
  look();  // the first map: 3 leaders per node, every node holds every shard
  const ShardMap before = meta.state().map;
  const NodeId hot = before.shards[0].leader;
  // Shard 0 is hot: 90 requests at its leader, 10 at each follower. The other shards its node
  // leads take 40 requests each, the rest 10.
  std::vector<ShardLoad> load(9, ShardLoad{10, 0, 0});
  load[0] = ShardLoad{90, 0, 20};
  for (uint32_t s = 1; s < 9; ++s) {
    if (before.shards[s].leader == hot) load[s].requests = 40;
  }
  auto report = [&] {
    Control control{ControlKind::kLoad, 0, 0, {}, {}, {}, {}};
    for (uint32_t s = 0; s < 9; ++s) {
      control.loads.push_back(ShardServed{s, load[s].requests, load[s].follower_requests});
    }
    executor.on_load(control);
  };
  auto leaders_of = [](const ShardMap& map, NodeId node) {
    return std::count_if(map.shards.begin(), map.shards.end(),
                         [&](const ShardPlacement& p) { return p.leader == node; });
  };
  // In halves of requests: 340 where shard 0 leads, 80 on each other node.
  EXPECT_EQ(served_by_node(before, nodes(3), load, 3)[hot.value - 1], 340u);
  report();
  look();
  look();  // the load check: a plan
  const ShardMap after = meta.state().map;
  EXPECT_GT(after.version, before.version);
  for (uint64_t node = 1; node <= 3; ++node) EXPECT_EQ(leaders_of(after, NodeId(node)), 3);
  // Shard 0's leader (every node holds every shard: any of them) now leads two of the lightest
  // shards besides (220); each other node one of the busier shards and two light ones (140).
  const NodeId now_hot = after.shards[0].leader;
  for (uint64_t node = 1; node <= 3; ++node) {
    EXPECT_EQ(served_by_node(after, nodes(3), load, 3)[node - 1],
              NodeId(node) == now_hot ? 220u : 140u);
  }
  for (int i = 0; i < 20; ++i) {  // later looks, later load checks under the same load
    if (i % 3 == 0) report();
    EXPECT_TRUE(look().proposals.empty());
  }
  EXPECT_EQ(meta.state().map, after);
}

TEST(Executor, ANewExecutorResumesTheMovesRecordedRunning) {
  MetaGroup meta;
  Executor first(options(8));
  meta.apply(first.tick(meta.state(), 10).proposals);
  meta.apply({put_node({NodeId(4), 1, NodeState::kActive})});
  meta.apply(first.tick(meta.state(), 20).proposals);  // plan
  meta.apply(first.tick(meta.state(), 30).proposals);  // start two
  // The metadata leader crashes; another host's executor takes over with nothing in memory.
  Executor second(options(8));
  const ExecutorOutput out = second.tick(meta.state(), 40);
  size_t commands = 0;
  for (const auto& [to, control] : out.sends) {
    if (control.kind == ControlKind::kMove) ++commands;
  }
  EXPECT_EQ(commands, 2u * 4);  // the two running moves, at once
}

// A drop goes out once its move is recorded done, then again, less and less often, until the
// node acknowledges it; the acknowledgement is recorded in the move, and a new executor (a new
// metadata leader) sends the drops still owed, and only those.
TEST(Executor, ADropIsSentAgainUntilAcknowledgedEvenByANewLeader) {
  MetaGroup meta;
  Executor executor(options(8));
  uint64_t tick = 0;
  auto look = [&](Executor& e, uint64_t step) {
    ExecutorOutput out = e.tick(meta.state(), tick += step);
    meta.apply(out.proposals);
    return out;
  };
  look(executor, 1);  // the first map (every node holds every shard)
  // Two moves are done (the map shows them), one rolled back, one cancelled before it ever ran.
  const ShardMap map = meta.state().map;
  auto moved = [&](uint32_t shard, NodeId from, NodeId to) {
    ShardPlacement placement = map.shards[shard];
    std::replace(placement.replicas.begin(), placement.replicas.end(), from, to);
    placement.epoch = placement.epoch.next();
    return put_shard(shard, placement);
  };
  meta.apply({moved(0, NodeId(1), NodeId(4)), moved(1, NodeId(2), NodeId(4)),
              put_node({NodeId(4), 1, NodeState::kActive}), put_node({NodeId(5), 1, NodeState::kActive})});
  meta.apply({put_move({1, Move{0, NodeId(1), NodeId(4)}, MoveState::kDone}),
              put_move({2, Move{1, NodeId(2), NodeId(4)}, MoveState::kDone}),
              put_move({3, Move{2, NodeId(3), NodeId(5)}, MoveState::kCancelled}),
              put_move({4, Move{3, NodeId(3), NodeId(6)}, MoveState::kCancelled, true})});
  auto drops = [](const ExecutorOutput& out) {
    std::vector<std::pair<uint64_t, uint64_t>> d;  // (move, node)
    for (const auto& [to, control] : out.sends) {
      if (control.kind == ControlKind::kDrop) d.emplace_back(control.move_id, to.value);
    }
    std::sort(d.begin(), d.end());
    return d;
  };
  using Drops = std::vector<std::pair<uint64_t, uint64_t>>;
  // Done: the source drops; rolled back: the target; acknowledged: nobody.
  EXPECT_EQ(drops(look(executor, 1)), (Drops{{1, 1}, {2, 2}, {3, 5}}));
  EXPECT_EQ(drops(look(executor, 19)), Drops{}) << "not before resend_ticks (20)";
  EXPECT_EQ(drops(look(executor, 1)), (Drops{{1, 1}, {2, 2}, {3, 5}}));
  EXPECT_EQ(drops(look(executor, 39)), Drops{}) << "then twice as long";
  EXPECT_EQ(drops(look(executor, 1)), (Drops{{1, 1}, {2, 2}, {3, 5}}));

  executor.on_drop_done(Control{ControlKind::kDropDone, 2, 1, NodeId(2), NodeId(4), {}, {}, {}});
  look(executor, 1);  // recorded
  EXPECT_TRUE(meta.state().moves.at(2).drop_acked);
  EXPECT_EQ(meta.state().drops_unacked(), 2u);

  // A new metadata leader: it owes what the record says, at once.
  Executor successor(options(8));
  EXPECT_EQ(drops(look(successor, 1)), (Drops{{1, 1}, {3, 5}}));
}

// A pending move cancelled because its target left never ran: there is nothing to drop.
TEST(Executor, APendingMoveCancelledNeverOwesADrop) {
  MetaGroup meta;
  ExecutorOptions o = options(8);
  Executor executor(o);
  uint64_t tick = 0;
  auto look = [&] {
    ExecutorOutput out = executor.tick(meta.state(), tick += 1);
    meta.apply(out.proposals);
    return out;
  };
  look();
  meta.apply({put_node({NodeId(4), 1, NodeState::kLeaving}),
              put_move({1, Move{0, NodeId(1), NodeId(4)}, MoveState::kPending})});
  look();
  const MoveRecord record = meta.state().moves.at(1);
  EXPECT_EQ(record.state, MoveState::kCancelled);
  EXPECT_TRUE(record.drop_acked);
  for (int i = 0; i < 50; ++i) {
    for (const auto& [to, control] : look().sends) EXPECT_NE(control.kind, ControlKind::kDrop);
  }
}

}  // namespace
}  // namespace grape::shard
