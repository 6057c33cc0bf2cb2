// Each safety checker is shown failing on a crafted violation, and staying quiet on a legal run.
#include "sim/checker.h"

#include <gtest/gtest.h>

namespace grape::sim {
namespace {

raft::Entry entry(uint64_t index, uint64_t term, const char* data = "") {
  return raft::Entry{Term(term), LogIndex(index), raft::EntryType::kNormal, to_bytes(data)};
}

auto no_log = [](LogIndex) { return Term(0); };

TEST(SafetyChecker, QuietOnALegalHistory) {
  SafetyChecker checker;
  checker.on_leader_elected(NodeId(1), Term(1), LogIndex(0), no_log);
  std::vector<raft::Entry> log = {entry(1, 1), entry(2, 1, "a")};
  checker.on_persist(NodeId(1), log, Term(1));
  checker.on_persist(NodeId(2), log, Term(0));
  for (const auto& e : log) {
    checker.on_apply(NodeId(1), e, Term(1));
    checker.on_apply(NodeId(2), e, Term(1));
  }
  checker.on_leader_elected(NodeId(2), Term(2), LogIndex(2),
                            [&](LogIndex i) { return log[i.value - 1].term; });
  EXPECT_TRUE(checker.ok());
}

TEST(SafetyChecker, CatchesTwoLeadersInOneTerm) {
  SafetyChecker checker;
  checker.on_leader_elected(NodeId(1), Term(3), LogIndex(0), no_log);
  checker.on_leader_elected(NodeId(2), Term(3), LogIndex(0), no_log);
  ASSERT_FALSE(checker.ok());
  EXPECT_EQ(checker.violations()[0].property, "election_safety");
}

TEST(SafetyChecker, CatchesLogsThatAgreeOnAnEntryButNotOnItsPrefix) {
  SafetyChecker checker;
  checker.on_persist(NodeId(1), std::vector{entry(1, 1, "x"), entry(2, 2)}, Term(0));
  checker.on_persist(NodeId(2), std::vector{entry(1, 1, "y"), entry(2, 2)}, Term(0));
  ASSERT_FALSE(checker.ok());
  EXPECT_EQ(checker.violations()[0].property, "log_matching");
}

TEST(SafetyChecker, AllowsAFollowerToReplaceAnUncommittedSuffix) {
  SafetyChecker checker;
  checker.on_persist(NodeId(1), std::vector{entry(1, 1), entry(2, 1, "old")}, Term(0));
  checker.on_persist(NodeId(1), std::vector{entry(2, 2, "new")}, Term(0));
  checker.on_persist(NodeId(2), std::vector{entry(1, 1), entry(2, 2, "new")}, Term(0));
  EXPECT_TRUE(checker.ok());
}

TEST(SafetyChecker, CatchesALeaderMissingACommittedEntry) {
  SafetyChecker checker;
  const auto e1 = entry(1, 1, "committed");
  checker.on_apply(NodeId(1), e1, Term(1));
  // A leader of term 2 whose log is empty.
  checker.on_leader_elected(NodeId(2), Term(2), LogIndex(0), no_log);
  ASSERT_FALSE(checker.ok());
  EXPECT_EQ(checker.violations()[0].property, "leader_completeness");
}

TEST(SafetyChecker, LeaderCompletenessIgnoresEntriesCommittedInLaterTerms) {
  SafetyChecker checker;
  // Applied by a node at term 5: committed in some term <= 5, perhaps 5 itself; a leader of
  // term 4 elected late need not hold it.
  checker.on_apply(NodeId(1), entry(1, 1), Term(5));
  checker.on_leader_elected(NodeId(2), Term(4), LogIndex(0), no_log);
  EXPECT_TRUE(checker.ok());
}

TEST(SafetyChecker, CatchesTwoNodesApplyingDifferentEntriesAtOneIndex) {
  SafetyChecker checker;
  checker.on_apply(NodeId(1), entry(1, 1, "a"), Term(1));
  checker.on_apply(NodeId(2), entry(1, 1, "b"), Term(1));
  ASSERT_FALSE(checker.ok());
  EXPECT_EQ(checker.violations()[0].property, "state_machine_safety");
}

TEST(SafetyChecker, CatchesAGapInApplication) {
  SafetyChecker checker;
  checker.on_apply(NodeId(1), entry(2, 1), Term(1));
  ASSERT_FALSE(checker.ok());
  EXPECT_EQ(checker.violations()[0].property, "state_machine_safety");
}

TEST(SafetyChecker, CatchesALeaderOverwritingItsOwnLog) {
  SafetyChecker checker;
  checker.on_persist(NodeId(1), std::vector{entry(1, 2), entry(2, 2)}, Term(2));
  checker.on_persist(NodeId(1), std::vector{entry(2, 2, "rewritten")}, Term(2));
  ASSERT_FALSE(checker.ok());
  EXPECT_EQ(checker.violations()[0].property, "leader_append_only");
}

TEST(SafetyChecker, RestartedNodeMayApplyFromTheStartAgain) {
  SafetyChecker checker;
  checker.on_apply(NodeId(1), entry(1, 1), Term(1));
  checker.on_restart(NodeId(1));
  checker.on_apply(NodeId(1), entry(1, 1), Term(1));
  EXPECT_TRUE(checker.ok());
}

}  // namespace
}  // namespace grape::sim
