#pragma once
// Control messages between hosts for placement (DESIGN.md 2.4), carried beside Raft messages:
//
//   kMove      executor -> a shard's replicas and the new node: run (or keep running) this move.
//              A node that is the move's target and hosts no replica yet creates one, empty,
//              with the group's initial configuration, to receive the leader's log.
//   kMoveDone  the shard's leader -> the executor: the move is done; `route` is the new entry.
//   kRoute     executor -> every node: newer route entries (epochs, replicas, preferred leader).
//   kDrop      executor -> the node a move left (or, rolled back, the node it was to bring a
//              replica to): drop that replica. Sent again, less and less often, until the node
//              answers kDropDone, from the metadata state: a node that was down, or a new
//              metadata leader, gets it all the same (TiKV's leader polls removed peers so).
//   kDropDone  that node -> the executor: the replica is gone for good (the drop is durable
//              there), or was never there, or a later move owns it.
//   kLoad      every node -> the metadata group's members: requests its replicas served, per
//              shard, since its last report, as the shard's leader and as a follower apart, and
//              the size of the shards it leads whose data changed
//              (the executor's load-aware planning: leader-served load moves with leadership,
//              follower-served load stays with the replicas).

#include <cstdint>
#include <utility>
#include <vector>

#include "core/base/ids.h"
#include "core/shard/routing.h"

namespace grape::shard {

enum class ControlKind : uint8_t { kMove, kMoveDone, kRoute, kDrop, kLoad, kDropDone };

// kLoad: what one node's replica of a shard served since the node's last report.
struct ShardServed {
  uint32_t shard = 0;
  uint64_t as_leader = 0;    // requests taken while the replica led its group
  uint64_t as_follower = 0;  // reads served while it followed (ReadIndex through the leader)
  // The shard's data, from its leader's replica, when it changed since the last report.
  bool has_bytes = false;
  uint64_t bytes = 0;
  bool operator==(const ShardServed&) const = default;
};

struct Control {
  ControlKind kind = ControlKind::kMove;
  uint64_t move_id = 0;
  uint32_t shard = 0;
  NodeId from;  // kMove, kMoveDone: the replica that leaves
  NodeId to;    // kMove, kMoveDone: the replica that arrives
  std::vector<NodeId> initial_voters;  // kMove: the group's first configuration
  std::vector<RouteEntry> routes;      // kRoute; kMoveDone: the shard's new entry
  std::vector<ShardServed> loads;      // kLoad: per shard served here
  // kMove: roll the move back instead (its target left, or it made no progress in time);
  // kMoveDone: it was rolled back (`to` is no member), not done.
  bool cancel = false;
  bool operator==(const Control&) const = default;
};

}  // namespace grape::shard
