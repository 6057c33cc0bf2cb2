#include "core/raft/progress.h"

#include <algorithm>

#include "core/base/assert.h"

namespace grape::raft {

void Inflights::add(LogIndex last) {
  GRAPE_ASSERT(!full(), "inflight window of " << ring_.size() << " is full");
  ring_[(start_ + count_) % ring_.size()] = last;
  ++count_;
}

void Inflights::free_le(LogIndex index) {
  while (count_ > 0 && ring_[start_] <= index) {
    start_ = (start_ + 1) % ring_.size();
    --count_;
  }
  if (count_ == 0) start_ = 0;
}

void Inflights::free_first_one() {
  if (count_ == 0) return;
  start_ = (start_ + 1) % ring_.size();
  --count_;
}

void Progress::become_probe() {
  state = ProgressState::kProbe;
  probe_sent = false;
  inflights.reset();
  snapshot.reset();
  next = match.next();
}

void Progress::become_snapshot(std::shared_ptr<const Snapshot> s, uint64_t window_bytes) {
  state = ProgressState::kSnapshot;
  probe_sent = false;
  inflights.reset();
  snapshot = std::move(s);
  snapshot_sent = snapshot_acked = snapshot_acked_at_heartbeat = 0;
  snapshot_window = std::max<uint64_t>(1, window_bytes);
  snapshot_done_sent = false;
}

void Progress::become_replicate() {
  snapshot.reset();
  state = ProgressState::kReplicate;
  probe_sent = false;
  inflights.reset();
  next = match.next();
}

bool Progress::maybe_update(LogIndex index) {
  bool updated = false;
  if (match < index) {
    match = index;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, index.next());
  return updated;
}

bool Progress::maybe_decrease_to(LogIndex rejected, LogIndex match_hint) {
  if (state == ProgressState::kReplicate) {
    // Rejections of appends at or below match are answers to old appends.
    if (rejected <= match) return false;
    next = match.next();
    return true;
  }
  // In probe state only the answer to the single outstanding append counts.
  if (next.prev() != rejected) return false;
  next = std::max(std::min(rejected, match_hint.next()), match.next());
  probe_sent = false;
  return true;
}

void Progress::on_append_sent(LogIndex last, bool has_entries) {
  if (state == ProgressState::kReplicate) {
    if (has_entries) {
      next = last.next();
      inflights.add(last);
    }
  } else if (has_entries) {
    // Only a probe that carries entries pauses the follower (etcd): an empty one costs nothing
    // to repeat, and pausing on it would stall a follower whose answer was lost until the next
    // heartbeat round.
    probe_sent = true;
  }
}

}  // namespace grape::raft
