#include "net/posix_disk.h"

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/bytes.h"
#include "core/storage/disk.h"
#include "core/storage/wal.h"
#include "tests/unit/storage/wal_test_util.h"

namespace grape::net {
namespace {

using storage::DiskErrorCode;
using storage::OpenMode;
using storage::Wal;
using storage::WalOptions;
using storage::test::append;
using storage::test::capture;
using storage::test::LogState;
using storage::test::make_entries;
using storage::test::set_hard_state;

// A fresh directory under /tmp, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/grape-posix-disk-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<Wal> open_wal(PosixDisk& disk, const std::string& dir, WalOptions options) {
  auto wal = Wal::open(disk, dir, options);
  EXPECT_TRUE(wal.has_value()) << (wal ? std::string() : wal.error().message);
  if (!wal) return nullptr;
  return std::move(*wal);
}

void sync_wal(Wal& wal) {
  auto synced = wal.sync();
  ASSERT_TRUE(synced.is_ok()) << synced.error().detail;
}

TEST(PosixDisk, WalRoundTripOnARealDirectory) {
  std::string removed;
  {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty()) << "mkdtemp failed";
    removed = tmp.path();
    const std::string dir = tmp.path() + "/wal";  // Wal::open makes it
    const WalOptions options{.segment_bytes = 4096, .preallocate = true};
    PosixDisk disk;
    auto wal = open_wal(disk, dir, options);
    ASSERT_NE(wal, nullptr);
    for (uint64_t i = 1; i <= 30; ++i) {
      append(wal->group(GroupId(1)), make_entries(i, {1 + i / 10}, 300));
      if (i % 3 == 0) append(wal->group(GroupId(2)), make_entries(i / 3, {2}, 50));
      set_hard_state(wal->group(GroupId(1)), storage::test::hard_state(1 + i / 10, 1, i - 1));
      sync_wal(*wal);
    }
    append(wal->group(GroupId(1)), make_entries(29, {5, 5}));  // overwrite 29..30
    sync_wal(*wal);
    const LogState before = capture(*wal);
    const size_t segments = wal->segment_count();
    EXPECT_GE(segments, 2u);
    auto names = disk.list(dir);
    ASSERT_TRUE(names.has_value()) << names.error().detail;
    EXPECT_EQ(names->size(), segments);
    EXPECT_EQ(names->front(), storage::segment_name(1));

    wal.reset();
    wal = open_wal(disk, dir, options);
    ASSERT_NE(wal, nullptr);

    ASSERT_EQ(capture(*wal), before);
    EXPECT_EQ(wal->segment_count(), segments);
    EXPECT_EQ(wal->group(GroupId(1)).last_index(), LogIndex(30));
    EXPECT_EQ(wal->group(GroupId(1)).term(LogIndex(30)), Term(5));
    EXPECT_EQ(wal->group(GroupId(2)).last_index(), LogIndex(10));
    // Preallocation keeps the logical size: no zeros for replay to skip or cut.
    auto scan = storage::scan_wal(disk, dir);
    ASSERT_TRUE(scan.has_value()) << scan.error().message;
    EXPECT_FALSE(scan->torn_tail.has_value());
    EXPECT_FALSE(scan->corruption.has_value());
    for (const auto& seg : scan->segments) {
      auto file = disk.open(seg.file, OpenMode::kExisting);
      ASSERT_TRUE(file.has_value());
      EXPECT_EQ((*file)->size(), seg.bytes) << seg.file;
    }

    // The reopened log goes on, and compaction deletes real files.
    wal->group(GroupId(1)).mark_snapshot(LogIndex(30), Term(5));
    wal->group(GroupId(2)).mark_snapshot(LogIndex(10), Term(2));
    sync_wal(*wal);
    EXPECT_EQ(wal->segment_count(), 1u);
    EXPECT_EQ(disk.list(dir).value().size(), 1u);
    const LogState compacted = capture(*wal);
    wal.reset();
    wal = open_wal(disk, dir, options);
    ASSERT_NE(wal, nullptr);
    ASSERT_EQ(capture(*wal), compacted);
    EXPECT_EQ(wal->group(GroupId(1)).first_index(), LogIndex(31));
  }
  EXPECT_FALSE(std::filesystem::exists(removed)) << removed;
}

TEST(PosixDisk, FilesNamesAndErrors) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  PosixDisk disk;
  const std::string a = tmp.path() + "/a";
  const std::string b = tmp.path() + "/b";

  auto missing = disk.open(a, OpenMode::kExisting);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, DiskErrorCode::kNotFound);
  EXPECT_NE(missing.error().detail.find(a), std::string::npos);

  auto file = disk.open(a, OpenMode::kCreate);
  ASSERT_TRUE(file.has_value()) << file.error().detail;
  const Bytes hello = to_bytes("hello world");
  ASSERT_TRUE((*file)->write(0, hello).is_ok());
  ASSERT_TRUE((*file)->preallocate(1 << 16).is_ok());
  EXPECT_EQ((*file)->size(), hello.size()) << "preallocation keeps the size";
  ASSERT_TRUE((*file)->sync().is_ok());
  ASSERT_TRUE((*file)->truncate(5).is_ok());
  EXPECT_EQ((*file)->size(), 5u);
  ASSERT_TRUE(disk.sync_dir(tmp.path()).is_ok());
  file->reset();

  ASSERT_TRUE(disk.rename(a, b).is_ok());
  EXPECT_EQ(disk.list(tmp.path()).value(), (std::vector<std::string>{"b"}));
  auto content = storage::read_all(disk, b);
  ASSERT_TRUE(content.has_value());
  EXPECT_EQ(to_string(*content), "hello");
  ASSERT_TRUE(disk.make_dir(tmp.path()).is_ok()) << "an existing directory is fine";
  ASSERT_TRUE(disk.remove(b).is_ok());
  EXPECT_TRUE(disk.list(tmp.path()).value().empty());
  auto again = disk.remove(b);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.error().code, DiskErrorCode::kNotFound);
}

// zero_fill_bytes keeps zeros written ahead of the log (the real node's setting): the file is
// longer than the log, reopening reads the zeros as its end, and appends go on from there.
TEST(PosixDisk, WalZeroFillReopensAndAppendsAfterTheData) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty()) << "mkdtemp failed";
  const std::string dir = tmp.path() + "/wal";
  const WalOptions options{.segment_bytes = 1 << 20, .preallocate = false, .zero_fill_bytes = 8192};
  PosixDisk disk;
  auto wal = open_wal(disk, dir, options);
  ASSERT_NE(wal, nullptr);
  for (uint64_t i = 1; i <= 20; ++i) {
    append(wal->group(GroupId(1)), make_entries(i, {1}, 100));
    sync_wal(*wal);
  }
  const LogState before = capture(*wal);
  wal.reset();
  auto scan = storage::scan_wal(disk, dir);
  ASSERT_TRUE(scan.has_value()) << scan.error().message;
  ASSERT_EQ(scan->segments.size(), 1u);
  {
    auto file = disk.open(scan->segments[0].file, OpenMode::kExisting);
    ASSERT_TRUE(file.has_value());
    EXPECT_GT((*file)->size(), scan->segments[0].bytes) << "zeros written ahead";
  }
  EXPECT_FALSE(scan->torn_tail.has_value()) << "trailing zeros are the end, not a torn record";
  EXPECT_FALSE(scan->corruption.has_value());

  wal = open_wal(disk, dir, options);
  ASSERT_NE(wal, nullptr);
  ASSERT_EQ(capture(*wal), before);
  append(wal->group(GroupId(1)), make_entries(21, {2}, 100));
  sync_wal(*wal);
  const LogState after = capture(*wal);
  wal.reset();
  wal = open_wal(disk, dir, options);
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(capture(*wal), after);
  EXPECT_EQ(wal->group(GroupId(1)).last_index(), LogIndex(21));
}

}  // namespace
}  // namespace grape::net
