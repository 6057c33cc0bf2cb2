#include "core/node/host.h"

#include <algorithm>
#include <sstream>

#include "core/raft/conf_change.h"

namespace grape::node {

namespace {
bool contains(const std::vector<NodeId>& nodes, NodeId node) {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}
}  // namespace

size_t HostReady::message_count() const {
  size_t count = 0;
  for (const PeerBatch& batch : batches) count += batch.messages.size();
  for (const PeerBatch& batch : batches_after_persist) count += batch.messages.size();
  return count;
}

Host::Host(NodeId id, int heartbeat_ticks) : id_(id), heartbeat_ticks_(std::max(1, heartbeat_ticks)) {}

Status<HostError> Host::add_group(GroupId group, const NodeConfig& config,
                                  const raft::LogStore& store, Rng rng) {
  if (groups_.count(group)) return Unexpected(HostError{HostErrorCode::kGroupExists, group, ""});
  if (config.raft.id != id_) {
    std::ostringstream detail;
    detail << "its config is for node " << config.raft.id << ", this host is " << id_;
    return Unexpected(HostError{HostErrorCode::kWrongNode, group, detail.str()});
  }
  Replica replica;
  NodeConfig adjusted = config;
  if (snapshot_bytes_per_tick_ > 0) adjusted.raft.snapshot_budget = &snapshot_budget_;
  // A replica a move created, not yet caught up to its own addition: it may hold a stale
  // configuration that makes it a voter (raft::Config::passive).
  auto created = created_by_move_.find(group);
  if (created != created_by_move_.end() && created->second > 0 && !caught_up_[group]) {
    adjusted.raft.passive = true;
    const shard::RouteEntry* route =
        shard::is_shard_group(group) ? routes_.find(shard::shard_of_group(group)) : nullptr;
    passive_[group] = route ? route->epoch : Epoch(0);
  }
  replica.node = std::make_unique<Node>(adjusted, store, rng);
  groups_.emplace(group, std::move(replica));
  dirty_.insert(group);
  creating_.erase(group);
  return Status<HostError>::ok();
}

void Host::remove_group(GroupId group) {
  groups_.erase(group);
  dirty_.erase(group);
  passive_.erase(group);
}

std::vector<GroupId> Host::group_ids() const {
  std::vector<GroupId> ids;
  ids.reserve(groups_.size());
  for (const auto& [id, replica] : groups_) ids.push_back(id);
  return ids;
}

Node* Host::group(GroupId group) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return nullptr;
  dirty_.insert(group);
  return it->second.node.get();
}

const Node* Host::group(GroupId group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? nullptr : it->second.node.get();
}

void Host::limit_snapshot_rate(uint64_t bytes_per_tick, uint64_t burst, uint64_t chunk_bytes) {
  snapshot_bytes_per_tick_ = bytes_per_tick;
  snapshot_burst_ = std::max({burst, chunk_bytes, bytes_per_tick});
  snapshot_budget_.available = snapshot_burst_;
}

void Host::tick() {
  ++ticks_;
  if (snapshot_bytes_per_tick_ > 0) {
    snapshot_budget_.available =
        std::min(snapshot_burst_, snapshot_budget_.available + snapshot_bytes_per_tick_);
  }
  for (auto& [id, replica] : groups_) {
    replica.node->tick();
    if (replica.node->has_ready()) dirty_.insert(id);
  }
  if (placement_ && ticks_ % static_cast<uint64_t>(placement_->interval_ticks) == 0) {
    note_caught_up();
    run_executor();
    drive_moves();
    hand_to_preferred_leaders();
  }
  if (placement_ && ticks_ % static_cast<uint64_t>(placement_->load_report_ticks) == 0) {
    report_load();
  }
  if (placement_ && ticks_ % static_cast<uint64_t>(traffic_window_ticks()) == 0) {
    close_traffic_window();
  }
}

void Host::report_peer_down(NodeId peer) {
  for (auto& [id, replica] : groups_) {
    replica.node->report_peer_down(peer);
    dirty_.insert(id);
  }
}

void Host::set_disk_failing(bool failing) {
  for (auto& [id, replica] : groups_) {
    replica.node->set_disk_failing(failing);
    dirty_.insert(id);
  }
}

Status<HostError> Host::step(const GroupMessage& message) {
  if (message.control) {
    handle_control(message.message.from, *message.control);
    return Status<HostError>::ok();
  }
  Node* node = group(message.group);
  if (node == nullptr) {
    return Unexpected(HostError{HostErrorCode::kUnknownGroup, message.group, ""});
  }
  if (message.message.to != id_) {
    return Unexpected(HostError{HostErrorCode::kWrongNode, message.group, "not addressed here"});
  }
  dirty_.insert(message.group);
  if (auto stepped = node->step(message.message); !stepped) {
    std::ostringstream detail;
    detail << "raft refused it (" << static_cast<int>(stepped.error().code) << ")";
    return Unexpected(
        HostError{HostErrorCode::kRaft, message.group, detail.str(), stepped.error().code});
  }
  return Status<HostError>::ok();
}

std::vector<HostError> Host::step(const PeerBatch& batch) {
  std::vector<HostError> errors;
  for (const GroupMessage& message : batch.messages) {
    if (auto stepped = step(message); !stepped) errors.push_back(stepped.error());
  }
  return errors;
}

std::optional<shard::RouteEntry> Host::current_route(GroupId group) const {
  if (!shard::is_shard_group(group)) return std::nullopt;
  const shard::RouteEntry* known = routes_.find(shard::shard_of_group(group));
  if (known == nullptr) return std::nullopt;
  shard::RouteEntry entry = *known;
  if (const Node* replica = this->group(group)) {
    if (replica->raft().leader() != kNoNode) entry.leader = replica->raft().leader();
  }
  return entry;
}

void Host::refuse(const ClientRequest& request, ReplyStatus status) {
  ClientReply reply;
  reply.client = request.client;
  reply.request = request.request;
  reply.status = status;
  reply.group = request.group;
  reply.route = current_route(request.group);
  if (reply.route) reply.leader_hint = reply.route->leader;
  refused_.push_back(std::move(reply));
}

void Host::on_client_request(const ClientRequest& request) {
  Node* node = group(request.group);
  const bool routed = routes_.size() > 0 && shard::is_shard_group(request.group);
  if (routed) {
    const shard::RouteEntry* entry = routes_.find(shard::shard_of_group(request.group));
    if (entry == nullptr || node == nullptr) {
      refuse(request, ReplyStatus::kRedirect);
      return;
    }
    if (request.epoch < entry->epoch) {  // the client's entry is old (or it has none)
      refuse(request, ReplyStatus::kStaleEpoch);
      return;
    }
    if (request.epoch > entry->epoch) {  // this host is behind: ask where it is current
      refuse(request, ReplyStatus::kRedirect);
      return;
    }
  }
  if (node == nullptr) {
    refuse(request, ReplyStatus::kRedirect);
    return;
  }
  if (routed) {
    // Served as leader or as follower, apart: leader-served load follows leadership, which the
    // planner moves cheaply; follower-served reads follow the replicas. A follower redirects
    // writes, so it serves only reads.
    const uint32_t shard = shard::shard_of_group(request.group);
    shard::ShardServed& served = served_[shard];
    served.shard = shard;
    if (node->raft().role() == raft::Role::kLeader) {
      ++served.as_leader;
    } else if (request.command.op == kv::Op::kGet) {
      ++served.as_follower;
    }
  }
  node->on_client_request(request);
}

bool Host::has_ready() const {
  if (!refused_.empty() || !control_out_.empty() || !create_.empty() || !dropped_.empty() ||
      !history_out_.empty() || !drop_acks_.empty()) {
    return true;
  }
  for (auto it = dirty_.begin(); it != dirty_.end();) {
    auto found = groups_.find(*it);
    if (found != groups_.end() && found->second.node->has_ready()) return true;
    it = dirty_.erase(it);  // nothing there: look again when it is touched
  }
  return false;
}

void Host::route(GroupId group, std::vector<raft::Message>& messages,
                 std::vector<PeerBatch>& into) {
  // Many groups: one batch per peer. One group: consecutive messages to a peer share a batch and
  // the order is Raft's own (there is nothing to coalesce with, and the order then stays exactly
  // that of a single-group node).
  const bool per_peer = groups_.size() > 1;
  for (raft::Message& message : messages) {
    auto it = into.end();
    if (per_peer) {
      it = std::find_if(into.begin(), into.end(),
                        [&](const PeerBatch& batch) { return batch.to == message.to; });
    } else if (!into.empty() && into.back().to == message.to) {
      it = into.end() - 1;
    }
    if (it == into.end()) {
      into.push_back(PeerBatch{id_, message.to, {}});
      it = into.end() - 1;
    }
    it->messages.push_back(GroupMessage{group, std::move(message)});
  }
  messages.clear();
}

// A group that has just started leading beats with the others from now on: its heartbeat clock
// is set to the host's phase, so its next round comes when every other leader's does. A single
// group has nothing to beat with, and keeps Raft's own clock.
void Host::align_new_leaders() {
  if (groups_.size() < 2) return;
  for (GroupId id : dirty_) {
    auto found = groups_.find(id);
    if (found == groups_.end()) continue;
    Replica& replica = found->second;
    const raft::Raft& raft = replica.node->raft();
    if (raft.role() == raft::Role::kLeader && raft.term() != replica.aligned_term) {
      replica.node->align_heartbeat(static_cast<int>(ticks_ % heartbeat_ticks_));
      replica.aligned_term = raft.term();
    }
  }
}

HostReady Host::take_ready() {
  align_new_leaders();
  HostReady ready;
  taken_.clear();
  for (GroupId id : dirty_) {
    auto found = groups_.find(id);
    if (found == groups_.end() || !found->second.node->has_ready()) continue;
    GroupReady group{id, found->second.node->take_ready()};
    route(id, group.ready.raft.messages, ready.batches);
    route(id, group.ready.raft.messages_after_persist, ready.batches_after_persist);
    for (ClientReply& reply : group.ready.replies) {
      reply.group = id;
      if (reply.status == ReplyStatus::kRedirect) reply.route = current_route(id);
    }
    taken_.push_back(id);
    ready.groups.push_back(std::move(group));
  }
  ready.refused = std::move(refused_);
  refused_.clear();
  for (GroupMessage& message : control_out_) {
    auto it = std::find_if(ready.batches.begin(), ready.batches.end(),
                           [&](const PeerBatch& batch) { return batch.to == message.message.to; });
    if (it == ready.batches.end()) {
      ready.batches.push_back(PeerBatch{id_, message.message.to, {}});
      it = ready.batches.end() - 1;
    }
    it->messages.push_back(std::move(message));
  }
  control_out_.clear();
  ready.create = std::move(create_);
  create_.clear();
  ready.dropped = std::move(dropped_);
  dropped_.clear();
  ready.history = std::move(history_out_);
  history_out_.clear();
  acks_taken_.insert(acks_taken_.end(), drop_acks_.begin(), drop_acks_.end());
  drop_acks_.clear();
  if (groups_.size() > 1) {
    // Peers in id order: what leaves does not depend on which group spoke first.
    auto by_peer = [](const PeerBatch& a, const PeerBatch& b) { return a.to < b.to; };
    std::sort(ready.batches.begin(), ready.batches.end(), by_peer);
    std::sort(ready.batches_after_persist.begin(), ready.batches_after_persist.end(), by_peer);
  }
  return ready;
}

void Host::advance() {
  for (GroupId id : taken_) {
    if (Node* node = group(id)) node->advance();  // marks it: applying may bring a Ready
  }
  taken_.clear();
  // The drops taken with the Ready are durable now (its history and the log's forget record):
  // they may be acknowledged.
  for (const auto& [executor, control] : acks_taken_) {
    send_control(executor, shard::kMetaGroup,
                 shard::Control{shard::ControlKind::kDropDone, control.move_id, control.shard,
                                control.from, control.to, {}, {}, {}});
  }
  acks_taken_.clear();
}

// ---------------------------------------------------------------------------------------------
// Placement

void Host::enable_placement(PlacementHostOptions options) {
  executor_ = std::make_unique<shard::Executor>(options.executor);
  placement_ = std::move(options);
}

std::optional<shard::MetaState> Host::meta_state() const {
  const shard::MetaState* state = cached_meta();
  if (state == nullptr) return std::nullopt;
  return *state;
}

// Decoded again only when the metadata group applied something new (a 1024-shard map is 1024
// keys; the executor looks every heartbeat, and /metrics and /v1/shards on every call).
const shard::MetaState* Host::cached_meta() const {
  const Node* meta = group(shard::kMetaGroup);
  if (meta == nullptr) return nullptr;
  const LogIndex applied = meta->raft().log().applied();
  if (!meta_cache_ || meta_cache_index_ != applied) {
    meta_cache_ = shard::decode_meta(meta->kv());
    meta_cache_index_ = applied;
  }
  return &*meta_cache_;
}

bool Host::propose_meta(const kv::Command& command) {
  Node* meta = group(shard::kMetaGroup);
  if (meta == nullptr || meta->raft().role() != raft::Role::kLeader) return false;
  return meta->propose(kv::encode_command(command)).has_value();
}

void Host::restore_replica_history(const ReplicaHistory& history) {
  created_by_move_[history.group] = history.created_by;
  dropped_by_move_[history.group] = history.dropped_by;
  caught_up_[history.group] = history.caught_up;
}

void Host::note_history(GroupId group) {
  history_out_.push_back(ReplicaHistory{group, created_by_move_[group], dropped_by_move_[group],
                                        caught_up_[group]});
}

// Passive replicas that have seen themselves learners: recorded, so that a restart does not make
// them passive again (their configuration may no longer list them as learners).
void Host::note_caught_up() {
  for (auto it = passive_.begin(); it != passive_.end();) {
    const GroupId id = it->first;
    Node* node = group(id);
    if (node != nullptr && node->raft().passive() && shard::is_shard_group(id)) {
      const shard::RouteEntry* route = routes_.find(shard::shard_of_group(id));
      if (route != nullptr && route->epoch > it->second &&
          std::find(route->replicas.begin(), route->replicas.end(), id_) != route->replicas.end()) {
        node->end_passive();
      }
    }
    if (node != nullptr && node->raft().passive()) {
      ++it;
      continue;
    }
    if (node != nullptr) {
      caught_up_[id] = true;
      note_history(id);
    }
    it = passive_.erase(it);
  }
}

void Host::send_control(NodeId to, GroupId group, shard::Control control) {
  GroupMessage message;
  message.group = group;
  message.message.from = id_;
  message.message.to = to;
  message.control = std::move(control);
  if (to == id_) {  // the executor's own host: no network in between
    handle_control(id_, *message.control);
    return;
  }
  control_out_.push_back(std::move(message));
}

void Host::handle_control(NodeId from, const shard::Control& control) {
  const GroupId group = shard::group_of(control.shard);
  switch (control.kind) {
    case shard::ControlKind::kMove:
      if (hosts(group)) {
        moves_[group] = ActiveMove{control, from};
        // A move that brings the replica here owns it from now on: an older move's drop, arriving
        // late, must not take it.
        if (control.to == id_ && !control.cancel && created_by_move_[group] < control.move_id) {
          created_by_move_[group] = control.move_id;
          // The replica already here is reused as it is (it was never started passive).
          if (!passive_.count(group)) caught_up_[group] = true;
          note_history(group);
        }
      } else if (control.to == id_ && !control.cancel && !creating_.count(group) &&
                 control.move_id > dropped_by_move_[group]) {
        // The move's new node: an empty replica, to receive the leader's log (or snapshot).
        creating_.insert(group);
        created_by_move_[group] = control.move_id;
        caught_up_[group] = false;
        note_history(group);
        create_.push_back(GroupToCreate{group, control.initial_voters});
      }
      break;
    case shard::ControlKind::kMoveDone:
      if (executor_) executor_->on_move_done(control);
      break;
    case shard::ControlKind::kLoad:
      if (executor_) executor_->on_load(control);
      note_traffic(control);
      break;
    case shard::ControlKind::kRoute:
      for (const shard::RouteEntry& entry : control.routes) routes_.update(entry);
      break;
    case shard::ControlKind::kDrop:
      handle_drop(from, control);
      break;
    case shard::ControlKind::kDropDone:
      if (executor_) executor_->on_drop_done(control);
      break;
  }
}

// The executor recorded the move that made this replica redundant (done: the removal committed;
// rolled back: it never became a voter); a replica that does not know it yet cannot, once
// removed, learn it. Every drop is acknowledged once what it changed here is durable (advance),
// and the executor sends it again until then.
void Host::handle_drop(NodeId executor, const shard::Control& control) {
  const GroupId group = shard::group_of(control.shard);
  auto created = created_by_move_.find(group);
  const bool stale = created != created_by_move_.end() && created->second > control.move_id;
  if (!stale) {
    // Being created for this very move (rolled back): the next resend drops it once it exists.
    if (!hosts(group) && creating_.count(group)) return;
    bool changed = false;
    if (hosts(group)) {
      remove_group(group);
      moves_.erase(group);
      dropped_.push_back(group);
      changed = true;
    }
    // Also when no replica is here (dropped before, or the move never created one): a command of
    // this move arriving late must not create it.
    uint64_t& dropped = dropped_by_move_[group];
    if (dropped < control.move_id) {
      dropped = control.move_id;
      changed = true;
    }
    if (changed) note_history(group);
  }
  // (Stale: a later move brought the replica back here and owns it; this drop is moot.)
  drop_acks_.emplace_back(executor, control);
}

// While this host leads the metadata group, with nothing of its own in flight there: one look by
// the executor at the state, its writes proposed, its messages sent.
void Host::run_executor() {
  auto found = groups_.find(shard::kMetaGroup);
  Node* meta = found == groups_.end() ? nullptr : found->second.node.get();
  if (meta == nullptr || meta->raft().role() != raft::Role::kLeader) {
    if (executor_) executor_->reset();
    return;
  }
  const raft::RaftLog& log = meta->raft().log();
  if (log.applied() != log.last_index() || log.term(log.committed()) != meta->raft().term()) {
    return;  // its last writes are not applied yet, or its term has not committed: look later
  }
  shard::ExecutorOutput out = executor_->tick(*cached_meta(), ticks_);
  for (const kv::Command& command : out.proposals) {
    (void)meta->propose(kv::encode_command(command));
  }
  if (!out.proposals.empty()) dirty_.insert(shard::kMetaGroup);
  for (auto& [to, control] : out.sends) send_control(to, shard::group_of(control.shard), control);
}

void Host::drive_moves() {
  for (auto it = moves_.begin(); it != moves_.end();) {
    auto found = groups_.find(it->first);
    if (found == groups_.end()) {
      it = moves_.erase(it);
      continue;
    }
    const GroupId group = it->first;
    ActiveMove active = it->second;
    ++it;  // drive_move may erase the entry
    Node& node = *found->second.node;
    if (node.raft().role() != raft::Role::kLeader) continue;
    drive_move(group, node, active.move, active.executor);
    dirty_.insert(group);
  }
}

// One step of a move at the shard's leader, decided by the group's configuration alone (the
// group's log is the durable record of how far it got): add the new node as a learner; once it
// has caught up, swap it in by joint consensus; leave the joint configuration; report.
void Host::drive_move(GroupId group, Node& node, const shard::Control& move, NodeId executor) {
  const raft::Raft& raft = node.raft();
  const raft::ConfState& conf = raft.conf_state();
  if (conf.is_joint()) {
    (void)node.propose_conf_change(raft::ConfChange{});  // leave C_old,new for C_new
    return;
  }
  const bool to_voter = contains(conf.voters, move.to);
  const bool to_learner = contains(conf.learners, move.to);
  const bool from_member = contains(conf.voters, move.from) || contains(conf.learners, move.from);
  if (move.cancel && !to_voter) {
    // Roll back: take the learner out again; once it is no member, report the move cancelled.
    if (to_learner) {
      (void)node.propose_conf_change(
          raft::ConfChange{{{raft::ConfChangeType::kRemoveNode, move.to}}});
      return;
    }
    shard::Control report{shard::ControlKind::kMoveDone, move.move_id, move.shard, move.from,
                          move.to, {}, {}};
    report.cancel = true;
    send_control(executor, group, std::move(report));
    moves_.erase(group);
    return;
  }
  if (to_voter && !from_member) {
    shard::RouteEntry entry{move.shard, Epoch(0), conf.voters, id_};
    send_control(executor, group,
                 shard::Control{shard::ControlKind::kMoveDone, move.move_id, move.shard, move.from,
                                move.to, {}, {entry}});
    moves_.erase(group);
    return;
  }
  if (to_voter && contains(conf.learners, move.from)) {
    (void)node.propose_conf_change(
        raft::ConfChange{{{raft::ConfChangeType::kRemoveNode, move.from}}});
    return;
  }
  if (!to_voter && !to_learner) {
    (void)node.propose_conf_change(
        raft::ConfChange{{{raft::ConfChangeType::kAddLearner, move.to}}});
    return;
  }
  if (!to_learner) return;
  if (raft.leader() == move.from) {
    // The leaving replica leads: hand leadership to the most caught-up other voter first.
    NodeId best;
    LogIndex best_match;
    for (NodeId voter : conf.voters) {
      const raft::Progress* pr = raft.progress(voter);
      if (voter == id_ || pr == nullptr || !pr->recent_active) continue;
      if (best == kNoNode || pr->match > best_match) best = voter, best_match = pr->match;
    }
    if (best != kNoNode) (void)node.transfer_leadership(best);
    return;
  }
  // Caught up: the learner has answered (match above 0: a learner whose host never created
  // its replica has acknowledged nothing, however short the log), is heard from, and is within
  // the lag of the log's end.
  const raft::Progress* pr = raft.progress(move.to);
  if (pr == nullptr || pr->match.value == 0 || !pr->recent_active ||
      pr->match.value + placement_->catch_up_lag < raft.log().last_index().value) {
    return;  // still catching up (snapshot, then log)
  }
  (void)node.propose_conf_change(raft::ConfChange{{{raft::ConfChangeType::kAddVoter, move.to},
                                                   {raft::ConfChangeType::kRemoveNode, move.from}}});
}

// Requests served here per shard since the last report, as leader and as follower, to the
// metadata group's members (only its leader's executor uses them).
void Host::report_load() {
  // The size of every shard led here whose data changed since the last report.
  for (const auto& [group, replica] : groups_) {
    if (!shard::is_shard_group(group) || replica.node->raft().role() != raft::Role::kLeader) {
      continue;
    }
    const uint32_t shard = shard::shard_of_group(group);
    const uint64_t bytes = replica.node->kv().bytes();
    auto reported = reported_bytes_.find(shard);
    if (reported != reported_bytes_.end() && reported->second == bytes) continue;
    reported_bytes_[shard] = bytes;
    shard::ShardServed& served = served_[shard];
    served.shard = shard;
    served.has_bytes = true;
    served.bytes = bytes;
  }
  if (served_.empty()) return;
  shard::Control report{shard::ControlKind::kLoad, 0, 0, {}, {}, {}, {}, {}};
  for (const auto& [shard, served] : served_) report.loads.push_back(served);
  served_.clear();
  for (NodeId voter : placement_->meta_voters) send_control(voter, shard::kMetaGroup, report);
}

int Host::traffic_window_ticks() const {
  return placement_ ? std::max(1, placement_->executor.load_check_ticks) : 1;
}

void Host::note_traffic(const shard::Control& report) {
  for (const shard::ShardServed& served : report.loads) {
    auto& [all, by_followers] = traffic_window_[served.shard];
    all += served.as_leader + served.as_follower;
    by_followers += served.as_follower;
    if (served.has_bytes) {
      ShardTraffic& traffic = traffic_[served.shard];
      traffic.has_bytes = true;
      traffic.bytes = served.bytes;
    }
  }
}

void Host::close_traffic_window() {
  for (auto& [shard, traffic] : traffic_) traffic.requests = traffic.follower_requests = 0;
  for (const auto& [shard, requests] : traffic_window_) {
    traffic_[shard].requests = requests.first;
    traffic_[shard].follower_requests = requests.second;
  }
  traffic_window_.clear();
}

// A shard led here whose preferred leader (the map's) is another voter, up to date and heard
// from: hand it over, at most once per back-off (no move of the shard running).
void Host::hand_to_preferred_leaders() {
  for (auto& [group, replica] : groups_) {
    if (!shard::is_shard_group(group) || moves_.count(group)) continue;
    const raft::Raft& raft = replica.node->raft();
    if (raft.role() != raft::Role::kLeader) continue;
    const shard::RouteEntry* route = routes_.find(shard::shard_of_group(group));
    if (route == nullptr || route->leader == kNoNode || route->leader == id_) continue;
    if (!contains(raft.conf_state().voters, route->leader) || raft.conf_state().is_joint()) continue;
    const raft::Progress* pr = raft.progress(route->leader);
    if (pr == nullptr || !pr->recent_active || pr->match != raft.log().last_index()) continue;
    uint64_t& last = last_transfer_[group];
    if (last != 0 && ticks_ < last + static_cast<uint64_t>(placement_->transfer_backoff_ticks)) {
      continue;
    }
    last = ticks_;
    (void)replica.node->transfer_leadership(route->leader);
    dirty_.insert(group);
  }
}

}  // namespace grape::node
