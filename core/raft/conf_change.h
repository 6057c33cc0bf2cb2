#pragma once
// Configuration transitions (etcd's confchange.Changer): the ConfState that results from applying
// a ConfChange to the current one, or why it cannot be applied.
//
//   not joint + change of at most one voter (any number of learner changes) -> simple, at once
//   not joint + change of several voters                                    -> joint C_old,new
//   joint     + empty change                                                -> leave: C_new
//
// Anything else is refused: a joint configuration must be left before the next change starts
// (thesis §4.3), there is nothing to leave outside one, and a configuration without voters could
// never elect a leader again. A pure function: Raft validates proposals with it and applies
// committed changes with it, so every replica computes the same configuration from the same log.

#include <string>

#include "core/base/expected.h"
#include "core/raft/types.h"

namespace grape::raft {

struct ConfChangeError {
  std::string detail;
};

[[nodiscard]] Expected<ConfState, ConfChangeError> next_conf_state(const ConfState& current,
                                                                   const ConfChange& change);

// Every voter (incoming and outgoing), learner and pending learner, sorted, once each.
std::vector<NodeId> members(const ConfState& conf);
bool is_voter(const ConfState& conf, NodeId node);  // incoming or outgoing
bool is_member(const ConfState& conf, NodeId node);

}  // namespace grape::raft
