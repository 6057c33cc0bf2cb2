#pragma once
// Majorities (etcd's quorum package). A simple configuration decides by a majority of its voters;
// a joint configuration C_old,new decides only when a majority of C_new AND a majority of C_old
// agree (thesis §4.3), so neither half can act alone while the configuration changes. Learners are
// never counted: callers pass ConfState, whose voter lists hold no learner.
//
// Pure functions over sorted voter lists; an empty list (the outgoing half of a configuration that
// is not joint) agrees to everything, so the joint rule reduces to the simple one.

#include <map>
#include <vector>

#include "core/base/ids.h"
#include "core/raft/types.h"

namespace grape::raft {

enum class VoteResult : uint8_t { kPending, kWon, kLost };

// The largest index that a majority of `voters` has acknowledged; `acked` maps a node to what it
// holds (absent: nothing). An empty `voters` returns the largest index.
LogIndex majority_index(const std::vector<NodeId>& voters, const std::map<NodeId, LogIndex>& acked);
// Won once a majority said yes, lost once a majority can no longer say yes; absent: not answered.
VoteResult majority_vote(const std::vector<NodeId>& voters, const std::map<NodeId, bool>& votes);

// The joint forms: both halves of `conf` must agree.
LogIndex quorum_index(const ConfState& conf, const std::map<NodeId, LogIndex>& acked);
VoteResult quorum_vote(const ConfState& conf, const std::map<NodeId, bool>& votes);

}  // namespace grape::raft
