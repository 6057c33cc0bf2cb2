#pragma once
// Helpers for the write-ahead-log tests: entries with recognisable data, a capture of every
// group's state (what a restarted node would see) that tests compare before and after a crash,
// and short-hands for opening, syncing and crashing a log on a SimDisk.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/ids.h"
#include "core/base/rng.h"
#include "core/raft/types.h"
#include "core/storage/disk.h"
#include "core/storage/wal.h"
#include "sim/sim_disk.h"

namespace grape::storage::test {

// An entry whose data is derived from (index, term), `size` bytes long.
inline raft::Entry make_entry(uint64_t index, uint64_t term, size_t size = 8) {
  raft::Entry e;
  e.index = LogIndex(index);
  e.term = Term(term);
  e.data.resize(size);
  for (size_t i = 0; i < size; ++i) {
    e.data[i] = std::byte{static_cast<uint8_t>(index * 31 + term * 7 + i)};
  }
  return e;
}

// Entries first, first + 1, ... with the given terms.
inline std::vector<raft::Entry> make_entries(uint64_t first, std::initializer_list<uint64_t> terms,
                                             size_t size = 8) {
  std::vector<raft::Entry> out;
  uint64_t index = first;
  for (uint64_t term : terms) out.push_back(make_entry(index++, term, size));
  return out;
}

inline raft::HardState hard_state(uint64_t term, uint64_t vote, uint64_t commit) {
  return raft::HardState{Term(term), NodeId(vote), LogIndex(commit)};
}

// Everything a restarted node reads from one group's log.
struct GroupState {
  raft::HardState hard_state;
  LogIndex first_index;
  LogIndex last_index;
  Term snapshot_term;  // term(first_index - 1)
  std::vector<raft::Entry> entries;

  bool operator==(const GroupState&) const = default;
};

inline void PrintTo(const GroupState& s, std::ostream* out) {
  *out << "{hard_state " << s.hard_state << ", first " << s.first_index << ", last " << s.last_index
       << ", snapshot term " << s.snapshot_term << ", terms [";
  for (const raft::Entry& e : s.entries) *out << (&e == &s.entries.front() ? "" : " ") << e.term;
  *out << "]}";
}

using LogState = std::map<GroupId, GroupState>;

inline GroupState capture(const GroupLog& log) {
  GroupState s;
  s.hard_state = log.hard_state();
  s.first_index = log.first_index();
  s.last_index = log.last_index();
  s.snapshot_term = log.term(log.first_index().prev());
  log.entries(log.first_index(), log.last_index().next(), std::numeric_limits<size_t>::max(),
              s.entries);
  return s;
}

inline LogState capture(Wal& wal) {
  LogState state;
  for (GroupId id : wal.groups()) state[id] = capture(wal.group(id));
  return state;
}

inline constexpr const char* kWalDir = "wal";

inline std::string segment_path(uint64_t number) {
  return join_path(kWalDir, segment_name(number));
}

// Opens the log in kWalDir; null (and a test failure) if it does not open.
inline std::unique_ptr<Wal> open_wal(Disk& disk, WalOptions options = {},
                                     std::optional<WalScan::Damage>* repaired = nullptr) {
  auto wal = Wal::open(disk, kWalDir, options, repaired);
  EXPECT_TRUE(wal.has_value()) << (wal ? std::string() : wal.error().message);
  if (!wal) return nullptr;
  return std::move(*wal);
}

// sync() and let the simulated disk complete it: everything staged is durable.
inline void sync_durably(Wal& wal, sim::SimDisk& disk) {
  auto synced = wal.sync();
  ASSERT_TRUE(synced.is_ok()) << synced.error().detail;
  disk.complete_syncs();
}

inline void append(GroupLog& log, const std::vector<raft::Entry>& entries) {
  ASSERT_TRUE(log.append(entries).is_ok());
}

inline void set_hard_state(GroupLog& log, const raft::HardState& state) {
  ASSERT_TRUE(log.set_hard_state(state).is_ok());
}

// The process dies (its Wal with it) and the disk keeps what `fault` leaves.
inline std::string crash(std::unique_ptr<Wal>& wal, sim::SimDisk& disk,
                         sim::DiskCrashFault fault = sim::DiskCrashFault::kLoseUnsynced,
                         uint64_t seed = 1) {
  wal.reset();
  Rng rng(seed);
  return disk.crash(fault, rng);
}

// Flips one bit of a file through the Disk and makes the change durable (a bad sector).
inline void flip_bit(sim::SimDisk& disk, const std::string& path, uint64_t offset, int bit = 0) {
  auto file = disk.open(path, OpenMode::kExisting);
  ASSERT_TRUE(file.has_value()) << file.error().detail;
  std::byte b{};
  auto n = (*file)->read(offset, std::span<std::byte>(&b, 1));
  ASSERT_TRUE(n.has_value());
  ASSERT_EQ(*n, 1u) << "offset " << offset << " is past the end of " << path;
  b ^= std::byte{static_cast<uint8_t>(1u << bit)};
  ASSERT_TRUE((*file)->write(offset, std::span<const std::byte>(&b, 1)).is_ok());
  ASSERT_TRUE((*file)->sync().is_ok());
  disk.complete_syncs();
}

inline uint64_t file_size(Disk& disk, const std::string& path) {
  auto file = disk.open(path, OpenMode::kExisting);
  EXPECT_TRUE(file.has_value());
  return file ? (*file)->size() : 0;
}

// The payload of a kEntries record holding `entries`.
inline uint64_t entries_payload_bytes(const std::vector<raft::Entry>& entries) {
  uint64_t bytes = 8 + 4;
  for (const raft::Entry& e : entries) bytes += 8 + 8 + 1 + 4 + e.data.size();
  return bytes;
}

}  // namespace grape::storage::test
