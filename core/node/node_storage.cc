#include "core/node/node_storage.h"

#include "core/base/assert.h"

namespace grape::node {

Expected<std::unique_ptr<NodeStorage>, NodeStorageError> NodeStorage::open(
    storage::Disk& disk, const NodeStorageOptions& options) {
  std::unique_ptr<NodeStorage> s(new NodeStorage(disk, options));
  // Replay the write-ahead log first, then find the newest snapshot.
  auto wal = storage::Wal::open(disk, options.wal_dir, options.wal, &s->repaired_);
  if (!wal) return Unexpected(NodeStorageError{wal.error().corrupt, "log", wal.error().message});
  s->wal_ = std::move(*wal);
  auto snapshot = s->snapshots_.load_latest(options.group);
  if (!snapshot) {
    return Unexpected(
        NodeStorageError{snapshot.error().corrupt, "snapshot", snapshot.error().message});
  }
  s->snapshot_ = std::move(*snapshot);
  s->synced_term_ = s->log().hard_state().term;
  s->synced_vote_ = s->log().hard_state().vote;
  if (s->snapshot_) {
    const raft::SnapshotMeta& meta = s->snapshot_->meta;
    // The log starts right after the snapshot (a crash may have come between storing the
    // snapshot and compacting the log, which kept entries before it).
    storage::GroupLog& log = s->log();
    if (meta.index > log.snapshot_index()) {
      log.mark_snapshot(meta.index, meta.term);
      (void)s->wal_->sync();  // durable with the next completed sync; redone at the next start
    }
    s->last_saved_snapshot_ = meta;
  }
  return s;
}

bool has_writes(const NodeReady& ready) {
  return !ready.raft.entries_to_persist.empty() || ready.raft.hard_state.has_value() ||
         ready.raft.snapshot != nullptr || ready.snapshot_to_save != nullptr;
}

bool NodeStorage::empty() const {
  const storage::GroupLog& log = wal_->group(options_.group);
  return snapshot_ == nullptr && log.snapshot_index() == LogIndex(0) &&
         log.last_index() == LogIndex(0) && log.hard_state() == raft::HardState{};
}

Status<std::string> NodeStorage::bootstrap(std::shared_ptr<const raft::Snapshot> snapshot) {
  GRAPE_ASSERT(empty(), "bootstrap of a storage that holds state");
  if (auto saved = snapshots_.save(options_.group, *snapshot); !saved) {
    return Unexpected(saved.error().message);
  }
  log().mark_snapshot(snapshot->meta.index, snapshot->meta.term);
  if (auto synced = wal_->sync(); !synced) return Unexpected(synced.error().detail);
  last_saved_snapshot_ = snapshot->meta;
  snapshot_ = std::move(snapshot);
  return Status<std::string>::ok();
}

bool NodeStorage::needs_sync(const NodeReady& ready) const {
  if (ready.raft.snapshot || ready.snapshot_to_save || !ready.raft.entries_to_persist.empty()) {
    return true;
  }
  const std::optional<raft::HardState>& hs = ready.raft.hard_state;
  return hs && (hs->term != synced_term_ || hs->vote != synced_vote_);
}

Status<std::string> NodeStorage::persist(const NodeReady& ready) {
  storage::GroupLog& log = this->log();
  if (!needs_sync(ready)) {
    if (ready.raft.hard_state) {
      GRAPE_ASSERT(log.set_hard_state(*ready.raft.hard_state).is_ok(), "staging cannot fail");
    }
    return Status<std::string>::ok();
  }
  if (ready.raft.snapshot && !install_saved_) {
    const raft::SnapshotMeta& meta = ready.raft.snapshot->meta;
    if (auto saved = snapshots_.save(options_.group, *ready.raft.snapshot); !saved) {
      return Unexpected(saved.error().message);
    }
    log.mark_snapshot(meta.index, meta.term);
    last_saved_snapshot_ = meta;
    install_saved_ = true;
  }
  if (!writes_staged_) {
    GRAPE_ASSERT(log.append(ready.raft.entries_to_persist).is_ok(), "staging cannot fail");
    if (ready.raft.hard_state) {
      GRAPE_ASSERT(log.set_hard_state(*ready.raft.hard_state).is_ok(), "staging cannot fail");
    }
    writes_staged_ = true;
  }
  if (ready.snapshot_to_save && !own_snapshot_saved_) {
    if (auto saved = snapshots_.save(options_.group, *ready.snapshot_to_save); !saved) {
      return Unexpected(saved.error().message);
    }
    if (last_saved_snapshot_) {
      log.mark_snapshot(last_saved_snapshot_->index, last_saved_snapshot_->term);
    }
    last_saved_snapshot_ = ready.snapshot_to_save->meta;
    own_snapshot_saved_ = true;
  }
  if (auto synced = wal_->sync(); !synced) return Unexpected(synced.error().detail);
  synced_term_ = log.hard_state().term;
  synced_vote_ = log.hard_state().vote;
  install_saved_ = writes_staged_ = own_snapshot_saved_ = false;  // ready for the next Ready
  return Status<std::string>::ok();
}

}  // namespace grape::node
