#pragma once
// node::NodeStorage: a node's durable state (its write-ahead log and its snapshot files) opened,
// recovered and written the one way both worlds do it: the simulator on its SimDisk, the real
// node on the POSIX disk. The driver's loop around it:
//
//   auto storage = NodeStorage::open(disk, options);     // recovery: log replay, latest snapshot
//   config.raft.snapshot = storage->snapshot();          // the node starts from them
//   Node node(config, storage->log(), rng);
//   ... NodeReady ready = node.take_ready();
//   while (!storage->persist(ready)) retry later;        // the disk is full or failing
//   ... then messages_after_persist, then node.advance()
//
// persist() hands a Ready's writes to the disk in order: a snapshot received from the leader (its
// file, then its mark in the log, which drops the entries it replaces), the entries and the hard
// state, a snapshot this node took (its file, then compaction of the log up to the snapshot
// before it, so that followers a little behind still get entries), then one write and one sync
// of the log. A refused step is retried by the next call with nothing lost or doubled.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>
#include <map>
#include <set>

#include "core/base/expected.h"
#include "core/base/ids.h"
#include "core/node/host.h"
#include "core/node/node.h"
#include "core/storage/disk.h"
#include "core/storage/snapshot_store.h"
#include "core/storage/wal.h"

namespace grape::node {

struct NodeStorageOptions {
  std::string wal_dir = "wal";
  std::string snapshot_dir = "snap";
  storage::WalOptions wal;
  GroupId group{1};  // the group open() opens (a single-group node's only one)
};

struct NodeStorageError {
  bool corrupt = false;  // damaged content (needs an operator), not an I/O failure (retry)
  std::string what;      // "log" or "snapshot"
  std::string message;   // names the file and offset
};

// Whether the Ready has anything to write (a Ready of messages and applies alone needs no sync).
bool has_writes(const NodeReady& ready);

class NodeStorage {
 public:
  // Opens the log (replaying it) and `options.group`'s snapshot; open_group() opens others.
  [[nodiscard]] static Expected<std::unique_ptr<NodeStorage>, NodeStorageError> open(
      storage::Disk& disk, const NodeStorageOptions& options);

  // The groups with anything in the log (a replica this node hosted), in id order.
  std::vector<GroupId> groups_in_log() const { return wal_->groups(); }
  // Loads a group's newest snapshot and makes its log start after it (idempotent). A group with
  // nothing stored starts empty.
  [[nodiscard]] Status<NodeStorageError> open_group(GroupId group);
  // Forgets a group whose replica left this node (a move dropped it): its log (entries and
  // snapshot mark) goes, its term and vote stay, so that a replica a later move creates here
  // starts empty yet cannot vote twice in a term; then its snapshot files go. The log syncs
  // here (a drop is rare); if the disk refuses, the files go after the next sync that succeeds.
  // Call keep_history() with the drop first: a restart must not start the replica again. Many
  // groups at once: one sync for all (a Ready may drop several).
  void close_group(GroupId group) { close_groups(std::span<const GroupId>(&group, 1)); }
  void close_groups(std::span<const GroupId> groups);

  storage::GroupLog& log() { return log(options_.group); }
  storage::GroupLog& log(GroupId group) { return wal_->group(group); }
  storage::Wal& wal() { return *wal_; }
  // The newest snapshot found at open (nullptr: none): the node's state machine starts from it.
  const std::shared_ptr<const raft::Snapshot>& snapshot() const { return snapshot(options_.group); }
  const std::shared_ptr<const raft::Snapshot>& snapshot(GroupId group) const;
  // A torn tail recovery cut off (crash during an unsynced write), to be logged.
  const std::optional<storage::WalScan::Damage>& repaired() const { return repaired_; }

  // Nothing stored yet: no snapshot, no entry, no vote (a node's first start).
  bool empty() const;
  // Makes `snapshot` the starting point of an empty storage and durable: a real cluster's members
  // all bootstrap from the same one (its initial configuration), so that a node joining later
  // starts empty and learns everything, configuration included, from the leader's snapshot.
  [[nodiscard]] Status<std::string> bootstrap(std::shared_ptr<const raft::Snapshot> snapshot) {
    return bootstrap(options_.group, std::move(snapshot), true);
  }
  // The same for any group that holds nothing (a sharded node's first replicas). With `sync`
  // false the log's mark is staged only: one sync after many groups makes them all durable.
  [[nodiscard]] Status<std::string> bootstrap(GroupId group,
                                              std::shared_ptr<const raft::Snapshot> snapshot,
                                              bool sync);
  // Nothing stored for `group` (opened): no snapshot, no entry, no vote.
  bool group_empty(GroupId group) const;

  // Whether persisting the Ready needs a sync (etcd's MustSync): new entries, a snapshot, or a
  // new term or vote. A hard state that only advances the commit index is staged and becomes
  // durable with the next sync: the commit index need not survive a crash (a restarted node
  // learns it again from the leader), and waiting for a sync before applying each commit would
  // put a third fsync on every write's path.
  bool needs_sync(const NodeReady& ready) const { return needs_sync(options_.group, ready); }
  bool needs_sync(GroupId group, const NodeReady& ready) const;

  // Makes the Ready's writes durable (see the top of this file); when needs_sync() is false it
  // only stages them (no disk I/O, cannot fail). On an error (full, I/O) the
  // steps already done are kept and the next call with the same Ready resumes after them.
  [[nodiscard]] Status<std::string> persist(const NodeReady& ready) {
    return persist(options_.group, ready);
  }
  [[nodiscard]] Status<std::string> persist(GroupId group, const NodeReady& ready);
  // Many groups' Readies at once (node::Host): each group's writes are staged, then one sync
  // makes them all durable. Resumable the same way.
  [[nodiscard]] Status<std::string> persist(std::span<const GroupReady> readies);
  // (Also true while a dropped group's forget record or snapshot files wait for a sync.)
  bool needs_sync(std::span<const GroupReady> readies) const;

  // Replica histories (node::ReplicaHistory), kept in the log as the hard state of a reserved
  // group per replica (term: the creating move, vote: the dropping move), so that they replay
  // with it; staged now, durable with the next sync, which the next persist() of many groups
  // does even if its Readies write nothing (the host acknowledges drops after it).
  void keep_history(const ReplicaHistory& history);
  std::vector<ReplicaHistory> histories() const;
  // The replicas a sharded node hosts when it starts again: `initial` (those it was first given),
  // every one a move brought here (it has anything in the log), less those a drop removed after
  // their creation (a dropped replica stays dropped). In id order.
  std::vector<GroupId> replicas_at_start(std::vector<GroupId> initial) const;

 private:
  // One group's durable state and the progress of the Ready being persisted.
  struct GroupState {
    std::shared_ptr<const raft::Snapshot> snapshot;  // found at open
    // The newest snapshot stored: the log is compacted up to the one before it.
    std::optional<raft::SnapshotMeta> last_saved_snapshot;
    // The term and vote as of the last sync (a change needs one).
    Term synced_term;
    NodeId synced_vote;
    // Steps of the Ready being persisted that are done (persist() resumes after them).
    bool install_saved = false;
    bool writes_staged = false;
    bool own_snapshot_saved = false;
  };

  NodeStorage(storage::Disk& disk, const NodeStorageOptions& options)
      : options_(options), snapshots_(disk, options.snapshot_dir) {}

  GroupState& state(GroupId group);
  // Stages a group's writes (snapshot files are written here); no sync.
  [[nodiscard]] Status<std::string> stage(GroupId group, const NodeReady& ready);
  // After a sync: what was staged is durable.
  void synced(GroupId group);
  // After a sync: the snapshot files of groups forgotten before it can go.
  void remove_forgotten_snapshots();
  void forget_groups(std::span<const GroupId> groups);

  NodeStorageOptions options_;
  storage::SnapshotStore snapshots_;
  std::unique_ptr<storage::Wal> wal_;
  std::optional<storage::WalScan::Damage> repaired_;
  std::map<GroupId, GroupState> groups_;
  // Groups forgotten in the log whose snapshot files are still to be removed (after a sync).
  std::set<GroupId> forgotten_;
  bool history_staged_ = false;  // a replica history staged since the last sync
};

}  // namespace grape::node
