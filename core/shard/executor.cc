#include "core/shard/executor.h"

#include <algorithm>
#include <set>

#include "core/base/hash.h"

namespace grape::shard {

namespace {
// A first map that does not show up (its batch was cut short) is written again after this long.
constexpr uint64_t kInitialRetryTicks = 100;
// An unacknowledged drop goes out again after resend_ticks, then twice as long each time, up to
// 2^5 times as long (a node that is gone for good costs a message a minute or so per replica).
constexpr int kDropBackoffDoublings = 5;
// A drop owed to a node that left is never settled unsent: if that node comes back, however
// late, with its old replicas on disk, two of them that were a majority of an old configuration
// could elect one of them and, with a term above the group's, overwrite committed entries on a
// current member that was in that configuration too. Owing it costs one message a minute or so
// per replica while the node stays away (grape_shard_drops_unacked shows them).
}  // namespace

const ShardMap& Executor::initial_map() const {
  if (!initial_map_) {
    auto map = initial_placement(options_.initial_nodes, options_.placement);
    initial_map_ = map ? std::move(*map) : ShardMap{};
  }
  return *initial_map_;
}

void Executor::reset() {
  done_reports_.clear();
  last_sent_.clear();
  started_at_.clear();
  broadcast_.clear();
  last_full_routes_ = 0;
  recent_load_.clear();
  last_load_check_ = 0;
  planned_load_.clear();
  smoothed_load_.clear();
  drops_.clear();
  drop_acks_.clear();
  proposed_initial_ = false;
  planned_ = false;
}

// A new cluster's first map: the same initial placement every node started from.
void Executor::initialize(ExecutorOutput& out) const {
  const ShardMap* map = &initial_map();
  if (map->shards.empty()) return;
  for (const NodeSpec& node : options_.initial_nodes) {
    out.proposals.push_back(put_node(MetaNode{node.id, node.weight, NodeState::kActive}));
  }
  for (uint32_t shard = 0; shard < map->shard_count(); ++shard) {
    out.proposals.push_back(put_shard(shard, map->shards[shard]));
  }
  out.proposals.push_back(put_version(map->version));
}

// Reports of finished moves: the shard's new replicas (epoch one higher) and the move done, in
// one batch of writes; the node the move left may then drop its replica.
void Executor::record_done(const MetaState& meta, ExecutorOutput& out, uint64_t& version) {
  for (auto it = done_reports_.begin(); it != done_reports_.end();) {
    const Control& report = it->second;
    auto record = meta.moves.find(report.move_id);
    if (record == meta.moves.end() || record->second.state != MoveState::kRunning ||
        report.shard >= meta.map.shard_count() || (!report.cancel && report.routes.empty())) {
      it = done_reports_.erase(it);
      continue;
    }
    if (report.cancel) {  // rolled back: the map stays; the target drops what it received
      MoveRecord cancelled = record->second;
      cancelled.state = MoveState::kCancelled;
      out.proposals.push_back(put_move(cancelled));
      last_sent_.erase(report.move_id);
      started_at_.erase(report.move_id);
      it = done_reports_.erase(it);
      continue;
    }
    const ShardPlacement& before = meta.map.shards[report.shard];
    ShardPlacement after = before;
    after.replicas = report.routes.front().replicas;
    after.epoch = before.epoch.next();
    if (std::find(after.replicas.begin(), after.replicas.end(), after.leader) ==
        after.replicas.end()) {
      after.leader = report.to;
    }
    MoveRecord done = record->second;
    done.state = MoveState::kDone;
    out.proposals.push_back(put_shard(report.shard, after));
    out.proposals.push_back(put_move(done));
    ++version;
    last_sent_.erase(report.move_id);
    started_at_.erase(report.move_id);
    it = done_reports_.erase(it);
  }
}

// A pending move whose target is no longer an active node never starts.
void Executor::cancel_pending_to_inactive(const MetaState& meta, ExecutorOutput& out) {
  for (const auto& [id, record] : meta.moves) {
    if (record.state != MoveState::kPending) continue;
    const MetaNode* target = meta.node(record.move.to);
    if (target != nullptr && target->state == NodeState::kActive) continue;
    MoveRecord cancelled = record;
    cancelled.state = MoveState::kCancelled;
    cancelled.drop_acked = true;  // it never ran: no replica to drop
    out.proposals.push_back(put_move(cancelled));
  }
}

// Every move done or rolled back, once recorded, asks the node it made redundant (its source,
// or its target if rolled back) to drop that replica, and asks again, less and less often, until
// the node acknowledges: a node that was down, cut off or restarted, or a drop lost with the
// metadata leader that sent it, still ends with its replica dropped. The record, not this
// executor's memory, says what is owed, so a new leader picks up where the old one stopped.
void Executor::send_drops(const MetaState& meta, uint64_t now_tick, ExecutorOutput& out) {
  // Computed once, and only when some drop is owed: per (shard, node) the latest move that
  // brings the shard there (not rolled back).
  bool indexed = false;
  std::map<std::pair<uint32_t, NodeId>, uint64_t> brought_by;
  auto moot = [&](uint64_t id, const MoveRecord& record, NodeId holder) {
    if (!indexed) {
      indexed = true;
      for (const auto& [other_id, other] : meta.moves) {
        if (other.state == MoveState::kCancelled) continue;
        uint64_t& latest = brought_by[{other.move.shard, other.move.to}];
        latest = std::max(latest, other_id);
      }
    }
    // The shard is (or is being) placed on that node again: the replica there is the map's,
    // whether the old one was reused or a new one made. A drop would remove a current member.
    if (record.move.shard < meta.map.shard_count()) {
      const std::vector<NodeId>& now = meta.map.shards[record.move.shard].replicas;
      if (std::find(now.begin(), now.end(), holder) != now.end()) return true;
    }
    auto later = brought_by.find({record.move.shard, holder});
    return later != brought_by.end() && later->second > id;
  };
  for (const auto& [id, record] : meta.moves) {
    const bool finished = record.state == MoveState::kDone || record.state == MoveState::kCancelled;
    if (!finished || record.drop_acked) continue;
    // Only when it is due: drops owed to a node away for long are looked at once a back-off.
    DropResend& resend = drops_[id];
    if (resend.attempts > 0 && now_tick < resend.next_tick) continue;
    const NodeId holder = record.state == MoveState::kDone ? record.move.from : record.move.to;
    if (moot(id, record, holder)) {
      MoveRecord settled = record;
      settled.drop_acked = true;
      out.proposals.push_back(put_move(settled));
      drops_.erase(id);
      continue;
    }
    out.sends.push_back({holder, Control{ControlKind::kDrop, id, record.move.shard,
                                         record.move.from, record.move.to, {}, {}}});
    resend.next_tick = now_tick + (static_cast<uint64_t>(options_.resend_ticks)
                                   << std::min(resend.attempts, kDropBackoffDoublings));
    ++resend.attempts;
  }
}

// Acknowledged drops are recorded, so that no leader sends them again.
void Executor::record_drops_acked(const MetaState& meta, ExecutorOutput& out) {
  for (uint64_t id : drop_acks_) {
    auto record = meta.moves.find(id);
    if (record == meta.moves.end() || record->second.drop_acked) continue;
    if (record->second.state != MoveState::kDone && record->second.state != MoveState::kCancelled) {
      continue;
    }
    MoveRecord acked = record->second;
    acked.drop_acked = true;
    out.proposals.push_back(put_move(acked));
    drops_.erase(id);
  }
  drop_acks_.clear();  // a proposal lost with leadership: the next resend is acknowledged again
}

// Pending moves start, oldest first, while fewer than the limit run, one per shard at a time.
void Executor::start_pending(const MetaState& meta, ExecutorOutput& out) {
  std::set<uint32_t> busy;
  size_t running = 0;
  for (const auto& [id, record] : meta.moves) {
    if (record.state == MoveState::kRunning) {
      ++running;
      busy.insert(record.move.shard);
    }
  }
  for (const auto& [id, record] : meta.moves) {
    if (running >= options_.moves_in_flight_max) break;
    if (record.state != MoveState::kPending || busy.count(record.move.shard)) continue;
    const MetaNode* target = meta.node(record.move.to);
    if (target == nullptr || target->state != NodeState::kActive) continue;
    MoveRecord started = record;
    started.state = MoveState::kRunning;
    out.proposals.push_back(put_move(started));
    busy.insert(record.move.shard);
    ++running;
  }
}

// Every running move's command, to the shard's replicas and the new node, now and then again
// until it is reported done.
void Executor::send_running(const MetaState& meta, uint64_t now_tick, ExecutorOutput& out) {
  for (const auto& [id, record] : meta.moves) {
    if (record.state != MoveState::kRunning || record.move.shard >= meta.map.shard_count()) continue;
    auto sent = last_sent_.find(id);
    if (sent != last_sent_.end() && now_tick < sent->second + static_cast<uint64_t>(options_.resend_ticks)) {
      continue;
    }
    last_sent_[id] = now_tick;
    started_at_.emplace(id, now_tick);
    Control command{ControlKind::kMove, id, record.move.shard, record.move.from, record.move.to,
                    {}, {}};
    // Roll back a move whose target left, or that made no progress in time.
    const MetaNode* target = meta.node(record.move.to);
    command.cancel = target == nullptr || target->state != NodeState::kActive ||
                     now_tick >= started_at_[id] + static_cast<uint64_t>(options_.move_timeout_ticks);
    auto initial = options_.initial_voters.find(record.move.shard);
    if (initial != options_.initial_voters.end()) command.initial_voters = initial->second;
    std::set<NodeId> targets(meta.map.shards[record.move.shard].replicas.begin(),
                             meta.map.shards[record.move.shard].replicas.end());
    targets.insert(record.move.to);
    for (NodeId node : targets) out.sends.push_back({node, command});
  }
}

// With nothing unfinished: plan when the inputs (active nodes, rebalances asked for, the map's
// version) changed since the last plan. Moves are recorded pending; leader transfers become the
// shards' preferred leaders.
void Executor::maybe_plan(const MetaState& meta, ExecutorOutput& out, uint64_t& version) {
  if (meta.moves_unfinished() > 0) return;
  Hasher fingerprint;
  for (const NodeSpec& node : meta.active_nodes()) fingerprint.add(node.id.value).add(node.weight);
  fingerprint.add(meta.rebalances).add(meta.map.version).add(load_triggers_);
  if (planned_ && fingerprint.digest() == planned_fingerprint_) return;
  planned_ = true;
  planned_fingerprint_ = fingerprint.digest();
  const std::vector<NodeSpec> nodes = meta.active_nodes();
  if (nodes.size() < options_.placement.replication) return;  // cannot place: wait for nodes
  // Sizes go in too: of the replicas a node may pass on, the planner moves the smallest.
  if (!shard_bytes_.empty()) {
    if (planned_load_.size() != meta.map.shard_count()) planned_load_.assign(meta.map.shard_count(), {});
    for (const auto& [shard, bytes] : shard_bytes_) {
      if (shard < planned_load_.size()) planned_load_[shard].bytes = bytes;
    }
  }
  auto plan = shard::plan(meta.map, nodes, options_.placement, planned_load_);
  planned_load_.clear();
  if (!plan || plan->empty()) return;
  uint64_t next = meta.next_move_id();
  for (const Move& move : plan->moves) {
    out.proposals.push_back(put_move(MoveRecord{next++, move, MoveState::kPending}));
  }
  for (const LeaderTransfer& transfer : plan->transfers) {
    ShardPlacement placement = meta.map.shards[transfer.shard];
    // Where the shard's replicas stay, its preferred leader changes now; where they move, the
    // report of the move sets it (to the planned leader if it is then a replica).
    if (std::find(placement.replicas.begin(), placement.replicas.end(), transfer.to) ==
        placement.replicas.end()) {
      continue;
    }
    placement.leader = transfer.to;
    out.proposals.push_back(put_shard(transfer.shard, placement));
  }
  ++version;
}

// Requests served per node as the planner counts them (shard::served_by_node: followers' reads
// on every replica, the rest at the preferred leader, where its writes go): a node above the
// mean by more than the threshold asks for a load-aware plan.
void Executor::check_load(const MetaState& meta, uint64_t now_tick) {
  if (now_tick < last_load_check_ + static_cast<uint64_t>(options_.load_check_ticks)) return;
  last_load_check_ = now_tick;
  std::map<uint32_t, ShardLoad> reported = std::move(recent_load_);
  recent_load_.clear();
  if (reported.empty()) return;
  std::vector<ShardLoad> load(meta.map.shard_count());
  for (const auto& [shard, served] : reported) {
    if (shard < load.size()) load[shard] = served;
  }
  const std::vector<NodeSpec> nodes = meta.active_nodes();
  const std::vector<uint64_t> per_node =
      served_by_node(meta.map, nodes, load, options_.placement.replication);
  uint64_t total = 0;
  uint64_t busiest = 0;
  for (uint64_t requests : per_node) {
    total += requests;
    busiest = std::max(busiest, requests);
  }
  if (per_node.empty() || total == 0) return;
  // busiest / mean > 1 + threshold, in integers: busiest * n * 100 > total * (100 + threshold)
  __extension__ using U128 = unsigned __int128;
  const U128 left = static_cast<U128>(busiest) * per_node.size() * 100;
  const U128 right = static_cast<U128>(total) * (100 + options_.load_threshold_pct);
  // What a plan evens out: each shard's load smoothed over the windows (each window counts half
  // as much as the one after it), so that one window's noise, or a hand-over of a shard's
  // leadership during it, does not swing leaders back and forth.
  auto average = [](uint64_t a, uint64_t b) { return a / 2 + b / 2 + (a % 2 + b % 2) / 2; };
  if (smoothed_load_.size() != load.size()) smoothed_load_ = load;
  for (size_t shard = 0; shard < load.size(); ++shard) {
    ShardLoad& smoothed = smoothed_load_[shard];
    smoothed.requests = average(smoothed.requests, load[shard].requests);
    smoothed.follower_requests =
        average(smoothed.follower_requests, load[shard].follower_requests);
  }
  if (left <= right) return;
  planned_load_ = smoothed_load_;
  ++load_triggers_;
}

void Executor::broadcast_routes(const MetaState& meta, uint64_t now_tick, ExecutorOutput& out) {
  Control update{ControlKind::kRoute, 0, 0, {}, {}, {}, {}};
  if (meta.map.version > 1 &&
      now_tick >= last_full_routes_ + static_cast<uint64_t>(options_.full_routes_ticks)) {
    last_full_routes_ = now_tick;
    broadcast_.clear();  // everything that differs from the first map goes out again
  }
  for (uint32_t shard = 0; shard < meta.map.shard_count(); ++shard) {
    const RouteEntry entry = route_of(meta.map, shard);
    auto it = broadcast_.find(shard);
    if (it != broadcast_.end() && it->second == entry) continue;
    // A new executor starts from the map every node was created with (version 1 entries): only
    // what differs goes out.
    if (it == broadcast_.end() && entry == route_of(initial_map(), shard)) {
      broadcast_[shard] = entry;
      continue;
    }
    broadcast_[shard] = entry;
    update.routes.push_back(entry);
  }
  if (update.routes.empty()) return;
  for (const MetaNode& node : meta.nodes) out.sends.push_back({node.id, update});
}

ExecutorOutput Executor::tick(const MetaState& meta, uint64_t now_tick) {
  ExecutorOutput out;
  if (!meta.initialized()) {
    // Once per leadership: the host only looks when everything proposed is applied, so a second
    // look without a map means the first batch was cut short; then it is written again.
    if (!proposed_initial_ || now_tick >= initial_proposed_at_ + kInitialRetryTicks) {
      initialize(out);
      proposed_initial_ = true;
      initial_proposed_at_ = now_tick;
    }
    return out;
  }
  uint64_t version = meta.map.version;
  record_done(meta, out, version);
  cancel_pending_to_inactive(meta, out);
  start_pending(meta, out);
  send_running(meta, now_tick, out);
  record_drops_acked(meta, out);
  send_drops(meta, now_tick, out);
  check_load(meta, now_tick);
  if (out.proposals.empty()) maybe_plan(meta, out, version);
  if (version != meta.map.version) out.proposals.push_back(put_version(version));
  broadcast_routes(meta, now_tick, out);
  return out;
}

}  // namespace grape::shard
