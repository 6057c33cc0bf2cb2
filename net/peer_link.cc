#include "net/peer_link.h"

#include <algorithm>

namespace grape::net {

bool SendQueue::push(Bytes frame) {
  if (frames_.size() >= frames_max_ || bytes_ + frame.size() > bytes_max_) {
    ++dropped_;
    return false;
  }
  bytes_ += frame.size();
  frames_.push_back(std::move(frame));
  return true;
}

void SendQueue::pop() {
  bytes_ -= frames_.front().size();
  frames_.pop_front();
}

Bytes SendQueue::take_front() {
  bytes_ -= frames_.front().size();
  Bytes frame = std::move(frames_.front());
  frames_.pop_front();
  return frame;
}

void SendQueue::clear() {
  frames_.clear();
  bytes_ = 0;
}

int64_t Backoff::next(Rng& rng) {
  // initial * 2^attempt, capped (the shift stops growing long before it could overflow).
  const int shift = std::min(attempt_, 30);
  const int64_t ceiling = std::min(max_ms_, initial_ms_ << shift);
  if (attempt_ < 62) ++attempt_;
  const int64_t floor = std::max<int64_t>(1, ceiling / 2);
  return rng.between(floor, std::max(floor, ceiling));
}

}  // namespace grape::net
