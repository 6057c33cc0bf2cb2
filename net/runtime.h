#pragma once
// NodeRuntime: one grape node process. The multi-Raft host (core/node/host.h) that the simulator
// drives, here on real sockets, the real disk and the steady clock, on one thread with one
// io_context:
//
//   peer frames ──┐                      ┌─> peer links (one batch per peer: Raft, placement)
//   HTTP requests ├─> Host ── Ready ─────┼─> write-ahead log + snapshots: one write, one fdatasync
//   tick timer ───┘   (every group)      └─> HTTP answers
//
// Unsharded, the host holds one group (group 1) on every member. Sharded, it holds the replicas
// the placement gives this node: the metadata group (on the first 3 or 5 nodes) and shard groups,
// and any node takes any key, sending the request on to its shard's leader.
//
// Every event only steps the node and asks for one drain; the drain runs after the events already
// queued, so the Readies of a burst of messages and requests share one write and one sync (group
// commit). The loop is NodeStorage's (core/node/node_storage.h), the one the simulator runs.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/base/expected.h"
#include "core/base/ids.h"

namespace grape::net {

struct RuntimeConfig {
  NodeId id;
  std::string data_dir;
  std::string listen_peer = "127.0.0.1:7001";
  std::string listen_http = "127.0.0.1:8001";
  // Every initial member's peer address (this node's included, unless it joins).
  std::map<NodeId, std::string> initial_cluster;
  // Join a running cluster ("existing"): start empty and learn everything from its leader, once
  // an operator has added this node (POST /v1/members). Otherwise ("new") the members of
  // initial_cluster bootstrap the cluster together.
  bool join = false;
  // A new cluster's shards (0: one Raft group holds every key, as before sharding) and each
  // shard's replicas. Fixed at creation: later starts, and nodes that join, take them from the
  // cluster (the data dir's "cluster" file, or a peer).
  uint32_t shards = 0;
  uint32_t replication = 3;
  std::string cluster_id = "grape";
  std::string token;  // the cluster token: peer handshakes and admin calls
  // The Raft timer's resolution; 0: 10 ms, or for a sharded cluster 50 ms (at most half the
  // heartbeat), since every tick visits every hosted group.
  int64_t tick_ms = 0;
  int64_t heartbeat_ms = 100;
  int64_t election_timeout_ms = 1000;
  uint64_t snapshot_every = 100'000;  // applied entries between snapshots (etcd's default)
  // Snapshot MiB/s this node's leaders send, all groups together (0: no limit). TiKV's
  // snap-io-max-bytes-per-sec is 100 MB/s, CockroachDB's rebalance snapshot rate 32 MiB/s.
  uint64_t snapshot_rate_mib = 64;
  int64_t request_timeout_ms = 5'000;
  std::string log_level = "info";
};

// "n3" -> NodeId(3); nullopt for anything else.
std::optional<NodeId> parse_node_name(const std::string& name);
std::string node_name(NodeId id);
// "n1=127.0.0.1:7001,n2=..." -> ids to addresses; the error names the bad part.
Expected<std::map<NodeId, std::string>, std::string> parse_initial_cluster(const std::string& text);

// Runs the node until SIGINT or SIGTERM. Returns the process exit code: 0 after a clean stop, 1
// when the node could not start (port taken, corrupt log: the message says which), 2 for a bad
// configuration.
int run_node(const RuntimeConfig& config);

}  // namespace grape::net
