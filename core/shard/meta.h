#pragma once
// The metadata group's state (DESIGN.md 2.4): the nodes, the shard map with an epoch per shard,
// and the rebalancing plan with each move's progress. It lives in the metadata group's key-value
// state machine under keys no client can write (they start with \x01), one key per shard, node and
// move, so that a move's progress is one small write:
//
//   \x01node/00007      "w1 active"            (weight, active | leaving)
//   \x01shard/00005     "e3 r1,4,6 l4"         (epoch, replicas, preferred leader)
//   \x01move/00000012   "s5 f2 t6 running"     (shard, from, to, pending | running | done |
//                                               cancelled)
//   \x01version         "9"                    (the map's version)
//   \x01rebalance       "2"                    (rebalances asked for by an operator)
//
// Pure: encoding, decoding and the commands that change it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/kv/kv.h"
#include "core/shard/placement.h"

namespace grape::shard {

enum class NodeState : uint8_t { kActive, kLeaving };
enum class MoveState : uint8_t { kPending, kRunning, kDone, kCancelled };

struct MoveRecord {
  uint64_t id = 0;
  Move move;
  MoveState state = MoveState::kPending;
  // Done or rolled back: the node whose replica the move made redundant (its source, or its
  // target when rolled back) acknowledged the drop. Until then the executor sends it again.
  bool drop_acked = false;
  bool operator==(const MoveRecord&) const = default;
};

struct MetaNode {
  NodeId id;
  uint32_t weight = 1;
  NodeState state = NodeState::kActive;
  bool operator==(const MetaNode&) const = default;
};

struct MetaState {
  std::vector<MetaNode> nodes;  // by id
  ShardMap map;                 // empty until the cluster's first map is written
  std::map<uint64_t, MoveRecord> moves;
  uint64_t rebalances = 0;

  bool version_written = false;  // the first map's last write: everything before it committed

  // The first map is written as one batch with the version last; a batch cut short (its leader
  // lost leadership) leaves no version, and the next executor writes it all again.
  bool initialized() const { return version_written && !map.shards.empty(); }
  // The nodes shards may be placed on: the active ones.
  std::vector<NodeSpec> active_nodes() const;
  const MetaNode* node(NodeId id) const;
  size_t moves_unfinished() const;
  uint64_t next_move_id() const { return moves.empty() ? 1 : moves.rbegin()->first + 1; }
  // Moves done or rolled back whose drop is not acknowledged yet.
  size_t drops_unacked() const;
};

// Reads the state from the metadata group's key-value store (entries it does not know, or cannot
// parse, are skipped: the group's own writes are the only ones).
MetaState decode_meta(const kv::KvStore& store);

// The writes that change the state, as key-value commands to propose on the metadata group.
kv::Command put_node(const MetaNode& node);
kv::Command put_shard(uint32_t shard, const ShardPlacement& placement);
kv::Command put_move(const MoveRecord& record);
kv::Command put_version(uint64_t version);
kv::Command put_rebalances(uint64_t count);
bool is_meta_key(const std::string& key);

std::string to_string(MoveState state);

}  // namespace grape::shard
