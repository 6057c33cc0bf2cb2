#pragma once
// Shard placement (DESIGN.md 2.4): keys to shards, shards to nodes, and the planner that moves a
// placement to a new node set or load while moving as little as it can.
//
//   key   -> shard     equal-width ranges of the 64-bit XXH3 hash (shard_of)
//   shard -> replicas  an explicit, versioned ShardMap. The first map comes from a consistent
//                      hash ring of nodes with virtual nodes, weighted by capacity, with bounded
//                      loads (Mirrokni, Thorup, Zadimoghaddam 2018: no node above (1 + ε) times
//                      its share); later maps come from the planner, starting from the current
//                      map, so that a join or a leave moves only replicas that must move.
//
// Shares are exact and integer: a node's share of the S * R replicas is proportional to its
// weight, capped at S (a node holds at most one replica of a shard) with the excess spread over
// the others. The planner keeps every node's replica count within [floor(share), ceil(share)],
// hence within ceil((1 + ε) * share), and the leader count within one of its share of the S
// leaders. With a measured load it also evens out requests served, leader counts kept within
// those bounds: what followers serve (reads at any replica) stays with the replicas, a base load
// on their nodes, and leadership moves (hand-offs, and swaps of a busier shard's leadership for
// a lighter one) so that base plus leader-served load evens out. Pure and deterministic: no
// floating point reaches a decision.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/expected.h"
#include "core/base/ids.h"

namespace grape::shard {

inline constexpr uint32_t kDefaultShards = 1024;
inline constexpr uint32_t kMaxShards = 65'536;
inline constexpr uint32_t kMaxNodes = 1'024;
inline constexpr uint32_t kDefaultVirtualNodes = 256;
inline constexpr uint32_t kDefaultEpsilonPermille = 50;  // ε = 0.05

// The shard that owns a hash: shard i owns [i * 2^64 / S, (i + 1) * 2^64 / S).
inline uint32_t shard_of_hash(uint64_t hash, uint32_t shards) {
  __extension__ using U128 = unsigned __int128;
  return static_cast<uint32_t>((static_cast<U128>(hash) * shards) >> 64);
}
uint64_t key_hash(std::string_view key);
inline uint32_t shard_of(std::string_view key, uint32_t shards) {
  return shard_of_hash(key_hash(key), shards);
}
// The point on the ring where a shard's replicas start.
uint64_t shard_point(uint32_t shard);

struct NodeSpec {
  NodeId id;
  uint32_t weight = 1;  // capacity units, > 0
  auto operator<=>(const NodeSpec&) const = default;
};

struct PlacementOptions {
  uint32_t shards = kDefaultShards;
  uint32_t replication = 3;
  uint32_t epsilon_permille = kDefaultEpsilonPermille;  // bounded loads' ε, in thousandths
  uint32_t virtual_nodes = kDefaultVirtualNodes;        // per node of average weight
};

// The consistent hash ring: every node owns virtual points in proportion to its weight. A bucket
// index over the top bits of the hash makes a lookup a short scan instead of a binary search.
class Ring {
 public:
  Ring(const std::vector<NodeSpec>& nodes, uint32_t virtual_nodes);

  // The first `count` distinct nodes clockwise from `point`, as indices into the nodes given.
  void successors(uint64_t point, uint32_t count, std::vector<uint32_t>& out) const;
  // Index of the first virtual point at or clockwise after `point`.
  size_t first_at_or_after(uint64_t point) const;
  uint32_t owner(size_t position) const { return owners_[position % owners_.size()]; }
  size_t size() const { return hashes_.size(); }
  uint32_t nodes() const { return nodes_; }

 private:
  static constexpr int kBucketBits = 12;
  std::vector<uint64_t> hashes_;    // sorted
  std::vector<uint32_t> owners_;    // node index of each point
  std::vector<uint32_t> buckets_;   // first point of each top-bits bucket, plus an end
  uint32_t nodes_ = 0;
};

struct ShardPlacement {
  std::vector<NodeId> replicas;  // R distinct nodes
  NodeId leader;                 // one of the replicas
  Epoch epoch{1};                // grows whenever the replica set changes
  auto operator<=>(const ShardPlacement&) const = default;
};

// The explicit, versioned placement: shard i is shards[i].
struct ShardMap {
  uint64_t version = 1;
  uint32_t replication = 0;
  std::vector<ShardPlacement> shards;

  uint32_t shard_count() const { return static_cast<uint32_t>(shards.size()); }
  uint32_t shard_of(std::string_view key) const { return shard::shard_of(key, shard_count()); }
  const ShardPlacement& at(uint32_t shard) const { return shards[shard]; }
  auto operator<=>(const ShardMap&) const = default;
};

// Measured load of one shard, over the same window for every shard.
struct ShardLoad {
  uint64_t requests = 0;  // requests served by its leader
  uint64_t bytes = 0;     // data held
  uint64_t follower_requests = 0;  // reads served by its followers, all of them together
};

// One replica moved: `to` joins shard's group as a learner, catches up, replaces `from`.
struct Move {
  uint32_t shard = 0;
  NodeId from;
  NodeId to;
  auto operator<=>(const Move&) const = default;
};

// Leadership of a shard moved from one replica to another (no data moves).
struct LeaderTransfer {
  uint32_t shard = 0;
  NodeId from;
  NodeId to;
  auto operator<=>(const LeaderTransfer&) const = default;
};

struct Plan {
  ShardMap target;
  std::vector<Move> moves;                  // in the order to run them
  std::vector<LeaderTransfer> transfers;    // after the moves
  bool empty() const { return moves.empty() && transfers.empty(); }
};

// A node's fair share of the replicas (or leaders) and the bounds the planner keeps it in.
struct Quota {
  NodeId node;
  uint32_t floor = 0;  // floor(share)
  uint32_t ceil = 0;   // ceil(share)
  uint32_t bound = 0;  // bounded loads: ceil((1 + ε) * share), at most the shard count
  uint64_t share_numerator = 0;    // share = numerator / denominator, exactly
  uint64_t share_denominator = 1;
};

// Per-node tallies of a map (nodes sorted by id; nodes of `nodes` holding nothing included).
struct NodeCounts {
  NodeId node;
  uint32_t replicas = 0;
  uint32_t leaders = 0;
  uint64_t requests = 0;  // with a load: requests served (served_by_node), rounded down
};

// Why a placement cannot be made.
struct PlacementError {
  std::string message;
};

[[nodiscard]] Status<PlacementError> validate(const std::vector<NodeSpec>& nodes,
                                              const PlacementOptions& options);

// Each node's share of `total` items, one per shard at most, proportional to weight.
std::vector<Quota> quotas(const std::vector<NodeSpec>& nodes, uint64_t total, uint32_t shards,
                          uint32_t epsilon_permille);

// The first placement of a new cluster: ring with bounded loads, then balanced.
[[nodiscard]] Expected<ShardMap, PlacementError> initial_placement(
    const std::vector<NodeSpec>& nodes, const PlacementOptions& options);

// The moves that take `current` to a balanced placement on `nodes`: replicas on nodes no longer
// listed move off, nodes outside their bounds shed or gain replicas, leaders even out by count,
// then, when `load` has one entry per shard, by requests served (served_by_node's) within their
// count bounds. The same load planned again on the target moves nothing more. The target's version is one past
// the current one when anything changes; a shard's epoch grows when its replica set does.
[[nodiscard]] Expected<Plan, PlacementError> plan(const ShardMap& current,
                                                  const std::vector<NodeSpec>& nodes,
                                                  const PlacementOptions& options,
                                                  const std::vector<ShardLoad>& load = {});

std::vector<NodeCounts> count_by_node(const ShardMap& map, const std::vector<NodeSpec>& nodes,
                                      const std::vector<ShardLoad>& load = {});

// The requests each of `nodes` (in the order given) serves under `map` with `load` (one entry
// per shard), as the planner counts them: every replica of a shard serves an even share of what
// the shard's followers served (reads go to any replica), and its leader serves, on top of that
// share, the rest of what it served (writes, and reads sent to the leader), which is what moves
// when leadership does. In units of 1 / (R - 1) request (R = `replication`; 1 when R is 1), so
// that every share is an integer.
std::vector<uint64_t> served_by_node(const ShardMap& map, const std::vector<NodeSpec>& nodes,
                                     const std::vector<ShardLoad>& load, uint32_t replication);

// The fewest replica moves any placement on `nodes` within the planner's bounds needs from
// `current`: replicas that must leave (departed nodes, nodes above their ceil) or must arrive
// (nodes below their floor), whichever is more.
uint64_t minimum_moves(const ShardMap& current, const std::vector<NodeSpec>& nodes,
                       const PlacementOptions& options);

// Node names as people and scenarios write them: n1, n2, ...
std::string node_name(NodeId node);

}  // namespace grape::shard
