#include "core/raft/raft_log.h"

#include <algorithm>

#include "core/base/assert.h"

namespace grape::raft {

RaftLog::RaftLog(const LogStore& store)
    : store_(store),
      offset_(store.last_index().next()),
      in_progress_(store.last_index()),
      committed_(store.hard_state().commit),
      applied_(store.first_index().prev()) {
  // A compacted log: everything up to its snapshot is committed and applied (the driver restored
  // the state machine from that snapshot).
  committed_ = std::max(committed_, applied_);
  GRAPE_ASSERT(committed_ <= store.last_index(),
               "stored commit " << committed_ << " beyond stored log " << store.last_index());
}

LogIndex RaftLog::last_index() const {
  return unstable_.empty() ? offset_.prev() : unstable_.back().index;
}

LogIndex RaftLog::persisted_last_index() const {
  return std::min(store_.last_index(), offset_.prev());
}

Term RaftLog::term(LogIndex index) const {
  GRAPE_ASSERT(
      index >= first_index().prev() && index <= last_index(),
      "term(" << index << ") outside [" << first_index().prev() << ", " << last_index() << "]");
  if (index >= offset_) return unstable_at(index).term;
  if (pending_snapshot_ && index == pending_snapshot_->index) return pending_snapshot_->term;
  return store_.term(index);
}

bool RaftLog::match_term(LogIndex index, Term t) const {
  if (index < first_index().prev() || index > last_index()) return false;
  return term(index) == t;
}

bool RaftLog::is_up_to_date(LogIndex index, Term t) const {
  const Term ours = last_term();
  return t > ours || (t == ours && index >= last_index());
}

std::optional<LogIndex> RaftLog::maybe_append(LogIndex prev_index, Term prev_term,
                                              LogIndex leader_commit,
                                              std::span<const Entry> entries) {
  if (!match_term(prev_index, prev_term)) return std::nullopt;
  const LogIndex last_new = prev_index + entries.size();
  if (auto conflict = find_conflict(entries)) {
    // Log Matching guarantees a conflict never reaches a committed entry; if it does, safety is
    // already lost and continuing would apply a divergent history.
    GRAPE_ASSERT(*conflict > committed_,
                 "entry " << *conflict << " conflicts with committed " << committed_);
    truncate_and_append(entries.subspan(*conflict - prev_index.next()));
  }
  commit_to(std::min(leader_commit, last_new));
  return last_new;
}

void RaftLog::append(std::span<const Entry> entries) {
  if (entries.empty()) return;
  GRAPE_ASSERT(entries.front().index == last_index().next(),
               "leader append at " << entries.front().index << " after " << last_index());
  truncate_and_append(entries);
}

std::optional<LogIndex> RaftLog::find_conflict(std::span<const Entry> entries) const {
  for (const Entry& e : entries) {
    if (!match_term(e.index, e.term)) return e.index;
  }
  return std::nullopt;
}

void RaftLog::truncate_and_append(std::span<const Entry> entries) {
  const LogIndex first = entries.front().index;
  GRAPE_ASSERT(first > committed_, "truncating committed entry " << first);
  if (first == last_index().next()) {
    // Plain append after the current end.
  } else if (first <= offset_) {
    // Replaces every unstable entry and a suffix of the store: persisting starts over at `first`.
    offset_ = first;
    unstable_.clear();
  } else {
    unstable_.resize(first - offset_);
  }
  if (in_progress_ >= first) in_progress_ = first.prev();
  unstable_.insert(unstable_.end(), entries.begin(), entries.end());
}

LogIndex RaftLog::find_conflict_by_term(LogIndex index, Term t) const {
  const LogIndex floor = first_index().prev();
  if (index > last_index()) index = last_index();
  while (index > floor && term(index) > t) index = index.prev();
  return index;
}

std::vector<Entry> RaftLog::entries_from(LogIndex lo, size_t max_count, size_t max_bytes) const {
  std::vector<Entry> out;
  if (lo > last_index() || max_count == 0) return out;
  GRAPE_ASSERT(lo >= first_index(), "entries_from(" << lo << ") below first " << first_index());
  // Not lo + max_count: an unlimited count (SIZE_MAX) would wrap around
  // (RaftLog.EntriesFromAcceptsAnUnlimitedCount).
  const LogIndex hi = max_count > last_index() - lo ? last_index().next() : lo + max_count;
  size_t bytes = 0;
  if (lo < offset_) {
    store_.entries(lo, std::min(hi, offset_), max_bytes, out);
    for (const Entry& e : out) bytes += e.data.size();
    if (out.back().index.next() < std::min(hi, offset_)) return out;  // hit max_bytes
  }
  for (LogIndex i = std::max(lo, offset_); i < hi; i = i.next()) {
    const Entry& e = unstable_at(i);
    if (!out.empty() && bytes + e.data.size() > max_bytes) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

void RaftLog::commit_to(LogIndex index) {
  if (index <= committed_) return;  // commit never moves backwards
  GRAPE_ASSERT(index <= last_index(), "commit " << index << " beyond last " << last_index());
  committed_ = index;
}

bool RaftLog::maybe_commit(LogIndex index, Term current_term) {
  if (index <= committed_ || term(index) != current_term) return false;
  commit_to(index);
  return true;
}

std::vector<Entry> RaftLog::take_entries_to_persist() {
  std::vector<Entry> out;
  if (!has_entries_to_persist()) return out;
  const LogIndex from = std::max(offset_, in_progress_.next());
  out.assign(unstable_.begin() + static_cast<std::ptrdiff_t>(from - offset_), unstable_.end());
  in_progress_ = last_index();
  return out;
}

bool RaftLog::has_entries_to_persist() const {
  return !unstable_.empty() && in_progress_ < last_index();
}

void RaftLog::stable_to(LogIndex index, Term t) {
  // Entries persisted from an older Ready may since have been replaced: only retire the prefix
  // that is still the one that was written.
  if (index < offset_ || index > last_index() || unstable_at(index).term != t) return;
  unstable_.erase(unstable_.begin(),
                  unstable_.begin() + static_cast<std::ptrdiff_t>(index.next() - offset_));
  offset_ = index.next();
}

std::vector<Entry> RaftLog::next_entries_to_apply(size_t max_bytes) const {
  if (!has_entries_to_apply()) return {};
  return entries_from(applied_.next(), committed_ - applied_, max_bytes);
}

bool RaftLog::has_entries_to_apply() const { return applied_ < committed_; }

bool RaftLog::has_unapplied_conf_changes() const {
  constexpr size_t kChunkEntries = 1024;
  constexpr size_t kChunkBytes = 1024 * 1024;
  for (LogIndex lo = applied_.next(); lo <= committed_;) {
    const size_t count = std::min<size_t>(kChunkEntries, committed_ - lo + 1);
    const std::vector<Entry> chunk = entries_from(lo, count, kChunkBytes);
    for (const Entry& e : chunk) {
      if (e.type == EntryType::kConfChange) return true;
    }
    lo = chunk.back().index.next();
  }
  return false;
}

void RaftLog::restore(LogIndex index, Term t) {
  GRAPE_ASSERT(index > committed_, "restoring snapshot " << index << " at or below commit "
                                                         << committed_);
  pending_snapshot_ = Position{index, t};
  unstable_.clear();
  offset_ = index.next();
  in_progress_ = index;
  committed_ = index;
  applied_ = index;
}

void RaftLog::snapshot_stored(LogIndex index) {
  if (pending_snapshot_ && pending_snapshot_->index == index) pending_snapshot_.reset();
}

void RaftLog::applied_to(LogIndex index) {
  GRAPE_ASSERT(index <= committed_ && index >= applied_,
               "applied " << index << " outside [" << applied_ << ", " << committed_ << "]");
  applied_ = index;
}

}  // namespace grape::raft
