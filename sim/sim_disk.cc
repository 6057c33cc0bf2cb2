#include "sim/sim_disk.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <variant>

namespace grape::sim {

using storage::DiskError;
using storage::DiskErrorCode;

struct SimDisk::Inode {
  std::vector<std::byte> data;     // what reads see
  std::vector<std::byte> durable;  // what a crash leaves
  // The range changed since the last sync request.
  uint64_t dirty_lo = std::numeric_limits<uint64_t>::max();
  uint64_t dirty_hi = 0;

  void touch(uint64_t lo, uint64_t hi) {
    dirty_lo = std::min(dirty_lo, lo);
    dirty_hi = std::max(dirty_hi, hi);
  }
};

struct PendingSync {
  std::shared_ptr<SimDisk::Inode> inode;
  uint64_t size;
  uint64_t lo;
  std::vector<std::byte> bytes;
};
struct PendingDir {
  std::string dir;
  std::map<std::string, std::shared_ptr<SimDisk::Inode>> names;
};

namespace {
std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}
}  // namespace

// The queued syncs live here rather than in the header, to keep it light.
struct SimDiskPending {
  // In the order they were asked for: a process issues them one after another.
  std::vector<std::variant<PendingSync, PendingDir>> ops;
};

class SimDisk::SimFile final : public storage::File {
 public:
  SimFile(SimDisk& disk, std::shared_ptr<Inode> inode, std::string path)
      : disk_(&disk), inode_(std::move(inode)), path_(std::move(path)), epoch_(disk.epoch_) {}

  Status<DiskError> write(uint64_t offset, std::span<const std::byte> data) override {
    if (auto dead = check("write"); !dead) return dead;
    if (disk_->full_) return Unexpected(disk_->error(DiskErrorCode::kFull, "write", path_));
    if (disk_->eio_) return Unexpected(disk_->error(DiskErrorCode::kIo, "write", path_));
    auto& d = inode_->data;
    if (d.size() < offset + data.size()) d.resize(offset + data.size());
    if (!data.empty()) std::memcpy(d.data() + offset, data.data(), data.size());
    inode_->touch(offset, offset + data.size());
    disk_->last_write_inode_ = inode_;
    disk_->last_write_offset_ = offset;
    disk_->last_write_bytes_ = data.size();
    return Status<DiskError>::ok();
  }

  Expected<size_t, DiskError> read(uint64_t offset, std::span<std::byte> out) override {
    if (auto dead = check("read"); !dead) return Unexpected(dead.error());
    if (disk_->eio_) return Unexpected(disk_->error(DiskErrorCode::kIo, "read", path_));
    const auto& d = inode_->data;
    if (offset >= d.size()) return size_t{0};
    const size_t n = std::min<size_t>(out.size(), d.size() - offset);
    std::memcpy(out.data(), d.data() + offset, n);
    return n;
  }

  uint64_t size() const override { return inode_->data.size(); }

  Status<DiskError> sync() override {
    if (auto dead = check("fdatasync"); !dead) return dead;
    if (disk_->eio_) return Unexpected(disk_->error(DiskErrorCode::kIo, "fdatasync", path_));
    Inode& in = *inode_;
    PendingSync p{inode_, in.data.size(), 0, {}};
    if (in.dirty_lo < in.dirty_hi) {
      const uint64_t hi = std::min<uint64_t>(in.dirty_hi, in.data.size());
      if (in.dirty_lo < hi) {
        p.lo = in.dirty_lo;
        p.bytes.assign(in.data.begin() + static_cast<ptrdiff_t>(in.dirty_lo),
                       in.data.begin() + static_cast<ptrdiff_t>(hi));
      }
    }
    in.dirty_lo = std::numeric_limits<uint64_t>::max();
    in.dirty_hi = 0;
    disk_->pending_->ops.emplace_back(std::move(p));
    return Status<DiskError>::ok();
  }

  Status<DiskError> truncate(uint64_t size) override {
    if (auto dead = check("ftruncate"); !dead) return dead;
    if (disk_->eio_) return Unexpected(disk_->error(DiskErrorCode::kIo, "ftruncate", path_));
    const uint64_t old = inode_->data.size();
    inode_->data.resize(size);
    inode_->touch(std::min(old, size), std::max(old, size));
    return Status<DiskError>::ok();
  }

  Status<DiskError> preallocate(uint64_t) override {
    if (auto dead = check("fallocate"); !dead) return dead;
    if (disk_->full_) return Unexpected(disk_->error(DiskErrorCode::kFull, "fallocate", path_));
    return Status<DiskError>::ok();
  }

 private:
  Status<DiskError> check(const char* what) const {
    if (epoch_ != disk_->epoch_) {
      return Unexpected(disk_->error(DiskErrorCode::kIo, std::string(what) + " after a crash", path_));
    }
    return Status<DiskError>::ok();
  }

  SimDisk* disk_;
  std::shared_ptr<Inode> inode_;
  std::string path_;
  uint64_t epoch_;
};

SimDisk::SimDisk() : pending_(std::make_unique<SimDiskPending>()) {}
SimDisk::~SimDisk() = default;

DiskError SimDisk::error(DiskErrorCode code, const std::string& what,
                         const std::string& path) const {
  const char* why = code == DiskErrorCode::kFull       ? "no space left on device"
                    : code == DiskErrorCode::kNotFound ? "no such file or directory"
                                                       : "input/output error";
  return DiskError{code, what + " " + path + ": " + why};
}

Expected<std::unique_ptr<storage::File>, DiskError> SimDisk::open(const std::string& path,
                                                                 storage::OpenMode mode) {
  if (eio_) return Unexpected(error(DiskErrorCode::kIo, "open", path));
  auto it = names_.find(path);
  if (it == names_.end()) {
    if (mode == storage::OpenMode::kExisting) {
      return Unexpected(error(DiskErrorCode::kNotFound, "open", path));
    }
    if (std::find(dirs_.begin(), dirs_.end(), parent_of(path)) == dirs_.end()) {
      return Unexpected(error(DiskErrorCode::kNotFound, "create", path));
    }
    it = names_.emplace(path, std::make_shared<Inode>()).first;
  }
  return std::unique_ptr<storage::File>(std::make_unique<SimFile>(*this, it->second, path));
}

Expected<std::vector<std::string>, DiskError> SimDisk::list(const std::string& dir) {
  if (eio_) return Unexpected(error(DiskErrorCode::kIo, "readdir", dir));
  if (std::find(dirs_.begin(), dirs_.end(), dir) == dirs_.end()) {
    return Unexpected(error(DiskErrorCode::kNotFound, "readdir", dir));
  }
  std::vector<std::string> out;
  for (const auto& [path, inode] : names_) {
    if (parent_of(path) == dir) out.push_back(path.substr(dir.size() + 1));
  }
  return out;  // std::map: sorted
}

Status<DiskError> SimDisk::make_dir(const std::string& dir) {
  if (std::find(dirs_.begin(), dirs_.end(), dir) == dirs_.end()) {
    if (eio_) return Unexpected(error(DiskErrorCode::kIo, "mkdir", dir));
    dirs_.push_back(dir);
  }
  return Status<DiskError>::ok();
}

Status<DiskError> SimDisk::rename(const std::string& from, const std::string& to) {
  if (eio_) return Unexpected(error(DiskErrorCode::kIo, "rename", from));
  auto it = names_.find(from);
  if (it == names_.end()) return Unexpected(error(DiskErrorCode::kNotFound, "rename", from));
  auto inode = it->second;
  names_.erase(it);
  names_[to] = std::move(inode);
  return Status<DiskError>::ok();
}

Status<DiskError> SimDisk::remove(const std::string& path) {
  if (eio_) return Unexpected(error(DiskErrorCode::kIo, "unlink", path));
  if (names_.erase(path) == 0) return Unexpected(error(DiskErrorCode::kNotFound, "unlink", path));
  return Status<DiskError>::ok();
}

Status<DiskError> SimDisk::sync_dir(const std::string& dir) {
  if (eio_) return Unexpected(error(DiskErrorCode::kIo, "fsync", dir));
  PendingDir p{dir, {}};
  for (const auto& [path, inode] : names_) {
    if (parent_of(path) == dir) p.names.emplace(path, inode);
  }
  pending_->ops.emplace_back(std::move(p));
  return Status<DiskError>::ok();
}

void SimDisk::complete(size_t count) {
  count = std::min(count, pending_->ops.size());
  for (size_t i = 0; i < count; ++i) {
    if (auto* sync = std::get_if<PendingSync>(&pending_->ops[i])) {
      auto& durable = sync->inode->durable;
      durable.resize(sync->size);
      if (!sync->bytes.empty()) {
        const uint64_t n =
            std::min<uint64_t>(sync->bytes.size(), sync->size > sync->lo ? sync->size - sync->lo : 0);
        std::memcpy(durable.data() + sync->lo, sync->bytes.data(), n);
      }
    } else {
      auto& dir = std::get<PendingDir>(pending_->ops[i]);
      for (auto it = durable_names_.begin(); it != durable_names_.end();) {
        it = parent_of(it->first) == dir.dir ? durable_names_.erase(it) : std::next(it);
      }
      durable_names_.insert(dir.names.begin(), dir.names.end());
    }
  }
  pending_->ops.erase(pending_->ops.begin(),
                      pending_->ops.begin() + static_cast<std::ptrdiff_t>(count));
}

void SimDisk::complete_syncs() { complete(pending_->ops.size()); }

bool SimDisk::has_pending_syncs() const { return !pending_->ops.empty(); }

std::string SimDisk::crash(DiskCrashFault fault, Rng& rng) {
  // The syncs asked for were issued one after another: the crash lands after some of them
  // completed (any prefix, perhaps none, perhaps all), never out of order. Code that publishes
  // a name before its data is durable loses the data here, as on a real disk.
  if (fault == DiskCrashFault::kPlain && !pending_->ops.empty()) {
    complete(rng.below(pending_->ops.size() + 1));
  }
  pending_->ops.clear();
  ++epoch_;
  std::string what;
  if (fault == DiskCrashFault::kTornWrite) {
    auto inode = last_write_inode_.lock();
    const bool already_durable =
        inode && last_write_offset_ + last_write_bytes_ <= inode->durable.size() &&
        std::memcmp(inode->durable.data() + last_write_offset_,
                    inode->data.data() + last_write_offset_, last_write_bytes_) == 0;
    if (inode && !already_durable && last_write_bytes_ > 1 &&
        last_write_offset_ <= inode->durable.size() &&
        last_write_offset_ + last_write_bytes_ <= inode->data.size()) {
      const uint64_t kept = 1 + rng.below(last_write_bytes_ - 1);
      auto& durable = inode->durable;
      if (durable.size() < last_write_offset_ + kept) durable.resize(last_write_offset_ + kept);
      std::memcpy(durable.data() + last_write_offset_, inode->data.data() + last_write_offset_,
                  kept);
      what = "torn write: " + std::to_string(kept) + " of " + std::to_string(last_write_bytes_) +
             " bytes of the last write reached the disk";
    }
  }
  if (fault == DiskCrashFault::kCorrupt) {
    std::vector<std::pair<std::string, std::shared_ptr<Inode>>> candidates;
    for (const auto& [path, inode] : durable_names_) {
      if (!inode->durable.empty()) candidates.emplace_back(path, inode);
    }
    if (!candidates.empty()) {
      auto& [path, inode] = candidates[rng.below(candidates.size())];
      const uint64_t offset = rng.below(inode->durable.size());
      const int bit = static_cast<int>(rng.below(8));
      inode->durable[offset] ^= std::byte{static_cast<uint8_t>(1u << bit)};
      what = "corrupt: bit " + std::to_string(bit) + " of byte " + std::to_string(offset) + " of " +
             path + " flipped";
    }
  }
  names_ = durable_names_;
  for (auto& [path, inode] : names_) {
    inode->data = inode->durable;
    inode->dirty_lo = std::numeric_limits<uint64_t>::max();
    inode->dirty_hi = 0;
  }
  last_write_inode_.reset();
  last_write_bytes_ = 0;
  return what;
}


}  // namespace grape::sim
