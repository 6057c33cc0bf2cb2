#include "core/shard/layout.h"

#include <algorithm>

namespace grape::shard {

std::vector<NodeId> meta_voters_of(std::vector<NodeId> nodes) {
  std::sort(nodes.begin(), nodes.end());
  const size_t count = std::min(nodes.size(), nodes.size() >= 7 ? size_t{5} : size_t{3});
  nodes.resize(count);
  return nodes;
}

Expected<ClusterLayout, PlacementError> initial_layout(const std::vector<NodeSpec>& nodes,
                                                       const PlacementOptions& options) {
  auto map = initial_placement(nodes, options);
  if (!map) return Unexpected(map.error());
  ClusterLayout layout;
  std::vector<NodeId> ids;
  for (const NodeSpec& node : nodes) ids.push_back(node.id);
  layout.meta_voters = meta_voters_of(std::move(ids));
  for (uint32_t s = 0; s < options.shards; ++s) {
    std::vector<NodeId> replicas = map->shards[s].replicas;
    std::sort(replicas.begin(), replicas.end());
    layout.voters[s] = std::move(replicas);
  }
  layout.map = std::move(*map);
  return layout;
}

}  // namespace grape::shard
