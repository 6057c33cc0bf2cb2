#include "sim/checker.h"

#include "core/base/hash.h"

namespace grape::sim {

namespace {
uint64_t position_key(LogIndex index, Term term) { return hash_combine(index.value, term.value); }

uint64_t entry_digest(uint64_t prefix, const raft::Entry& e) {
  const uint64_t data = hash64(e.data.data(), e.data.size());
  return hash_combine(hash_combine(prefix, e.term.value), data);
}

std::string at(LogIndex index, Term term) {
  return std::to_string(index.value) + "@" + std::to_string(term.value);
}
}  // namespace

void SafetyChecker::report(const char* property, NodeId node, std::string detail) {
  violations_.push_back(Violation{property, now_, node, std::move(detail)});
  if (violation_counter_ != nullptr) ++*violation_counter_;
}

SafetyChecker::NodeLog& SafetyChecker::log_of(NodeId node) { return logs_[node]; }

void SafetyChecker::count_durable_copy(NodeId node, const raft::Entry& e) {
  if (fixed_voters_ == 0 || node.value < 1 || node.value > 64) return;
  const uint64_t bit = uint64_t{1} << (node.value - 1);
  if ((fixed_voters_ & bit) == 0) return;
  uint64_t& copies = copies_in_term_[position_key(e.index, e.term)];
  copies |= bit;
  if (__builtin_popcountll(copies) <= __builtin_popcountll(fixed_voters_) / 2) return;
  LogIndex& highest = durably_committed_[e.term];
  if (e.index > highest) highest = e.index;
}

void SafetyChecker::on_persist(NodeId node, std::span<const raft::Entry> entries,
                               Term is_leader_term, Term node_term) {
  if (entries.empty()) return;
  NodeLog& log = log_of(node);
  const LogIndex first = entries.front().index;
  const LogIndex stored_last(log.terms.size());

  if (is_leader_term != Term(0)) {
    // Leader append-only: in its term a leader only adds after the end of its own log.
    if (log.leader_term == is_leader_term && first <= stored_last) {
      report("leader_append_only", node,
             "leader of term " + std::to_string(is_leader_term.value) + " rewrote its log from " +
                 std::to_string(first.value) + " (it ended at " +
                 std::to_string(stored_last.value) + ")");
    }
    log.leader_term = is_leader_term;
  }

  log.prefix_digest.resize(first.value - 1);
  log.terms.resize(first.value - 1);
  uint64_t prefix = log.prefix_digest.empty() ? 0 : log.prefix_digest.back();
  for (const raft::Entry& e : entries) {
    prefix = entry_digest(prefix, e);
    log.prefix_digest.push_back(prefix);
    log.terms.push_back(e.term);
    // A copy stored while its holder was in the entry's own term: the copies that make an entry
    // permanent once a majority holds it (the Raft paper's §5.4 argument).
    if (e.term == node_term) count_durable_copy(node, e);
    auto [it, inserted] = digest_by_position_.emplace(position_key(e.index, e.term), prefix);
    if (!inserted && it->second != prefix) {
      report("log_matching", node,
             "entry " + at(e.index, e.term) + " ends a log that differs from another node's " +
                 "log with the same entry");
    }
  }
}

void SafetyChecker::on_apply(NodeId node, const raft::Entry& entry, Term node_term) {
  NodeLog& log = log_of(node);
  if (entry.index != log.applied.next()) {
    report("state_machine_safety", node,
           "applied " + std::to_string(entry.index.value) + " after " +
               std::to_string(log.applied.value) + ": a gap or a repeat");
  }
  log.applied = entry.index;
  const uint64_t data = hash64(entry.data.data(), entry.data.size());
  const size_t slot = entry.index.value - 1;
  if (slot < applied_.size()) {
    const AppliedEntry& first = applied_[slot];
    if (first.term != entry.term || first.data_digest != data) {
      report("state_machine_safety", node,
             "applied " + at(entry.index, entry.term) + " where another node applied " +
                 at(entry.index, first.term));
    }
  } else if (slot == applied_.size()) {
    applied_.push_back(AppliedEntry{entry.term, data});
  }
  LogIndex& bound = committed_by_term_bound_[node_term];
  if (entry.index > bound) bound = entry.index;
}

void SafetyChecker::on_restart(NodeId node, LogIndex applied) { log_of(node).applied = applied; }

void SafetyChecker::on_snapshot_installed(NodeId node, LogIndex index, Term term) {
  NodeLog& log = log_of(node);
  const size_t slot = index.value - 1;
  if (slot < applied_.size() && applied_[slot].term != term) {
    report("state_machine_safety", node,
           "installed a snapshot ending at " + at(index, term) + " where another node applied " +
               at(index, applied_[slot].term));
  }
  // Its log is now the committed prefix up to the snapshot: continue the chain of digests from
  // the one every holder of (index, term) shares.
  auto it = digest_by_position_.find(position_key(index, term));
  log.terms.resize(index.value);
  log.prefix_digest.resize(index.value);
  log.terms[slot] = term;
  log.prefix_digest[slot] = it != digest_by_position_.end() ? it->second : 0;
  log.applied = std::max(log.applied, index);
}

void SafetyChecker::on_recovered(NodeId node, LogIndex first, std::span<const raft::Entry> entries) {
  NodeLog& log = log_of(node);
  // Below `first` the log was compacted: those entries are committed and stay as recorded.
  const LogIndex last = first + entries.size() - 1;
  if (LogIndex(log.terms.size()) > last) {
    log.terms.resize(last.value);
    log.prefix_digest.resize(last.value);
  }
  if (!entries.empty()) on_persist(node, entries, Term(0), Term(0));
}

LogIndex SafetyChecker::committed_before(Term term) const {
  LogIndex highest;
  for (const auto& [bound, index] : committed_by_term_bound_) {
    if (bound >= term) break;
    if (index > highest) highest = index;
  }
  return highest;
}

}  // namespace grape::sim
