#include "cli/wal_cmd.h"

#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/storage/crc32c.h"
#include "core/storage/wal.h"
#include "net/posix_disk.h"

namespace grape::cli {
namespace {

using nlohmann::json;
using storage::WalScan;

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

json damage_json(const WalScan::Damage& d) {
  return json{{"file", d.file}, {"offset", d.offset}, {"bytes", d.bytes}, {"reason", d.reason}};
}

void print_inspect_text(const std::string& dir, const WalScan& scan) {
  std::printf("write-ahead log in %s: %zu segment(s), %llu records\n\n", dir.c_str(),
              scan.segments.size(), static_cast<unsigned long long>(scan.records));
  std::printf("%-28s %12s %8s %8s %8s %8s %8s %8s\n", "segment", "bytes", "header", "hard_st",
              "entries", "truncate", "snapshot", "forget");
  for (const WalScan::Segment& s : scan.segments) {
    auto count = [&](storage::RecordType t) {
      auto it = s.records.find(t);
      return static_cast<unsigned long long>(it == s.records.end() ? 0 : it->second);
    };
    std::printf("%-28s %12llu %8llu %8llu %8llu %8llu %8llu %8llu\n",
                std::filesystem::path(s.file).filename().c_str(),
                static_cast<unsigned long long>(s.bytes), count(storage::RecordType::kSegmentHeader),
                count(storage::RecordType::kHardState), count(storage::RecordType::kEntries),
                count(storage::RecordType::kTruncate), count(storage::RecordType::kSnapshot),
                count(storage::RecordType::kForget));
  }
  std::printf("\n%-8s %12s %12s %10s %10s %8s %12s %12s %12s\n", "group", "first", "last",
              "last_term", "term", "vote", "commit", "snapshot", "snap_term");
  for (const auto& [id, g] : scan.groups) {
    std::printf("%-8llu %12llu %12llu %10llu %10llu %8s %12llu %12llu %12llu\n",
                static_cast<unsigned long long>(id.value),
                static_cast<unsigned long long>(g.first_index.value),
                static_cast<unsigned long long>(g.last_index.value),
                static_cast<unsigned long long>(g.last_term.value),
                static_cast<unsigned long long>(g.hard_state.term.value),
                g.hard_state.vote.value == 0 ? "-"
                                             : ("n" + std::to_string(g.hard_state.vote.value)).c_str(),
                static_cast<unsigned long long>(g.hard_state.commit.value),
                static_cast<unsigned long long>(g.snapshot_index.value),
                static_cast<unsigned long long>(g.snapshot_term.value));
  }
  if (scan.torn_tail) {
    const auto& t = *scan.torn_tail;
    std::printf("\ntorn tail: %s at offset %llu, %llu bytes (%s); the next start cuts it off\n",
                t.file.c_str(), static_cast<unsigned long long>(t.offset),
                static_cast<unsigned long long>(t.bytes), t.reason.c_str());
  }
  if (scan.corruption) {
    const auto& c = *scan.corruption;
    std::printf("\nCORRUPT: %s at offset %llu: %s\n", c.file.c_str(),
                static_cast<unsigned long long>(c.offset), c.reason.c_str());
  } else {
    std::printf("\nno corruption found\n");
  }
}

json inspect_json(const std::string& dir, const WalScan& scan) {
  json out{{"dir", dir}, {"records", scan.records}, {"segments", json::array()},
           {"groups", json::array()}, {"torn_tail", nullptr}, {"corruption", nullptr}};
  for (const WalScan::Segment& s : scan.segments) {
    json records = json::object();
    for (const auto& [type, n] : s.records) records[storage::to_string(type)] = n;
    out["segments"].push_back(
        json{{"file", s.file}, {"number", s.number}, {"bytes", s.bytes}, {"records", records}});
  }
  for (const auto& [id, g] : scan.groups) {
    out["groups"].push_back(json{{"group", id.value},
                                 {"first_index", g.first_index.value},
                                 {"last_index", g.last_index.value},
                                 {"last_term", g.last_term.value},
                                 {"term", g.hard_state.term.value},
                                 {"vote", g.hard_state.vote.value},
                                 {"commit", g.hard_state.commit.value},
                                 {"snapshot_index", g.snapshot_index.value},
                                 {"snapshot_term", g.snapshot_term.value},
                                 {"entries", g.entries}});
  }
  if (scan.torn_tail) out["torn_tail"] = damage_json(*scan.torn_tail);
  if (scan.corruption) out["corruption"] = damage_json(*scan.corruption);
  return out;
}

// Entries offered by the producer thread, taken in bulk by the writer: the group commit a node
// sees when proposals keep arriving while it syncs.
class Queue {
 public:
  explicit Queue(size_t capacity) : capacity_(capacity) {}
  void push(uint64_t group) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_; });
    items_.push_back(group);
    if (items_.size() == 1) not_empty_.notify_one();
  }
  // Everything queued, or its oldest `max` (0: no limit).
  std::vector<uint64_t> take(size_t max) {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty(); });
    std::vector<uint64_t> out;
    if (max == 0 || items_.size() <= max) {
      out.swap(items_);
    } else {
      out.assign(items_.begin(), items_.begin() + static_cast<ptrdiff_t>(max));
      items_.erase(items_.begin(), items_.begin() + static_cast<ptrdiff_t>(max));
    }
    not_full_.notify_one();
    return out;
  }

 private:
  size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::vector<uint64_t> items_;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int wal_inspect(const WalInspectArgs& args) {
  if (!is_directory(args.dir)) {
    std::cerr << "grape wal inspect: " << args.dir << " is not a directory\n";
    return kExitBadInput;
  }
  net::PosixDisk disk;
  auto scan = storage::scan_wal(disk, args.dir);
  if (!scan) {
    std::cerr << "grape wal inspect: " << scan.error().message << "\n";
    return kExitFailed;
  }
  if (scan->segments.empty()) {
    std::cerr << "grape wal inspect: no log segments (*.wal) in " << args.dir << "\n";
    return kExitBadInput;
  }
  if (args.format == Format::kJson) {
    std::cout << inspect_json(args.dir, *scan).dump() << "\n";
  } else {
    print_inspect_text(args.dir, *scan);
  }
  return scan->corruption ? kExitFailed : kExitOk;
}

int wal_bench(const WalBenchArgs& args) {
  if (args.entries == 0 || args.groups == 0 || args.segment_mb == 0) {
    std::cerr << "grape wal bench: --entries, --groups and --segment-mb must be positive\n";
    return kExitBadInput;
  }
  std::error_code ec;
  std::filesystem::create_directories(args.dir, ec);
  if (ec) {
    std::cerr << "grape wal bench: cannot create " << args.dir << ": " << ec.message() << "\n";
    return kExitBadInput;
  }
  for (const auto& e : std::filesystem::directory_iterator(args.dir)) {
    if (e.path().extension() == ".wal") {
      std::cerr << "grape wal bench: " << args.dir
                << " already holds a log; give an empty or new directory\n";
      return kExitBadInput;
    }
  }
  net::PosixDisk disk;
  storage::WalOptions options;
  options.segment_bytes = args.segment_mb << 20;
  auto opened = storage::Wal::open(disk, args.dir, options);
  if (!opened) {
    std::cerr << "grape wal bench: " << opened.error().message << "\n";
    return kExitFailed;
  }
  std::unique_ptr<storage::Wal> wal = std::move(*opened);
  std::vector<storage::GroupLog*> logs;
  for (uint64_t g = 1; g <= args.groups; ++g) logs.push_back(&wal->group(GroupId(g)));

  // The producer offers entries round-robin over the groups as fast as it can; the writer takes
  // whatever arrived, appends it per group with that group's hard state, and syncs once.
  Queue queue(1 << 16);
  std::thread producer([&] {
    for (uint64_t i = 0; i < args.entries; ++i) queue.push(i % args.groups);
  });
  const Bytes payload(args.entry_bytes, std::byte{0x5A});
  std::vector<std::vector<raft::Entry>> batch(args.groups);
  uint64_t written = 0;
  const auto start = std::chrono::steady_clock::now();
  while (written < args.entries) {
    for (uint64_t group : queue.take(args.max_batch)) {
      storage::GroupLog& log = *logs[group];
      const LogIndex next = log.last_index() + batch[group].size() + 1;
      batch[group].push_back(raft::Entry{Term(1), next, raft::EntryType::kNormal, payload});
      ++written;
    }
    for (uint64_t g = 0; g < args.groups; ++g) {
      if (batch[g].empty()) continue;
      (void)logs[g]->append(batch[g]);
      (void)logs[g]->set_hard_state(raft::HardState{Term(1), NodeId(1), logs[g]->last_index()});
      batch[g].clear();
    }
    if (auto synced = wal->sync(); !synced) {
      producer.detach();
      std::cerr << "grape wal bench: " << synced.error().detail << "\n";
      return kExitFailed;
    }
  }
  const double write_s = seconds_since(start);
  producer.join();
  const storage::WalStats stats = wal->stats();
  const size_t segments = wal->segment_count();
  wal.reset();

  const auto recovery_start = std::chrono::steady_clock::now();
  auto reopened = storage::Wal::open(disk, args.dir, options);
  const double recovery_ms = seconds_since(recovery_start) * 1000.0;
  if (!reopened) {
    std::cerr << "grape wal bench: recovery failed: " << reopened.error().message << "\n";
    return kExitFailed;
  }
  uint64_t recovered = 0;
  for (GroupId g : (*reopened)->groups()) recovered += (*reopened)->group(g).last_index().value;
  reopened->reset();
  if (!args.keep) std::filesystem::remove_all(args.dir, ec);

  const double appends_per_s = static_cast<double>(args.entries) / write_s;
  const double entries_per_sync =
      static_cast<double>(args.entries) / static_cast<double>(std::max<uint64_t>(1, stats.syncs));
  const bool ok = recovered == args.entries;
  if (args.format == Format::kJson) {
    std::cout << json{{"dir", args.dir},
                      {"entries", args.entries},
                      {"entry_bytes", args.entry_bytes},
                      {"groups", args.groups},
                      {"max_batch", args.max_batch},
                      {"appends_per_s", appends_per_s},
                      {"entries_per_sync", entries_per_sync},
                      {"syncs", stats.syncs},
                      {"bytes", stats.bytes_written},
                      {"segments", segments},
                      {"write_s", write_s},
                      {"recovery_ms", recovery_ms},
                      {"recovered_entries", recovered},
                      {"crc32c", storage::crc32c_is_hardware() ? "hardware" : "portable"},
                      {"kept", args.keep}}
                     .dump()
              << "\n";
  } else {
    std::printf("wrote %llu entries of %llu bytes over %llu group(s) in %.2f s\n",
                static_cast<unsigned long long>(args.entries),
                static_cast<unsigned long long>(args.entry_bytes),
                static_cast<unsigned long long>(args.groups), write_s);
    std::printf("  appends/s         %12.0f\n", appends_per_s);
    std::printf("  syncs             %12llu  (%.1f entries per sync)\n",
                static_cast<unsigned long long>(stats.syncs), entries_per_sync);
    std::printf("  bytes written     %12llu  in %zu segment(s)\n",
                static_cast<unsigned long long>(stats.bytes_written), segments);
    std::printf("  recovery          %12.1f ms  (%llu entries replayed)\n", recovery_ms,
                static_cast<unsigned long long>(recovered));
    std::printf("  crc32c            %12s\n", storage::crc32c_is_hardware() ? "hardware" : "portable");
    if (args.keep) std::printf("  log kept in %s (grape wal inspect %s)\n", args.dir.c_str(), args.dir.c_str());
  }
  if (!ok) {
    std::cerr << "grape wal bench: recovery found " << recovered << " entries, wrote "
              << args.entries << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace grape::cli
