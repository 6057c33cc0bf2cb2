#pragma once
// PosixDisk: the Disk of a real node. pwrite/pread on file descriptors, fdatasync for File::sync,
// fsync of the directory for sync_dir, and fallocate(FALLOC_FL_KEEP_SIZE) for preallocation (the
// blocks are reserved, the logical size is unchanged, so readers never see preallocated zeros as
// data). Errors carry errno's text and the path.

#include <memory>
#include <string>
#include <vector>

#include "core/storage/disk.h"

namespace grape::net {

class PosixDisk final : public storage::Disk {
 public:
  Expected<std::unique_ptr<storage::File>, storage::DiskError> open(const std::string& path,
                                                                   storage::OpenMode mode) override;
  Expected<std::vector<std::string>, storage::DiskError> list(const std::string& dir) override;
  Status<storage::DiskError> make_dir(const std::string& dir) override;
  Status<storage::DiskError> rename(const std::string& from, const std::string& to) override;
  Status<storage::DiskError> remove(const std::string& path) override;
  Status<storage::DiskError> sync_dir(const std::string& dir) override;
};

}  // namespace grape::net
