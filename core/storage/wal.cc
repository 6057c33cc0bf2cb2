#include "core/storage/wal.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <functional>
#include <sstream>
#include <utility>

#include "core/base/assert.h"
#include "core/storage/codec.h"
#include "core/storage/crc32c.h"

namespace grape::storage {

static_assert(std::endian::native == std::endian::little, "the log format is little endian");

namespace {

constexpr char kMagic[8] = {'G', 'R', 'A', 'P', 'E', 'W', 'A', 'L'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kHeaderBytes = 8;
constexpr uint64_t kTrailerBytes = 4;
// No record is larger: a length above this is damage, not a huge record.
constexpr uint64_t kRecordBytesMax = 1ull << 30;
constexpr const char* kSuffix = ".wal";

// --- encoding ---------------------------------------------------------------------------------

uint32_t header_check(uint32_t length, uint8_t type) {
  std::byte h[5];
  std::memcpy(h, &length, 4);
  h[4] = std::byte{type};
  return crc32c(h) & 0xFFFFFF;
}

bool all_zero(std::span<const std::byte> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

// Disks tear writes at sector boundaries: what was not written reads as zeros. A field (a
// header's check bytes, a record's checksum) at [pos, pos + n) was torn there when, from a sector
// boundary at or inside its start, the file holds nothing but zeros, and the bytes before that boundary are the
// ones the intact field would have: `expected`. A flipped bit in a synced record never looks like
// that (etcd's decoder.isTornEntry looks for zeroed sectors alike).
constexpr uint64_t kSectorBytes = 512;
bool torn_at_sector(std::span<const std::byte> file, uint64_t pos, uint64_t n, uint32_t expected) {
  const uint64_t boundary = (pos + kSectorBytes - 1) / kSectorBytes * kSectorBytes;
  if (boundary >= pos + n || boundary > file.size() || !all_zero(file.subspan(boundary))) {
    return false;
  }
  std::byte want[4];
  std::memcpy(want, &expected, 4);
  for (uint64_t i = pos; i < boundary; ++i) {
    if (file[i] != want[i - pos]) return false;
  }
  return true;
}

std::string hex_name(uint64_t number) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(number));
  return buf;
}

bool parse_segment_name(const std::string& name, uint64_t& number) {
  if (name.size() != 16 + std::strlen(kSuffix) || !name.ends_with(kSuffix)) return false;
  number = 0;
  for (size_t i = 0; i < 16; ++i) {
    const char c = name[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return false;
    }
    number = number * 16 + static_cast<uint64_t>(digit);
  }
  return number > 0;
}

// --- decoding: one segment, record by record ---------------------------------------------------

struct Record {
  RecordType type;
  std::span<const std::byte> payload;
};

enum class Next { kRecord, kEnd, kTorn, kCorrupt };

// Decodes the record at `offset`. kEnd: no more records (end of file, or only zeros after it).
// kTorn: a record cut short by a crash mid-write. kCorrupt: damage that a crash cannot explain.
Next next_record(std::span<const std::byte> file, uint64_t offset, Record& out, std::string& why) {
  const uint64_t left = file.size() - offset;
  if (left == 0) return Next::kEnd;
  if (left < kHeaderBytes) {
    if (all_zero(file.subspan(offset))) return Next::kEnd;
    why = "record header cut short";
    return Next::kTorn;
  }
  uint32_t length;
  uint32_t type_and_check;
  std::memcpy(&length, file.data() + offset, 4);
  std::memcpy(&type_and_check, file.data() + offset + 4, 4);
  const auto type = static_cast<uint8_t>(type_and_check & 0xFF);
  const uint32_t check = type_and_check >> 8;
  if (length == 0 && type_and_check == 0) {
    if (all_zero(file.subspan(offset))) return Next::kEnd;  // preallocated, never written
    why = "zeros where a record should start, with data after them";
    return Next::kCorrupt;
  }
  if (check != header_check(length, type)) {
    // A header torn mid-way leaves zeros (preallocated space) in its second half, or from a
    // sector boundary inside its check bytes.
    if (all_zero(file.subspan(offset + 4)) ||
        torn_at_sector(file, offset + 5, 3, header_check(length, type))) {
      why = "record header cut short";
      return Next::kTorn;
    }
    why = "record header checksum mismatch (length " + std::to_string(length) + ", type " +
          std::to_string(type) + ")";
    return Next::kCorrupt;
  }
  if (type < 1 || type > static_cast<uint8_t>(RecordType::kForget)) {
    why = "unknown record type " + std::to_string(type);
    return Next::kCorrupt;
  }
  if (length > kRecordBytesMax) {
    why = "record length " + std::to_string(length) + " is beyond any record's";
    return Next::kCorrupt;
  }
  const uint64_t total = kHeaderBytes + length + kTrailerBytes;
  if (total > left) {
    why = "record of " + std::to_string(total) + " bytes runs past the end of the file";
    return Next::kTorn;
  }
  uint32_t stored;
  std::memcpy(&stored, file.data() + offset + kHeaderBytes + length, 4);
  const uint32_t actual = crc32c(file.subspan(offset, kHeaderBytes + length));
  if (stored != actual) {
    // A write torn inside this record leaves its end unwritten (zeros) and nothing after it.
    if (stored == 0 && all_zero(file.subspan(offset + total))) {
      why = "record cut short (its checksum was never written)";
      return Next::kTorn;
    }
    if (torn_at_sector(file, offset + kHeaderBytes + length, kTrailerBytes, actual)) {
      why = "record cut short at a sector boundary inside its checksum";
      return Next::kTorn;
    }
    why = "record checksum mismatch";
    return Next::kCorrupt;
  }
  out.type = static_cast<RecordType>(type);
  out.payload = file.subspan(offset + kHeaderBytes, length);
  return Next::kRecord;
}

// Replays decoded records into groups: shared by scan_wal (inspect) and Wal::open.
class Replayer {
 public:
  using MakeGroup = std::function<GroupLog&(GroupId)>;
  explicit Replayer(MakeGroup make) : make_(std::move(make)) {}

  // Returns an empty string or what is wrong with the payload.
  std::string apply(const Record& r, uint64_t& max_index_group, GroupId& group) {
    Reader in(r.payload);
    uint64_t g = 0;
    if (!in.get(g)) return "payload too short";
    group = GroupId(g);
    GroupLog& log = make_(group);
    switch (r.type) {
      case RecordType::kHardState: {
        uint64_t term, vote, commit;
        if (!in.get(term) || !in.get(vote) || !in.get(commit) || !in.done()) return "bad hard state";
        replay_hard_state(log, raft::HardState{Term(term), NodeId(vote), LogIndex(commit)});
        return {};
      }
      case RecordType::kEntries: {
        uint32_t count;
        if (!in.get(count) || count == 0) return "bad entries count";
        for (uint32_t i = 0; i < count; ++i) {
          uint64_t index, term;
          uint8_t type;
          uint32_t size;
          raft::Entry e;
          if (!in.get(index) || !in.get(term) || !in.get(type) || !in.get(size) || type > 1 ||
              !in.get_bytes(size, e.data)) {
            return "bad entry " + std::to_string(i) + " of " + std::to_string(count);
          }
          e.index = LogIndex(index);
          e.term = Term(term);
          e.type = static_cast<raft::EntryType>(type);
          if (std::string why = replay_entry(log, std::move(e)); !why.empty()) return why;
          max_index_group = std::max(max_index_group, index);
        }
        return in.done() ? std::string() : "bytes after the last entry";
      }
      case RecordType::kTruncate: {
        uint64_t from;
        if (!in.get(from) || !in.done() || from == 0) return "bad truncate";
        // At or below the snapshot only after a hole (restart_at): the group restarted above the
        // entries this truncate cuts, which lived in a deleted segment. Every entry held is at or
        // after `from` then; the kEntries record that follows brings back those above the hole.
        const LogIndex cut = std::max(LogIndex(from), log.snapshot_index().next());
        if (cut <= log.last_index()) replay_truncate(log, cut);
        return {};
      }
      case RecordType::kSnapshot: {
        uint64_t index, term;
        if (!in.get(index) || !in.get(term) || !in.done()) return "bad snapshot mark";
        replay_snapshot(log, LogIndex(index), Term(term));
        if (auto gap = gaps_.find(group); gap != gaps_.end() && gap->second.second <= LogIndex(index)) {
          gaps_.erase(gap);
        }
        return {};
      }
      case RecordType::kForget: {
        uint64_t term, vote;
        if (!in.get(term) || !in.get(vote) || !in.done()) return "bad forget";
        replay_forget(log, raft::HardState{Term(term), NodeId(vote), LogIndex(0)});
        gaps_.erase(group);
        return {};
      }
      case RecordType::kSegmentHeader:
        return "segment header in the middle of a segment";
    }
    return "unknown record";
  }

  // Groups whose entries have a hole that no later snapshot mark covered.
  const std::map<GroupId, std::pair<LogIndex, LogIndex>>& gaps() const { return gaps_; }

  // The GroupLog's mutators are private to it and to Wal; Replayer goes through these.
  static void replay_hard_state(GroupLog& log, const raft::HardState& hs);
  static void replay_truncate(GroupLog& log, LogIndex from);
  static void replay_snapshot(GroupLog& log, LogIndex index, Term term);
  static void replay_forget(GroupLog& log, const raft::HardState& kept);
  std::string replay_entry(GroupLog& log, raft::Entry e);

 private:
  MakeGroup make_;
  std::map<GroupId, std::pair<LogIndex, LogIndex>> gaps_;  // missing [from, to]
};

}  // namespace

// GroupLog grants Replayer's static helpers access through Wal (its friend).
struct ReplayAccess {
  static void hard_state(GroupLog& log, const raft::HardState& hs) {
    (void)log.memory_.set_hard_state(hs);
  }
  static void truncate(GroupLog& log, LogIndex from) { log.memory_.truncate_from(from); }
  static void snapshot(GroupLog& log, LogIndex index, Term term) {
    log.memory_.mark_snapshot(index, term);
  }
  static void entry(GroupLog& log, raft::Entry e) { log.memory_.push(std::move(e)); }
  static void forget(GroupLog& log, const raft::HardState& kept) {
    log.memory_ = raft::MemoryLogStore();
    (void)log.memory_.set_hard_state(kept);
  }
  // A hole: the entries before `first` are gone (their segment was deleted once a snapshot
  // covered them; the snapshot mark that says so comes later in the log).
  static void restart_at(GroupLog& log, LogIndex first) {
    log.memory_.mark_snapshot(first.prev(), Term(0));
  }
};

void Replayer::replay_hard_state(GroupLog& log, const raft::HardState& hs) {
  ReplayAccess::hard_state(log, hs);
}
void Replayer::replay_truncate(GroupLog& log, LogIndex from) { ReplayAccess::truncate(log, from); }
void Replayer::replay_snapshot(GroupLog& log, LogIndex index, Term term) {
  ReplayAccess::snapshot(log, index, term);
}
void Replayer::replay_forget(GroupLog& log, const raft::HardState& kept) {
  ReplayAccess::forget(log, kept);
}
std::string Replayer::replay_entry(GroupLog& log, raft::Entry e) {
  if (e.index <= log.snapshot_index()) return {};  // covered by a snapshot already replayed
  if (e.index > log.last_index().next()) {
    gaps_[log.group()] = {log.last_index().next(), e.index.prev()};
    ReplayAccess::restart_at(log, e.index);
  } else if (e.index <= log.last_index()) {
    ReplayAccess::truncate(log, e.index);  // a kEntries record replaces the suffix it overlaps
  }
  ReplayAccess::entry(log, std::move(e));
  return {};
}

const char* to_string(RecordType type) {
  switch (type) {
    case RecordType::kSegmentHeader: return "segment_header";
    case RecordType::kHardState: return "hard_state";
    case RecordType::kEntries: return "entries";
    case RecordType::kTruncate: return "truncate";
    case RecordType::kSnapshot: return "snapshot";
    case RecordType::kForget: return "forget";
  }
  return "unknown";
}

std::string segment_name(uint64_t number) { return hex_name(number) + kSuffix; }

// --- GroupLog ------------------------------------------------------------------------------------

Status<raft::StoreError> GroupLog::append(std::span<const raft::Entry> entries) {
  if (entries.empty()) return Status<raft::StoreError>::ok();
  const LogIndex first = entries.front().index;
  if (first <= last_index()) {
    std::vector<std::byte> payload;
    put<uint64_t>(payload, group_.value);
    put<uint64_t>(payload, first.value);
    wal_->stage_record(RecordType::kTruncate, payload);
  }
  (void)memory_.append(entries);  // replaces the suffix from `first`, checks contiguity
  wal_->stage_entries(group_, entries);
  return Status<raft::StoreError>::ok();
}

Status<raft::StoreError> GroupLog::set_hard_state(const raft::HardState& state) {
  (void)memory_.set_hard_state(state);
  wal_->stage_hard_state(*this);
  return Status<raft::StoreError>::ok();
}

void GroupLog::mark_snapshot(LogIndex index, Term term) {
  if (index <= snapshot_index()) return;
  memory_.mark_snapshot(index, term);
  wal_->stage_snapshot(*this);
}

void GroupLog::forget() {
  const raft::HardState kept{hard_state().term, hard_state().vote, LogIndex(0)};
  memory_ = raft::MemoryLogStore();
  (void)memory_.set_hard_state(kept);
  wal_->stage_forget(*this);
}

// --- scanning --------------------------------------------------------------------------------------

namespace {

struct SegmentFile {
  uint64_t number;
  std::string path;
};

Expected<std::vector<SegmentFile>, WalError> list_segments(Disk& disk, const std::string& dir) {
  auto names = disk.list(dir);
  if (!names) {
    if (names.error().code == DiskErrorCode::kNotFound) return std::vector<SegmentFile>{};
    return Unexpected(WalError{names.error().code, false, names.error().detail});
  }
  std::vector<SegmentFile> out;
  for (const std::string& name : *names) {
    uint64_t number;
    if (parse_segment_name(name, number)) out.push_back({number, join_path(dir, name)});
  }
  std::sort(out.begin(), out.end(),
            [](const SegmentFile& a, const SegmentFile& b) { return a.number < b.number; });
  return out;
}

std::string operator_hint(bool last_segment) {
  return last_segment
             ? "the node cannot trust its log: restore this node from its peers (stop it, move "
               "the data directory aside, start it empty and let the leader send a snapshot), or "
               "inspect it with `grape wal inspect`"
             : "a segment before the last is damaged: restore this node from its peers (stop it, "
               "move the data directory aside, start it empty and let the leader send a "
               "snapshot); `grape wal inspect` shows what the log still holds";
}

struct ScanState {
  WalScan scan;
  std::vector<std::map<GroupId, LogIndex>> max_index;  // per segment
};

// Scans every segment in order, replaying into groups made by `make`. Stops at the first damage.
Expected<ScanState, WalError> scan_into(Disk& disk, const std::string& dir,
                                        const Replayer::MakeGroup& make) {
  auto files = list_segments(disk, dir);
  if (!files) return Unexpected(files.error());
  ScanState state;
  Replayer replayer(make);
  for (size_t s = 0; s < files->size(); ++s) {
    const SegmentFile& f = (*files)[s];
    const bool last = s + 1 == files->size();
    auto data = read_all(disk, f.path);
    if (!data) return Unexpected(WalError{data.error().code, false, data.error().detail});
    WalScan::Segment seg;
    seg.file = f.path;
    seg.number = f.number;
    std::map<GroupId, LogIndex> max_index;
    const std::span<const std::byte> bytes(*data);
    uint64_t offset = 0;
    auto damage = [&](std::string reason, bool torn) {
      WalScan::Damage d{f.path, offset, bytes.size() - offset, std::move(reason)};
      if (torn) {
        state.scan.torn_tail = std::move(d);
      } else {
        d.reason += "; " + operator_hint(last);
        state.scan.corruption = std::move(d);
      }
    };
    bool stop = false;
    while (!stop) {
      Record r{};
      std::string why;
      const Next next = next_record(bytes, offset, r, why);
      if (next == Next::kEnd) break;
      if (next == Next::kTorn || next == Next::kCorrupt) {
        // Only the last segment can hold a torn tail: earlier ones were synced whole before
        // the next was created.
        damage(why, next == Next::kTorn && last);
        stop = true;
        break;
      }
      if (offset == 0) {
        Reader in(r.payload);
        char magic[8];
        uint32_t version = 0;
        uint64_t number = 0;
        if (r.type != RecordType::kSegmentHeader || !in.get(magic) || !in.get(version) ||
            !in.get(number) || std::memcmp(magic, kMagic, 8) != 0) {
          damage("not a grape log segment (bad header)", false);
          stop = true;
          break;
        }
        if (version != kVersion || number != f.number) {
          damage("segment header says version " + std::to_string(version) + ", segment " +
                     std::to_string(number) + "; expected version " + std::to_string(kVersion) +
                     ", segment " + std::to_string(f.number),
                 false);
          stop = true;
          break;
        }
      } else {
        uint64_t max_entry = 0;
        GroupId group;
        if (std::string why2 = replayer.apply(r, max_entry, group); !why2.empty()) {
          damage("bad " + std::string(to_string(r.type)) + " record: " + why2, false);
          stop = true;
          break;
        }
        if (max_entry > 0) {
          LogIndex& m = max_index[group];
          m = std::max(m, LogIndex(max_entry));
        }
        if (r.type == RecordType::kForget) {
          // Nothing before this record is needed for the group any more.
          max_index.erase(group);
          for (auto& earlier : state.max_index) earlier.erase(group);
        }
      }
      ++seg.records[r.type];
      ++state.scan.records;
      offset += record_bytes(r.payload.size());
    }
    seg.bytes = offset;
    state.scan.segments.push_back(std::move(seg));
    state.max_index.push_back(std::move(max_index));
    if (stop) break;
  }
  if (!state.scan.corruption) {
    for (const auto& [group, gap] : replayer.gaps()) {
      std::ostringstream why;
      why << "entries " << gap.first << " to " << gap.second << " of group " << group
          << " are missing (no snapshot covers them); " << operator_hint(false);
      state.scan.corruption = WalScan::Damage{dir, 0, 0, why.str()};
      break;
    }
  }
  return state;
}

void summarize(const std::map<GroupId, GroupLog*>& logs, WalScan& scan) {
  for (const auto& [id, log] : logs) {
    WalScan::Group g;
    g.hard_state = log->hard_state();
    g.snapshot_index = log->snapshot_index();
    g.snapshot_term = log->snapshot_term();
    g.first_index = log->first_index();
    g.last_index = log->last_index();
    g.last_term = log->term(log->last_index());
    g.entries = log->last_index() - log->snapshot_index();
    scan.groups[id] = g;
  }
}

}  // namespace

Expected<WalScan, WalError> scan_wal(Disk& disk, const std::string& dir) {
  // A throwaway Wal owns the groups: GroupLog needs one, and nothing is ever staged to it.
  std::map<GroupId, std::unique_ptr<GroupLog>> owned;
  std::map<GroupId, GroupLog*> logs;
  auto make = [&](GroupId id) -> GroupLog& {
    auto& slot = owned[id];
    if (!slot) {
      slot = std::make_unique<GroupLog>(nullptr, id);
      logs[id] = slot.get();
    }
    return *slot;
  };
  auto state = scan_into(disk, dir, make);
  if (!state) return Unexpected(state.error());
  summarize(logs, state->scan);
  return std::move(state->scan);
}

// --- Wal ----------------------------------------------------------------------------------------

Wal::Wal(Disk& disk, std::string dir, WalOptions options)
    : disk_(&disk), dir_(std::move(dir)), options_(options) {}

Wal::~Wal() = default;

Expected<std::unique_ptr<Wal>, WalError> Wal::open(Disk& disk, const std::string& dir,
                                                   WalOptions options,
                                                   std::optional<WalScan::Damage>* repaired) {
  if (auto made = disk.make_dir(dir); !made) {
    return Unexpected(WalError{made.error().code, false, made.error().detail});
  }
  std::unique_ptr<Wal> wal(new Wal(disk, dir, options));
  auto make = [&](GroupId id) -> GroupLog& { return wal->group(id); };
  auto state = scan_into(disk, dir, make);
  if (!state) return Unexpected(state.error());
  WalScan& scan = state->scan;
  if (scan.corruption) {
    const WalScan::Damage& d = scan.corruption.value();
    return Unexpected(WalError{DiskErrorCode::kIo, true,
                               d.file + " at offset " + std::to_string(d.offset) + ": " + d.reason});
  }
  for (size_t i = 0; i < scan.segments.size(); ++i) {
    Segment seg;
    seg.number = scan.segments[i].number;
    seg.path = scan.segments[i].file;
    seg.max_index = state->max_index[i];
    wal->segments_.push_back(std::move(seg));
  }
  if (!wal->segments_.empty()) {
    const WalScan::Segment& last = scan.segments.back();
    auto file = disk.open(last.file, OpenMode::kExisting);
    if (!file) return Unexpected(WalError{file.error().code, false, file.error().detail});
    if (scan.torn_tail || (*file)->size() != last.bytes) {
      // Cut the torn tail (or trailing zeros) so that the next record starts on solid ground.
      if (auto cut = (*file)->truncate(last.bytes); !cut) {
        return Unexpected(WalError{cut.error().code, false, cut.error().detail});
      }
      if (auto synced = (*file)->sync(); !synced) {
        return Unexpected(WalError{synced.error().code, false, synced.error().detail});
      }
      if (repaired != nullptr && scan.torn_tail) *repaired = scan.torn_tail;
    }
    if (last.bytes == 0) {
      // A segment whose header never made it: drop it; the writer starts a fresh one.
      file->reset();
      if (auto gone = disk.remove(last.file); !gone) {
        return Unexpected(WalError{gone.error().code, false, gone.error().detail});
      }
      wal->segments_.pop_back();
    } else {
      wal->file_ = std::move(*file);
      wal->write_offset_ = last.bytes;
      wal->zeroed_end_ = last.bytes;
    }
  }
  return wal;
}

GroupLog& Wal::group(GroupId id) {
  auto& slot = groups_[id];
  if (!slot) slot = std::make_unique<GroupLog>(this, id);
  return *slot;
}

const GroupLog& Wal::group(GroupId id) const {
  auto it = groups_.find(id);
  GRAPE_ASSERT(it != groups_.end(), "no group " << id << " in the log");
  return *it->second;
}

std::vector<GroupId> Wal::groups() const {
  std::vector<GroupId> out;
  for (const auto& [id, log] : groups_) out.push_back(id);
  return out;
}

void Wal::stage_record(RecordType type, std::span<const std::byte> payload) {
  const auto length = static_cast<uint32_t>(payload.size());
  const auto t = static_cast<uint8_t>(type);
  const size_t start = staged_.size();
  put<uint32_t>(staged_, length);
  put<uint32_t>(staged_, static_cast<uint32_t>(t) | (header_check(length, t) << 8));
  staged_.insert(staged_.end(), payload.begin(), payload.end());
  put<uint32_t>(staged_, crc32c(std::span<const std::byte>(staged_).subspan(start)));
}

void Wal::stage_entries(GroupId group, std::span<const raft::Entry> entries) {
  std::vector<std::byte> payload;
  size_t bytes = 12;
  for (const raft::Entry& e : entries) bytes += 21 + e.data.size();
  payload.reserve(bytes);
  put<uint64_t>(payload, group.value);
  put<uint32_t>(payload, static_cast<uint32_t>(entries.size()));
  for (const raft::Entry& e : entries) {
    put<uint64_t>(payload, e.index.value);
    put<uint64_t>(payload, e.term.value);
    put<uint8_t>(payload, static_cast<uint8_t>(e.type));
    put<uint32_t>(payload, static_cast<uint32_t>(e.data.size()));
    payload.insert(payload.end(), e.data.begin(), e.data.end());
  }
  stage_record(RecordType::kEntries, payload);
  LogIndex& m = staged_max_index_[group];
  m = std::max(m, entries.back().index);
  stats_.entries_written += entries.size();
}

void Wal::stage_hard_state(const GroupLog& log) {
  std::vector<std::byte> payload;
  put<uint64_t>(payload, log.group().value);
  put<uint64_t>(payload, log.hard_state().term.value);
  put<uint64_t>(payload, log.hard_state().vote.value);
  put<uint64_t>(payload, log.hard_state().commit.value);
  stage_record(RecordType::kHardState, payload);
}

void Wal::stage_snapshot(const GroupLog& log) {
  std::vector<std::byte> payload;
  put<uint64_t>(payload, log.group().value);
  put<uint64_t>(payload, log.snapshot_index().value);
  put<uint64_t>(payload, log.snapshot_term().value);
  stage_record(RecordType::kSnapshot, payload);
}

// The segments written so far need not be kept for this group: the forget record is staged
// before any sync that could let one go, and replays after every record they hold.
void Wal::stage_forget(const GroupLog& log) {
  std::vector<std::byte> payload;
  put<uint64_t>(payload, log.group().value);
  put<uint64_t>(payload, log.hard_state().term.value);
  put<uint64_t>(payload, log.hard_state().vote.value);
  stage_record(RecordType::kForget, payload);
  for (Segment& segment : segments_) segment.max_index.erase(log.group());
  staged_max_index_.erase(log.group());
}

raft::StoreError Wal::store_error(const DiskError& e) const {
  return raft::StoreError{
      e.code == DiskErrorCode::kFull ? raft::StoreErrorCode::kFull : raft::StoreErrorCode::kIo,
      e.detail};
}

// A new segment begins with its header, then the staged batch, then every group's hard state and
// snapshot mark, so that older segments are needed for their entries only. The marks describe the
// groups as of now, with the batch applied: written before the batch, they would replay ahead of
// it (a snapshot mark before the truncate or the older mark it follows).
Status<raft::StoreError> Wal::roll_segment() {
  const uint64_t number = segments_.empty() ? 1 : segments_.back().number + 1;
  const std::string path = join_path(dir_, segment_name(number));
  auto file = disk_->open(path, OpenMode::kCreate);
  if (!file) return Unexpected(store_error(file.error()));
  if (options_.preallocate) (void)(*file)->preallocate(options_.segment_bytes);
  std::vector<std::byte> saved = std::move(staged_);
  staged_.clear();
  std::vector<std::byte> header;
  header.insert(header.end(), reinterpret_cast<const std::byte*>(kMagic),
                reinterpret_cast<const std::byte*>(kMagic) + 8);
  put<uint32_t>(header, kVersion);
  put<uint64_t>(header, number);
  stage_record(RecordType::kSegmentHeader, header);
  staged_.insert(staged_.end(), saved.begin(), saved.end());
  for (const auto& [id, log] : groups_) {
    if (log->snapshot_index() > LogIndex(0)) stage_snapshot(*log);
    if (log->hard_state() != raft::HardState{}) stage_hard_state(*log);
  }
  file_ = std::move(*file);
  write_offset_ = 0;
  zeroed_end_ = 0;
  segments_.push_back(Segment{number, path, {}});
  ++stats_.segments_created;
  return Status<raft::StoreError>::ok();
}

Status<raft::StoreError> Wal::write_staged() {
  const uint64_t end = write_offset_ + staged_.size();
  uint64_t zeroed = zeroed_end_;
  if (options_.zero_fill_bytes > 0 && end > zeroed_end_) {
    // Zeros ahead of the data, in the same sync: the next syncs overwrite written blocks.
    zeroed = end + options_.zero_fill_bytes;
    const std::vector<std::byte> zeros(zeroed - end);
    if (auto w = file_->write(end, zeros); !w) return Unexpected(store_error(w.error()));
  }
  if (auto w = file_->write(write_offset_, staged_); !w) return Unexpected(store_error(w.error()));
  if (auto s = file_->sync(); !s) return Unexpected(store_error(s.error()));
  zeroed_end_ = std::max(zeroed_end_, zeroed);
  if (write_offset_ == 0) {
    // A new segment's name is durable only once its directory is synced.
    if (auto d = disk_->sync_dir(dir_); !d) return Unexpected(store_error(d.error()));
  }
  return Status<raft::StoreError>::ok();
}

Status<raft::StoreError> Wal::sync() {
  if (staged_.empty()) return Status<raft::StoreError>::ok();
  if (!file_ || write_offset_ >= options_.segment_bytes) {
    if (auto rolled = roll_segment(); !rolled) {
      ++stats_.failed_syncs;
      return rolled;
    }
  }
  if (auto written = write_staged(); !written) {
    // Everything stays staged: the next sync writes it again at the same offset.
    ++stats_.failed_syncs;
    return written;
  }
  write_offset_ += staged_.size();
  stats_.bytes_written += staged_.size();
  ++stats_.syncs;
  staged_.clear();
  for (const auto& [group, index] : staged_max_index_) {
    LogIndex& m = segments_.back().max_index[group];
    m = std::max(m, index);
  }
  staged_max_index_.clear();
  delete_compacted_segments();
  return Status<raft::StoreError>::ok();
}

// Oldest first, every segment before the current one whose entries all lie at or below their
// group's (durable) snapshot index. A failure to delete is harmless: the next sync tries again.
void Wal::delete_compacted_segments() {
  size_t deletable = 0;
  for (size_t i = 0; i + 1 < segments_.size(); ++i) {
    bool covered = true;
    for (const auto& [group, max_index] : segments_[i].max_index) {
      auto it = groups_.find(group);
      if (it == groups_.end() || max_index > it->second->snapshot_index()) {
        covered = false;
        break;
      }
    }
    if (!covered) break;
    deletable = i + 1;
  }
  size_t deleted = 0;
  for (; deleted < deletable; ++deleted) {
    if (!disk_->remove(segments_[deleted].path)) break;
    ++stats_.segments_deleted;
  }
  if (deleted == 0) return;
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(deleted));
  (void)disk_->sync_dir(dir_);
}

// --- Disk helpers ------------------------------------------------------------------------------

const char* to_string(DiskErrorCode code) {
  switch (code) {
    case DiskErrorCode::kIo: return "io";
    case DiskErrorCode::kFull: return "full";
    case DiskErrorCode::kNotFound: return "not_found";
  }
  return "unknown";
}

Expected<std::vector<std::byte>, DiskError> read_all(Disk& disk, const std::string& path) {
  auto file = disk.open(path, OpenMode::kExisting);
  if (!file) return Unexpected(file.error());
  std::vector<std::byte> data((*file)->size());
  size_t done = 0;
  while (done < data.size()) {
    auto n = (*file)->read(done, std::span<std::byte>(data).subspan(done));
    if (!n) return Unexpected(n.error());
    if (*n == 0) break;
    done += *n;
  }
  data.resize(done);
  return data;
}

}  // namespace grape::storage
