#include "sim/membership.h"

#include <algorithm>

#include "sim/world.h"

namespace grape::sim {

namespace {
bool contains(const std::vector<NodeId>& nodes, NodeId node) {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}
}  // namespace

void MembershipDriver::add(NodeId node) {
  operations_.push_back({true, node});
  schedule_step();
}

void MembershipDriver::remove(NodeId node) {
  operations_.push_back({false, node});
  schedule_step();
}

void MembershipDriver::schedule_step() {
  if (scheduled_ || operations_.empty()) return;
  scheduled_ = true;
  world_.schedule(world_.now(), [this](World&) {
    scheduled_ = false;
    step();
  });
}

void MembershipDriver::step() {
  if (operations_.empty()) return;
  const Operation op = operations_.front();
  const bool done = op.add ? advance_add(op.node) : advance_remove(op.node);
  if (done) operations_.pop_front();
  if (operations_.empty()) return;
  scheduled_ = true;
  world_.schedule(world_.now() + (done ? Duration{} : retry_), [this](World&) {
    scheduled_ = false;
    step();
  });
}

bool MembershipDriver::advance_add(NodeId node) {
  if (node.value > world_.node_count()) {
    world_.add_node();  // the loader checked that `node` is the next one
    return false;
  }
  auto leader = world_.leader();
  if (!leader) return false;
  const raft::Raft& r = *world_.raft(*leader);
  const raft::ConfState& conf = r.conf_state();
  // Done once the leader has applied a configuration with the node as a voter, not joint.
  if (contains(conf.voters, node) && !conf.is_joint()) return true;
  raft::ConfChange change;
  if (contains(conf.learners, node)) {
    // Promote only a learner that has caught up: a voter far behind would stall commits. Caught
    // up means within a tenth of the leader's commit index, as etcd's isLearnerReady has it:
    // under steady load a learner's match trails the commit index by what is in flight, so
    // asking for equality can postpone a promotion for as long as the load lasts.
    const raft::Progress* progress = r.progress(node);
    if (progress == nullptr || progress->match.value * 10 < r.log().committed().value * 9) {
      return false;
    }
    change.changes.push_back({raft::ConfChangeType::kAddVoter, node});
  } else if (!contains(conf.voters, node)) {
    change.changes.push_back({raft::ConfChangeType::kAddLearner, node});
  } else {
    return false;  // joint: the leader leaves it by itself
  }
  (void)world_.propose_conf_change(*leader, change);  // refused while a change is pending: retry
  return false;
}

bool MembershipDriver::advance_remove(NodeId node) {
  auto leader = world_.leader();
  if (!leader) return false;
  const raft::ConfState& conf = world_.raft(*leader)->conf_state();
  const bool member = contains(conf.voters, node) || contains(conf.voters_outgoing, node) ||
                      contains(conf.learners, node) || contains(conf.learners_next, node);
  if (!member) {
    // Applied by the leader, hence committed: the node may go, once it no longer leads (a removed
    // leader hands off first; stopping it earlier could leave the others without a leader).
    if (*leader == node) return false;
    world_.decommission(node);
    return true;
  }
  if (conf.is_joint()) return false;  // the leader leaves it by itself
  raft::ConfChange change;
  change.changes.push_back({raft::ConfChangeType::kRemoveNode, node});
  (void)world_.propose_conf_change(*leader, change);
  return false;
}

}  // namespace grape::sim
