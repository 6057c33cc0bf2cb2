// NodeStorage and a replica that a move takes off the node (close_group).
//
// Review 10 found that a drop only forgot the group in memory: its log tail stayed in the
// write-ahead log, and since segments are deleted oldest first, the first segment holding it,
// and every later one, were kept forever. After a node's first move away its log grew without
// bound. TiKV destroys a removed peer's raft log and state and keeps a tombstone; grape's drop now
// writes a forget record (the term and vote stay), and removes the group's snapshot files once
// that record is durable.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/base/rng.h"
#include "core/node/node_storage.h"
#include "sim/sim_disk.h"

namespace grape::node {
namespace {

raft::Entry entry(uint64_t index, uint64_t term, size_t bytes) {
  raft::Entry e;
  e.index = LogIndex(index);
  e.term = Term(term);
  e.data.assign(bytes, std::byte{0x5a});
  return e;
}

std::shared_ptr<const raft::Snapshot> snapshot_at(uint64_t index, uint64_t term) {
  auto s = std::make_shared<raft::Snapshot>();
  s->meta.index = LogIndex(index);
  s->meta.term = Term(term);
  s->meta.conf_state.voters = {NodeId(1), NodeId(2), NodeId(3)};
  return s;
}

NodeStorageOptions small_segments() {
  NodeStorageOptions options;
  options.wal.segment_bytes = 4096;
  options.wal.preallocate = false;
  return options;
}

std::unique_ptr<NodeStorage> open(sim::SimDisk& disk) {
  auto opened = NodeStorage::open(disk, small_segments());
  EXPECT_TRUE(opened) << (opened ? std::string() : opened.error().message);
  return opened ? std::move(*opened) : nullptr;
}

size_t snapshot_files_of(sim::SimDisk& disk, GroupId group) {
  auto names = disk.list("snap");
  if (!names) return 0;
  char prefix[20];
  std::snprintf(prefix, sizeof prefix, "%016llx-", static_cast<unsigned long long>(group.value));
  size_t n = 0;
  for (const std::string& name : *names) n += name.starts_with(prefix);
  return n;
}

// A shard replica of `group` with a few entries above its first snapshot, a term and a vote.
void host_replica(NodeStorage& storage, sim::SimDisk& disk, GroupId group) {
  ASSERT_TRUE(storage.bootstrap(group, snapshot_at(1, 1), true).is_ok());
  std::vector<raft::Entry> tail;
  for (uint64_t i = 2; i <= 5; ++i) tail.push_back(entry(i, 3, 64));
  ASSERT_TRUE(storage.log(group).append(tail).is_ok());
  ASSERT_TRUE(storage.log(group).set_hard_state(raft::HardState{Term(3), NodeId(2), LogIndex(4)}).is_ok());
  ASSERT_TRUE(storage.wal().sync().is_ok());
  disk.complete_syncs();
}

// What the drop path does: the history of the drop (staged), then close_group.
void drop_replica(NodeStorage& storage, GroupId group, uint64_t move) {
  storage.keep_history(ReplicaHistory{group, 0, move});
  storage.close_group(group);
}

// A live replica that keeps writing and compacting its log up to its last entry.
void write_and_compact(NodeStorage& storage, sim::SimDisk& disk, GroupId group, int rounds) {
  uint64_t index = storage.log(group).last_index().value + 1;
  for (int round = 0; round < rounds; ++round) {
    std::vector<raft::Entry> batch;
    for (int k = 0; k < 4; ++k) batch.push_back(entry(index++, 1, 256));
    ASSERT_TRUE(storage.log(group).append(batch).is_ok());
    storage.log(group).mark_snapshot(LogIndex(index - 1), Term(1));
    ASSERT_TRUE(storage.wal().sync().is_ok());
    disk.complete_syncs();
  }
}

TEST(NodeStorageDrop, DroppedReplicaDoesNotPinTheLogForever) {
  sim::SimDisk disk;
  auto storage = open(disk);
  ASSERT_TRUE(storage);
  const GroupId dropped(2), live(3);
  host_replica(*storage, disk, dropped);
  drop_replica(*storage, dropped, 7);
  ASSERT_TRUE(storage->bootstrap(live, snapshot_at(1, 1), true).is_ok());
  write_and_compact(*storage, disk, live, 200);
  // ~200 KiB written in 4 KiB segments; the live group's entries are all compacted.
  EXPECT_LE(storage->wal().segment_count(), 4u)
      << "the write-ahead log kept " << storage->wal().segment_count() << " segments";
  EXPECT_GT(storage->wal().stats().segments_deleted, 0u);
}

TEST(NodeStorageDrop, AfterARestartTheDroppedReplicaStillPinsNothing) {
  sim::SimDisk disk;
  const GroupId dropped(2), live(3);
  {
    auto storage = open(disk);
    ASSERT_TRUE(storage);
    host_replica(*storage, disk, dropped);
    ASSERT_TRUE(storage->bootstrap(live, snapshot_at(1, 1), true).is_ok());
    drop_replica(*storage, dropped, 7);
    disk.complete_syncs();
  }
  Rng rng(1);
  disk.crash(sim::DiskCrashFault::kPlain, rng);
  auto storage = open(disk);  // the replay, not the drop, now says what segment 1 holds
  ASSERT_TRUE(storage);
  ASSERT_TRUE(storage->open_group(live).is_ok());
  write_and_compact(*storage, disk, live, 200);
  EXPECT_LE(storage->wal().segment_count(), 4u)
      << "the write-ahead log kept " << storage->wal().segment_count() << " segments";
}

TEST(NodeStorageDrop, TheDropSurvivesARestartKeepingTermAndVoteOnly) {
  sim::SimDisk disk;
  const GroupId dropped(2), live(3);
  {
    auto storage = open(disk);
    ASSERT_TRUE(storage);
    host_replica(*storage, disk, dropped);
    ASSERT_TRUE(storage->bootstrap(live, snapshot_at(1, 1), true).is_ok());
    EXPECT_EQ(snapshot_files_of(disk, dropped), 1u);
    drop_replica(*storage, dropped, 7);
    disk.complete_syncs();
    EXPECT_EQ(snapshot_files_of(disk, dropped), 0u) << "the drop removes the replica's snapshots";
    write_and_compact(*storage, disk, live, 50);
  }
  Rng rng(1);
  disk.crash(sim::DiskCrashFault::kPlain, rng);
  auto storage = open(disk);
  ASSERT_TRUE(storage);
  const storage::GroupLog& log = storage->log(dropped);
  EXPECT_EQ(log.snapshot_index(), LogIndex(0));
  EXPECT_EQ(log.last_index(), LogIndex(0));
  EXPECT_EQ(log.hard_state().term, Term(3)) << "the term stays: no second vote in term 3";
  EXPECT_EQ(log.hard_state().vote, NodeId(2));
  EXPECT_EQ(log.hard_state().commit, LogIndex(0));
  EXPECT_EQ(storage->replicas_at_start({dropped, live}), std::vector<GroupId>{live});

  // A later move creates the replica here again: it opens empty (no old snapshot, no old log).
  ASSERT_TRUE(storage->open_group(dropped).is_ok());
  EXPECT_EQ(storage->snapshot(dropped), nullptr);
  EXPECT_FALSE(storage->group_empty(dropped)) << "its term and vote are still there";
}

TEST(NodeStorageDrop, ACrashBeforeTheSnapshotFilesGoRemovesThemAtTheNextStart) {
  sim::SimDisk disk;
  const GroupId dropped(2);
  {
    auto storage = open(disk);
    ASSERT_TRUE(storage);
    host_replica(*storage, disk, dropped);
    disk.set_eio(true);  // the drop's sync fails: the files must stay for now
    drop_replica(*storage, dropped, 7);
    disk.set_eio(false);
    EXPECT_EQ(snapshot_files_of(disk, dropped), 1u);
    ASSERT_TRUE(storage->wal().sync().is_ok());  // the drop is durable, the files not yet gone
    disk.complete_syncs();
  }
  Rng rng(1);
  disk.crash(sim::DiskCrashFault::kPlain, rng);
  EXPECT_EQ(snapshot_files_of(disk, dropped), 1u);
  auto storage = open(disk);
  ASSERT_TRUE(storage);
  EXPECT_EQ(snapshot_files_of(disk, dropped), 0u) << "the start finishes the drop";
  ASSERT_TRUE(storage->open_group(dropped).is_ok());
  EXPECT_EQ(storage->snapshot(dropped), nullptr) << "a re-created replica never sees them";
}

TEST(NodeStorageDrop, ALostDropSyncLeavesTheReplicaWhole) {
  sim::SimDisk disk;
  const GroupId dropped(2);
  {
    auto storage = open(disk);
    ASSERT_TRUE(storage);
    host_replica(*storage, disk, dropped);
    drop_replica(*storage, dropped, 7);  // its sync never completes
  }
  Rng rng(1);
  disk.crash(sim::DiskCrashFault::kLoseUnsynced, rng);
  auto storage = open(disk);
  ASSERT_TRUE(storage);
  EXPECT_EQ(storage->replicas_at_start({dropped}), std::vector<GroupId>{dropped});
  ASSERT_TRUE(storage->open_group(dropped).is_ok());
  ASSERT_NE(storage->snapshot(dropped), nullptr) << "nothing removed before the drop was durable";
  EXPECT_EQ(storage->log(dropped).last_index(), LogIndex(5));
}

TEST(NodeStorageDrop, AReCreatedReplicaReplaysFromItsNewLifeOnly) {
  sim::SimDisk disk;
  const GroupId group(2), live(3);
  {
    auto storage = open(disk);
    ASSERT_TRUE(storage);
    host_replica(*storage, disk, group);
    ASSERT_TRUE(storage->bootstrap(live, snapshot_at(1, 1), true).is_ok());
    drop_replica(*storage, group, 7);
    disk.complete_syncs();
    // Move 9 brings it back: the leader's snapshot at 3 (below the old tail), then entries.
    storage->keep_history(ReplicaHistory{group, 9, 7});
    ASSERT_TRUE(storage->open_group(group).is_ok());
    storage->log(group).mark_snapshot(LogIndex(3), Term(4));
    ASSERT_TRUE(storage->log(group).append(std::vector<raft::Entry>{entry(4, 4, 8)}).is_ok());
    ASSERT_TRUE(storage->wal().sync().is_ok());
    disk.complete_syncs();
    write_and_compact(*storage, disk, live, 50);
  }
  Rng rng(1);
  disk.crash(sim::DiskCrashFault::kPlain, rng);
  auto storage = open(disk);
  ASSERT_TRUE(storage);
  const storage::GroupLog& log = storage->log(group);
  EXPECT_EQ(log.snapshot_index(), LogIndex(3));
  EXPECT_EQ(log.last_index(), LogIndex(4));
  EXPECT_EQ(log.term(LogIndex(4)), Term(4));
  EXPECT_EQ(storage->replicas_at_start({}), (std::vector<GroupId>{group, live}));
}

}  // namespace
}  // namespace grape::node
