#pragma once
// The simulator's agenda: events ordered by (time, sequence). The sequence number breaks ties in
// insertion order, so two events at the same virtual time always run in the same order: this is
// what makes a run a function of its seed alone.

#include <cstdint>
#include <queue>
#include <vector>

#include "sim/time.h"

namespace grape::sim {

template <class Payload>
class EventQueue {
 public:
  struct Event {
    VirtualTime at;
    uint64_t sequence = 0;
    Payload payload;
  };

  void push(VirtualTime at, Payload payload) { heap_.push(Event{at, next_sequence_++, payload}); }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  const Event& top() const { return heap_.top(); }
  Event pop() {
    Event event = heap_.top();
    heap_.pop();
    return event;
  }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.at != b.at ? a.at > b.at : a.sequence > b.sequence;
    }
  };
  std::priority_queue<Event, std::vector<Event>, Later> heap_;
  uint64_t next_sequence_ = 0;
};

}  // namespace grape::sim
