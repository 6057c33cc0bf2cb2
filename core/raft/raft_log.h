#pragma once
// RaftLog: one Raft group's log as the core sees it: the durable entries in the LogStore, followed
// by the unstable entries that the core has accepted but the driver has not yet persisted, plus the
// commit and apply positions.
//
//   store:     [first ......................... store.last]
//   unstable:                      [offset ............................ last]
//                                   ^ entries from `offset` on replace the store's suffix
//
// Invariants: applied <= committed <= last_index(); offset <= store.last_index() + 1; the entries
// in [offset, last] are contiguous. Entries handed to the driver for persisting are tracked by
// `in_progress` so the next Ready does not hand them out twice; stable_to() retires them.

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "core/raft/log_store.h"
#include "core/raft/types.h"

namespace grape::raft {

class RaftLog {
 public:
  explicit RaftLog(const LogStore& store);

  LogIndex first_index() const {
    return pending_snapshot_ ? pending_snapshot_->index.next() : store_.first_index();
  }
  LogIndex last_index() const;
  Term last_term() const { return term(last_index()); }
  // The term of the entry at `index`, for index in [first_index() - 1, last_index()].
  Term term(LogIndex index) const;
  bool match_term(LogIndex index, Term term) const;
  // §5.4.1: is a log ending at (index, term) at least as up-to-date as ours?
  bool is_up_to_date(LogIndex index, Term term) const;

  LogIndex committed() const { return committed_; }
  LogIndex applied() const { return applied_; }
  // The last index known to be on stable storage (what a leader may count for itself).
  LogIndex persisted_last_index() const;

  // Follower side of AppendEntries. Returns the index of the last new entry when the log contains
  // (prev_index, prev_term), after appending any missing entries and advancing the commit index to
  // min(leader_commit, last new index); nullopt when it does not (the caller rejects).
  std::optional<LogIndex> maybe_append(LogIndex prev_index, Term prev_term, LogIndex leader_commit,
                                       std::span<const Entry> entries);
  // Leader side: appends entries at last_index() + 1.
  void append(std::span<const Entry> entries);

  // Fast back-off: the largest index <= `index` whose term is <= `term` (the first place where
  // a log with a `term` entry at `index` could agree with ours).
  LogIndex find_conflict_by_term(LogIndex index, Term term) const;

  // Entries [lo, last_index()] up to `max_count` entries and `max_bytes` of data (at least one
  // when any exist).
  std::vector<Entry> entries_from(LogIndex lo, size_t max_count, size_t max_bytes) const;

  void commit_to(LogIndex index);
  // Figure 8: commits `index` only if it holds an entry of the current term.
  bool maybe_commit(LogIndex index, Term current_term);

  // Unstable entries not yet handed to the driver; marks them in progress.
  std::vector<Entry> take_entries_to_persist();
  bool has_entries_to_persist() const;
  // The driver has made entries up to (index, term) durable.
  void stable_to(LogIndex index, Term term);

  // Committed, persisted-or-in-progress entries not yet applied, up to `max_bytes`.
  std::vector<Entry> next_entries_to_apply(size_t max_bytes) const;
  bool has_entries_to_apply() const;
  void applied_to(LogIndex index);
  // Whether a committed entry not yet applied is a configuration change (etcd's
  // hasUnappliedConfChanges). Reads the log in bounded chunks; meant for rare decisions such as
  // whether to campaign, not for every step.
  bool has_unapplied_conf_changes() const;

  // A snapshot received from the leader replaces the whole log: everything up to (index, term) is
  // committed and applied (the driver installs the snapshot before applying anything after it),
  // nothing after it is held. Until the driver has stored it (snapshot_stored), the log answers
  // for the snapshot's position itself, since the store does not know it yet.
  void restore(LogIndex index, Term term);
  void snapshot_stored(LogIndex index);

 private:
  // First index of a conflict (different term at the same index) or of the first new entry;
  // nullopt when every entry is already in the log.
  std::optional<LogIndex> find_conflict(std::span<const Entry> entries) const;
  void truncate_and_append(std::span<const Entry> entries);
  const Entry& unstable_at(LogIndex index) const { return unstable_[index - offset_]; }

  struct Position {
    LogIndex index;
    Term term;
  };
  const LogStore& store_;
  std::optional<Position> pending_snapshot_;  // restored, not yet in the store
  std::vector<Entry> unstable_;
  LogIndex offset_;       // index of unstable_[0]
  LogIndex in_progress_;  // unstable entries up to here were handed out for persisting
  LogIndex committed_;
  LogIndex applied_;
};

}  // namespace grape::raft
