#pragma once
// A new sharded cluster's first layout (DESIGN.md 2.4), the same in both worlds: which nodes hold
// the metadata group (group 1) and each shard's first replicas. Every member of a new cluster
// computes it from the cluster's parameters alone (its first nodes, the shard count and the
// replication), so they all agree without talking; the executor later writes the same map into
// the metadata group as its first version.

#include <cstdint>
#include <map>
#include <vector>

#include "core/base/expected.h"
#include "core/base/ids.h"
#include "core/shard/placement.h"

namespace grape::shard {

struct ClusterLayout {
  std::vector<NodeId> meta_voters;  // the metadata group: the first 3 nodes, the first 5 from 7
  ShardMap map;                     // the first map
  // Each shard's first replicas, sorted: its group's first configuration.
  std::map<uint32_t, std::vector<NodeId>> voters;
};

// The metadata group's members among a new cluster's first nodes (in id order): 3, or 5 once
// there are 7 nodes or more, as etcd and PD advise; fewer only when there are fewer nodes.
std::vector<NodeId> meta_voters_of(std::vector<NodeId> nodes);

[[nodiscard]] Expected<ClusterLayout, PlacementError> initial_layout(
    const std::vector<NodeSpec>& nodes, const PlacementOptions& options);

}  // namespace grape::shard
