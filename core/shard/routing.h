#pragma once
// Routing (DESIGN.md 2.4): which group serves a shard, and the entries clients and nodes cache
// for it. A request carries the epoch of the entry its sender used; a node answers one whose
// epoch is stale (or unknown, 0) with a redirect carrying its newer entry, and the sender's cache
// takes it, as TiKV's stale-epoch errors and Redis Cluster's MOVED do.

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "core/base/ids.h"
#include "core/shard/placement.h"

namespace grape::shard {

// Group 1 is the metadata group (in an unsharded cluster, the only group); shard s is group
// s + 2.
inline constexpr GroupId kMetaGroup{1};
inline GroupId group_of(uint32_t shard) { return GroupId(uint64_t{shard} + 2); }
inline bool is_shard_group(GroupId group) { return group.value >= 2; }
inline uint32_t shard_of_group(GroupId group) { return static_cast<uint32_t>(group.value - 2); }

// What a cache knows of a shard: the epoch of its replica set, the replicas, and a leader hint.
struct RouteEntry {
  uint32_t shard = 0;
  Epoch epoch;  // 0: unknown
  std::vector<NodeId> replicas;
  NodeId leader;  // a hint: kNoNode when unknown
  bool operator==(const RouteEntry&) const = default;
};

inline RouteEntry route_of(const ShardMap& map, uint32_t shard) {
  const ShardPlacement& placement = map.shards[shard];
  return RouteEntry{shard, placement.epoch, placement.replicas, placement.leader};
}

// A cache of route entries: newer epochs replace older ones; within an epoch a leader hint is
// taken as it comes (leaders change without changing the replica set).
class RouteCache {
 public:
  const RouteEntry* find(uint32_t shard) const {
    auto it = entries_.find(shard);
    return it == entries_.end() ? nullptr : &it->second;
  }
  // Takes `entry` if it is at least as new as what is cached; returns whether it did.
  bool update(const RouteEntry& entry) {
    auto it = entries_.find(entry.shard);
    if (it != entries_.end() && it->second.epoch > entry.epoch) return false;
    if (it != entries_.end() && it->second.epoch == entry.epoch && entry.leader == kNoNode) {
      return false;  // no news: keep the hint we have
    }
    entries_[entry.shard] = entry;
    return true;
  }
  // A leader hint learned without a new entry (a redirect from within the group).
  void set_leader(uint32_t shard, NodeId leader) {
    auto it = entries_.find(shard);
    if (it != entries_.end()) it->second.leader = leader;
  }
  void forget(uint32_t shard) { entries_.erase(shard); }
  size_t size() const { return entries_.size(); }

 private:
  std::map<uint32_t, RouteEntry> entries_;
};

}  // namespace grape::shard
