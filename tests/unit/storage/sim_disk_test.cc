#include "sim/sim_disk.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/bytes.h"
#include "core/base/rng.h"
#include "core/storage/disk.h"

namespace grape::sim {
namespace {

using storage::DiskErrorCode;
using storage::File;
using storage::OpenMode;

constexpr const char* kDir = "data";
constexpr const char* kPath = "data/f";

std::unique_ptr<File> open_file(SimDisk& disk, const std::string& path, OpenMode mode) {
  auto file = disk.open(path, mode);
  EXPECT_TRUE(file.has_value()) << (file ? "" : file.error().detail);
  return file ? std::move(*file) : nullptr;
}

void write_text(File& file, uint64_t offset, std::string_view text) {
  const Bytes bytes = to_bytes(text);
  ASSERT_TRUE(file.write(offset, bytes).is_ok());
}

// The current content of `path`, or "<missing>".
std::string content(SimDisk& disk, const std::string& path) {
  auto data = storage::read_all(disk, path);
  if (!data) return "<missing>";
  return to_string(*data);
}

// A directory holding one file, durable (name and data) with `text`.
void make_durable_file(SimDisk& disk, std::string_view text) {
  ASSERT_TRUE(disk.make_dir(kDir).is_ok());
  auto file = open_file(disk, kPath, OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  write_text(*file, 0, text);
  ASSERT_TRUE(file->sync().is_ok());
  ASSERT_TRUE(disk.sync_dir(kDir).is_ok());
  disk.complete_syncs();
  ASSERT_FALSE(disk.has_pending_syncs());
}

TEST(SimDisk, SyncedDataSurvivesCrash) {
  SimDisk disk;
  make_durable_file(disk, "durable");
  Rng rng(1);

  disk.crash(DiskCrashFault::kLoseUnsynced, rng);

  EXPECT_EQ(content(disk, kPath), "durable");
}

TEST(SimDisk, UnsyncedWriteIsLostAtCrash) {
  SimDisk disk;
  make_durable_file(disk, "durable");
  auto file = open_file(disk, kPath, OpenMode::kExisting);
  write_text(*file, 7, " and more");
  EXPECT_EQ(content(disk, kPath), "durable and more");  // reads see the page cache
  Rng rng(1);

  disk.crash(DiskCrashFault::kLoseUnsynced, rng);

  EXPECT_EQ(content(disk, kPath), "durable");
}

// fdatasync was asked for but the world never completed it: the bytes are not durable yet.
TEST(SimDisk, SyncNotYetCompletedIsLostAtCrash) {
  SimDisk disk;
  make_durable_file(disk, "durable");
  auto file = open_file(disk, kPath, OpenMode::kExisting);
  write_text(*file, 0, "DURABLE!");
  ASSERT_TRUE(file->sync().is_ok());
  EXPECT_TRUE(disk.has_pending_syncs());
  Rng rng(1);

  disk.crash(DiskCrashFault::kLoseUnsynced, rng);

  EXPECT_FALSE(disk.has_pending_syncs());
  EXPECT_EQ(content(disk, kPath), "durable");
}

// Two sync requests complete in order; a later truncate that is synced shrinks the durable file.
TEST(SimDisk, CompletedSyncsApplyWritesAndTruncatesInOrder) {
  SimDisk disk;
  make_durable_file(disk, "0123456789");
  auto file = open_file(disk, kPath, OpenMode::kExisting);
  write_text(*file, 10, "abcdef");
  ASSERT_TRUE(file->sync().is_ok());
  ASSERT_TRUE(file->truncate(12).is_ok());
  ASSERT_TRUE(file->sync().is_ok());
  write_text(*file, 12, "XY");  // never synced
  disk.complete_syncs();
  Rng rng(1);

  disk.crash(DiskCrashFault::kLoseUnsynced, rng);

  EXPECT_EQ(content(disk, kPath), "0123456789ab");
}

TEST(SimDisk, NewFileWhoseDirectoryWasNeverSyncedDisappearsAtCrash) {
  SimDisk disk;
  make_durable_file(disk, "old");
  auto fresh = open_file(disk, "data/new", OpenMode::kCreate);
  write_text(*fresh, 0, "new data");
  ASSERT_TRUE(fresh->sync().is_ok());  // the data is durable, the name is not
  disk.complete_syncs();
  ASSERT_EQ(disk.list(kDir).value(), (std::vector<std::string>{"f", "new"}));
  Rng rng(1);

  disk.crash(DiskCrashFault::kLoseUnsynced, rng);

  EXPECT_EQ(disk.list(kDir).value(), (std::vector<std::string>{"f"}));
  auto reopened = disk.open("data/new", OpenMode::kExisting);
  ASSERT_FALSE(reopened.has_value());
  EXPECT_EQ(reopened.error().code, DiskErrorCode::kNotFound);
}

TEST(SimDisk, NewFileSurvivesOnceItsDirectoryIsSynced) {
  SimDisk disk;
  ASSERT_TRUE(disk.make_dir(kDir).is_ok());
  auto fresh = open_file(disk, kPath, OpenMode::kCreate);
  write_text(*fresh, 0, "data");
  ASSERT_TRUE(fresh->sync().is_ok());
  ASSERT_TRUE(disk.sync_dir(kDir).is_ok());
  disk.complete_syncs();
  Rng rng(1);

  disk.crash(DiskCrashFault::kLoseUnsynced, rng);

  EXPECT_EQ(content(disk, kPath), "data");
}

TEST(SimDisk, RenameIsDurableOnlyAfterSyncDir) {
  SimDisk disk;
  make_durable_file(disk, "payload");
  Rng rng(1);

  ASSERT_TRUE(disk.rename(kPath, "data/g").is_ok());
  EXPECT_EQ(content(disk, "data/g"), "payload");
  EXPECT_EQ(content(disk, kPath), "<missing>");
  disk.crash(DiskCrashFault::kLoseUnsynced, rng);
  EXPECT_EQ(content(disk, kPath), "payload") << "the rename was never made durable";
  EXPECT_EQ(content(disk, "data/g"), "<missing>");

  ASSERT_TRUE(disk.rename(kPath, "data/g").is_ok());
  ASSERT_TRUE(disk.sync_dir(kDir).is_ok());
  disk.crash(DiskCrashFault::kLoseUnsynced, rng);  // sync_dir asked for, never completed
  EXPECT_EQ(content(disk, kPath), "payload");
  EXPECT_EQ(content(disk, "data/g"), "<missing>");

  ASSERT_TRUE(disk.rename(kPath, "data/g").is_ok());
  ASSERT_TRUE(disk.sync_dir(kDir).is_ok());
  disk.complete_syncs();
  disk.crash(DiskCrashFault::kLoseUnsynced, rng);
  EXPECT_EQ(content(disk, kPath), "<missing>");
  EXPECT_EQ(content(disk, "data/g"), "payload");
}

TEST(SimDisk, RemoveIsDurableOnlyAfterSyncDir) {
  SimDisk disk;
  make_durable_file(disk, "payload");
  Rng rng(1);

  ASSERT_TRUE(disk.remove(kPath).is_ok());
  EXPECT_EQ(content(disk, kPath), "<missing>");
  disk.crash(DiskCrashFault::kLoseUnsynced, rng);
  EXPECT_EQ(content(disk, kPath), "payload");

  ASSERT_TRUE(disk.remove(kPath).is_ok());
  ASSERT_TRUE(disk.sync_dir(kDir).is_ok());
  disk.complete_syncs();
  disk.crash(DiskCrashFault::kLoseUnsynced, rng);
  EXPECT_EQ(content(disk, kPath), "<missing>");
  EXPECT_TRUE(disk.list(kDir).value().empty());
}

TEST(SimDisk, HandlesFromBeforeCrashFail) {
  SimDisk disk;
  make_durable_file(disk, "durable");
  auto old = open_file(disk, kPath, OpenMode::kExisting);
  Rng rng(1);

  disk.crash(DiskCrashFault::kLoseUnsynced, rng);

  const Bytes bytes = to_bytes("x");
  auto written = old->write(0, bytes);
  ASSERT_FALSE(written.is_ok());
  EXPECT_EQ(written.error().code, DiskErrorCode::kIo);
  EXPECT_NE(written.error().detail.find("after a crash"), std::string::npos)
      << written.error().detail;
  Bytes out(4);
  EXPECT_FALSE(old->read(0, out).has_value());
  EXPECT_FALSE(old->sync().is_ok());
  EXPECT_FALSE(old->truncate(0).is_ok());
  EXPECT_FALSE(old->preallocate(100).is_ok());
  EXPECT_EQ(content(disk, kPath), "durable") << "the failed write must not reach the file";

  auto fresh = open_file(disk, kPath, OpenMode::kExisting);
  ASSERT_NE(fresh, nullptr);
  EXPECT_TRUE(fresh->write(0, bytes).is_ok());
  EXPECT_EQ(content(disk, kPath), "xurable");
}

// A torn write keeps a strict, non-empty prefix of the last unsynced write on top of what was
// durable; nothing else of it.
TEST(SimDisk, TornWriteKeepsAPrefixOfTheLastWrite) {
  const std::string durable = "durable|";
  const std::string tail = "0123456789abcdefghijklmnopqrstuvwxyz";
  size_t shortest = tail.size();
  size_t longest = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SimDisk disk;
    make_durable_file(disk, durable);
    auto file = open_file(disk, kPath, OpenMode::kExisting);
    write_text(*file, durable.size(), tail);
    Rng rng(seed);

    const std::string what = disk.crash(DiskCrashFault::kTornWrite, rng);

    const std::string now = content(disk, kPath);
    ASSERT_GT(now.size(), durable.size()) << "seed " << seed;
    ASSERT_LT(now.size(), durable.size() + tail.size()) << "seed " << seed;
    EXPECT_EQ(now, (durable + tail).substr(0, now.size())) << "seed " << seed;
    EXPECT_NE(what.find("torn write"), std::string::npos) << what;
    shortest = std::min(shortest, now.size() - durable.size());
    longest = std::max(longest, now.size() - durable.size());
  }
  EXPECT_LT(shortest, longest) << "the tear point should depend on the seed";
}

TEST(SimDisk, CorruptFlipsExactlyOneBitOfDurableData) {
  const std::string text = "some durable bytes";
  SimDisk disk;
  make_durable_file(disk, text);
  Rng rng(3);

  const std::string what = disk.crash(DiskCrashFault::kCorrupt, rng);

  const std::string now = content(disk, kPath);
  ASSERT_EQ(now.size(), text.size());
  int flipped_bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    flipped_bits += __builtin_popcount(
        static_cast<unsigned>(static_cast<uint8_t>(now[i]) ^ static_cast<uint8_t>(text[i])));
  }
  EXPECT_EQ(flipped_bits, 1);
  EXPECT_NE(what.find("corrupt"), std::string::npos) << what;
}

TEST(SimDisk, FullFailsWritesAndEioFailsEverything) {
  SimDisk disk;
  make_durable_file(disk, "durable");
  auto file = open_file(disk, kPath, OpenMode::kExisting);
  const Bytes bytes = to_bytes("x");

  disk.set_full(true);
  auto full_write = file->write(0, bytes);
  ASSERT_FALSE(full_write.is_ok());
  EXPECT_EQ(full_write.error().code, DiskErrorCode::kFull);
  auto full_prealloc = file->preallocate(1 << 20);
  ASSERT_FALSE(full_prealloc.is_ok());
  EXPECT_EQ(full_prealloc.error().code, DiskErrorCode::kFull);
  EXPECT_TRUE(file->sync().is_ok()) << "a full disk can still sync what it holds";
  EXPECT_EQ(content(disk, kPath), "durable");
  disk.set_full(false);

  disk.set_eio(true);
  auto eio_write = file->write(0, bytes);
  ASSERT_FALSE(eio_write.is_ok());
  EXPECT_EQ(eio_write.error().code, DiskErrorCode::kIo);
  Bytes out(4);
  EXPECT_FALSE(file->read(0, out).has_value());
  EXPECT_FALSE(file->sync().is_ok());
  EXPECT_FALSE(disk.open(kPath, OpenMode::kExisting).has_value());
  EXPECT_FALSE(disk.list(kDir).has_value());
  EXPECT_FALSE(disk.sync_dir(kDir).is_ok());
  disk.set_eio(false);

  EXPECT_EQ(content(disk, kPath), "durable");
  EXPECT_TRUE(file->write(0, bytes).is_ok());
  EXPECT_EQ(content(disk, kPath), "xurable");
}

TEST(SimDisk, OpenReportsMissingFilesAndDirectories) {
  SimDisk disk;
  auto no_dir = disk.open("nowhere/f", OpenMode::kCreate);
  ASSERT_FALSE(no_dir.has_value());
  EXPECT_EQ(no_dir.error().code, DiskErrorCode::kNotFound);
  ASSERT_TRUE(disk.make_dir(kDir).is_ok());
  auto missing = disk.open(kPath, OpenMode::kExisting);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, DiskErrorCode::kNotFound);
  EXPECT_NE(missing.error().detail.find(kPath), std::string::npos) << missing.error().detail;
  auto listing = disk.list("nowhere");
  ASSERT_FALSE(listing.has_value());
  EXPECT_EQ(listing.error().code, DiskErrorCode::kNotFound);
}

}  // namespace
}  // namespace grape::sim
