#pragma once
// The multi-group half of the peer wire format (wire.h has the frames): what one host sends one
// peer in one Ready (node::PeerBatch: Raft messages of many groups and placement controls) in one
// kBatch frame, and the cluster's parameters a joining node asks for. Little endian, decoded
// without trusting any length: a payload that does not decode is an error naming what, and the
// runtime closes that connection.
//
// Batch:   u32 count | count × (u64 group | u8 kind | body)
//            kind 0: u32 size | a raft::Message (wire.h's encoding)
//            kind 1: u64 from | u64 to | a shard::Control (below)
// Control: u8 kind | u64 move id | u32 shard | u64 from | u64 to | u8 cancel
//          | u32 n | n × u64 voter | u32 n | n × route | u32 n | n × (u32 shard | u64 requests)
// Route:   u32 shard | u64 epoch | u64 leader | u32 n | n × u64 replica

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/expected.h"
#include "core/node/host.h"
#include "core/shard/placement.h"
#include "core/shard/routing.h"

namespace grape::net {

Bytes encode_batch(const node::PeerBatch& batch);
// `from`, `to`: the connection's ends; every message must name them (a peer speaks only for
// itself).
Expected<node::PeerBatch, std::string> decode_batch(std::span<const std::byte> payload, NodeId from,
                                                    NodeId to);

void put_route(Bytes& out, const shard::RouteEntry& route);
// Exactly one route entry, nothing after it.
Expected<shard::RouteEntry, std::string> get_route(std::span<const std::byte> payload);

// A cluster's parameters, fixed at its creation: every node derives the first layout
// (shard::initial_layout) from them. Unsharded clusters have shards = 0. With them, when a peer
// sends them, the peer addresses it knows (nodes that hold no metadata replica learn the
// addresses of nodes that joined later this way).
// u32 shards | u32 replication | u32 n | n × (u64 id | u32 weight) | u32 n | n × (u64 id |
// u32 size | address)
struct ClusterParams {
  uint32_t shards = 0;
  uint32_t replication = 3;
  std::vector<shard::NodeSpec> initial_nodes;
  std::map<NodeId, std::string> addresses;
  bool operator==(const ClusterParams&) const = default;
};
Bytes encode_cluster_params(const ClusterParams& params);
Expected<ClusterParams, std::string> decode_cluster_params(std::span<const std::byte> payload);

}  // namespace grape::net
