#include "core/raft/log_store.h"

#include "core/base/assert.h"

namespace grape::raft {

MemoryLogStore::MemoryLogStore() = default;

Term MemoryLogStore::term(LogIndex index) const {
  if (index == snapshot_index_) return snapshot_term_;
  return entry(index).term;
}

const Entry& MemoryLogStore::entry(LogIndex index) const {
  GRAPE_ASSERT(index > snapshot_index_ && index <= last_index(),
               "index " << index << " outside [" << first_index() << ", " << last_index() << "]");
  return entries_[index - snapshot_index_.next()];
}

void MemoryLogStore::mark_snapshot(LogIndex index, Term t) {
  if (index < snapshot_index_) return;
  if (index == snapshot_index_) {
    snapshot_term_ = t;
    return;
  }
  if (index <= last_index() && term(index) == t) {
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(index - snapshot_index_));
  } else {
    entries_.clear();
  }
  snapshot_index_ = index;
  snapshot_term_ = t;
}

void MemoryLogStore::entries(LogIndex lo, LogIndex hi, size_t max_bytes,
                             std::vector<Entry>& out) const {
  GRAPE_ASSERT(lo >= first_index() && lo <= hi && hi <= last_index().next(),
               "range [" << lo << ", " << hi << ") outside the store's [" << first_index() << ", "
                         << last_index().next() << ")");
  size_t bytes = 0;
  for (LogIndex i = lo; i < hi; i = i.next()) {
    const Entry& e = entry(i);
    if (i > lo && bytes + e.data.size() > max_bytes) break;
    bytes += e.data.size();
    out.push_back(e);
  }
}

Status<StoreError> MemoryLogStore::append(std::span<const Entry> entries) {
  if (entries.empty()) return Status<StoreError>::ok();
  const LogIndex first = entries.front().index;
  GRAPE_ASSERT(first > snapshot_index_ && first <= last_index().next(),
               "append at " << first << " outside (" << snapshot_index_ << ", "
                            << last_index().next() << "]");
  entries_.resize(first - snapshot_index_.next());
  for (const Entry& e : entries) {
    GRAPE_ASSERT(e.index == last_index().next(), "entries not contiguous at " << e.index);
    entries_.push_back(e);
  }
  return Status<StoreError>::ok();
}

void MemoryLogStore::truncate_from(LogIndex from) {
  GRAPE_ASSERT(from > snapshot_index_, "truncate at " << from << " below the snapshot");
  if (from <= last_index()) entries_.resize(from - snapshot_index_.next());
}

void MemoryLogStore::push(Entry entry) {
  GRAPE_ASSERT(entry.index == last_index().next(), "entry " << entry.index << " after "
                                                            << last_index());
  entries_.push_back(std::move(entry));
}

Status<StoreError> MemoryLogStore::set_hard_state(const HardState& state) {
  hard_state_ = state;
  return Status<StoreError>::ok();
}

}  // namespace grape::raft
