#pragma once
// The write-ahead log: one per node, shared by every Raft group the node hosts (as TiKV's raft
// engine), written through the Disk interface so that the simulator runs this very code on its
// faulty disk.
//
// Files: DIR/<16 hex digits>.wal, one segment each, numbered from 1. A segment starts with a
// header record; its first write (the header, then the batch being synced) ends with every group's
// hard state and snapshot mark, so that a segment whose entries every group has compacted away can
// be deleted without losing anything.
//
// Record (little endian):   u32 length | u8 type | u24 check | payload[length] | u32 crc
//   check: the low 24 bits of CRC32C(length, type): a bit flip in a length is corruption, never
//          mistaken for a torn tail that would cut off synced records after it.
//   crc:   CRC32C of everything before it in the record.
// Payloads (every one but the segment header starts with the group id, u64):
//   kSegmentHeader: magic "GRAPEWAL", u32 version, u64 segment number
//   kHardState:     group, term, vote, commit
//   kEntries:       group, u32 count, count x (index, term, u8 type, u32 size, data): appended in
//                   order; the first must be at or below the group's last index + 1
//   kTruncate:      group, index: entries from `index` on are gone (a leader overwrote them);
//                   always directly followed by the kEntries that replace them
//   kSnapshot:      group, index, term: a snapshot covers the log up to `index`; entries at or
//                   below it are dropped (all of them, if the log does not hold (index, term))
//   kForget:        group, term, vote: the group's replica left this node; its entries and
//                   snapshot mark are gone, only its term and vote stay (a replica created here
//                   again must not vote twice in a term), and no earlier segment is kept for it
//
// Writes are staged (LogStore::append, set_hard_state, mark_snapshot) and made durable together
// by sync(): one write and one fdatasync for everything staged since the last sync, whatever the
// number of groups and Readies (group commit). A failed sync keeps everything staged and the next
// sync() writes it again at the same offset, so a full or failing disk never corrupts the log and
// the node recovers on its own once the disk does.
//
// Start-up replays every segment. A torn tail (a record cut short by a crash during a write that
// was never synced, hence never acknowledged) is cut off and reported. Any other damage (a bad
// checksum with intact data after it, a broken segment header, a gap in a group's entries) stops
// the start with an error that names the file, the offset and what the operator can do.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/base/expected.h"
#include "core/base/ids.h"
#include "core/raft/log_store.h"
#include "core/raft/types.h"
#include "core/storage/disk.h"

namespace grape::storage {

enum class RecordType : uint8_t {
  kSegmentHeader = 1,
  kHardState = 2,
  kEntries = 3,
  kTruncate = 4,
  kSnapshot = 5,
  kForget = 6,
};
const char* to_string(RecordType type);

struct WalOptions {
  uint64_t segment_bytes = 64ull << 20;  // a new segment once the current one is this large
  bool preallocate = true;               // reserve each segment's blocks when it is created
  // Keep this many bytes of zeros written ahead of the log's end (0: none). A sync that
  // overwrites written blocks changes no metadata, so ext4 needs no journal commit for it: about
  // half the latency of appending (which grows the file) or of writing into fallocate'd extents.
  // Recovery reads trailing zeros as the end of the log.
  uint64_t zero_fill_bytes = 0;
};

// What a scan of a log directory found: `grape wal inspect` prints it, Wal::open acts on it.
struct WalScan {
  struct Segment {
    std::string file;  // path
    uint64_t number = 0;
    uint64_t bytes = 0;          // valid bytes (up to a torn tail or corruption)
    std::map<RecordType, uint64_t> records;
  };
  struct Group {
    raft::HardState hard_state;
    LogIndex snapshot_index;
    Term snapshot_term;
    LogIndex first_index{1};  // first entry held (snapshot_index + 1)
    LogIndex last_index;      // last entry held (snapshot_index if none)
    Term last_term;
    uint64_t entries = 0;     // entries held
  };
  struct Damage {
    std::string file;
    uint64_t offset = 0;
    uint64_t bytes = 0;  // torn: bytes after `offset` that the next start cuts off
    std::string reason;
  };
  std::vector<Segment> segments;
  std::map<GroupId, Group> groups;
  std::optional<Damage> torn_tail;   // repairable: cut at the next start
  std::optional<Damage> corruption;  // not repairable: the node refuses to start
  uint64_t records = 0;
};

struct WalError {
  DiskErrorCode disk_code = DiskErrorCode::kIo;  // for I/O failures
  bool corrupt = false;                          // the log's content is damaged
  std::string message;  // names the file, the offset and what to do
};

// Reads a log directory without changing it (for `grape wal inspect`): a corruption is reported
// in the result, not as an error; errors are I/O failures only.
[[nodiscard]] Expected<WalScan, WalError> scan_wal(Disk& disk, const std::string& dir);

class Wal;
struct ReplayAccess;

// One group's view of the log: the LogStore a Raft group reads and its driver writes.
class GroupLog final : public raft::LogStore {
 public:
  // `wal` receives the staged writes (null: a read-only replay, as `grape wal inspect` does).
  GroupLog(Wal* wal, GroupId group) : wal_(wal), group_(group) {}

  // Reads come from the in-memory index.
  raft::HardState hard_state() const override { return memory_.hard_state(); }
  LogIndex first_index() const override { return memory_.first_index(); }
  LogIndex last_index() const override { return memory_.last_index(); }
  Term term(LogIndex index) const override { return memory_.term(index); }
  void entries(LogIndex lo, LogIndex hi, size_t max_bytes,
               std::vector<raft::Entry>& out) const override {
    memory_.entries(lo, hi, max_bytes, out);
  }

  // Staged: durable once the Wal's next sync() returns ok.
  Status<raft::StoreError> append(std::span<const raft::Entry> entries) override;
  Status<raft::StoreError> set_hard_state(const raft::HardState& state) override;
  // A snapshot at (index, term) is durable: drop the entries it covers (compaction), or all of
  // them if this log does not hold (index, term) (a snapshot received from the leader).
  void mark_snapshot(LogIndex index, Term term);
  // The replica left this node (a move took it away): every entry and the snapshot mark go, the
  // term and vote stay (TiKV's tombstone keeps as much). Staged; once synced, no segment is
  // kept for this group's older records.
  void forget();

  GroupId group() const { return group_; }
  LogIndex snapshot_index() const { return memory_.first_index().prev(); }
  Term snapshot_term() const { return memory_.term(snapshot_index()); }
  const raft::Entry& entry(LogIndex index) const { return memory_.entry(index); }

 private:
  friend struct ReplayAccess;  // replay changes the memory index only

  Wal* wal_;
  GroupId group_;
  raft::MemoryLogStore memory_;  // what the log holds, as its records replay
};

struct WalStats {
  uint64_t syncs = 0;
  uint64_t failed_syncs = 0;
  uint64_t bytes_written = 0;
  uint64_t entries_written = 0;
  uint64_t segments_created = 0;
  uint64_t segments_deleted = 0;
};

class Wal {
 public:
  // Opens (or creates) the log in `dir` and replays it. A torn tail is cut off and described in
  // `repaired` (if given); corruption and I/O failures are errors.
  [[nodiscard]] static Expected<std::unique_ptr<Wal>, WalError> open(
      Disk& disk, const std::string& dir, WalOptions options = {},
      std::optional<WalScan::Damage>* repaired = nullptr);

  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;
  ~Wal();

  // The group's log, created empty on first use.
  GroupLog& group(GroupId id);
  const GroupLog& group(GroupId id) const;  // one that exists
  std::vector<GroupId> groups() const;

  // Writes everything staged as one write and makes it durable with one sync (group commit).
  // On failure nothing staged is lost: the next sync() retries it.
  [[nodiscard]] Status<raft::StoreError> sync();
  bool has_staged() const { return !staged_.empty(); }

  const WalStats& stats() const { return stats_; }
  const std::string& dir() const { return dir_; }
  size_t segment_count() const { return segments_.size(); }

 private:
  friend class GroupLog;
  struct Segment {
    uint64_t number = 0;
    std::string path;
    // Per group, the highest entry index a record in this segment wrote: the segment may go once
    // every group's snapshot covers it.
    std::map<GroupId, LogIndex> max_index;
  };

  Wal(Disk& disk, std::string dir, WalOptions options);
  void stage_record(RecordType type, std::span<const std::byte> payload);
  void stage_entries(GroupId group, std::span<const raft::Entry> entries);
  void stage_hard_state(const GroupLog& log);
  void stage_snapshot(const GroupLog& log);
  void stage_forget(const GroupLog& log);
  [[nodiscard]] Status<raft::StoreError> roll_segment();
  [[nodiscard]] Status<raft::StoreError> write_staged();
  void delete_compacted_segments();
  raft::StoreError store_error(const DiskError& e) const;

  Disk* disk_;
  std::string dir_;
  WalOptions options_;
  std::map<GroupId, std::unique_ptr<GroupLog>> groups_;
  std::vector<Segment> segments_;   // oldest first; the last is being written
  std::unique_ptr<File> file_;      // the last segment
  uint64_t write_offset_ = 0;       // where the next staged bytes go in it
  uint64_t zeroed_end_ = 0;         // zeros are written (and synced) up to here (zero_fill_bytes)
  std::vector<std::byte> staged_;   // records not yet written
  std::map<GroupId, LogIndex> staged_max_index_;
  WalStats stats_;
};

std::string segment_name(uint64_t number);
// The size of a record with `payload_bytes` of payload.
constexpr uint64_t record_bytes(uint64_t payload_bytes) { return 8 + payload_bytes + 4; }

}  // namespace grape::storage
