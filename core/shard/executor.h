#pragma once
// The rebalancing executor (DESIGN.md 2.4): runs on the host that leads the metadata group, looks
// at the metadata state every few ticks, and moves it forward:
//
//   - a new cluster's first map (the initial placement) is written once;
//   - when the active nodes change or an operator asks for a rebalance, and no move is
//     unfinished, the planner's moves are recorded (pending) and its leader transfers become
//     the shards' preferred leaders;
//   - pending moves start, at most `moves_in_flight_max` at once and one per shard: each is
//     recorded running before its command is sent, so that a new executor (the metadata leader
//     crashed) resumes exactly the moves that may have begun;
//   - a running move's command is re-sent until its shard's leader reports it done; the report
//     is recorded (the shard's new replicas, its epoch one higher, the move done), and the node
//     the move left is told to drop its replica;
//   - route entries that changed are sent to every node;
//   - every node reports what its replicas served per shard, as leader and as follower apart;
//     when a node serves more than `load_threshold_pct` above the mean, the planner evens out
//     served load: what followers serve stays with the replicas as each node's base load, and
//     leadership of shards moves (leader counts within their bounds) so that base plus
//     leader-served load evens out. No data moves for load.
//
// Progress lives in the metadata group: the executor's own memory is only what it has sent.

#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <utility>
#include <vector>

#include "core/kv/kv.h"
#include "core/shard/control.h"
#include "core/shard/meta.h"
#include "core/shard/placement.h"

namespace grape::shard {

struct ExecutorOptions {
  PlacementOptions placement;
  std::vector<NodeSpec> initial_nodes;  // the cluster's first nodes: its first map
  // The shard groups' first configurations (a new replica replays the log from them).
  std::map<uint32_t, std::vector<NodeId>> initial_voters;
  uint32_t moves_in_flight_max = 4;
  int resend_ticks = 30;  // a running move's command goes out again this often
  // Every route that differs from the first map goes to every node again this often (a node
  // that was down or cut off when a route changed catches up).
  int full_routes_ticks = 500;
  // A running move that is not done this long after it started is rolled back (its target is
  // down or cannot catch up); so is any move whose target is no longer an active node.
  int move_timeout_ticks = 3000;
  // Load: every `load_check_ticks` the requests reported per shard are summed per node, as the
  // planner counts them (shard::served_by_node: an even share of each shard's follower-served
  // reads on each of its replicas, the rest at its preferred leader); a node above the mean by
  // more than `load_threshold_pct` gets a load-aware plan (leaders moved to even out requests
  // served, base plus leader-served), made on each shard's load smoothed over the windows.
  int load_check_ticks = 300;
  uint32_t load_threshold_pct = 15;
};

struct ExecutorOutput {
  std::vector<kv::Command> proposals;                // to the metadata group, in order
  std::vector<std::pair<NodeId, Control>> sends;     // to other nodes (or this one)
  bool empty() const { return proposals.empty() && sends.empty(); }
};

class Executor {
 public:
  explicit Executor(ExecutorOptions options) : options_(std::move(options)) {}

  // One look at the state `meta` (the metadata group's, as applied by its leader, up to date).
  // Routes go to every node the state lists.
  ExecutorOutput tick(const MetaState& meta, uint64_t now_tick);
  // A shard leader's report that a move is done.
  void on_move_done(const Control& report) { done_reports_[report.move_id] = report; }
  // A node's acknowledgement that it dropped the replica a move made redundant.
  void on_drop_done(const Control& report) { drop_acks_.insert(report.move_id); }
  // A node's report of requests served per shard, as leader and as follower.
  void on_load(const Control& report) {
    for (const ShardServed& served : report.loads) {
      ShardLoad& load = recent_load_[served.shard];
      load.requests += served.as_leader;
      load.follower_requests += served.as_follower;
      if (served.has_bytes) shard_bytes_[served.shard] = served.bytes;
    }
  }
  // This host stopped leading the metadata group: forget what was sent (a new leader resends).
  void reset();

  const ExecutorOptions& options() const { return options_; }

 private:
  void initialize(ExecutorOutput& out) const;
  void record_done(const MetaState& meta, ExecutorOutput& out, uint64_t& version);
  void start_pending(const MetaState& meta, ExecutorOutput& out);
  void send_running(const MetaState& meta, uint64_t now_tick, ExecutorOutput& out);
  void cancel_pending_to_inactive(const MetaState& meta, ExecutorOutput& out);
  void send_drops(const MetaState& meta, uint64_t now_tick, ExecutorOutput& out);
  void record_drops_acked(const MetaState& meta, ExecutorOutput& out);
  void maybe_plan(const MetaState& meta, ExecutorOutput& out, uint64_t& version);
  void check_load(const MetaState& meta, uint64_t now_tick);
  void broadcast_routes(const MetaState& meta, uint64_t now_tick, ExecutorOutput& out);
  // The cluster's first map, which every node starts from (computed once).
  const ShardMap& initial_map() const;

  ExecutorOptions options_;
  std::map<uint64_t, Control> done_reports_;     // by move id, until recorded
  std::map<uint64_t, uint64_t> last_sent_;       // move id -> tick its command last went out
  std::map<uint64_t, uint64_t> started_at_;      // move id -> tick this executor first sent it
  struct DropResend {
    uint64_t next_tick = 0;
    int attempts = 0;
  };
  std::map<uint64_t, DropResend> drops_;         // move id -> its unacknowledged drop's resends
  std::set<uint64_t> drop_acks_;                 // move ids whose drop was acknowledged
  std::map<uint32_t, RouteEntry> broadcast_;     // what every node was last sent, per shard
  bool proposed_initial_ = false;
  uint64_t initial_proposed_at_ = 0;  // tick
  uint64_t planned_fingerprint_ = 0;             // of the inputs of the last plan
  bool planned_ = false;
  uint64_t last_full_routes_ = 0;  // tick
  std::map<uint32_t, ShardLoad> recent_load_;  // served per shard since the last check
  uint64_t last_load_check_ = 0;              // tick
  uint64_t load_triggers_ = 0;                // load-aware plans asked for (in the fingerprint)
  std::vector<ShardLoad> planned_load_;       // the load the next plan evens out
  std::vector<ShardLoad> smoothed_load_;      // per shard, over the windows seen (see check_load)
  std::map<uint32_t, uint64_t> shard_bytes_;  // each shard's size, as its leader last reported
  mutable std::optional<ShardMap> initial_map_;
};

}  // namespace grape::shard
