#include "core/node/node.h"

#include "core/base/mark.h"

namespace grape::node {

Node::Node(const NodeConfig& config, const raft::LogStore& store, Rng rng)
    : config_(config), raft_(config.raft, store, rng), applied_(raft_.log().applied()) {
  if (config.raft.snapshot) restore(*config.raft.snapshot);
  // Distinct from every earlier incarnation's (etcdserver's read ids are unique across restarts
  // too): a confirmation sent to the previous process, still in flight, must not confirm a read
  // of this one, which began after the leader fixed that read's index. The driver seeds each
  // start differently (sim::World forks an Rng per incarnation; a process draws from entropy).
  next_read_ = rng.fork(0x7265616473).next_u64() | 1;
}

void Node::restore(const raft::Snapshot& snapshot) {
  // Our own encoder wrote it and a checksum guarded it on disk and on the wire.
  auto restored = kv_.restore(snapshot.data);
  GRAPE_ASSERT(restored.is_ok(), "snapshot " << snapshot.meta.index << " does not decode: "
                                             << restored.error().detail);
  last_snapshot_index_ = snapshot.meta.index;
  applied_ = snapshot.meta.index;
}

void Node::maybe_take_snapshot() {
  const LogIndex applied = applied_;
  if (config_.snapshot_every == 0 || applied <= last_snapshot_index_ ||
      applied - last_snapshot_index_ < config_.snapshot_every) {
    return;
  }
  if (applied != raft_.log().applied()) {
    // Raft restored a leader's snapshot that the kv store does not hold yet (the next Ready
    // installs it): a snapshot now would label the older state with the newer index.
    GRAPE_MARK("node.snapshot_deferred_until_install");
    return;
  }
  auto snapshot = std::make_shared<raft::Snapshot>();
  snapshot->meta.index = applied;
  snapshot->meta.term = raft_.log().term(applied);
  snapshot->meta.conf_state = raft_.conf_state();  // in force at `applied`: changes apply in order
  snapshot->data = kv_.encode_snapshot();
  last_snapshot_index_ = applied;
  GRAPE_MARK("node.snapshot_taken");
  raft_.set_latest_snapshot(snapshot);
  snapshot_to_save_ = std::move(snapshot);
}

void Node::reply(uint64_t client, uint64_t request, ReplyStatus status, kv::Result result) {
  replies_.push_back(
      ClientReply{client, request, status, raft_.leader(), std::move(result), applied_});
}

void Node::on_client_request(const ClientRequest& request) {
  if (request.command.op == kv::Op::kGet) {
    start_read(request);
    return;
  }
  if (raft_.role() != raft::Role::kLeader) {
    reply(request.client, request.request, ReplyStatus::kRedirect);
    return;
  }
  if (disk_failing_) {
    GRAPE_MARK("node.disk_failing");
    reply(request.client, request.request, ReplyStatus::kRejected);
    return;
  }
  if (pending_.size() >= config_.pending_requests_max) {
    GRAPE_MARK("node.overloaded");
    reply(request.client, request.request, ReplyStatus::kRejected);
    return;
  }
  auto index = raft_.propose(kv::encode_command(request.command));
  if (!index) {
    reply(request.client, request.request,
          index.error().code == raft::ProposeErrorCode::kNotLeader ? ReplyStatus::kRedirect
                                                                   : ReplyStatus::kRejected);
    return;
  }
  // An older request may still wait at this index: its entry left our log, but another node may
  // hold it and commit it as leader later, so only the entry applied here decides between them
  // (apply()); both stay pending meanwhile.
  pending_.emplace(*index, Pending{request.client, request.request, raft_.term()});
}

// Reads go through ReadIndex, not the log: the leader confirms it still leads (one heartbeat
// round shared by every read meanwhile) and names the commit index at which the read may be
// served; a follower asks the leader for that index. Either answers once it has applied that far.
void Node::start_read(const ClientRequest& request) {
  const uint64_t context = next_read_++;
  if (!raft_.read_index(context).is_ok()) {
    reply(request.client, request.request, ReplyStatus::kRedirect);  // no leader known
    return;
  }
  reads_.emplace(context, PendingRead{request.client, request.request, request.command.key,
                                      std::nullopt, ticks_});
}

void Node::serve_reads() {
  const LogIndex applied = applied_;  // what the kv store holds, not what Raft has restored
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (!it->second.index || *it->second.index > applied) {
      ++it;
      continue;
    }
    reply(it->second.client, it->second.request, ReplyStatus::kOk,
          kv::Result{true, kv_.get(it->second.key)});
    it = reads_.erase(it);
  }
}

// A read not served within two election timeouts (the leader lost its leadership, the request
// or answer was lost, or this node cannot catch up to the read index) is refused: a read changes nothing, so the
// client may simply ask again, wherever the leader now is.
void Node::expire_reads() {
  const uint64_t limit = 2 * static_cast<uint64_t>(config_.raft.election_ticks);
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (ticks_ - it->second.started_tick < limit) {
      ++it;
      continue;
    }
    GRAPE_MARK("node.read_expired");
    reply(it->second.client, it->second.request, ReplyStatus::kRejected);
    it = reads_.erase(it);
  }
}

// Orphaned requests wait one election timeout for their index to apply here, which answers most
// of them definitely (a new leader usually commits or overwrites them quickly); then kUnknown, so
// that clients move on instead of waiting for their own timeouts.
void Node::tick() {
  raft_.tick();
  ++ticks_;
  expire_reads();
  if (!has_orphaned_pending()) {
    orphaned_ticks_ = 0;
    return;
  }
  if (++orphaned_ticks_ < config_.raft.election_ticks) return;
  orphaned_ticks_ = 0;
  abandon_orphaned_pending();
}

bool Node::has_orphaned_pending() const {
  const bool leading = raft_.role() == raft::Role::kLeader;
  for (auto it = pending_.upper_bound(raft_.log().committed()); it != pending_.end(); ++it) {
    if (!leading || it->second.term != raft_.term()) return true;
  }
  return false;
}

void Node::abandon_orphaned_pending() {
  const bool leading = raft_.role() == raft::Role::kLeader;
  for (auto it = pending_.upper_bound(raft_.log().committed()); it != pending_.end();) {
    if (leading && it->second.term == raft_.term()) {
      ++it;  // ours: it commits or is overwritten like any other entry of this leadership
      continue;
    }
    GRAPE_MARK("node.pending_abandoned_after_step_down");
    reply(it->second.client, it->second.request, ReplyStatus::kUnknown);
    it = pending_.erase(it);
  }
}

NodeReady Node::take_ready() {
  NodeReady ready;
  raft_ready_taken_ = raft_.has_ready();
  if (raft_ready_taken_) {
    ready.raft = raft_.take_ready();
    to_apply_ = ready.raft.entries_to_apply;
    to_install_ = ready.raft.snapshot;
    for (const raft::ReadState& rs : ready.raft.read_states) {
      auto it = reads_.find(rs.context);
      if (it != reads_.end()) it->second.index = rs.index;
    }
  }
  ready.snapshot_to_save = std::move(snapshot_to_save_);
  snapshot_to_save_.reset();
  ready.replies = std::move(replies_);
  replies_.clear();
  return ready;
}

void Node::advance() {
  if (!raft_ready_taken_) return;
  raft_ready_taken_ = false;
  if (to_install_) {
    GRAPE_MARK("node.snapshot_installed");
    restore(*to_install_);
    // Whatever we proposed up to its index was decided elsewhere, and the snapshot does not say
    // whether our entries made it.
    while (!pending_.empty() && pending_.begin()->first <= to_install_->meta.index) {
      const Pending& p = pending_.begin()->second;
      reply(p.client, p.request, ReplyStatus::kUnknown);
      pending_.erase(pending_.begin());
    }
    to_install_.reset();
  }
  for (const raft::Entry& entry : to_apply_) apply(entry);
  to_apply_.clear();
  raft_.advance();
  serve_reads();
  maybe_take_snapshot();
}

std::optional<kv::Result> Node::apply_command(const raft::Entry& entry) {
  if (entry.data.empty()) return std::nullopt;  // a new leader's no-op
  auto command = kv::decode_command(entry.data);
  if (!command) {
    // Only our own encoder writes entries, and frames are checksummed on the wire and disk;
    // every replica skips such an entry alike, so the replicas stay identical.
    GRAPE_MARK("node.undecodable_entry");
    return std::nullopt;
  }
  return kv_.apply(*command);
}

// Configurations take effect when applied (raft.h, "Membership"); the kv store never sees them.
// On restart every committed entry is applied again from the start, which restores the
// configuration over the initial one.
void Node::apply_conf_change(const raft::Entry& entry) {
  if (entry.index <= raft_.log().applied()) {
    // Raft restored a snapshot past this entry while the driver handled its Ready: the
    // snapshot's configuration already includes it (and what followed it).
    GRAPE_MARK("node.conf_change_covered_by_restored_snapshot");
    return;
  }
  auto change = raft::decode_conf_change(entry.data);
  if (!change) {
    GRAPE_MARK("node.undecodable_conf_change");  // skipped alike by every replica, as above
    return;
  }
  raft_.apply_conf_change(*change);
}

void Node::apply(const raft::Entry& entry) {
  std::optional<kv::Result> result;
  switch (entry.type) {
    case raft::EntryType::kNormal:
      result = apply_command(entry);
      break;
    case raft::EntryType::kConfChange:
      apply_conf_change(entry);
      break;
  }
  applied_ = entry.index;
  const bool applied = result.has_value();
  // Answer every request proposed at or below this index: the one at this index succeeded if the
  // entry is ours (same term); any other was overwritten by a later leader and will never apply.
  while (!pending_.empty() && pending_.begin()->first <= entry.index) {
    const auto& [index, pending] = *pending_.begin();
    const bool ours = index == entry.index && pending.term == entry.term;
    if (ours && applied) {
      reply(pending.client, pending.request, ReplyStatus::kOk, *result);
    } else {
      reply(pending.client, pending.request, ReplyStatus::kDropped);
    }
    pending_.erase(pending_.begin());
  }
}

}  // namespace grape::node
