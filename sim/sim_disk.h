#pragma once
// SimDisk: the simulator's disk, on which each simulated node runs the real write-ahead log.
// It keeps what was written apart from what is durable, as a kernel's page cache does:
//   - File::write changes the file's current bytes; File::sync() asks for them to become durable,
//     which they do when the world completes the sync (complete_syncs(), after the scenario's
//     sync latency): a crash before that loses them.
//   - Names (create, rename, remove) become durable with sync_dir() likewise.
//   - Sync requests complete in the order they were made; a crash lands after any prefix of the
//     pending ones (none, some or all): durable, if not yet acknowledged, as on a real disk.
// At a crash (crash()), the durable state is what survives, shaped by the fault armed for it:
//   kPlain         the pending syncs completed up to a random point (see above);
//   kLoseUnsynced  none of them completed: everything not yet durable is lost;
//   kTornWrite     none completed, but a random prefix of the last write survives as well;
//   kCorrupt       none completed, and one bit of durable data flips (a bad sector, firmware).
// While `full` every write and preallocation fails with kFull; while `eio` writes, syncs and
// reads fail with kIo. Directories are durable once made (the node's data dir predates it).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/rng.h"
#include "core/storage/disk.h"

namespace grape::sim {

struct SimDiskPending;

enum class DiskCrashFault : uint8_t { kPlain, kLoseUnsynced, kTornWrite, kCorrupt };

class SimDisk final : public storage::Disk {
 public:
  SimDisk();
  ~SimDisk() override;

  Expected<std::unique_ptr<storage::File>, storage::DiskError> open(const std::string& path,
                                                                   storage::OpenMode mode) override;
  Expected<std::vector<std::string>, storage::DiskError> list(const std::string& dir) override;
  Status<storage::DiskError> make_dir(const std::string& dir) override;
  Status<storage::DiskError> rename(const std::string& from, const std::string& to) override;
  Status<storage::DiskError> remove(const std::string& path) override;
  Status<storage::DiskError> sync_dir(const std::string& dir) override;

  // The syncs asked for since the last call become durable (the world calls this when the
  // latency of the sync has passed).
  void complete_syncs();
  bool has_pending_syncs() const;
  // The process died: open files become invalid; only durable state survives. Returns a line for
  // the trace describing what the fault did (empty when nothing notable happened).
  std::string crash(DiskCrashFault fault, Rng& rng);

  void set_full(bool full) { full_ = full; }
  void set_eio(bool eio) { eio_ = eio; }
  bool full() const { return full_; }
  bool eio() const { return eio_; }


  struct Inode;
  class SimFile;

 private:
  friend class SimFile;
  void complete(size_t count);  // the oldest `count` pending syncs become durable
  storage::DiskError error(storage::DiskErrorCode code, const std::string& what,
                           const std::string& path) const;

  std::map<std::string, std::shared_ptr<Inode>> names_;          // current namespace
  std::map<std::string, std::shared_ptr<Inode>> durable_names_;  // what a crash leaves
  std::vector<std::string> dirs_;
  std::unique_ptr<SimDiskPending> pending_;  // syncs asked for, not yet completed
  uint64_t epoch_ = 0;  // bumped at each crash: file handles of the dead process stop working
  bool full_ = false;
  bool eio_ = false;
  // The most recent write, for torn writes.
  std::weak_ptr<Inode> last_write_inode_;
  uint64_t last_write_offset_ = 0;
  uint64_t last_write_bytes_ = 0;
};

}  // namespace grape::sim
