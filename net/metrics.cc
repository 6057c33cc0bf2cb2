#include "net/metrics.h"

#include <sstream>

namespace grape::net {

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  ++count_;
  sum_ += value;
}

std::vector<double> latency_buckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,     2.5,    5,     10};
}

void Metrics::observe_http(const std::string& route, double seconds) {
  auto it = http_latency.find(route);
  if (it == http_latency.end()) it = http_latency.emplace(route, Histogram(latency_buckets())).first;
  it->second.observe(seconds);
}

namespace {

class Writer {
 public:
  explicit Writer(std::string node) : node_(std::move(node)) {}

  void header(const std::string& name, const std::string& type, const std::string& help) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  void sample(const std::string& name, double value, const std::string& labels = "") {
    out_ << name << "{node=\"" << node_ << '"' << (labels.empty() ? "" : ",") << labels << "} "
         << value << '\n';
  }
  void scalar(const std::string& name, const std::string& type, const std::string& help,
              double value) {
    header(name, type, help);
    sample(name, value);
  }
  void histogram(const std::string& name, const Histogram& h, const std::string& labels = "") {
    uint64_t cumulative = 0;
    const std::string sep = labels.empty() ? "" : ",";
    for (size_t i = 0; i < h.counts().size(); ++i) {
      cumulative += h.counts()[i];
      std::ostringstream le;
      if (i < h.bounds().size()) {
        le << h.bounds()[i];
      } else {
        le << "+Inf";
      }
      sample(name + "_bucket", static_cast<double>(cumulative),
             labels + sep + "le=\"" + le.str() + '"');
    }
    sample(name + "_sum", h.sum(), labels);
    sample(name + "_count", static_cast<double>(h.count()), labels);
  }
  std::string str() const { return out_.str(); }

 private:
  std::string node_;
  std::ostringstream out_;
};

void labelled(Writer& w, const std::string& name, const std::string& help, const std::string& label,
              const std::map<std::string, uint64_t>& values) {
  w.header(name, "gauge", help);
  for (const auto& [key, n] : values) {
    w.sample(name, static_cast<double>(n), label + "=\"" + key + '"');
  }
}

void render_shards(Writer& w, const ShardGauges& s) {
  w.scalar("grape_shard_replicas", "gauge", "Shard replicas this node holds.",
           static_cast<double>(s.replicas));
  w.scalar("grape_shard_leaders", "gauge", "Shard replicas here that lead their group.",
           static_cast<double>(s.leaders));
  w.scalar("grape_shard_unhealthy", "gauge",
           "Replicas here whose group has no leader they know of.",
           static_cast<double>(s.leaderless));
  if (!s.has_map) return;
  w.scalar("grape_shard_map_version", "gauge", "The shard map's version (metadata replicas).",
           static_cast<double>(s.map_version));
  labelled(w, "grape_shard_moves", "Moves the plan recorded, by state: every one started, "
           "done (finished) and cancelled (failed and rolled back).", "state", s.moves_by_state);
  w.scalar("grape_shard_drops_unacked", "gauge",
           "Moves done or rolled back whose node has not yet acknowledged dropping the replica "
           "they made redundant (sent again until it does; a node gone for good keeps them).",
           static_cast<double>(s.drops_unacked));
  labelled(w, "grape_shard_node_replicas", "Replicas the map places on each node.", "member",
           s.node_replicas);
  labelled(w, "grape_shard_node_leaders", "Preferred leaders the map gives each node.", "member",
           s.node_leaders);
}

}  // namespace

std::string render_prometheus(const std::string& node, const Metrics& m, const MetricsGauges& g) {
  Writer w(node);
  w.scalar("grape_raft_term", "gauge", "The node's current Raft term.", static_cast<double>(g.term));
  w.scalar("grape_raft_is_leader", "gauge", "1 when this node leads its group.", g.is_leader ? 1 : 0);
  w.scalar("grape_raft_leader_changes_total", "counter", "Leader changes this node has seen.",
           static_cast<double>(m.leader_changes));
  w.scalar("grape_raft_commit_index", "gauge", "The node's commit index.",
           static_cast<double>(g.commit_index));
  w.scalar("grape_raft_applied_index", "gauge", "The last entry applied to the state machine.",
           static_cast<double>(g.applied_index));
  w.scalar("grape_raft_apply_lag_entries", "gauge", "Entries committed but not yet applied.",
           static_cast<double>(g.apply_lag));
  w.scalar("grape_proposals_committed_total", "counter", "Client writes applied.",
           static_cast<double>(m.proposals_committed));
  w.scalar("grape_proposals_failed_total", "counter",
           "Client writes refused, dropped, timed out or of unknown outcome.",
           static_cast<double>(m.proposals_failed));
  w.scalar("grape_snapshots_saved_total", "counter", "Snapshots this node took.",
           static_cast<double>(m.snapshots_saved));
  w.scalar("grape_snapshots_installed_total", "counter", "Snapshots installed from the leader.",
           static_cast<double>(m.snapshots_installed));
  w.scalar("grape_wal_syncs_total", "counter", "Write-ahead log syncs (fdatasync).",
           static_cast<double>(m.wal_syncs));
  w.scalar("grape_peer_frames_dropped_total", "counter",
           "Frames dropped because a peer's send queue was full.",
           static_cast<double>(m.peer_frames_dropped));
  w.scalar("grape_peer_connections_refused_total", "counter",
           "Peer connections closed for a failed handshake or a bad frame.",
           static_cast<double>(m.peer_connections_refused));
  w.header("grape_peer_send_queue_frames", "gauge", "Frames waiting in a peer's send queue.");
  for (const auto& [peer, n] : g.peer_send_queue_frames) {
    w.sample("grape_peer_send_queue_frames", static_cast<double>(n), "peer=\"" + peer + '"');
  }
  w.header("grape_peer_send_queue_bytes", "gauge", "Bytes waiting in a peer's send queue.");
  for (const auto& [peer, n] : g.peer_send_queue_bytes) {
    w.sample("grape_peer_send_queue_bytes", static_cast<double>(n), "peer=\"" + peer + '"');
  }
  w.scalar("grape_shard_replicas_created_total", "counter",
           "Empty replicas this node created for moves (a new replica, then its snapshot).",
           static_cast<double>(m.replicas_created));
  w.scalar("grape_shard_replicas_dropped_total", "counter",
           "Replicas this node dropped once a move took them away.",
           static_cast<double>(m.replicas_dropped));
  w.scalar("grape_snapshot_bytes_installed_total", "counter",
           "Bytes of snapshots installed from leaders (a move's data, mostly).",
           static_cast<double>(m.snapshot_bytes_installed));
  w.scalar("grape_snapshot_chunks_held_total", "counter",
           "Times a leader here held a snapshot chunk back for want of --snapshot-rate budget.",
           static_cast<double>(g.snapshot_chunks_held));
  if (g.shards) render_shards(w, *g.shards);
  w.header("grape_replication_latency_seconds", "histogram",
           "Leader: from proposing a client write to committing it.");
  w.histogram("grape_replication_latency_seconds", m.replication_latency);
  w.header("grape_wal_sync_latency_seconds", "histogram", "Write and fdatasync of the WAL.");
  w.histogram("grape_wal_sync_latency_seconds", m.wal_sync_latency);
  w.header("grape_apply_latency_seconds", "histogram", "Applying one Ready's committed entries.");
  w.histogram("grape_apply_latency_seconds", m.apply_latency);
  w.header("grape_http_request_duration_seconds", "histogram", "HTTP requests by route.");
  for (const auto& [route, h] : m.http_latency) {
    w.histogram("grape_http_request_duration_seconds", h, "route=\"" + route + '"');
  }
  return w.str();
}

}  // namespace grape::net
