#pragma once
// Slab<T>: values parked under a small integer handle while an event that refers to them waits in
// the queue (messages in flight, client requests and replies). Keeps queue entries small and
// avoids one allocation per event; freed handles are reused in LIFO order (deterministic).

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/base/assert.h"

namespace grape::sim {

template <class T>
class Slab {
 public:
  uint32_t put(T value) {
    if (!free_.empty()) {
      const uint32_t handle = free_.back();
      free_.pop_back();
      items_[handle] = std::move(value);
      return handle;
    }
    items_.push_back(std::move(value));
    return static_cast<uint32_t>(items_.size() - 1);
  }

  // Values parked now.
  size_t size() const { return items_.size() - free_.size(); }

  T take(uint32_t handle) {
    GRAPE_ASSERT(handle < items_.size() && items_[handle].has_value(),
                 "bad slab handle " << handle);
    T value = std::move(*items_[handle]);
    items_[handle].reset();
    free_.push_back(handle);
    return value;
  }

 private:
  std::vector<std::optional<T>> items_;
  std::vector<uint32_t> free_;
};

}  // namespace grape::sim
