#pragma once
// SafetyChecker: the Raft safety properties (Figure 3 of the paper), checked online and
// incrementally as the simulated run goes. The world reports what each node does (becomes leader,
// persists entries, applies entries); the checker remembers just enough to catch a violation the
// moment it happens:
//
//   election_safety      at most one leader per term
//   log_matching         two logs holding an entry with the same index and term are identical up
//                        to it: each persisted entry gets a digest of its whole prefix, and all
//                        nodes' digests for one (index, term) must agree
//   leader_completeness  a new leader's log holds every entry committed before its term; an
//                        entry counts as committed once a node applied it, or (with a fixed
//                        voter set, see set_fixed_voters) as soon as a majority of the voters
//                        hold it durably, each having stored it while in the entry's own term:
//                        the moment Raft's safety argument makes it permanent, even if no node
//                        has applied it yet
//   state_machine_safety no two nodes apply different entries at the same index
//   leader_append_only   a leader never overwrites or removes entries of its own log
//
// Each hook costs O(1) per entry. Violations are values; the first one is the run's verdict.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/base/ids.h"
#include "core/raft/types.h"
#include "sim/time.h"

namespace grape::sim {

struct Violation {
  std::string property;  // a name of scenario-format.md: election_safety, log_matching, ...
  VirtualTime at;
  NodeId node;
  std::string detail;
};

class SafetyChecker {
 public:
  void set_now(VirtualTime now) { now_ = now; }

  // `node` became leader of `term`; `last_index`/`term_at` describe its log at that moment.
  template <class TermAt>
  void on_leader_elected(NodeId node, Term term, LogIndex last_index, TermAt term_at);
  // `node` made `entries` durable (they replace any stored suffix from entries.front().index);
  // `is_leader_term` is its term when it is leader, else Term(0); `node_term` is its current term
  // (Term(0): unknown, the copies then do not count towards durable commitment).
  void on_persist(NodeId node, std::span<const raft::Entry> entries, Term is_leader_term,
                  Term node_term = Term(0));
  // The group's voters are nodes 1..count and never change: durable copies on a majority of them
  // prove commitment (see leader_completeness above). 0 (the default) turns that off, as it must
  // be once membership changes (learners and removed nodes hold copies that do not count).
  void set_fixed_voters(size_t count) {
    fixed_voters_ = 0;
    for (size_t i = 1; i <= count && i <= 64; ++i) fixed_voters_ |= uint64_t{1} << (i - 1);
  }
  // The same for a group whose voters are any nodes (a shard's replicas); ids up to 64.
  void set_fixed_voters(const std::vector<NodeId>& voters) {
    fixed_voters_ = 0;
    for (NodeId v : voters) {
      if (v.value >= 1 && v.value <= 64) fixed_voters_ |= uint64_t{1} << (v.value - 1);
    }
  }
  // `node`, at `node_term`, applied `entry` to its state machine.
  void on_apply(NodeId node, const raft::Entry& entry, Term node_term);
  // `node` restarted: its state machine starts from its snapshot at `applied` (0: empty) and
  // applies again from there.
  void on_restart(NodeId node, LogIndex applied = LogIndex(0));
  // `node` installed a snapshot covering the log up to (index, term): its durable log and its
  // state machine now hold the committed prefix up to there. Checked: the snapshot ends with the
  // entry every other node applied at that index.
  void on_snapshot_installed(NodeId node, LogIndex index, Term term);
  // `node`'s recovery found `entries`, from `first` on, in its log: the durable log is exactly
  // that from now on (a torn write may have kept some entries never reported by on_persist, and
  // dropped a suffix that a torn suffix replacement cut; both are unacknowledged). Copies found
  // this way do not count towards durable commitment.
  void on_recovered(NodeId node, LogIndex first, std::span<const raft::Entry> entries);

  // A violation found outside the checker (the world's resource limits): it ends the run alike.
  void add_violation(const char* property, NodeId node, std::string detail) {
    report(property, node, std::move(detail));
  }

  bool ok() const { return violations_.empty(); }
  // A counter every violation also increments (a world of many groups' checkers keeps one).
  void count_violations_in(size_t* counter) { violation_counter_ = counter; }
  const std::vector<Violation>& violations() const { return violations_; }
  // The highest index known committed (applied somewhere).
  LogIndex committed_index() const { return LogIndex(applied_.size()); }
  // The highest index certainly committed in a term before `term`.
  LogIndex committed_before(Term term) const;

 private:
  struct NodeLog {
    std::vector<uint64_t> prefix_digest;  // [i] = digest of entries 1..i+1
    std::vector<Term> terms;              // [i] = term of entry i+1
    LogIndex applied;
    Term leader_term;  // the term in which it last persisted as leader
  };
  struct AppliedEntry {
    Term term;
    uint64_t data_digest;
  };
  // A node applying an entry while at term U proves the entry was committed in a term <= U
  // (it learned of the commit from a leader of a term <= U). For each such bound, the highest
  // index applied under it.

  void report(const char* property, NodeId node, std::string detail);
  NodeLog& log_of(NodeId node);

  VirtualTime now_;
  std::map<Term, NodeId> leaders_;
  std::map<NodeId, NodeLog> logs_;
  // (index, term) -> prefix digest, for every entry ever persisted anywhere.
  std::unordered_map<uint64_t, uint64_t> digest_by_position_;
  std::vector<AppliedEntry> applied_;  // [i] = what index i+1 applied as, the first time
  std::map<Term, LogIndex> committed_by_term_bound_;
  // Durable commitment (fixed voters only): which nodes stored each (index, term) in that term,
  // and per term the highest index of that term so committed.
  void count_durable_copy(NodeId node, const raft::Entry& entry);
  uint64_t fixed_voters_ = 0;  // bit i - 1: node i votes (0: the set is not fixed)
  std::unordered_map<uint64_t, uint64_t> copies_in_term_;  // position -> bit per node
  std::map<Term, LogIndex> durably_committed_;
  std::vector<Violation> violations_;
  size_t* violation_counter_ = nullptr;
};

template <class TermAt>
void SafetyChecker::on_leader_elected(NodeId node, Term term, LogIndex last_index, TermAt term_at) {
  auto [it, inserted] = leaders_.emplace(term, node);
  if (!inserted && it->second != node) {
    report("election_safety", node,
           "n" + std::to_string(node.value) + " and n" + std::to_string(it->second.value) +
               " are both leader of term " + std::to_string(term.value));
  }
  // Leader completeness: every entry committed in a term before `term` is in the new leader's
  // log. By log matching it is enough to look at the highest such entry.
  LogIndex committed = committed_before(term);
  Term committed_term = committed == LogIndex(0) ? Term(0) : applied_[committed.value - 1].term;
  for (const auto& [entry_term, index] : durably_committed_) {
    if (entry_term >= term) break;
    if (index > committed) {
      committed = index;
      committed_term = entry_term;
    }
  }
  if (committed == LogIndex(0)) return;
  const Term held = last_index >= committed ? term_at(committed) : Term(0);
  if (held != committed_term) {
    report("leader_completeness", node,
           "leader of term " + std::to_string(term.value) + " lacks committed entry " +
               std::to_string(committed.value) + "@" + std::to_string(committed_term.value) +
               " (its log ends at " + std::to_string(last_index.value) + ")");
  }
}

}  // namespace grape::sim
