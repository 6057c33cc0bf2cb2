#pragma once
// MembershipDriver: what an operator's tooling does to change a one-group cluster, step by step,
// through the Raft core's configuration changes (thesis §4.2-4.3):
//   add n:    start the empty node; the leader adds it as a learner; once it has caught up with
//             the leader's commit index it is promoted to voter.
//   remove n: the leader removes it (the leader may remove itself and then steps down); once the
//             change is applied the node is stopped (decommissioned).
// Operations run one at a time, in order; each step is retried every `retry` (no leader yet, a
// change still pending, a leader change) until it holds on the leader's applied configuration.

#include <deque>

#include "core/base/ids.h"
#include "sim/time.h"

namespace grape::sim {

class World;

class MembershipDriver {
 public:
  explicit MembershipDriver(World& world, Duration retry = milliseconds(20))
      : world_(world), retry_(retry) {}
  MembershipDriver(const MembershipDriver&) = delete;
  MembershipDriver& operator=(const MembershipDriver&) = delete;

  // Starts node `node` (it must be the next new node) and adds it to the group.
  void add(NodeId node);
  void remove(NodeId node);
  bool idle() const { return operations_.empty(); }

 private:
  struct Operation {
    bool add = true;
    NodeId node;
  };

  void schedule_step();
  void step();
  // One attempt at the front operation; true when it is complete.
  bool advance_add(NodeId node);
  bool advance_remove(NodeId node);

  World& world_;
  Duration retry_;
  std::deque<Operation> operations_;
  bool scheduled_ = false;
};

}  // namespace grape::sim
