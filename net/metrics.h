#pragma once
// Prometheus metrics of one node, rendered in the text exposition format (version 0.0.4) for
// GET /metrics. Names follow Prometheus conventions: a `grape_` prefix, base units (seconds,
// bytes), `_total` on counters. The runtime's one thread updates them: no atomics.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace grape::net {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}
  void observe(double value);
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  const std::vector<double>& bounds() const { return bounds_; }
  const std::vector<uint64_t>& counts() const { return counts_; }  // per bucket, last is +Inf

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

// Latency buckets from 50 µs to 10 s.
std::vector<double> latency_buckets();

struct Metrics {
  uint64_t leader_changes = 0;
  uint64_t proposals_committed = 0;  // client writes applied with success
  uint64_t proposals_failed = 0;     // client writes refused, dropped, unknown or timed out
  uint64_t snapshots_saved = 0;
  uint64_t replicas_created = 0;  // empty replicas a move asked this node to create
  uint64_t replicas_dropped = 0;  // replicas moved away
  uint64_t snapshot_bytes_installed = 0;
  uint64_t snapshots_installed = 0;
  uint64_t peer_frames_dropped = 0;  // send queues full
  uint64_t peer_connections_refused = 0;  // failed handshakes and bad frames
  uint64_t wal_syncs = 0;
  Histogram replication_latency{latency_buckets()};  // leader: proposal to commit
  Histogram wal_sync_latency{latency_buckets()};
  Histogram apply_latency{latency_buckets()};
  // HTTP request latency by route ("kv_put", "kv_get", ...).
  std::map<std::string, Histogram> http_latency;
  void observe_http(const std::string& route, double seconds);
};

// Gauges read at render time.
// Sharded clusters: this node's replicas, and on metadata replicas the plan's moves and the map.
struct ShardGauges {
  uint64_t replicas = 0;
  uint64_t leaders = 0;
  uint64_t leaderless = 0;  // replicas here that know no leader of their group
  bool has_map = false;     // the rest: only on metadata replicas
  uint64_t drops_unacked = 0;
  uint64_t map_version = 0;
  std::map<std::string, uint64_t> moves_by_state;  // pending, running, done, cancelled
  std::map<std::string, uint64_t> node_replicas;   // by node id, as the map places them
  std::map<std::string, uint64_t> node_leaders;    // preferred leaders, by node id
};

struct MetricsGauges {
  uint64_t term = 0;
  bool is_leader = false;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t apply_lag = 0;  // committed but not applied
  uint64_t snapshot_chunks_held = 0;  // snapshot chunks held back by --snapshot-rate
  std::map<std::string, uint64_t> peer_send_queue_frames;  // by peer id
  std::map<std::string, uint64_t> peer_send_queue_bytes;
  std::optional<ShardGauges> shards;
};

std::string render_prometheus(const std::string& node, const Metrics& metrics,
                              const MetricsGauges& gauges);

}  // namespace grape::net
