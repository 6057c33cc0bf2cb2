#include "net/posix_disk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace grape::net {

using storage::DiskError;
using storage::DiskErrorCode;

namespace {

DiskError from_errno(int err, const std::string& call, const std::string& path) {
  DiskErrorCode code = DiskErrorCode::kIo;
  if (err == ENOSPC || err == EDQUOT) code = DiskErrorCode::kFull;
  if (err == ENOENT) code = DiskErrorCode::kNotFound;
  return DiskError{code, call + " " + path + ": " + std::strerror(err)};
}

class PosixFile final : public storage::File {
 public:
  PosixFile(int fd, std::string path, uint64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Status<DiskError> write(uint64_t offset, std::span<const std::byte> data) override {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done,
                                 static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Unexpected(from_errno(errno, "pwrite", path_));
      }
      done += static_cast<size_t>(n);
    }
    size_ = std::max(size_, offset + data.size());
    return Status<DiskError>::ok();
  }

  Expected<size_t, DiskError> read(uint64_t offset, std::span<std::byte> out) override {
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n =
          ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Unexpected(from_errno(errno, "pread", path_));
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

  uint64_t size() const override { return size_; }

  Status<DiskError> sync() override {
    if (::fdatasync(fd_) != 0) return Unexpected(from_errno(errno, "fdatasync", path_));
    return Status<DiskError>::ok();
  }

  Status<DiskError> truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return Unexpected(from_errno(errno, "ftruncate", path_));
    }
    size_ = size;
    return Status<DiskError>::ok();
  }

  Status<DiskError> preallocate(uint64_t bytes) override {
    if (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(bytes)) != 0) {
      // Filesystems without fallocate (tmpfs before 3.5, some FUSE): a hint, not a requirement.
      if (errno == EOPNOTSUPP || errno == ENOSYS) return Status<DiskError>::ok();
      return Unexpected(from_errno(errno, "fallocate", path_));
    }
    return Status<DiskError>::ok();
  }

 private:
  int fd_;
  std::string path_;
  uint64_t size_;
};

}  // namespace

Expected<std::unique_ptr<storage::File>, DiskError> PosixDisk::open(const std::string& path,
                                                                   storage::OpenMode mode) {
  int flags = O_RDWR | O_CLOEXEC;
  if (mode == storage::OpenMode::kCreate) flags |= O_CREAT;
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return Unexpected(from_errno(errno, "open", path));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Unexpected(from_errno(err, "fstat", path));
  }
  return std::unique_ptr<storage::File>(
      std::make_unique<PosixFile>(fd, path, static_cast<uint64_t>(st.st_size)));
}

Expected<std::vector<std::string>, DiskError> PosixDisk::list(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Unexpected(from_errno(errno, "opendir", dir));
  std::vector<std::string> out;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Status<DiskError> PosixDisk::make_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Unexpected(from_errno(errno, "mkdir", dir));
  }
  return Status<DiskError>::ok();
}

Status<DiskError> PosixDisk::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return Unexpected(from_errno(errno, "rename", from));
  return Status<DiskError>::ok();
}

Status<DiskError> PosixDisk::remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return Unexpected(from_errno(errno, "unlink", path));
  return Status<DiskError>::ok();
}

Status<DiskError> PosixDisk::sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Unexpected(from_errno(errno, "open", dir));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Unexpected(from_errno(err, "fsync", dir));
  return Status<DiskError>::ok();
}

}  // namespace grape::net
