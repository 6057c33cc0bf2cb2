#include "core/raft/conf_change.h"

#include <algorithm>
#include <sstream>

namespace grape::raft {

namespace {

bool contains(const std::vector<NodeId>& ids, NodeId id) {
  return std::binary_search(ids.begin(), ids.end(), id);
}

void insert(std::vector<NodeId>& ids, NodeId id) {
  auto it = std::lower_bound(ids.begin(), ids.end(), id);
  if (it == ids.end() || *it != id) ids.insert(it, id);
}

void erase(std::vector<NodeId>& ids, NodeId id) {
  auto it = std::lower_bound(ids.begin(), ids.end(), id);
  if (it != ids.end() && *it == id) ids.erase(it);
}

// How many nodes are voters in one list and not the other.
size_t voter_difference(const std::vector<NodeId>& a, const std::vector<NodeId>& b) {
  std::vector<NodeId> diff;
  std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(diff));
  return diff.size();
}

// Applies the items to the incoming half of `conf`, whose outgoing half is C_old (etcd's
// Changer.apply): a voter of C_old demoted to learner keeps voting in C_old, so it waits in
// learners_next instead of becoming a learner at once.
void apply_items(ConfState& conf, const ConfChange& change) {
  for (const ConfChangeItem& item : change.changes) {
    const NodeId id = item.node;
    switch (item.type) {
      case ConfChangeType::kAddVoter:
        erase(conf.learners, id);
        erase(conf.learners_next, id);
        insert(conf.voters, id);
        break;
      case ConfChangeType::kAddLearner:
        erase(conf.voters, id);
        erase(conf.learners, id);
        erase(conf.learners_next, id);
        insert(contains(conf.voters_outgoing, id) ? conf.learners_next : conf.learners, id);
        break;
      case ConfChangeType::kRemoveNode:
        erase(conf.voters, id);
        erase(conf.learners, id);
        erase(conf.learners_next, id);
        break;
    }
  }
}

ConfState leave_joint(const ConfState& current) {
  ConfState next = current;
  next.voters_outgoing.clear();
  for (NodeId id : current.learners_next) insert(next.learners, id);
  next.learners_next.clear();
  return next;
}

std::string describe(const ConfState& current, const ConfChange& change) {
  std::ostringstream out;
  out << change << " on " << current;
  return out.str();
}

}  // namespace

Expected<ConfState, ConfChangeError> next_conf_state(const ConfState& current,
                                                     const ConfChange& change) {
  if (change.is_leave_joint()) {
    if (!current.is_joint()) {
      return Unexpected(
          ConfChangeError{"not joint, nothing to leave: " + describe(current, change)});
    }
    return leave_joint(current);
  }
  if (current.is_joint()) {
    return Unexpected(
        ConfChangeError{"joint: leave before changing again: " + describe(current, change)});
  }
  for (const ConfChangeItem& item : change.changes) {
    if (item.node == kNoNode) {
      return Unexpected(ConfChangeError{"change of node 0: " + describe(current, change)});
    }
  }
  ConfState next = current;
  next.voters_outgoing = current.voters;
  apply_items(next, change);
  if (next.voters.empty()) {
    return Unexpected(ConfChangeError{"no voters would remain: " + describe(current, change)});
  }
  if (voter_difference(current.voters, next.voters) <= 1) {
    // One voter in or out: every majority of the old voters meets every majority of the new ones
    // (thesis §4.1), so no joint phase is needed.
    return leave_joint(next);
  }
  return next;
}

std::vector<NodeId> members(const ConfState& conf) {
  std::vector<NodeId> all = conf.voters;
  for (const auto* list : {&conf.voters_outgoing, &conf.learners, &conf.learners_next}) {
    for (NodeId id : *list) insert(all, id);
  }
  return all;
}

bool is_voter(const ConfState& conf, NodeId node) {
  return contains(conf.voters, node) || contains(conf.voters_outgoing, node);
}

bool is_member(const ConfState& conf, NodeId node) {
  return is_voter(conf, node) || contains(conf.learners, node) ||
         contains(conf.learners_next, node);
}

}  // namespace grape::raft
