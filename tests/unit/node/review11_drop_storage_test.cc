// Review 11: crash windows of a replica's drop on the node's storage (NodeStorage::close_group,
// NodeStorage::open).
//
// TiKV destroys a peer with ONE write: raft-engine's clean() of the region's log and raft state
// and the Tombstone RegionLocalState go into the same LogBatch (raftstore-v2 Peer::start_destroy),
// so "tombstone durable" implies "log gone". grape writes the drop's history (its tombstone) and
// the kForget record as separate records, and with several drops in one Ready in separate syncs;
// NodeStorage::open then trusts the history alone and removes the snapshot files while the old
// log stays: a re-created replica starts from a log whose snapshot file is gone.

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/base/rng.h"
#include "core/node/node_storage.h"
#include "sim/sim_disk.h"

namespace grape::node {
namespace {

raft::Entry entry(uint64_t index, uint64_t term) {
  raft::Entry e;
  e.index = LogIndex(index);
  e.term = Term(term);
  e.data.assign(32, std::byte{0x5a});
  return e;
}

std::shared_ptr<const raft::Snapshot> snapshot_at(uint64_t index, uint64_t term) {
  auto s = std::make_shared<raft::Snapshot>();
  s->meta.index = LogIndex(index);
  s->meta.term = Term(term);
  s->meta.conf_state.voters = {NodeId(1), NodeId(2), NodeId(3)};
  return s;
}

NodeStorageOptions options() {
  NodeStorageOptions o;
  o.wal.segment_bytes = 1 << 20;
  o.wal.preallocate = false;
  return o;
}

std::unique_ptr<NodeStorage> open(storage::Disk& disk) {
  auto opened = NodeStorage::open(disk, options());
  EXPECT_TRUE(opened) << (opened ? std::string() : opened.error().message);
  return opened ? std::move(*opened) : nullptr;
}

// A replica with its first snapshot at 3 and entries 4..8, durable.
void host_replica(NodeStorage& storage, sim::SimDisk& disk, GroupId group) {
  ASSERT_TRUE(storage.bootstrap(group, snapshot_at(3, 2), true).is_ok());
  std::vector<raft::Entry> tail;
  for (uint64_t i = 4; i <= 8; ++i) tail.push_back(entry(i, 3));
  ASSERT_TRUE(storage.log(group).append(tail).is_ok());
  ASSERT_TRUE(
      storage.log(group).set_hard_state(raft::HardState{Term(3), NodeId(2), LogIndex(6)}).is_ok());
  ASSERT_TRUE(storage.wal().sync().is_ok());
  disk.complete_syncs();
}

// Two replicas dropped by the same Ready, exactly as sim/world.cc start_persist and
// net/runtime.cc handle_ready do it: every history of the Ready first, then close_group for each
// dropped group (each one a sync of its own). A crash then lands after any prefix of the pending
// syncs. Whatever the prefix, a group whose durable history says "dropped" must have its log
// forgotten too (or keep its snapshot files): otherwise its log (snapshot mark at 3, entries 4..8)
// outlives its snapshot file, which open() removes, and a replica a later move creates here
// starts from entries 4..8 with nothing below them (Raft's applied index 3, an empty state
// machine), while the log pins its segment forever.
TEST(Review11DropStorage, TwoDropsInOneReadyNeverLeaveAHistoryWithoutItsForget) {
  const GroupId a(2), b(3);
  std::vector<std::string> broken;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    sim::SimDisk disk;
    {
      auto storage = open(disk);
      ASSERT_TRUE(storage);
      host_replica(*storage, disk, a);
      host_replica(*storage, disk, b);
      // One Ready dropping both (moves 7 and 8).
      storage->keep_history(ReplicaHistory{a, 0, 7});
      storage->keep_history(ReplicaHistory{b, 0, 8});
      storage->close_group(a);
      storage->close_group(b);
    }
    Rng rng(seed);
    disk.crash(sim::DiskCrashFault::kPlain, rng);
    auto storage = open(disk);
    ASSERT_TRUE(storage);
    std::set<GroupId> dropped;
    for (const ReplicaHistory& h : storage->histories()) {
      if (h.dropped_by > h.created_by) dropped.insert(h.group);
    }
    for (GroupId g : dropped) {
      const storage::GroupLog& log = storage->log(g);
      // A later move creates the replica here again: what would it start from?
      ASSERT_TRUE(storage->open_group(g).is_ok());
      const bool log_forgotten =
          log.snapshot_index() == LogIndex(0) && log.last_index() == LogIndex(0);
      if (!log_forgotten && storage->snapshot(g) == nullptr) {
        broken.push_back("seed " + std::to_string(seed) + ": group " + std::to_string(g.value) +
                         " is dropped in its history, its snapshot files are gone, yet its log "
                         "still starts after index " +
                         std::to_string(log.snapshot_index().value) + " and ends at " +
                         std::to_string(log.last_index().value));
      }
    }
  }
  EXPECT_TRUE(broken.empty()) << [&] {
    std::string all;
    for (const std::string& s : broken) all += s + "\n";
    return all;
  }();
}


// A disk whose unlink of snapshot files fails while `refuse_snapshot_removal` is set (EIO, EBUSY,
// a read-only remount of one directory, an operator's chattr: anything that fails unlink and not
// fdatasync); everything else goes to the SimDisk.
class FlakyRemoveDisk final : public storage::Disk {
 public:
  explicit FlakyRemoveDisk(sim::SimDisk& inner) : inner_(inner) {}
  bool refuse_snapshot_removal = false;
  Expected<std::unique_ptr<storage::File>, storage::DiskError> open(const std::string& path,
                                                                    storage::OpenMode mode) override {
    return inner_.open(path, mode);
  }
  Expected<std::vector<std::string>, storage::DiskError> list(const std::string& dir) override {
    return inner_.list(dir);
  }
  Status<storage::DiskError> make_dir(const std::string& dir) override { return inner_.make_dir(dir); }
  Status<storage::DiskError> rename(const std::string& from, const std::string& to) override {
    return inner_.rename(from, to);
  }
  Status<storage::DiskError> remove(const std::string& path) override {
    if (refuse_snapshot_removal && path.ends_with(".snap")) {
      return Unexpected(storage::DiskError{storage::DiskErrorCode::kIo, "unlink " + path + ": EIO"});
    }
    return inner_.remove(path);
  }
  Status<storage::DiskError> sync_dir(const std::string& dir) override { return inner_.sync_dir(dir); }

 private:
  sim::SimDisk& inner_;
};

// The drop's snapshot removal fails once (the log's sync succeeded): the group stays in
// forgotten_. A later move creates the replica here again before any other sync; it opens the OLD
// incarnation's snapshot file (TiKV: a peer created after a tombstone is uninitialized and starts
// empty), installs the leader's snapshot at 20, and the sync that makes that install durable then
// "finishes the drop": remove_all() removes every file of the group, the new incarnation's
// included, while the log keeps the mark at 20. After a restart the replica's log starts at 21
// with no snapshot file: Raft takes 20 as applied over an empty state machine.
TEST(Review11DropStorage, ARetriedSnapshotRemovalNeverTakesTheNextIncarnationsFiles) {
  sim::SimDisk sim;
  FlakyRemoveDisk disk(sim);
  const GroupId g(2);
  {
    auto storage = open(disk);
    ASSERT_TRUE(storage);
    host_replica(*storage, sim, g);
    disk.refuse_snapshot_removal = true;
    storage->keep_history(ReplicaHistory{g, 0, 7});
    storage->close_group(g);  // the log's sync succeeds, the unlink does not
    sim.complete_syncs();
    disk.refuse_snapshot_removal = false;

    // Move 9 brings the replica back (history first, as Host::handle_control does).
    storage->keep_history(ReplicaHistory{g, 9, 7});
    ASSERT_TRUE(storage->open_group(g).is_ok());
    EXPECT_EQ(storage->snapshot(g), nullptr)
        << "the re-created replica opened the old incarnation's snapshot at "
        << storage->snapshot(g)->meta.index;
    // The leader's snapshot at 20, installed and made durable.
    NodeReady ready;
    ready.raft.snapshot = snapshot_at(20, 5);
    ready.raft.hard_state = raft::HardState{Term(5), NodeId(0), LogIndex(20)};
    ASSERT_TRUE(storage->persist(g, ready).is_ok());
    sim.complete_syncs();
  }
  Rng rng(1);
  sim.crash(sim::DiskCrashFault::kPlain, rng);
  auto storage = open(disk);
  ASSERT_TRUE(storage);
  ASSERT_EQ(storage->replicas_at_start({}), std::vector<GroupId>{g});
  ASSERT_TRUE(storage->open_group(g).is_ok());
  EXPECT_EQ(storage->log(g).snapshot_index(), LogIndex(20));
  ASSERT_NE(storage->snapshot(g), nullptr)
      << "the log starts after 20 but the snapshot file at 20 was removed by the old drop's retry";
}

}  // namespace
}  // namespace grape::node
