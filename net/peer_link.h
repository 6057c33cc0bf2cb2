#pragma once
// The two policies of a peer link that do not need a socket, so that they are tested alone:
//   - SendQueue: frames waiting for one peer, bounded in frames and bytes. A slow or dead peer
//     cannot exhaust memory: a frame that does not fit is dropped (Raft tolerates lost messages
//     and resends what matters), and the drops are counted for the metrics.
//   - Backoff: how long to wait before dialing a peer again: exponential from `initial` to `max`,
//     each wait drawn in [d/2, d] (full jitter halves the herd of reconnects after a partition);
//     reset() after a connection succeeds.

#include <cstddef>
#include <cstdint>
#include <deque>

#include "core/base/bytes.h"
#include "core/base/rng.h"

namespace grape::net {

class SendQueue {
 public:
  SendQueue(size_t frames_max, size_t bytes_max) : frames_max_(frames_max), bytes_max_(bytes_max) {}

  // Queues a frame; false (and counted) when it does not fit.
  bool push(Bytes frame);
  bool empty() const { return frames_.empty(); }
  const Bytes& front() const { return frames_.front(); }
  void pop();
  Bytes take_front();  // removes the oldest frame and hands it over
  // A connection was lost: what was queued for it is gone (Raft resends what matters).
  void clear();

  size_t frames() const { return frames_.size(); }
  size_t bytes() const { return bytes_; }
  uint64_t dropped() const { return dropped_; }

 private:
  size_t frames_max_;
  size_t bytes_max_;
  std::deque<Bytes> frames_;
  size_t bytes_ = 0;
  uint64_t dropped_ = 0;
};

class Backoff {
 public:
  Backoff(int64_t initial_ms, int64_t max_ms) : initial_ms_(initial_ms), max_ms_(max_ms) {}
  // The next wait in milliseconds.
  int64_t next(Rng& rng);
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  int64_t initial_ms_;
  int64_t max_ms_;
  int attempt_ = 0;
};

}  // namespace grape::net
