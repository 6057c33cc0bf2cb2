#include "core/storage/wal.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/ids.h"
#include "core/base/rng.h"
#include "core/raft/types.h"
#include "core/storage/disk.h"
#include "sim/sim_disk.h"
#include "tests/unit/storage/wal_test_util.h"

namespace grape::storage {
namespace {

using sim::DiskCrashFault;
using sim::SimDisk;
using test::append;
using test::capture;
using test::crash;
using test::hard_state;
using test::kWalDir;
using test::LogState;
using test::make_entries;
using test::open_wal;
using test::segment_path;
using test::set_hard_state;
using test::sync_durably;

constexpr GroupId kG1{1};
constexpr GroupId kG2{2};
constexpr GroupId kG3{7};

std::vector<uint64_t> terms_of(GroupLog& log) {
  std::vector<uint64_t> out;
  for (LogIndex i = log.first_index(); i <= log.last_index(); i = i.next()) {
    out.push_back(log.term(i).value);
  }
  return out;
}

WalScan scan(Disk& disk) {
  auto result = scan_wal(disk, kWalDir);
  EXPECT_TRUE(result.has_value()) << (result ? std::string() : result.error().message);
  return result ? *result : WalScan{};
}

// --- round trip -------------------------------------------------------------------------------

TEST(WalRecovery, RoundTripRestoresEveryGroupAfterCrash) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->segment_count(), 0u);
  append(wal->group(kG1), make_entries(1, {1, 1, 2}));
  append(wal->group(kG2), make_entries(1, {3}, 100));
  set_hard_state(wal->group(kG1), hard_state(2, 1, 2));
  sync_durably(*wal, disk);
  append(wal->group(kG1), make_entries(4, {2, 2}, 0));  // empty data: a leader's no-op
  append(wal->group(kG3), make_entries(1, {5, 5, 5, 6}, 1000));
  set_hard_state(wal->group(kG2), hard_state(3, 2, 1));
  set_hard_state(wal->group(kG3), hard_state(6, 7, 3));
  set_hard_state(wal->group(kG1), hard_state(2, 1, 5));
  sync_durably(*wal, disk);
  const LogState before = capture(*wal);
  EXPECT_EQ(wal->stats().syncs, 2u);
  EXPECT_EQ(wal->stats().entries_written, 10u);
  EXPECT_EQ(wal->segment_count(), 1u);

  crash(wal, disk);
  std::optional<WalScan::Damage> repaired;
  wal = open_wal(disk, {}, &repaired);
  ASSERT_NE(wal, nullptr);

  EXPECT_FALSE(repaired.has_value());
  EXPECT_EQ(wal->groups(), (std::vector<GroupId>{kG1, kG2, kG3}));
  ASSERT_EQ(capture(*wal), before);
  GroupLog& g1 = wal->group(kG1);
  EXPECT_EQ(g1.hard_state(), hard_state(2, 1, 5));
  EXPECT_EQ(g1.first_index(), LogIndex(1));
  EXPECT_EQ(g1.last_index(), LogIndex(5));
  EXPECT_EQ(terms_of(g1), (std::vector<uint64_t>{1, 1, 2, 2, 2}));
  EXPECT_EQ(wal->group(kG3).entry(LogIndex(4)), test::make_entry(4, 6, 1000));
  EXPECT_EQ(wal->group(kG2).term(LogIndex(0)), Term(0));
}

// The Wal object goes away without a crash (a clean stop): the same state comes back.
TEST(WalRecovery, ReopenWithoutCrashRestoresState) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1, 1}));
  set_hard_state(wal->group(kG1), hard_state(1, 1, 2));
  sync_durably(*wal, disk);
  const LogState before = capture(*wal);

  wal.reset();
  wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);

  ASSERT_EQ(capture(*wal), before);
  append(wal->group(kG1), make_entries(3, {1}));  // and the reopened log takes appends
  sync_durably(*wal, disk);
  const LogState after = capture(*wal);
  crash(wal, disk);
  wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  ASSERT_EQ(capture(*wal), after);
  EXPECT_EQ(wal->group(kG1).last_index(), LogIndex(3));
}

// A leader overwrote a suffix: the kTruncate record and the overlapping kEntries replay to the
// same log, whether the overwrite was synced on its own or in the batch of the entries it cut.
TEST(WalRecovery, OverlappingAppendReplacesSuffixAcrossReplay) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1, 1, 1, 1, 1}));
  sync_durably(*wal, disk);
  append(wal->group(kG1), make_entries(3, {2, 2}));  // cuts 3..5
  sync_durably(*wal, disk);
  append(wal->group(kG2), make_entries(1, {1, 1, 1}));
  append(wal->group(kG2), make_entries(2, {3}));  // same batch: cuts 2..3
  append(wal->group(kG2), make_entries(3, {3, 3}));
  sync_durably(*wal, disk);
  ASSERT_EQ(terms_of(wal->group(kG1)), (std::vector<uint64_t>{1, 1, 2, 2}));
  ASSERT_EQ(terms_of(wal->group(kG2)), (std::vector<uint64_t>{1, 3, 3, 3}));
  const LogState before = capture(*wal);

  crash(wal, disk);
  wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);

  ASSERT_EQ(capture(*wal), before);
  EXPECT_EQ(wal->group(kG1).last_index(), LogIndex(4));
  EXPECT_EQ(wal->group(kG1).entry(LogIndex(3)), test::make_entry(3, 2));
  const WalScan s = scan(disk);
  ASSERT_EQ(s.segments.size(), 1u);
  EXPECT_EQ(s.segments[0].records.at(RecordType::kTruncate), 2u);
}

// --- crashes ----------------------------------------------------------------------------------

TEST(WalRecovery, CrashBeforeSyncCompletesLosesExactlyTheUnsyncedBatch) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1, 1}));
  set_hard_state(wal->group(kG1), hard_state(1, 1, 1));
  sync_durably(*wal, disk);
  append(wal->group(kG2), make_entries(1, {1}));
  sync_durably(*wal, disk);
  const LogState durable = capture(*wal);
  // The next batch is written and its sync asked for, but the disk never completes it.
  append(wal->group(kG1), make_entries(3, {1, 1}));
  append(wal->group(kG2), make_entries(2, {1}));
  set_hard_state(wal->group(kG1), hard_state(1, 1, 4));
  ASSERT_TRUE(wal->sync().is_ok());
  ASSERT_TRUE(disk.has_pending_syncs());
  // And one more is only staged.
  append(wal->group(kG1), make_entries(5, {1}));
  ASSERT_TRUE(wal->has_staged());

  crash(wal, disk);
  std::optional<WalScan::Damage> repaired;
  wal = open_wal(disk, {}, &repaired);
  ASSERT_NE(wal, nullptr);

  ASSERT_EQ(capture(*wal), durable);
  EXPECT_FALSE(repaired.has_value()) << "losing whole unsynced writes leaves no torn tail";
}

// A batch that is one record, so that any tear of it (1 to all-but-one of its bytes) leaves a
// partial record for replay to cut. Its length (12 + 3 * 121 = 375) has a non-zero low byte, so
// even a one-byte tear is not mistaken for trailing zeros.
TEST(WalRecovery, TornTailIsCutReportedAndTheLogTakesNewAppends) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    SimDisk disk;
    auto wal = open_wal(disk);
    ASSERT_NE(wal, nullptr);
    append(wal->group(kG1), make_entries(1, {1, 1, 1}));
    set_hard_state(wal->group(kG1), hard_state(1, 1, 3));
    sync_durably(*wal, disk);
    const LogState durable = capture(*wal);
    const uint64_t synced_bytes = test::file_size(disk, segment_path(1));
    const auto batch = make_entries(4, {1, 1, 1}, 100);
    ASSERT_EQ(test::entries_payload_bytes(batch), 375u);
    append(wal->group(kG1), batch);
    ASSERT_TRUE(wal->sync().is_ok());  // written, never completed

    const std::string what = crash(wal, disk, DiskCrashFault::kTornWrite, seed);
    ASSERT_NE(what.find("torn write"), std::string::npos) << what;
    const uint64_t torn_size = test::file_size(disk, segment_path(1));
    ASSERT_GT(torn_size, synced_bytes);
    ASSERT_LT(torn_size, synced_bytes + record_bytes(375));
    std::optional<WalScan::Damage> repaired;
    wal = open_wal(disk, {}, &repaired);
    ASSERT_NE(wal, nullptr);

    ASSERT_TRUE(repaired.has_value());
    EXPECT_EQ(repaired->file, segment_path(1));
    EXPECT_EQ(repaired->offset, synced_bytes);
    EXPECT_EQ(repaired->bytes, torn_size - synced_bytes);
    EXPECT_FALSE(repaired->reason.empty());
    ASSERT_EQ(capture(*wal), durable);
    EXPECT_EQ(test::file_size(disk, segment_path(1)), synced_bytes) << "the tail is cut off";

    // The repaired log takes new appends where the torn batch was, and they survive a crash.
    append(wal->group(kG1), make_entries(4, {2, 2}));
    set_hard_state(wal->group(kG1), hard_state(2, 1, 5));
    sync_durably(*wal, disk);
    const LogState after = capture(*wal);
    crash(wal, disk);
    repaired.reset();
    wal = open_wal(disk, {}, &repaired);
    ASSERT_NE(wal, nullptr);
    EXPECT_FALSE(repaired.has_value());
    ASSERT_EQ(capture(*wal), after);
    EXPECT_EQ(terms_of(wal->group(kG1)), (std::vector<uint64_t>{1, 1, 1, 2, 2}));
  }
}

// A torn batch of two records: replay keeps a prefix of the batch in record order (never the
// hard state without the entries before it), and the log always opens.
TEST(WalRecovery, TornMultiRecordBatchKeepsAPrefixOfItsRecords) {
  int torn = 0;
  int entries_kept = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    SimDisk disk;
    auto wal = open_wal(disk);
    ASSERT_NE(wal, nullptr);
    append(wal->group(kG1), make_entries(1, {1}));
    set_hard_state(wal->group(kG1), hard_state(1, 1, 1));
    sync_durably(*wal, disk);
    const LogState durable = capture(*wal);
    append(wal->group(kG1), make_entries(2, {1, 1}, 30));
    LogState with_entries = capture(*wal);
    set_hard_state(wal->group(kG1), hard_state(1, 1, 3));
    ASSERT_TRUE(wal->sync().is_ok());

    crash(wal, disk, DiskCrashFault::kTornWrite, seed);
    std::optional<WalScan::Damage> repaired;
    wal = open_wal(disk, {}, &repaired);
    ASSERT_NE(wal, nullptr);

    const LogState now = capture(*wal);
    EXPECT_TRUE(now == durable || now == with_entries);
    torn += repaired.has_value();
    entries_kept += now == with_entries;
  }
  EXPECT_GT(torn, 0);
  EXPECT_GT(entries_kept, 0);
}

// The groups that hold anything: the random test touches groups (creating them empty) without
// always writing to them, and an empty group leaves nothing in the log to come back from.
LogState nonempty(const LogState& state) {
  const test::GroupState empty{raft::HardState{}, LogIndex(1), LogIndex(0), Term(0), {}};
  LogState out;
  for (const auto& [id, group] : state) {
    if (group != empty) out.emplace(id, group);
  }
  return out;
}

// Random appends (some overwriting a suffix), hard states, snapshot marks (local compactions
// and leaders' snapshots), syncs completed, not completed or failed on a full disk, and crashes
// that lose or tear unsynced writes, on tiny segments so that rolls and deletions happen all the
// time. After a crash that loses unsynced writes the log is exactly what it was at the last
// completed sync; after a torn write it is one of the states the log passed through since (a
// prefix of the torn batch, record by record), and stays so across the next crash.
TEST(WalRecovery, RandomOperationsReplayToTheLastCompletedSync) {
  const WalOptions options{.segment_bytes = 256, .preallocate = false};
  const GroupId groups[] = {kG1, kG2, kG3};
  uint64_t crashes = 0;
  uint64_t segments_created = 0;
  uint64_t segments_deleted = 0;
  uint64_t torn_kept_some = 0;  // torn crashes that kept part of an unsynced batch
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    SimDisk disk;
    auto wal = open_wal(disk, options);
    ASSERT_NE(wal, nullptr);
    LogState durable = nonempty(capture(*wal));
    std::vector<LogState> since_durable;  // the states after each change since `durable`
    std::map<GroupId, uint64_t> max_term;
    for (int step = 0; step < 150; ++step) {
      const GroupId id = groups[rng.below(3)];
      GroupLog& g = wal->group(id);
      uint64_t& term = max_term[id];
      const uint64_t first = g.first_index().value;
      const uint64_t last = g.last_index().value;
      const uint64_t op = rng.below(8);
      switch (op) {
        case 0:
        case 1:
        case 2: {  // append, overwriting a suffix one time in four
          uint64_t at = last + 1;
          if (last >= first && rng.below(4) == 0) at = first + rng.below(last - first + 1);
          if (rng.below(3) == 0) ++term;
          std::vector<raft::Entry> batch;
          const uint64_t n = 1 + rng.below(4);
          for (uint64_t k = 0; k < n; ++k) {
            batch.push_back(test::make_entry(at + k, std::max<uint64_t>(term, 1), rng.below(40)));
          }
          if (at <= last) {  // the kTruncate record alone is a state a torn write can leave
            LogState cut = capture(*wal);
            auto& entries = cut[id].entries;
            entries.resize(at - first);
            cut[id].last_index = LogIndex(at - 1);
            since_durable.push_back(nonempty(cut));
          }
          append(g, batch);
          break;
        }
        case 3:
          set_hard_state(g, hard_state(term, rng.below(4), rng.below(last + 1)));
          break;
        case 4:
          if (rng.below(3) == 0) {  // a leader's snapshot beyond this log
            ++term;
            g.mark_snapshot(LogIndex(last + 1 + rng.below(4)), Term(term));
          } else if (last >= first) {  // local compaction of a prefix
            const LogIndex at(first + rng.below(last - first + 1));
            g.mark_snapshot(at, g.term(at));
          }
          break;
        case 5:
        case 6:
          if (rng.below(5) == 0) disk.set_full(!disk.full());
          if (disk.full()) {
            const bool staged = wal->has_staged();
            auto r = wal->sync();
            ASSERT_EQ(r.is_ok(), !staged);
            if (staged) {
              ASSERT_EQ(r.error().code, raft::StoreErrorCode::kFull);
            }
          } else if (rng.below(4) == 0) {
            ASSERT_TRUE(wal->sync().is_ok());  // asked for, not completed (yet)
          } else {
            sync_durably(*wal, disk);
            durable = nonempty(capture(*wal));
            since_durable.clear();
          }
          break;
        case 7: {
          segments_created += wal->stats().segments_created;
          segments_deleted += wal->stats().segments_deleted;
          const bool torn = rng.below(2) == 0;
          crash(wal, disk, torn ? DiskCrashFault::kTornWrite : DiskCrashFault::kLoseUnsynced,
                rng.next_u64());
          ++crashes;
          wal = open_wal(disk, options);
          ASSERT_NE(wal, nullptr) << "step " << step;
          if (torn) {
            const LogState now = nonempty(capture(*wal));
            bool seen = now == durable;
            for (const LogState& state : since_durable) seen = seen || now == state;
            ASSERT_TRUE(seen) << "step " << step << ": a state the log never passed through";
            torn_kept_some += now != durable;
            durable = now;
            sync_durably(*wal, disk);
            crash(wal, disk);
            wal = open_wal(disk, options);
            ASSERT_NE(wal, nullptr) << "step " << step;
          }
          ASSERT_EQ(nonempty(capture(*wal)), durable) << "step " << step;
          since_durable.clear();
          for (const auto& [gid, state] : durable) {
            uint64_t& t = max_term[gid];
            for (const raft::Entry& e : state.entries) t = std::max(t, e.term.value);
            t = std::max({t, state.snapshot_term.value, state.hard_state.term.value});
          }
          break;
        }
      }
      if (op <= 4) since_durable.push_back(nonempty(capture(*wal)));
    }
    disk.set_full(false);
    sync_durably(*wal, disk);
    const LogState final_state = nonempty(capture(*wal));
    crash(wal, disk);
    wal = open_wal(disk, options);
    ASSERT_NE(wal, nullptr);
    ASSERT_EQ(nonempty(capture(*wal)), final_state);
  }
  EXPECT_GT(crashes, 1000u);
  EXPECT_GT(segments_created, 1000u);
  EXPECT_GT(segments_deleted, 100u);
  EXPECT_GT(torn_kept_some, 10u);
  RecordProperty("segments_deleted", std::to_string(segments_deleted));
  RecordProperty("torn_kept_some", std::to_string(torn_kept_some));
}

// --- corruption -------------------------------------------------------------------------------

// Segment 1 holds: header | entries 1..2 | entries 3..4 | hard state. Flipping a bit inside the
// second record must stop the start: it is synced data with synced data after it.
TEST(WalRecovery, CorruptMiddleRecordFailsOpenNamingFileAndOffset) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1, 1}));
  sync_durably(*wal, disk);
  const uint64_t second_record = test::file_size(disk, segment_path(1));
  append(wal->group(kG1), make_entries(3, {1, 1}));
  sync_durably(*wal, disk);
  set_hard_state(wal->group(kG1), hard_state(1, 1, 4));
  sync_durably(*wal, disk);
  const uint64_t size = test::file_size(disk, segment_path(1));
  crash(wal, disk);

  test::flip_bit(disk, segment_path(1), second_record + 20, 3);  // inside the payload
  auto opened = Wal::open(disk, kWalDir);

  ASSERT_FALSE(opened.has_value());
  EXPECT_TRUE(opened.error().corrupt);
  EXPECT_NE(opened.error().message.find(segment_path(1)), std::string::npos)
      << opened.error().message;
  EXPECT_NE(opened.error().message.find("offset " + std::to_string(second_record)),
            std::string::npos)
      << opened.error().message;
  EXPECT_EQ(test::file_size(disk, segment_path(1)), size) << "a failed open changes nothing";
}

// The same through SimDisk's own fault: a crash that flips one durable bit. Whatever bit it
// picks, the log refuses to start rather than replay damaged or truncated synced data.
TEST(WalRecovery, CrashCorruptionOfDurableLogIsDetected) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    SimDisk disk;
    auto wal = open_wal(disk);
    ASSERT_NE(wal, nullptr);
    append(wal->group(kG1), make_entries(1, {1, 1}));
    set_hard_state(wal->group(kG1), hard_state(1, 1, 2));
    sync_durably(*wal, disk);
    append(wal->group(kG2), make_entries(1, {1}));
    sync_durably(*wal, disk);

    const std::string what = crash(wal, disk, DiskCrashFault::kCorrupt, seed);
    ASSERT_NE(what.find("flipped"), std::string::npos) << what;
    auto opened = Wal::open(disk, kWalDir);

    ASSERT_FALSE(opened.has_value()) << what;
    EXPECT_TRUE(opened.error().corrupt);
    EXPECT_NE(opened.error().message.find("offset"), std::string::npos);
  }
}

// Every single-bit flip anywhere in a synced log is corruption, never a torn tail.
TEST(WalRecovery, EveryBitFlipOfASyncedLogIsCorruption) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1}));
  set_hard_state(wal->group(kG1), hard_state(1, 1, 1));
  sync_durably(*wal, disk);
  append(wal->group(kG1), make_entries(2, {1}));
  sync_durably(*wal, disk);
  crash(wal, disk);
  const uint64_t size = test::file_size(disk, segment_path(1));

  for (uint64_t offset = 0; offset < size; ++offset) {
    for (int bit = 0; bit < 8; ++bit) {
      test::flip_bit(disk, segment_path(1), offset, bit);
      const WalScan s = scan(disk);
      ASSERT_TRUE(s.corruption.has_value()) << "byte " << offset << " bit " << bit;
      ASSERT_FALSE(s.torn_tail.has_value()) << "byte " << offset << " bit " << bit;
      auto opened = Wal::open(disk, kWalDir);
      ASSERT_FALSE(opened.has_value()) << "byte " << offset << " bit " << bit;
      ASSERT_TRUE(opened.error().corrupt);
      test::flip_bit(disk, segment_path(1), offset, bit);
    }
  }
  EXPECT_NE(open_wal(disk), nullptr) << "flipped back, the log is whole again";
}

// A bit flip in the checksum of the last synced record: nothing follows it, but a crash never
// changes written bytes, so this is damage, not a torn tail to cut.
TEST(WalRecovery, FlippedChecksumOfLastRecordIsCorruptionNotTornTail) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1, 1}));
  sync_durably(*wal, disk);
  const uint64_t last_record = test::file_size(disk, segment_path(1));
  set_hard_state(wal->group(kG1), hard_state(1, 1, 2));
  sync_durably(*wal, disk);
  const uint64_t size = test::file_size(disk, segment_path(1));
  ASSERT_EQ(size - last_record, record_bytes(32));
  crash(wal, disk);

  test::flip_bit(disk, segment_path(1), size - 2, 5);
  const WalScan s = scan(disk);
  std::optional<WalScan::Damage> repaired;
  auto opened = Wal::open(disk, kWalDir, {}, &repaired);

  ASSERT_TRUE(s.corruption.has_value());
  EXPECT_FALSE(s.torn_tail.has_value());
  EXPECT_EQ(s.corruption->offset, last_record);
  ASSERT_FALSE(opened.has_value());
  EXPECT_TRUE(opened.error().corrupt);
  EXPECT_FALSE(repaired.has_value());
  EXPECT_EQ(test::file_size(disk, segment_path(1)), size) << "nothing was cut";
}

// --- segments ---------------------------------------------------------------------------------

TEST(WalSegments, SmallSegmentsRollAndReplayAcrossThem) {
  SimDisk disk;
  const WalOptions options{.segment_bytes = 200, .preallocate = true};
  auto wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);
  for (uint64_t i = 1; i <= 12; ++i) {
    append(wal->group(kG1), make_entries(i, {1 + i / 4}, 40));
    if (i % 2 == 0) append(wal->group(kG2), make_entries(i / 2, {1}, 10));
    set_hard_state(wal->group(kG1), hard_state(1 + i / 4, 1, i - 1));
    sync_durably(*wal, disk);
  }
  const LogState before = capture(*wal);
  const size_t segments = wal->segment_count();
  EXPECT_GE(segments, 4u);
  EXPECT_EQ(wal->stats().segments_created, segments);
  EXPECT_EQ(disk.list(kWalDir).value().size(), segments);

  crash(wal, disk);
  wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);

  ASSERT_EQ(capture(*wal), before);
  EXPECT_EQ(wal->segment_count(), segments);
  const WalScan s = scan(disk);
  ASSERT_EQ(s.segments.size(), segments);
  for (size_t i = 0; i < s.segments.size(); ++i) {
    EXPECT_EQ(s.segments[i].number, i + 1);
    EXPECT_EQ(s.segments[i].file, segment_path(i + 1));
    EXPECT_EQ(s.segments[i].records.at(RecordType::kSegmentHeader), 1u);
    if (i + 1 < s.segments.size()) {
      EXPECT_GE(s.segments[i].bytes, 200u);
    }
  }
  // The log goes on in the last segment, and a roll after a reopen numbers on.
  append(wal->group(kG1), make_entries(13, {9}, 300));
  sync_durably(*wal, disk);
  append(wal->group(kG1), make_entries(14, {9}));
  sync_durably(*wal, disk);
  EXPECT_GT(wal->segment_count(), segments);
  const LogState after = capture(*wal);
  const size_t segments_after = wal->segment_count();
  crash(wal, disk);
  wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);
  ASSERT_EQ(capture(*wal), after);
  EXPECT_EQ(scan(disk).segments.back().number, segments_after) << "numbered on from the last";
}

// Segments go once every group's snapshot covers their entries, oldest first, and what is left
// replays to the same logs, hard states and snapshot terms.
TEST(WalSegments, SegmentsCoveredByEveryGroupsSnapshotAreDeleted) {
  SimDisk disk;
  const WalOptions options{.segment_bytes = 200, .preallocate = false};
  auto wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);
  for (uint64_t i = 1; i <= 20; ++i) {
    append(wal->group(kG1), make_entries(i, {1 + i / 10}, 30));
    append(wal->group(kG2), make_entries(i, {2}, 30));
    set_hard_state(wal->group(kG1), hard_state(1 + i / 10, 1, i));
    set_hard_state(wal->group(kG2), hard_state(2, 2, i));
    sync_durably(*wal, disk);
  }
  ASSERT_GE(wal->segment_count(), 6u);

  // One group's snapshot is not enough: every segment also holds the other group's entries.
  wal->group(kG1).mark_snapshot(LogIndex(15), Term(2));
  sync_durably(*wal, disk);
  const size_t segments = wal->segment_count();
  EXPECT_EQ(wal->stats().segments_deleted, 0u);
  EXPECT_EQ(segments, wal->stats().segments_created);

  wal->group(kG2).mark_snapshot(LogIndex(12), Term(2));
  sync_durably(*wal, disk);
  const size_t left = wal->segment_count();
  EXPECT_LT(left, segments);
  EXPECT_EQ(wal->stats().segments_deleted, segments - left);
  EXPECT_EQ(disk.list(kWalDir).value().size(), left);
  EXPECT_EQ(wal->group(kG1).first_index(), LogIndex(16));
  EXPECT_EQ(wal->group(kG2).first_index(), LogIndex(13));
  const LogState before = capture(*wal);

  crash(wal, disk);
  wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);

  EXPECT_EQ(wal->segment_count(), left);
  ASSERT_EQ(capture(*wal), before);
  GroupLog& g1 = wal->group(kG1);
  EXPECT_EQ(g1.snapshot_index(), LogIndex(15));
  EXPECT_EQ(g1.term(LogIndex(15)), Term(2));
  EXPECT_EQ(g1.last_index(), LogIndex(20));
  EXPECT_EQ(g1.term(LogIndex(20)), Term(3));
  EXPECT_EQ(g1.hard_state(), hard_state(3, 1, 20));
  GroupLog& g2 = wal->group(kG2);
  EXPECT_EQ(g2.first_index(), LogIndex(13));
  EXPECT_EQ(g2.term(LogIndex(12)), Term(2));
  EXPECT_EQ(g2.last_index(), LogIndex(20));
  EXPECT_EQ(g2.hard_state(), hard_state(2, 2, 20));
  const WalScan s = scan(disk);
  EXPECT_FALSE(s.corruption.has_value());
  EXPECT_EQ(s.segments.front().number, segments - left + 1) << "the oldest went first";
}

// A group that only ever wrote hard states and snapshot marks does not pin old segments, and
// they survive the deletion through the next segment's header.
TEST(WalSegments, HardStateOnlyGroupSurvivesSegmentDeletion) {
  SimDisk disk;
  const WalOptions options{.segment_bytes = 200, .preallocate = false};
  auto wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);
  set_hard_state(wal->group(kG2), hard_state(4, 3, 0));
  wal->group(kG2).mark_snapshot(LogIndex(9), Term(4));
  for (uint64_t i = 1; i <= 10; ++i) {
    append(wal->group(kG1), make_entries(i, {1}, 60));
    sync_durably(*wal, disk);
  }
  ASSERT_GE(wal->segment_count(), 3u);
  wal->group(kG1).mark_snapshot(LogIndex(10), Term(1));
  sync_durably(*wal, disk);
  ASSERT_EQ(wal->segment_count(), 1u) << "everything but the current segment is covered";
  const LogState before = capture(*wal);

  crash(wal, disk);
  wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);

  ASSERT_EQ(capture(*wal), before);
  EXPECT_EQ(wal->group(kG2).hard_state(), hard_state(4, 3, 0));
  EXPECT_EQ(wal->group(kG2).first_index(), LogIndex(10));
  EXPECT_EQ(wal->group(kG2).term(LogIndex(9)), Term(4));
}

// Replay after a hole can hold entries that the writer had dropped: entries 11..15 (term 1) in a
// kept segment, then a leader's snapshot at 8 that the log did not hold (everything goes), then
// 9..20 of term 2, then a compaction at 12 that deletes segment 1. Replay restarts the group at
// 11, cannot apply the mark at 8 below it, and must let the kEntries record from 9 replace the
// stale 11..15 it overlaps.
TEST(WalSegments, EntriesReplaceStaleSuffixLeftByAReplayHole) {
  SimDisk disk;
  const WalOptions options{.segment_bytes = 200, .preallocate = false};
  auto wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);
  GroupLog& g = wal->group(kG1);
  append(g, make_entries(1, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
  sync_durably(*wal, disk);
  append(g, make_entries(11, {1, 1, 1, 1, 1}));
  sync_durably(*wal, disk);
  g.mark_snapshot(LogIndex(8), Term(2));  // (8, 2) is not held: the log empties
  append(g, make_entries(9, {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}));
  sync_durably(*wal, disk);
  g.mark_snapshot(LogIndex(12), Term(2));
  sync_durably(*wal, disk);
  ASSERT_EQ(wal->stats().segments_deleted, 1u);
  ASSERT_EQ(scan(disk).segments.front().number, 2u) << "11..15 of term 1 are still on disk";
  const LogState before = capture(*wal);
  ASSERT_EQ(g.last_index(), LogIndex(20));

  crash(wal, disk);
  wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);

  ASSERT_EQ(capture(*wal), before);
  EXPECT_EQ(terms_of(wal->group(kG1)), (std::vector<uint64_t>(8, 2)));
}

// Entries 1..10 of an old leader sit in segment 1, 11..15 in segment 2; then a new leader
// overwrites from 5 (a kTruncate in segment 3), and a snapshot at 10 lets segment 1 go. Replay
// without segment 1 starts the group at 11 (a hole that the snapshot mark closes later) and must
// take the truncate at 5 as "drop everything held", not as damage.
TEST(WalSegments, OverwriteBelowAReplayHoleReplaysAfterOldSegmentIsDeleted) {
  SimDisk disk;
  const WalOptions options{.segment_bytes = 200, .preallocate = false};
  auto wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);
  GroupLog& g = wal->group(kG1);
  append(g, make_entries(1, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
  sync_durably(*wal, disk);
  append(g, make_entries(11, {1, 1, 1, 1, 1}));
  sync_durably(*wal, disk);
  ASSERT_EQ(wal->segment_count(), 2u);
  append(g, make_entries(5, {2, 2, 2, 2, 2, 2, 2, 2}));  // 5..12, cutting 5..15
  sync_durably(*wal, disk);
  g.mark_snapshot(LogIndex(10), Term(2));
  sync_durably(*wal, disk);
  ASSERT_EQ(wal->stats().segments_deleted, 1u);
  ASSERT_EQ(scan(disk).segments.front().number, 2u);
  ASSERT_EQ(scan(disk).segments.at(1).records.at(RecordType::kTruncate), 1u) << "in segment 3";
  const LogState before = capture(*wal);
  ASSERT_EQ(terms_of(g), (std::vector<uint64_t>{2, 2}));

  crash(wal, disk);
  wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);

  ASSERT_EQ(capture(*wal), before);
  EXPECT_EQ(wal->group(kG1).first_index(), LogIndex(11));
  EXPECT_EQ(wal->group(kG1).last_index(), LogIndex(12));
}

// One batch rolls to a new segment and holds an overwrite at 3 and then a snapshot at 6 above
// it. The new segment's per-group records must not replay ahead of the batch they summarize.
TEST(WalSegments, RolledBatchWithOverwriteAndLaterSnapshotReplays) {
  SimDisk disk;
  const WalOptions options{.segment_bytes = 200, .preallocate = false};
  auto wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);
  GroupLog& g = wal->group(kG1);
  append(g, make_entries(1, {1, 1, 1, 1, 1}, 40));
  sync_durably(*wal, disk);
  ASSERT_EQ(wal->segment_count(), 1u);
  append(g, make_entries(3, {2, 2, 2, 2, 2}));  // 3..7, cutting 3..5
  g.mark_snapshot(LogIndex(6), Term(2));
  set_hard_state(g, hard_state(2, 1, 6));
  sync_durably(*wal, disk);
  ASSERT_EQ(wal->stats().segments_created, 2u) << "the batch went to a new segment";
  const LogState before = capture(*wal);

  crash(wal, disk);
  wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);

  ASSERT_EQ(capture(*wal), before);
  EXPECT_EQ(wal->group(kG1).first_index(), LogIndex(7));
  EXPECT_EQ(wal->group(kG1).last_index(), LogIndex(7));
}

// One batch rolls to a new segment and holds two snapshot marks: one received from a leader
// (the log does not hold it: everything goes) and a later local one. Entries that the first mark
// dropped must not come back on replay.
TEST(WalSegments, RolledBatchWithTwoSnapshotMarksReplaysTheFinalLog) {
  SimDisk disk;
  const WalOptions options{.segment_bytes = 200, .preallocate = false};
  auto wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);
  GroupLog& g = wal->group(kG1);
  append(g, make_entries(1, {1, 1, 1, 1, 1}, 40));
  sync_durably(*wal, disk);
  append(g, make_entries(6, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}));  // 6..15, term 1
  g.mark_snapshot(LogIndex(10), Term(2));  // a leader's snapshot: (10, 2) is not held
  append(g, make_entries(11, {2, 2}));
  g.mark_snapshot(LogIndex(12), Term(2));  // local compaction of all that is left
  sync_durably(*wal, disk);
  ASSERT_EQ(wal->stats().segments_created, 2u) << "the batch went to a new segment";
  ASSERT_EQ(g.first_index(), LogIndex(13));
  ASSERT_EQ(g.last_index(), LogIndex(12));
  const LogState before = capture(*wal);

  crash(wal, disk);
  wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);

  ASSERT_EQ(capture(*wal), before);
  EXPECT_EQ(wal->group(kG1).last_index(), LogIndex(12));
}

// --- disk faults ------------------------------------------------------------------------------

TEST(WalFaults, FullDiskFailsSyncKeepsLogConsistentAndRecovers) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1, 1}));
  set_hard_state(wal->group(kG1), hard_state(1, 1, 1));
  sync_durably(*wal, disk);
  const LogState durable = capture(*wal);
  const uint64_t size = test::file_size(disk, segment_path(1));

  disk.set_full(true);
  append(wal->group(kG1), make_entries(3, {1}));
  set_hard_state(wal->group(kG1), hard_state(1, 1, 3));
  auto failed = wal->sync();
  ASSERT_FALSE(failed.is_ok());
  EXPECT_EQ(failed.error().code, raft::StoreErrorCode::kFull);
  EXPECT_TRUE(wal->has_staged());
  append(wal->group(kG2), make_entries(1, {4}));  // more work arrives while full
  auto failed_again = wal->sync();
  ASSERT_FALSE(failed_again.is_ok());
  EXPECT_EQ(failed_again.error().code, raft::StoreErrorCode::kFull);
  EXPECT_EQ(wal->stats().failed_syncs, 2u);
  EXPECT_EQ(wal->stats().syncs, 1u);
  EXPECT_EQ(test::file_size(disk, segment_path(1)), size) << "a full disk took nothing";
  EXPECT_EQ(wal->group(kG1).last_index(), LogIndex(3)) << "the staged entries stay readable";

  disk.set_full(false);
  sync_durably(*wal, disk);
  EXPECT_FALSE(wal->has_staged());
  const LogState after = capture(*wal);
  EXPECT_NE(after, durable);
  crash(wal, disk);
  wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);

  ASSERT_EQ(capture(*wal), after);
  EXPECT_EQ(wal->group(kG1).last_index(), LogIndex(3));
  EXPECT_EQ(wal->group(kG1).hard_state(), hard_state(1, 1, 3));
  EXPECT_EQ(wal->group(kG2).last_index(), LogIndex(1));
}

// Full from the first write: the segment file is created, its first write fails; the retry
// writes the segment header and all, and the new segment is durable.
TEST(WalFaults, FullDiskAtTheFirstSegmentRecoversOnRetry) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  disk.set_full(true);
  append(wal->group(kG1), make_entries(1, {1}));
  auto failed = wal->sync();
  ASSERT_FALSE(failed.is_ok());
  EXPECT_EQ(failed.error().code, raft::StoreErrorCode::kFull);

  disk.set_full(false);
  sync_durably(*wal, disk);
  const LogState after = capture(*wal);
  crash(wal, disk);
  wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);

  ASSERT_EQ(capture(*wal), after);
  EXPECT_EQ(wal->segment_count(), 1u);
  EXPECT_EQ(scan(disk).segments.at(0).records.at(RecordType::kSegmentHeader), 1u);
}

// A crash while the disk is full: the staged batch is lost, the synced log is whole.
TEST(WalFaults, CrashWhileFullLeavesTheSyncedLog) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1, 1}));
  sync_durably(*wal, disk);
  const LogState durable = capture(*wal);
  disk.set_full(true);
  append(wal->group(kG1), make_entries(3, {1}));
  ASSERT_FALSE(wal->sync().is_ok());

  crash(wal, disk, DiskCrashFault::kTornWrite, 5);
  disk.set_full(false);
  std::optional<WalScan::Damage> repaired;
  wal = open_wal(disk, {}, &repaired);
  ASSERT_NE(wal, nullptr);

  ASSERT_EQ(capture(*wal), durable);
  EXPECT_FALSE(repaired.has_value());
}

TEST(WalFaults, EioMakesOpenFailCleanly) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1, 1}));
  sync_durably(*wal, disk);
  const LogState durable = capture(*wal);
  crash(wal, disk);

  disk.set_eio(true);
  auto opened = Wal::open(disk, kWalDir);
  ASSERT_FALSE(opened.has_value());
  EXPECT_FALSE(opened.error().corrupt);
  EXPECT_EQ(opened.error().disk_code, DiskErrorCode::kIo);
  EXPECT_NE(opened.error().message.find(kWalDir), std::string::npos) << opened.error().message;
  auto scanned = scan_wal(disk, kWalDir);
  ASSERT_FALSE(scanned.has_value());
  EXPECT_EQ(scanned.error().disk_code, DiskErrorCode::kIo);
  SimDisk fresh;
  fresh.set_eio(true);
  auto opened_fresh = Wal::open(fresh, kWalDir);
  ASSERT_FALSE(opened_fresh.has_value());
  EXPECT_FALSE(opened_fresh.error().corrupt);

  disk.set_eio(false);
  wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  ASSERT_EQ(capture(*wal), durable);
}

TEST(WalFaults, EioFailsSyncAndTheRetrySucceeds) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1}));
  sync_durably(*wal, disk);

  disk.set_eio(true);
  append(wal->group(kG1), make_entries(2, {1}));
  auto failed = wal->sync();
  ASSERT_FALSE(failed.is_ok());
  EXPECT_EQ(failed.error().code, raft::StoreErrorCode::kIo);
  disk.set_eio(false);
  sync_durably(*wal, disk);
  const LogState after = capture(*wal);

  crash(wal, disk);
  wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  ASSERT_EQ(capture(*wal), after);
  EXPECT_EQ(wal->group(kG1).last_index(), LogIndex(2));
}

// --- scan_wal -----------------------------------------------------------------------------------

TEST(WalScan, ReportsSegmentsRecordCountsAndGroups) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1, 1, 1, 1}));
  set_hard_state(wal->group(kG1), hard_state(1, 1, 2));
  append(wal->group(kG2), make_entries(1, {2, 2}));
  sync_durably(*wal, disk);
  append(wal->group(kG1), make_entries(3, {3}));  // a truncate and an entries record
  set_hard_state(wal->group(kG1), hard_state(3, 2, 3));
  wal->group(kG1).mark_snapshot(LogIndex(2), Term(1));
  sync_durably(*wal, disk);
  crash(wal, disk);

  const WalScan s = scan(disk);

  ASSERT_EQ(s.segments.size(), 1u);
  const WalScan::Segment& seg = s.segments[0];
  EXPECT_EQ(seg.file, segment_path(1));
  EXPECT_EQ(seg.number, 1u);
  EXPECT_EQ(seg.bytes, test::file_size(disk, segment_path(1)));
  // Three hard states: the two set, and the new segment's summary after the first batch.
  const std::map<RecordType, uint64_t> counts{{RecordType::kSegmentHeader, 1},
                                              {RecordType::kHardState, 3},
                                              {RecordType::kEntries, 3},
                                              {RecordType::kTruncate, 1},
                                              {RecordType::kSnapshot, 1}};
  EXPECT_EQ(seg.records, counts);
  EXPECT_EQ(s.records, 9u);
  EXPECT_FALSE(s.torn_tail.has_value());
  EXPECT_FALSE(s.corruption.has_value());
  ASSERT_EQ(s.groups.size(), 2u);
  const WalScan::Group& g1 = s.groups.at(kG1);
  EXPECT_EQ(g1.hard_state, hard_state(3, 2, 3));
  EXPECT_EQ(g1.snapshot_index, LogIndex(2));
  EXPECT_EQ(g1.snapshot_term, Term(1));
  EXPECT_EQ(g1.first_index, LogIndex(3));
  EXPECT_EQ(g1.last_index, LogIndex(3));
  EXPECT_EQ(g1.last_term, Term(3));
  EXPECT_EQ(g1.entries, 1u);
  const WalScan::Group& g2 = s.groups.at(kG2);
  EXPECT_EQ(g2.hard_state, raft::HardState{});
  EXPECT_EQ(g2.first_index, LogIndex(1));
  EXPECT_EQ(g2.last_index, LogIndex(2));
  EXPECT_EQ(g2.last_term, Term(2));
  EXPECT_EQ(g2.entries, 2u);
}

TEST(WalScan, ReportsEverySegmentOfARolledLog) {
  SimDisk disk;
  const WalOptions options{.segment_bytes = 200, .preallocate = false};
  auto wal = open_wal(disk, options);
  ASSERT_NE(wal, nullptr);
  for (uint64_t i = 1; i <= 8; ++i) {
    append(wal->group(kG1), make_entries(i, {1}, 120));
    sync_durably(*wal, disk);
  }
  const size_t segments = wal->segment_count();
  ASSERT_GE(segments, 3u);
  crash(wal, disk);

  const WalScan s = scan(disk);

  ASSERT_EQ(s.segments.size(), segments);
  uint64_t records = 0;
  uint64_t entries_records = 0;
  for (const WalScan::Segment& seg : s.segments) {
    EXPECT_EQ(seg.bytes, test::file_size(disk, seg.file));
    for (const auto& [type, n] : seg.records) records += n;
    if (seg.records.count(RecordType::kEntries))
      entries_records += seg.records.at(RecordType::kEntries);
  }
  EXPECT_EQ(records, s.records);
  EXPECT_EQ(entries_records, 8u);
  EXPECT_EQ(s.groups.at(kG1).last_index, LogIndex(8));
  EXPECT_EQ(s.groups.at(kG1).entries, 8u);
}

TEST(WalScan, ReportsTornTailWithoutCuttingIt) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1}));
  sync_durably(*wal, disk);
  const uint64_t synced = test::file_size(disk, segment_path(1));
  append(wal->group(kG1), make_entries(2, {1, 1, 1}, 100));  // one record of 375 payload bytes
  ASSERT_TRUE(wal->sync().is_ok());
  crash(wal, disk, DiskCrashFault::kTornWrite, 3);
  const uint64_t torn_size = test::file_size(disk, segment_path(1));
  ASSERT_GT(torn_size, synced);

  const WalScan s = scan(disk);

  ASSERT_TRUE(s.torn_tail.has_value());
  EXPECT_FALSE(s.corruption.has_value());
  EXPECT_EQ(s.torn_tail->file, segment_path(1));
  EXPECT_EQ(s.torn_tail->offset, synced);
  EXPECT_EQ(s.torn_tail->bytes, torn_size - synced);
  EXPECT_EQ(s.segments.at(0).bytes, synced);
  EXPECT_EQ(s.groups.at(kG1).last_index, LogIndex(1));
  EXPECT_EQ(test::file_size(disk, segment_path(1)), torn_size) << "scan cut nothing";
  EXPECT_FALSE(disk.has_pending_syncs()) << "scan synced nothing";
  const WalScan again = scan(disk);
  ASSERT_TRUE(again.torn_tail.has_value());
  EXPECT_EQ(again.torn_tail->bytes, s.torn_tail->bytes);

  // Opening cuts it; the next scan is clean.
  wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  EXPECT_FALSE(scan(disk).torn_tail.has_value());
}

TEST(WalScan, ReportsCorruptionWithoutChangingTheLog) {
  SimDisk disk;
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  append(wal->group(kG1), make_entries(1, {1}));
  sync_durably(*wal, disk);
  const uint64_t second = test::file_size(disk, segment_path(1));
  append(wal->group(kG1), make_entries(2, {1}));
  sync_durably(*wal, disk);
  append(wal->group(kG1), make_entries(3, {1}));
  sync_durably(*wal, disk);
  crash(wal, disk);
  test::flip_bit(disk, segment_path(1), second + 1, 6);  // the length of the second record
  const std::vector<std::byte> bytes = read_all(disk, segment_path(1)).value();

  const WalScan s = scan(disk);

  ASSERT_TRUE(s.corruption.has_value());
  EXPECT_FALSE(s.torn_tail.has_value());
  EXPECT_EQ(s.corruption->file, segment_path(1));
  EXPECT_EQ(s.corruption->offset, second);
  EXPECT_FALSE(s.corruption->reason.empty());
  EXPECT_EQ(s.segments.at(0).bytes, second);
  EXPECT_EQ(s.groups.at(kG1).last_index, LogIndex(1)) << "what precedes the damage";
  EXPECT_EQ(read_all(disk, segment_path(1)).value(), bytes);
  EXPECT_FALSE(disk.has_pending_syncs());
}

TEST(WalScan, EmptyOrMissingDirectoryHasNoSegments) {
  SimDisk disk;
  const WalScan missing = scan(disk);
  EXPECT_TRUE(missing.segments.empty());
  EXPECT_TRUE(missing.groups.empty());
  auto wal = open_wal(disk);
  ASSERT_NE(wal, nullptr);
  const WalScan empty = scan(disk);
  EXPECT_TRUE(empty.segments.empty());
  EXPECT_EQ(empty.records, 0u);
}

}  // namespace
}  // namespace grape::storage
