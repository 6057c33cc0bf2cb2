#include "core/raft/raft_log.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "core/raft/log_store.h"
#include "tests/unit/raft/raft_test_util.h"

namespace grape::raft {
namespace {

using test::log_terms;
using test::make_entries;

// Fills an empty store with entries 1, 2, ... of the given terms (durable entries).
void fill(MemoryLogStore& store, std::initializer_list<uint64_t> terms) {
  ASSERT_TRUE(store.append(make_entries(LogIndex(1), terms)).is_ok());
}

std::vector<uint64_t> indexes(const std::vector<Entry>& entries) {
  std::vector<uint64_t> out;
  for (const Entry& e : entries) out.push_back(e.index.value);
  return out;
}

// --- maybe_append (the follower side of AppendEntries, §5.3)
// --------------------------------------

TEST(RaftLog, MaybeAppendAddsEntriesAfterMatchingPrevEntry) {
  MemoryLogStore store;
  fill(store, {1, 1});
  RaftLog log(store);

  const std::optional<LogIndex> last_new =
      log.maybe_append(LogIndex(2), Term(1), LogIndex(0), make_entries(LogIndex(3), {2, 2}));

  EXPECT_EQ(last_new, LogIndex(4));
  EXPECT_EQ(log_terms(log), (std::vector<uint64_t>{1, 1, 2, 2}));
  EXPECT_EQ(indexes(log.take_entries_to_persist()), (std::vector<uint64_t>{3, 4}));
}

TEST(RaftLog, MaybeAppendRefusesWhenPrevEntryDoesNotMatch) {
  MemoryLogStore store;
  fill(store, {1, 1, 2});
  RaftLog log(store);

  // Same index, other term; and an index past our end.
  EXPECT_EQ(log.maybe_append(LogIndex(3), Term(3), LogIndex(0), make_entries(LogIndex(4), {3})),
            std::nullopt);
  EXPECT_EQ(log.maybe_append(LogIndex(4), Term(2), LogIndex(0), make_entries(LogIndex(5), {2})),
            std::nullopt);

  EXPECT_EQ(log_terms(log), (std::vector<uint64_t>{1, 1, 2}));
  EXPECT_FALSE(log.has_entries_to_persist());
}

TEST(RaftLog, MaybeAppendTruncatesConflictingSuffix) {
  MemoryLogStore store;
  fill(store, {1, 1, 2, 2, 2});
  RaftLog log(store);

  const auto last_new =
      log.maybe_append(LogIndex(2), Term(1), LogIndex(0), make_entries(LogIndex(3), {3, 3}));

  EXPECT_EQ(last_new, LogIndex(4));
  // Entry 5 (term 2) followed the conflict and is gone with it.
  EXPECT_EQ(log_terms(log), (std::vector<uint64_t>{1, 1, 3, 3}));
  EXPECT_EQ(log.last_index(), LogIndex(4));
  // Only the replacement needs persisting, and nothing from the conflict on counts as durable.
  EXPECT_EQ(log.persisted_last_index(), LogIndex(2));
  EXPECT_EQ(log.take_entries_to_persist(), make_entries(LogIndex(3), {3, 3}));
}

TEST(RaftLog, MaybeAppendKeepsEntriesAlreadyPresent) {
  MemoryLogStore store;
  fill(store, {1, 1, 2, 2});
  RaftLog log(store);

  // A late copy of an older append: entries 2 and 3 are already here, 4 must survive.
  const auto last_new =
      log.maybe_append(LogIndex(1), Term(1), LogIndex(0), make_entries(LogIndex(2), {1, 2}));

  EXPECT_EQ(last_new, LogIndex(3));
  EXPECT_EQ(log_terms(log), (std::vector<uint64_t>{1, 1, 2, 2}));
  EXPECT_FALSE(log.has_entries_to_persist());
}

TEST(RaftLog, MaybeAppendCommitsUpToLastNewEntryOnly) {
  MemoryLogStore store;
  fill(store, {1, 1, 2, 2});
  RaftLog log(store);

  // The leader has committed 4, but this append only vouches for our log up to index 2: entries
  // 3 and 4 may still differ from the leader's.
  ASSERT_TRUE(log.maybe_append(LogIndex(1), Term(1), LogIndex(4), make_entries(LogIndex(2), {1})));
  EXPECT_EQ(log.committed(), LogIndex(2));

  // Below the last new entry the leader's commit index wins.
  ASSERT_TRUE(
      log.maybe_append(LogIndex(2), Term(1), LogIndex(3), make_entries(LogIndex(3), {2, 2})));
  EXPECT_EQ(log.committed(), LogIndex(3));

  // And commit never moves backwards.
  ASSERT_TRUE(log.maybe_append(LogIndex(4), Term(2), LogIndex(1), {}));
  EXPECT_EQ(log.committed(), LogIndex(3));
}

// --- elections and commitment -------------------------------------------------------------------

TEST(RaftLog, FindConflictByTermSkipsEntriesOfHigherTerms) {
  MemoryLogStore store;
  fill(store, {1, 1, 1, 4, 4, 5, 5});
  RaftLog log(store);

  EXPECT_EQ(log.find_conflict_by_term(LogIndex(7), Term(3)), LogIndex(3));
  EXPECT_EQ(log.find_conflict_by_term(LogIndex(7), Term(4)), LogIndex(5));
  EXPECT_EQ(log.find_conflict_by_term(LogIndex(7), Term(5)), LogIndex(7));
  EXPECT_EQ(log.find_conflict_by_term(LogIndex(2), Term(5)), LogIndex(2));
  EXPECT_EQ(log.find_conflict_by_term(LogIndex(7), Term(0)), LogIndex(0));
  // An index past our end is first brought back to it.
  EXPECT_EQ(log.find_conflict_by_term(LogIndex(20), Term(4)), LogIndex(5));
}

TEST(RaftLog, IsUpToDateComparesLastTermThenLength) {
  MemoryLogStore store;
  fill(store, {1, 2, 2});  // last entry 3@2
  RaftLog log(store);

  EXPECT_TRUE(log.is_up_to_date(LogIndex(1), Term(3)));   // later last term, shorter log
  EXPECT_TRUE(log.is_up_to_date(LogIndex(3), Term(2)));   // same last entry
  EXPECT_TRUE(log.is_up_to_date(LogIndex(4), Term(2)));   // same term, longer
  EXPECT_FALSE(log.is_up_to_date(LogIndex(2), Term(2)));  // same term, shorter
  EXPECT_FALSE(log.is_up_to_date(LogIndex(9), Term(1)));  // earlier last term, however long
}

TEST(RaftLog, MaybeCommitOnlyCommitsAnEntryOfTheCurrentTerm) {
  MemoryLogStore store;
  fill(store, {1, 1, 2});
  RaftLog log(store);

  // Figure 8: entry 2 (term 1) may not be committed by a leader of term 2 counting replicas...
  EXPECT_FALSE(log.maybe_commit(LogIndex(2), Term(2)));
  EXPECT_EQ(log.committed(), LogIndex(0));
  // ...only together with an entry of term 2.
  EXPECT_TRUE(log.maybe_commit(LogIndex(3), Term(2)));
  EXPECT_EQ(log.committed(), LogIndex(3));
  EXPECT_FALSE(log.maybe_commit(LogIndex(3), Term(2)));  // nothing new
  EXPECT_FALSE(log.maybe_commit(LogIndex(1), Term(1)));  // never backwards
  EXPECT_EQ(log.committed(), LogIndex(3));
}

// --- persisting ----------------------------------------------------------------------------------

TEST(RaftLog, TakeEntriesToPersistHandsEachEntryOutOnce) {
  MemoryLogStore store;
  RaftLog log(store);
  log.append(make_entries(LogIndex(1), {1, 1}));

  ASSERT_TRUE(log.has_entries_to_persist());
  const std::vector<Entry> first = log.take_entries_to_persist();
  EXPECT_EQ(indexes(first), (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(log.has_entries_to_persist());  // in progress, not handed out again
  EXPECT_TRUE(log.take_entries_to_persist().empty());

  log.append(make_entries(LogIndex(3), {1}));
  const std::vector<Entry> second = log.take_entries_to_persist();
  EXPECT_EQ(indexes(second), (std::vector<uint64_t>{3}));

  // Nothing is durable until the driver says so.
  EXPECT_EQ(log.persisted_last_index(), LogIndex(0));
  ASSERT_TRUE(store.append(first).is_ok());
  log.stable_to(LogIndex(2), Term(1));
  EXPECT_EQ(log.persisted_last_index(), LogIndex(2));
  ASSERT_TRUE(store.append(second).is_ok());
  log.stable_to(LogIndex(3), Term(1));
  EXPECT_EQ(log.persisted_last_index(), LogIndex(3));
  EXPECT_EQ(log_terms(log), (std::vector<uint64_t>{1, 1, 1}));
}

TEST(RaftLog, StableToIgnoresEntriesReplacedWhileInProgress) {
  MemoryLogStore store;
  RaftLog log(store);
  log.append(make_entries(LogIndex(1), {1, 1, 1}));
  const std::vector<Entry> first = log.take_entries_to_persist();  // 1..3 @1 now being written

  // Before that write completes, a new leader replaces entry 3.
  ASSERT_TRUE(log.maybe_append(LogIndex(2), Term(1), LogIndex(0), make_entries(LogIndex(3), {2})));
  ASSERT_TRUE(log.has_entries_to_persist());
  const std::vector<Entry> second = log.take_entries_to_persist();
  EXPECT_EQ(second, make_entries(LogIndex(3), {2}));

  // The first write completes: 3@1 is durable, but it is no longer our entry 3.
  ASSERT_TRUE(store.append(first).is_ok());
  log.stable_to(LogIndex(3), Term(1));
  EXPECT_LT(log.persisted_last_index(), LogIndex(3));
  EXPECT_EQ(log.term(LogIndex(3)), Term(2));

  ASSERT_TRUE(store.append(second).is_ok());
  log.stable_to(LogIndex(3), Term(2));
  EXPECT_EQ(log.persisted_last_index(), LogIndex(3));
  EXPECT_EQ(log_terms(log), (std::vector<uint64_t>{1, 1, 2}));
  EXPECT_EQ(test::store_terms(store), (std::vector<uint64_t>{1, 1, 2}));
}

TEST(RaftLog, TruncationOfInProgressEntriesHandsOutOnlyTheReplacement) {
  MemoryLogStore store;
  RaftLog log(store);
  log.append(make_entries(LogIndex(1), {1, 1, 1, 1}));
  const std::vector<Entry> first = log.take_entries_to_persist();

  // The new leader's log is shorter: 2@2 replaces 2..4.
  ASSERT_TRUE(log.maybe_append(LogIndex(1), Term(1), LogIndex(0), make_entries(LogIndex(2), {2})));
  EXPECT_EQ(log.last_index(), LogIndex(2));
  const std::vector<Entry> second = log.take_entries_to_persist();
  EXPECT_EQ(second, make_entries(LogIndex(2), {2}));

  ASSERT_TRUE(store.append(first).is_ok());
  log.stable_to(LogIndex(4), Term(1));  // beyond our log now: ignored
  EXPECT_EQ(log.last_index(), LogIndex(2));
  EXPECT_EQ(log.term(LogIndex(2)), Term(2));
  ASSERT_TRUE(store.append(second).is_ok());
  log.stable_to(LogIndex(2), Term(2));
  EXPECT_EQ(log.persisted_last_index(), LogIndex(2));
  EXPECT_EQ(test::store_terms(store), (std::vector<uint64_t>{1, 2}));
}

TEST(RaftLog, ConflictBelowDurableEntriesReplacesTheStoredSuffix) {
  MemoryLogStore store;
  fill(store, {1, 1, 1});
  RaftLog log(store);

  ASSERT_TRUE(log.maybe_append(LogIndex(1), Term(1), LogIndex(0), make_entries(LogIndex(2), {2})));

  EXPECT_EQ(log_terms(log), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(log.persisted_last_index(), LogIndex(1));  // stored 2@1 and 3@1 no longer count
  const std::vector<Entry> replacement = log.take_entries_to_persist();
  EXPECT_EQ(replacement, make_entries(LogIndex(2), {2}));
  ASSERT_TRUE(store.append(replacement).is_ok());
  log.stable_to(LogIndex(2), Term(2));
  EXPECT_EQ(log.persisted_last_index(), LogIndex(2));
  EXPECT_EQ(test::store_terms(store), (std::vector<uint64_t>{1, 2}));
}

// --- reading -------------------------------------------------------------------------------------

TEST(RaftLog, EntriesFromRespectsCountAndByteLimits) {
  MemoryLogStore store;
  fill(store, {1, 1, 1});  // each entry carries 3 bytes ("1@1")
  RaftLog log(store);
  log.append(make_entries(LogIndex(4), {2, 2}));  // unstable, 3 bytes each

  EXPECT_EQ(indexes(log.entries_from(LogIndex(1), 10, 1000)),
            (std::vector<uint64_t>{1, 2, 3, 4, 5}));  // store and unstable entries together
  EXPECT_EQ(indexes(log.entries_from(LogIndex(2), 2, 1000)), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(indexes(log.entries_from(LogIndex(3), 10, 7)), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(indexes(log.entries_from(LogIndex(1), 10, 7)), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(indexes(log.entries_from(LogIndex(2), 10, 6)), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(indexes(log.entries_from(LogIndex(4), 10, 5)), (std::vector<uint64_t>{4}));
  // At least one entry, even when it alone exceeds the byte limit.
  EXPECT_EQ(indexes(log.entries_from(LogIndex(1), 10, 1)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(indexes(log.entries_from(LogIndex(5), 10, 1)), (std::vector<uint64_t>{5}));
  EXPECT_TRUE(log.entries_from(LogIndex(6), 10, 1000).empty());
  EXPECT_TRUE(log.entries_from(LogIndex(1), 0, 1000).empty());
}

TEST(RaftLog, EntriesFromAcceptsAnUnlimitedCount) {
  MemoryLogStore store;
  fill(store, {1, 1});
  RaftLog log(store);
  log.append(make_entries(LogIndex(3), {2}));

  EXPECT_EQ(indexes(log.entries_from(LogIndex(2), SIZE_MAX, SIZE_MAX)),
            (std::vector<uint64_t>{2, 3}));
}

TEST(RaftLog, NextEntriesToApplyHandsOutCommittedEntriesInOrder) {
  MemoryLogStore store;
  fill(store, {1, 1, 1, 1});
  RaftLog log(store);
  EXPECT_FALSE(log.has_entries_to_apply());

  log.commit_to(LogIndex(3));
  EXPECT_EQ(indexes(log.next_entries_to_apply(1000)), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(indexes(log.next_entries_to_apply(1)), (std::vector<uint64_t>{1}));  // byte limit
  log.applied_to(LogIndex(2));
  EXPECT_EQ(indexes(log.next_entries_to_apply(1000)), (std::vector<uint64_t>{3}));
  log.applied_to(LogIndex(3));
  EXPECT_FALSE(log.has_entries_to_apply());
  EXPECT_TRUE(log.next_entries_to_apply(1000).empty());

  log.commit_to(LogIndex(4));
  EXPECT_EQ(indexes(log.next_entries_to_apply(1000)), (std::vector<uint64_t>{4}));
}

TEST(RaftLog, RecoversCommitFromTheStoredHardState) {
  MemoryLogStore store;
  fill(store, {1, 1, 2});
  ASSERT_TRUE(store.set_hard_state({Term(2), NodeId(1), LogIndex(2)}).is_ok());

  RaftLog log(store);

  EXPECT_EQ(log.committed(), LogIndex(2));
  EXPECT_EQ(log.applied(), LogIndex(0));  // the state machine is rebuilt from the log
  EXPECT_EQ(log.last_index(), LogIndex(3));
  EXPECT_EQ(log.persisted_last_index(), LogIndex(3));
  EXPECT_EQ(indexes(log.next_entries_to_apply(1000)), (std::vector<uint64_t>{1, 2}));
}

}  // namespace
}  // namespace grape::raft
