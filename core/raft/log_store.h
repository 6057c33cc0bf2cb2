#pragma once
// LogStore: the durable half of a Raft log, as the Raft core reads it. The driver writes to it
// while handling a Ready (entries, then hard state, then sync); the core only reads, and keeps the
// entries not yet persisted in its own unstable buffer (see RaftLog). MemoryLogStore is the
// in-memory implementation; the write-ahead log (core/storage) implements the same interface.
//
// Indexes: entries are held for [first_index(), last_index()]; term(first_index() - 1) is the term
// of the entry just before them (0 for an empty, never-compacted log, whose first index is 1).

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "core/base/expected.h"
#include "core/raft/types.h"

namespace grape::raft {

enum class StoreErrorCode : uint8_t { kIo, kFull };
struct StoreError {
  StoreErrorCode code = StoreErrorCode::kIo;
  std::string detail;
};

class LogStore {
 public:
  virtual ~LogStore() = default;

  virtual HardState hard_state() const = 0;
  virtual LogIndex first_index() const = 0;
  virtual LogIndex last_index() const = 0;
  // Valid for [first_index() - 1, last_index()].
  virtual Term term(LogIndex index) const = 0;
  // Appends entries [lo, hi) to `out`, stopping early once `max_bytes` of data is gathered (at
  // least one entry is always returned when lo < hi). Valid for first_index() <= lo <= hi <=
  // last_index() + 1.
  virtual void entries(LogIndex lo, LogIndex hi, size_t max_bytes, std::vector<Entry>& out) const = 0;

  // Writes. `entries` must be contiguous and start at or below last_index() + 1: any stored suffix
  // from entries.front().index on is replaced (a leader overwrote it).
  [[nodiscard]] virtual Status<StoreError> append(std::span<const Entry> entries) = 0;
  [[nodiscard]] virtual Status<StoreError> set_hard_state(const HardState& state) = 0;
};

// Everything in memory: the Raft core's unit tests sit on it, and the write-ahead log keeps each
// group's in-memory index in one (storage::GroupLog), adding the records that make it durable.
class MemoryLogStore final : public LogStore {
 public:
  MemoryLogStore();

  HardState hard_state() const override { return hard_state_; }
  LogIndex first_index() const override { return snapshot_index_.next(); }
  LogIndex last_index() const override { return snapshot_index_ + entries_.size(); }
  Term term(LogIndex index) const override;
  void entries(LogIndex lo, LogIndex hi, size_t max_bytes, std::vector<Entry>& out) const override;

  Status<StoreError> append(std::span<const Entry> entries) override;
  Status<StoreError> set_hard_state(const HardState& state) override;

  // A snapshot at (index, term) is stored: drop the entries it covers (compaction), or all of
  // them if the log does not hold (index, term) (a snapshot from the leader). As the write-ahead
  // log's GroupLog::mark_snapshot.
  // A mark at the current snapshot index only names its term (a write-ahead-log replay closes a
  // hole left by deleted segments that way).
  void mark_snapshot(LogIndex index, Term term);
  // Drops the entries from `from` on (above the snapshot).
  void truncate_from(LogIndex from);
  // Appends one entry at last_index() + 1, moving it (replay of a large log).
  void push(Entry entry);

  // Direct read access for checkers and tests.
  const Entry& entry(LogIndex index) const;

 private:
  HardState hard_state_;
  LogIndex snapshot_index_;
  Term snapshot_term_;
  std::vector<Entry> entries_;  // entries_[i] holds snapshot_index_ + 1 + i
};

}  // namespace grape::raft
