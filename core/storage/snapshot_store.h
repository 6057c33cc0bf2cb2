#pragma once
// SnapshotStore: a node's snapshot files, written through the Disk interface.
//
// DIR/<group, 16 hex>-<index, 16 hex>.snap, one file per snapshot:
//   "GRAPESNP" | u32 version | u64 group | u64 index | u64 term | conf state (four lists of u64
//   node ids, each u32 count first) | u64 data size | data | u32 CRC32C of everything before
// save() writes to "<name>.tmp", syncs it, renames it into place and syncs the directory, so a
// crash leaves either the old snapshot or the new one, never half of one; then it removes the
// group's older snapshots. load_latest() returns the newest snapshot of a group whose checksum
// holds; a damaged newest file is an error (it names the file), not a silent fall-back.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "core/base/expected.h"
#include "core/base/ids.h"
#include "core/raft/types.h"
#include "core/storage/disk.h"

namespace grape::storage {

struct SnapshotError {
  DiskErrorCode disk_code = DiskErrorCode::kIo;
  bool corrupt = false;
  std::string message;  // names the file
};

class SnapshotStore {
 public:
  SnapshotStore(Disk& disk, std::string dir) : disk_(&disk), dir_(std::move(dir)) {}

  [[nodiscard]] Status<SnapshotError> save(GroupId group, const raft::Snapshot& snapshot);
  // The group's newest snapshot, or nullptr when it has none.
  [[nodiscard]] Expected<std::shared_ptr<const raft::Snapshot>, SnapshotError> load_latest(
      GroupId group);

  // Removes every snapshot file of these groups (their replicas left the node), then syncs the
  // directory. Call it only once the log's record of their going is durable.
  [[nodiscard]] Status<SnapshotError> remove_all(const std::set<GroupId>& groups);

  const std::string& dir() const { return dir_; }

 private:
  Disk* disk_;
  std::string dir_;
};

std::string snapshot_file_name(GroupId group, LogIndex index);
// Encoding and decoding, exposed for tests and tools.
Bytes encode_snapshot_file(GroupId group, const raft::Snapshot& snapshot);
[[nodiscard]] Expected<raft::Snapshot, std::string> decode_snapshot_file(
    std::span<const std::byte> bytes, GroupId group);

}  // namespace grape::storage
