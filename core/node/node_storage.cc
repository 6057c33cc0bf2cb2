#include "core/node/node_storage.h"

#include <algorithm>

#include "core/base/assert.h"

namespace grape::node {

Expected<std::unique_ptr<NodeStorage>, NodeStorageError> NodeStorage::open(
    storage::Disk& disk, const NodeStorageOptions& options) {
  std::unique_ptr<NodeStorage> s(new NodeStorage(disk, options));
  // Replay the write-ahead log first, then find the newest snapshot.
  auto wal = storage::Wal::open(disk, options.wal_dir, options.wal, &s->repaired_);
  if (!wal) return Unexpected(NodeStorageError{wal.error().corrupt, "log", wal.error().message});
  s->wal_ = std::move(*wal);
  // Every replica the log's histories say dropped is forgotten: a crash may have come between the
  // history's sync and the forget record's (a torn write, several drops in one Ready), or between
  // the forget's sync and the removal of the snapshot files. A replica a later move creates here
  // must start from nothing, neither an old log nor an old snapshot (TiKV writes the tombstone and
  // the log's clean-up in one batch; redoing the forget here gives the same result).
  std::vector<GroupId> dropped;
  for (const ReplicaHistory& history : s->histories()) {
    if (history.dropped_by > history.created_by) dropped.push_back(history.group);
  }
  s->forget_groups(dropped);
  if (auto opened = s->open_group(options.group); !opened) return Unexpected(opened.error());
  return s;
}

void NodeStorage::close_groups(std::span<const GroupId> groups) {
  for (GroupId group : groups) groups_.erase(group);
  forget_groups(groups);
}

// One forget record per group that still holds anything, one sync for all of them, then their
// snapshot files.
void NodeStorage::forget_groups(std::span<const GroupId> groups) {
  if (groups.empty()) return;
  for (GroupId group : groups) {
    storage::GroupLog& log = this->log(group);
    if (log.snapshot_index() > LogIndex(0) || log.last_index() > LogIndex(0)) log.forget();
    forgotten_.insert(group);
  }
  if (wal_->sync().is_ok()) {
    history_staged_ = false;  // (the drops' histories were staged before, as drivers do)
    remove_forgotten_snapshots();
  }
}

void NodeStorage::remove_forgotten_snapshots() {
  if (forgotten_.empty()) return;
  if (snapshots_.remove_all(forgotten_).is_ok()) forgotten_.clear();
}

Status<NodeStorageError> NodeStorage::open_group(GroupId group) {
  if (groups_.count(group)) return Status<NodeStorageError>::ok();
  if (forgotten_.count(group)) {
    // Dropped here before, its old snapshot files not yet removed (a removal failed): finish that
    // now, or the replica a move creates again would start from them (and a later removal would
    // take its own files too). The forget record must be durable first.
    if (auto synced = wal_->sync(); !synced) {
      return Unexpected(NodeStorageError{false, "log", synced.error().detail});
    }
    if (auto removed = snapshots_.remove_all({group}); !removed) {
      return Unexpected(NodeStorageError{false, "snapshot", removed.error().message});
    }
    forgotten_.erase(group);
  }
  auto snapshot = snapshots_.load_latest(group);
  if (!snapshot) {
    return Unexpected(
        NodeStorageError{snapshot.error().corrupt, "snapshot", snapshot.error().message});
  }
  GroupState& g = groups_[group];
  g.snapshot = std::move(*snapshot);
  storage::GroupLog& log = this->log(group);
  g.synced_term = log.hard_state().term;
  g.synced_vote = log.hard_state().vote;
  if (g.snapshot) {
    const raft::SnapshotMeta& meta = g.snapshot->meta;
    // The log starts right after the snapshot (a crash may have come between storing the
    // snapshot and compacting the log, which kept entries before it).
    if (meta.index > log.snapshot_index()) {
      log.mark_snapshot(meta.index, meta.term);
      (void)wal_->sync();  // durable with the next completed sync; redone at the next start
    }
    g.last_saved_snapshot = meta;
  }
  return Status<NodeStorageError>::ok();
}

NodeStorage::GroupState& NodeStorage::state(GroupId group) {
  auto it = groups_.find(group);
  GRAPE_ASSERT(it != groups_.end(), "group " << group << " was not opened");
  return it->second;
}

const std::shared_ptr<const raft::Snapshot>& NodeStorage::snapshot(GroupId group) const {
  auto it = groups_.find(group);
  GRAPE_ASSERT(it != groups_.end(), "group " << group << " was not opened");
  return it->second.snapshot;
}

bool has_writes(const NodeReady& ready) {
  return !ready.raft.entries_to_persist.empty() || ready.raft.hard_state.has_value() ||
         ready.raft.snapshot != nullptr || ready.snapshot_to_save != nullptr;
}

bool NodeStorage::empty() const { return group_empty(options_.group); }

bool NodeStorage::group_empty(GroupId group) const {
  const storage::GroupLog& log = wal_->group(group);
  return snapshot(group) == nullptr && log.snapshot_index() == LogIndex(0) &&
         log.last_index() == LogIndex(0) && log.hard_state() == raft::HardState{};
}

Status<std::string> NodeStorage::bootstrap(GroupId group,
                                           std::shared_ptr<const raft::Snapshot> snapshot,
                                           bool sync) {
  if (auto opened = open_group(group); !opened) return Unexpected(opened.error().message);
  GRAPE_ASSERT(group_empty(group), "bootstrap of group " << group << ", which holds state");
  if (auto saved = snapshots_.save(group, *snapshot); !saved) {
    return Unexpected(saved.error().message);
  }
  log(group).mark_snapshot(snapshot->meta.index, snapshot->meta.term);
  if (sync) {
    if (auto synced = wal_->sync(); !synced) return Unexpected(synced.error().detail);
  }
  GroupState& g = state(group);
  g.last_saved_snapshot = snapshot->meta;
  g.snapshot = std::move(snapshot);
  return Status<std::string>::ok();
}

bool NodeStorage::needs_sync(GroupId group, const NodeReady& ready) const {
  if (ready.raft.snapshot || ready.snapshot_to_save || !ready.raft.entries_to_persist.empty()) {
    return true;
  }
  const std::optional<raft::HardState>& hs = ready.raft.hard_state;
  if (!hs) return false;
  auto it = groups_.find(group);
  GRAPE_ASSERT(it != groups_.end(), "group " << group << " was not opened");
  return hs->term != it->second.synced_term || hs->vote != it->second.synced_vote;
}

namespace {
constexpr uint64_t kHistoryGroupBase = uint64_t{1} << 62;  // far above any real group id
}  // namespace

void NodeStorage::keep_history(const ReplicaHistory& history) {
  raft::HardState state;
  state.term = Term(history.created_by);
  state.vote = NodeId(history.dropped_by);
  state.commit = LogIndex(history.caught_up ? 1 : 0);
  GRAPE_ASSERT(wal_->group(GroupId(kHistoryGroupBase + history.group.value))
                   .set_hard_state(state)
                   .is_ok(),
               "staging cannot fail");
  history_staged_ = true;
}

std::vector<ReplicaHistory> NodeStorage::histories() const {
  std::vector<ReplicaHistory> out;
  for (GroupId id : wal_->groups()) {
    if (id.value < kHistoryGroupBase) continue;
    const raft::HardState state = wal_->group(id).hard_state();
    out.push_back(ReplicaHistory{GroupId(id.value - kHistoryGroupBase), state.term.value,
                                 state.vote.value, state.commit.value == 1});
  }
  return out;
}

std::vector<GroupId> NodeStorage::replicas_at_start(std::vector<GroupId> initial) const {
  for (GroupId group : wal_->groups()) {
    const storage::GroupLog& log = wal_->group(group);
    const bool holds = log.snapshot_index() > LogIndex(0) || log.last_index() > LogIndex(0) ||
                       log.hard_state() != raft::HardState{};
    // (A group the storage merely opened, group 1 on a node outside the metadata group, holds
    // nothing: no replica of it.)
    if (holds && group.value < kHistoryGroupBase &&
        std::find(initial.begin(), initial.end(), group) == initial.end()) {
      initial.push_back(group);
    }
  }
  for (const ReplicaHistory& history : histories()) {
    if (history.dropped_by > history.created_by) {
      initial.erase(std::remove(initial.begin(), initial.end(), history.group), initial.end());
    }
  }
  std::sort(initial.begin(), initial.end());
  return initial;
}

bool NodeStorage::needs_sync(std::span<const GroupReady> readies) const {
  // A drop whose sync failed, or a replica's history: the host acknowledges them after this Ready.
  if (!forgotten_.empty() || history_staged_) return true;
  for (const GroupReady& g : readies) {
    if (has_writes(g.ready) && needs_sync(g.group, g.ready)) return true;
  }
  return false;
}

Status<std::string> NodeStorage::stage(GroupId group, const NodeReady& ready) {
  storage::GroupLog& log = this->log(group);
  GroupState& g = state(group);
  if (!needs_sync(group, ready)) {
    if (ready.raft.hard_state) {
      GRAPE_ASSERT(log.set_hard_state(*ready.raft.hard_state).is_ok(), "staging cannot fail");
    }
    return Status<std::string>::ok();
  }
  if (ready.raft.snapshot && !g.install_saved) {
    const raft::SnapshotMeta& meta = ready.raft.snapshot->meta;
    if (auto saved = snapshots_.save(group, *ready.raft.snapshot); !saved) {
      return Unexpected(saved.error().message);
    }
    log.mark_snapshot(meta.index, meta.term);
    g.last_saved_snapshot = meta;
    g.install_saved = true;
  }
  if (!g.writes_staged) {
    GRAPE_ASSERT(log.append(ready.raft.entries_to_persist).is_ok(), "staging cannot fail");
    if (ready.raft.hard_state) {
      GRAPE_ASSERT(log.set_hard_state(*ready.raft.hard_state).is_ok(), "staging cannot fail");
    }
    g.writes_staged = true;
  }
  if (ready.snapshot_to_save && !g.own_snapshot_saved) {
    if (auto saved = snapshots_.save(group, *ready.snapshot_to_save); !saved) {
      return Unexpected(saved.error().message);
    }
    if (g.last_saved_snapshot) {
      log.mark_snapshot(g.last_saved_snapshot->index, g.last_saved_snapshot->term);
    }
    g.last_saved_snapshot = ready.snapshot_to_save->meta;
    g.own_snapshot_saved = true;
  }
  return Status<std::string>::ok();
}

void NodeStorage::synced(GroupId group) {
  GroupState& g = state(group);
  const storage::GroupLog& log = this->log(group);
  g.synced_term = log.hard_state().term;
  g.synced_vote = log.hard_state().vote;
  g.install_saved = g.writes_staged = g.own_snapshot_saved = false;  // ready for the next Ready
}

Status<std::string> NodeStorage::persist(GroupId group, const NodeReady& ready) {
  const bool sync = needs_sync(group, ready);
  if (auto staged = stage(group, ready); !staged) return staged;
  if (!sync) return Status<std::string>::ok();
  if (auto done = wal_->sync(); !done) return Unexpected(done.error().detail);
  synced(group);
  remove_forgotten_snapshots();
  return Status<std::string>::ok();
}

Status<std::string> NodeStorage::persist(std::span<const GroupReady> readies) {
  bool sync = false;
  for (const GroupReady& g : readies) {
    // Most Readies of an idle host are heartbeats: nothing to write, no state to look up.
    if (!has_writes(g.ready)) continue;
    sync = sync || needs_sync(g.group, g.ready);
    if (auto staged = stage(g.group, g.ready); !staged) return staged;
  }
  sync = sync || !forgotten_.empty() || history_staged_;
  if (!sync) return Status<std::string>::ok();
  if (auto done = wal_->sync(); !done) return Unexpected(done.error().detail);
  history_staged_ = false;
  for (const GroupReady& g : readies) {
    if (has_writes(g.ready)) synced(g.group);
  }
  remove_forgotten_snapshots();
  return Status<std::string>::ok();
}

}  // namespace grape::node
