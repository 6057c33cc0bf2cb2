#pragma once
// What happened in a simulated run, as events a person or a tool can follow: role changes,
// crashes, restarts, network faults, commits. The demo narrates them; the scenario runner writes
// them as JSON lines and draws the HTML timeline from them.

#include <cstdint>
#include <functional>
#include <string>

#include "core/base/ids.h"
#include "core/raft/types.h"
#include "sim/time.h"

namespace grape::sim {

enum class TraceKind : uint8_t {
  kRoleChange,  // node, role, term, leader
  kCrash,       // node
  kRestart,     // node
  kPause,       // node; detail: for how long
  kResume,      // node
  kPartition,   // detail: the groups, e.g. "{n1,n2} {n3,n4,n5}"
  kCut,         // detail: "{n1} -> {n2,n3}"
  kHeal,        // every partition and cut lifted
  kLinkChange,  // detail: latency/drop/duplicate change and its duration
  kDiskFault,   // node; detail: the fault
  kDrift,       // node; detail: the rate
  kCommit,      // node (the leader), index: its new commit index
  kNoOp,        // a fault that did not apply (no leader, node already down, ...); detail: why
  kViolation,   // node; detail: the property and what broke
  kNote,        // detail: free text from a test or scenario
};

struct TraceEvent {
  VirtualTime at;
  TraceKind kind = TraceKind::kNote;
  NodeId node;
  raft::Role role = raft::Role::kFollower;
  Term term;
  NodeId leader;
  LogIndex index;
  std::string detail;
};

using TraceSink = std::function<void(const TraceEvent&)>;

}  // namespace grape::sim
