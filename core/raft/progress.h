#pragma once
// The leader's view of each follower (etcd's Progress): how much of the log it is known to hold
// (match), what to send next (next), and how to send it.
//
//   kProbe:     we do not know where the follower's log ends; send one append at a time and wait
//               for its answer (or the next heartbeat) before sending another.
//   kReplicate: the follower is caught up to `match`; stream appends optimistically, advancing
//               `next` as they leave, limited by a window of in-flight appends (pipelining).
//   kSnapshot:  the follower needs entries we compacted away: send it `snapshot` in chunks, at
//               most `snapshot_window` bytes unacknowledged; once it has installed the snapshot
//               (an append response at the snapshot's index) probe from there. Lost chunks are
//               sent again from the last acknowledged offset when a heartbeat round passes
//               without progress: no timer-driven resend loop.
//
// Invariant: match < next.

#include <cstddef>
#include <vector>

#include <memory>

#include "core/base/ids.h"
#include "core/raft/types.h"

namespace grape::raft {

// A ring of the last index of each append in flight to one follower; full means "wait".
class Inflights {
 public:
  explicit Inflights(size_t capacity) : ring_(capacity) {}

  bool full() const { return count_ == ring_.size(); }
  size_t count() const { return count_; }
  void add(LogIndex last);
  // Frees every append whose last index is <= `index` (acknowledged).
  void free_le(LogIndex index);
  void free_first_one();
  void reset() { start_ = count_ = 0; }

 private:
  std::vector<LogIndex> ring_;
  size_t start_ = 0;
  size_t count_ = 0;
};

enum class ProgressState : uint8_t { kProbe, kReplicate, kSnapshot };

struct Progress {
  Progress(LogIndex next_index, size_t inflight_max) : next(next_index), inflights(inflight_max) {}

  LogIndex match;
  LogIndex next;
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;     // kProbe: an append is out, wait for its answer
  bool recent_active = false;  // heard from since the last check-quorum round
  Inflights inflights;
  // kSnapshot
  std::shared_ptr<const Snapshot> snapshot;
  uint64_t snapshot_sent = 0;   // bytes sent (offset of the next chunk)
  uint64_t snapshot_acked = 0;  // bytes the follower confirmed
  uint64_t snapshot_window = 0;
  bool snapshot_done_sent = false;           // the last chunk is out: wait for the install
  uint64_t snapshot_acked_at_heartbeat = 0;  // progress check, once per heartbeat round

  bool is_paused() const {
    switch (state) {
      case ProgressState::kProbe: return probe_sent;
      case ProgressState::kReplicate: return inflights.full();
      case ProgressState::kSnapshot:
        return snapshot_done_sent || snapshot_sent - snapshot_acked >= snapshot_window;
    }
    return true;
  }
  void become_probe();
  void become_snapshot(std::shared_ptr<const Snapshot> s, uint64_t window_bytes);
  void become_replicate();
  // A success for `index`: returns whether match advanced.
  bool maybe_update(LogIndex index);
  // A rejection of the append after `rejected`, with the follower's hint: returns false when the
  // rejection is stale (an answer to an older append).
  bool maybe_decrease_to(LogIndex rejected, LogIndex match_hint);
  // An append has been sent: with entries ending at `last`, or (has_entries false) an empty one.
  void on_append_sent(LogIndex last, bool has_entries);
};

}  // namespace grape::raft
