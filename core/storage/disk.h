#pragma once
// Disk: the only way core/ reaches files. The write-ahead log and the snapshot files are written
// through it, so the same storage code runs on the real disk (net/posix_disk, pwrite + fdatasync)
// and on the simulator's faulty disk (sim/sim_disk, which loses unsynced bytes, tears writes and
// flips bits at a crash, and fails writes while full or failing).
//
// Durability contract, as POSIX gives it and SimDisk enforces it:
//   - File::write puts bytes in the page cache only; File::sync makes this file's data durable.
//   - Creating, renaming and removing a name is durable only after sync_dir() of its directory.
//     A new file therefore needs sync() and sync_dir() before it can be relied on, and the
//     "write to a temporary name, sync, rename, sync the directory" sequence publishes a file
//     atomically.
// Paths are plain strings; a directory path has no trailing '/'.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/base/expected.h"

namespace grape::storage {

enum class DiskErrorCode : uint8_t {
  kIo,        // EIO and anything unexpected: the operator must look
  kFull,      // ENOSPC / EDQUOT: may pass once space is freed
  kNotFound,  // ENOENT
};

struct DiskError {
  DiskErrorCode code = DiskErrorCode::kIo;
  std::string detail;  // names the file and the call, for logs and errors shown to people
};

const char* to_string(DiskErrorCode code);

class File {
 public:
  virtual ~File() = default;
  // pwrite: bytes land at `offset`, extending the file if needed.
  [[nodiscard]] virtual Status<DiskError> write(uint64_t offset, std::span<const std::byte> data) = 0;
  // pread: fills `out` from `offset`; returns how many bytes were read (fewer at the end).
  [[nodiscard]] virtual Expected<size_t, DiskError> read(uint64_t offset,
                                                         std::span<std::byte> out) = 0;
  // The logical size: one past the last byte written (preallocation does not count).
  virtual uint64_t size() const = 0;
  // fdatasync: this file's data is durable once it returns ok.
  [[nodiscard]] virtual Status<DiskError> sync() = 0;
  [[nodiscard]] virtual Status<DiskError> truncate(uint64_t size) = 0;
  // A hint that the file will grow to `bytes`: the real disk reserves the blocks so that later
  // writes neither fail for space mid-record nor pay for allocation in fdatasync.
  [[nodiscard]] virtual Status<DiskError> preallocate(uint64_t bytes) = 0;
};

enum class OpenMode : uint8_t { kExisting, kCreate };

class Disk {
 public:
  virtual ~Disk() = default;
  [[nodiscard]] virtual Expected<std::unique_ptr<File>, DiskError> open(const std::string& path,
                                                                      OpenMode mode) = 0;
  // Names in `dir` (no "." or ".."), sorted.
  [[nodiscard]] virtual Expected<std::vector<std::string>, DiskError> list(
      const std::string& dir) = 0;
  [[nodiscard]] virtual Status<DiskError> make_dir(const std::string& dir) = 0;  // ok if it exists
  [[nodiscard]] virtual Status<DiskError> rename(const std::string& from,
                                                 const std::string& to) = 0;
  [[nodiscard]] virtual Status<DiskError> remove(const std::string& path) = 0;
  [[nodiscard]] virtual Status<DiskError> sync_dir(const std::string& dir) = 0;
};

// Reads a whole file: for snapshots and tools.
[[nodiscard]] Expected<std::vector<std::byte>, DiskError> read_all(Disk& disk,
                                                                   const std::string& path);
inline std::string join_path(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

}  // namespace grape::storage
