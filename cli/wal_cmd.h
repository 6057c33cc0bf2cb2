#pragma once
// `grape wal inspect DIR` and `grape wal bench`: the operator's view of a node's write-ahead log
// (core/storage/wal.h) on the real disk (net/posix_disk.h).
//   inspect: segments, record counts and, per group, first and last index, term, vote, commit
//            and snapshot; a torn tail (exit 0: the next start cuts it) or corruption (file,
//            offset, reason; exit 1). Reads only: never changes the log.
//   bench:   writes N entries through the real log with group commit (a producer thread offers
//            entries while the writer syncs, and each sync takes everything that arrived), then
//            reopens the log and times its recovery.

#include <cstdint>
#include <string>

#include "cli/common.h"

namespace grape::cli {

struct WalInspectArgs {
  std::string dir;
  Format format = Format::kText;
};
int wal_inspect(const WalInspectArgs& args);

struct WalBenchArgs {
  std::string dir;
  uint64_t entries = 1'000'000;
  uint64_t entry_bytes = 100;
  uint64_t groups = 1;
  uint64_t segment_mb = 64;
  uint64_t max_batch = 0;  // entries per sync at most (0: everything that arrived)
  bool keep = false;
  Format format = Format::kText;
};
int wal_bench(const WalBenchArgs& args);

}  // namespace grape::cli
