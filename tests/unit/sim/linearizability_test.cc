// The linearizability checker on hand-made histories it must accept or reject, and on histories
// made by driving a real register with random interleavings (always linearizable).
#include "sim/linearizability.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/rng.h"
#include "sim/checker.h"

namespace grape::sim {
namespace {

constexpr int64_t kNoReply = 0;  // the completion of an info op: never read

Operation op(uint64_t process, OpKind kind, const char* key, int64_t from_ms, int64_t to_ms,
             OpOutcome outcome) {
  Operation o;
  o.process = process;
  o.kind = kind;
  o.key = key;
  o.invoked = VirtualTime{} + milliseconds(from_ms);
  o.completed = VirtualTime{} + milliseconds(to_ms);
  o.outcome = outcome;
  return o;
}

Operation put(uint64_t process, const char* key, const char* value, int64_t from_ms, int64_t to_ms,
              OpOutcome outcome = OpOutcome::kOk) {
  Operation o = op(process, OpKind::kPut, key, from_ms, to_ms, outcome);
  o.value = value;
  return o;
}

Operation get(uint64_t process, const char* key, std::optional<std::string> value, int64_t from_ms,
              int64_t to_ms, OpOutcome outcome = OpOutcome::kOk) {
  Operation o = op(process, OpKind::kGet, key, from_ms, to_ms, outcome);
  o.value = std::move(value);
  return o;
}

Operation del(uint64_t process, const char* key, int64_t from_ms, int64_t to_ms,
              OpOutcome outcome = OpOutcome::kOk) {
  return op(process, OpKind::kDelete, key, from_ms, to_ms, outcome);
}

Operation cas(uint64_t process, const char* key, std::optional<std::string> expected,
              const char* value, int64_t from_ms, int64_t to_ms,
              OpOutcome outcome = OpOutcome::kOk) {
  Operation o = op(process, OpKind::kCas, key, from_ms, to_ms, outcome);
  o.expected = std::move(expected);
  o.value = value;
  return o;
}

History history(std::vector<Operation> ops) {
  History h;
  h.ops = std::move(ops);
  for (size_t i = 0; i < h.ops.size(); ++i) h.ops[i].id = i;
  return h;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void expect_accepted(const History& h) {
  const LinearizabilityResult result = check_linearizable(h);
  EXPECT_TRUE(result.ok) << result.detail;
  EXPECT_FALSE(result.gave_up) << result.detail;
  EXPECT_TRUE(result.detail.empty()) << result.detail;
}

// Returns the result for further checks of the detail.
LinearizabilityResult expect_rejected(const History& h, const std::string& key) {
  LinearizabilityResult result = check_linearizable(h);
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.gave_up);
  EXPECT_EQ(result.key, key);
  EXPECT_TRUE(contains(result.detail, "key \"" + key + "\"")) << result.detail;
  EXPECT_TRUE(contains(result.detail, "not linearizable")) << result.detail;
  return result;
}

// --- accepted ---

TEST(Linearizability, AcceptsAnEmptyHistory) { expect_accepted(History{}); }

TEST(Linearizability, AcceptsASequentialHistory) {
  expect_accepted(history({
      get(1, "k", std::nullopt, 0, 1),
      put(1, "k", "v1", 2, 3),
      get(2, "k", "v1", 4, 5),
      put(2, "k", "v2", 6, 7),
      get(1, "k", "v2", 8, 9),
      del(1, "k", 10, 11),
      get(2, "k", std::nullopt, 12, 13),
  }));
}

TEST(Linearizability, AcceptsAConcurrentReadOfEitherValue) {
  for (const char* seen : {"v1", "v2"}) {
    expect_accepted(history({
        put(1, "k", "v1", 0, 1),
        put(1, "k", "v2", 2, 10),
        get(2, "k", seen, 3, 5),
    }));
  }
}

TEST(Linearizability, AcceptsConcurrentWritesInEitherOrder) {
  for (const char* last : {"v1", "v2"}) {
    expect_accepted(history({
        put(1, "k", "v1", 0, 10),
        put(2, "k", "v2", 1, 9),
        get(3, "k", last, 11, 12),
        get(1, "k", last, 13, 14),
    }));
  }
}

TEST(Linearizability, AcceptsAnInfoWriteThatMayOrMayNotHaveHappened) {
  for (const char* seen : {"v1", "v2"}) {
    expect_accepted(history({
        put(1, "k", "v1", 0, 1),
        put(1, "k", "v2", 2, kNoReply, OpOutcome::kInfo),
        get(2, "k", seen, 10, 11),
    }));
  }
  // It may also take effect long after its client gave up on it.
  expect_accepted(history({
      put(1, "k", "v1", 0, 1),
      put(1, "k", "v2", 2, kNoReply, OpOutcome::kInfo),
      get(2, "k", "v1", 10, 11),
      get(2, "k", "v2", 20, 21),
  }));
}

TEST(Linearizability, TreatsAPendingOpLikeAnInfoOp) {
  for (const char* seen : {"v1", "v2"}) {
    expect_accepted(history({
        put(1, "k", "v1", 0, 1),
        put(1, "k", "v2", 2, kNoReply, OpOutcome::kPending),
        get(2, "k", seen, 10, 11),
    }));
  }
}

TEST(Linearizability, IgnoresGetsThatObservedNothing) {
  expect_accepted(history({
      put(1, "k", "v1", 0, 1),
      get(2, "k", "bogus", 2, 3, OpOutcome::kFail),
      get(2, "k", "bogus", 4, kNoReply, OpOutcome::kInfo),
      get(1, "k", "v1", 5, 6),
  }));
}

TEST(Linearizability, AcceptsAKeyWhoseOpsAllCertainlyFailed) {
  const LinearizabilityResult result = check_linearizable(history({
      put(1, "k", "v1", 0, 1, OpOutcome::kFail),
      del(2, "k", 0, 1, OpOutcome::kFail),
      get(3, "k", "v1", 0, 1, OpOutcome::kFail),
  }));
  EXPECT_TRUE(result.ok) << result.detail;
  ASSERT_EQ(result.keys.size(), 1u);
  EXPECT_EQ(result.keys[0].ops, 0u);
  EXPECT_EQ(result.keys[0].verdict, KeyVerdict::kLinearizable);
}

TEST(Linearizability, AcceptsCasChainsThatSucceedAndFail) {
  expect_accepted(history({
      cas(1, "k", std::nullopt, "a", 0, 1),  // from absent
      cas(2, "k", "a", "b", 2, 3),
      cas(1, "k", "a", "c", 4, 5, OpOutcome::kFail),  // reads b != a
      cas(2, "k", "b", "c", 6, 7),
      cas(1, "k", std::nullopt, "d", 8, 9, OpOutcome::kFail),
      get(2, "k", "c", 10, 11),
  }));
}

TEST(Linearizability, AcceptsAFailedCasConcurrentWithTheWriteItSaw) {
  expect_accepted(history({
      put(1, "k", "a", 0, 1),
      cas(2, "k", "a", "b", 2, 10, OpOutcome::kFail),
      put(3, "k", "c", 3, 4),
  }));
}

// The info write is never read, yet it is the only explanation for the failed cas.
TEST(Linearizability, AcceptsAFailedCasExplainedByAnInfoWrite) {
  expect_accepted(history({
      put(1, "k", "a", 0, 1),
      put(1, "k", "b", 2, kNoReply, OpOutcome::kInfo),
      cas(2, "k", "a", "c", 5, 6, OpOutcome::kFail),
  }));
}

TEST(Linearizability, AcceptsADeleteThenAnAbsentGet) {
  expect_accepted(history({
      put(1, "k", "v1", 0, 1),
      del(2, "k", 2, 3),
      get(1, "k", std::nullopt, 4, 5),
      put(1, "k", "v1", 6, 7),  // the same value again is fine
      get(2, "k", "v1", 8, 9),
  }));
}

// An op completing at t and another invoked at t are concurrent: the read may come first.
TEST(Linearizability, TreatsEqualTimesAsConcurrent) {
  expect_accepted(history({
      put(1, "k", "v1", 0, 10),
      get(2, "k", std::nullopt, 10, 12),
  }));
  expect_rejected(history({
                      put(1, "k", "v1", 0, 10),
                      get(2, "k", std::nullopt, 11, 12),
                  }),
                  "k");
}

// --- rejected ---

TEST(Linearizability, RejectsAStaleReadAfterAnAcknowledgedWrite) {
  const LinearizabilityResult result = expect_rejected(history({
                                                           put(1, "k1", "v1", 0, 1),
                                                           put(1, "k1", "v2", 2, 3),
                                                           get(2, "k1", "v1", 4, 5),
                                                       }),
                                                       "k1");
  EXPECT_TRUE(contains(result.detail, "process 2 get -> \"v1\"")) << result.detail;
  EXPECT_TRUE(contains(result.detail, "register holding \"v2\"")) << result.detail;
  EXPECT_TRUE(contains(result.detail, "process 1 put \"v2\"")) << result.detail;
  EXPECT_EQ(result.at.ms(), 5);
}

TEST(Linearizability, RejectsAReadOfAValueNeverWritten) {
  const LinearizabilityResult result = expect_rejected(history({
                                                           put(1, "k", "v1", 0, 1),
                                                           put(2, "k", "v2", 0, 2),
                                                           get(3, "k", "v3", 1, 5),
                                                       }),
                                                       "k");
  EXPECT_TRUE(contains(result.detail, "get -> \"v3\"")) << result.detail;
}

TEST(Linearizability, RejectsReadsThatGoBackInTime) {
  expect_rejected(history({
                      put(1, "k", "v1", 0, 1),
                      put(1, "k", "v2", 2, 5),
                      get(2, "k", "v2", 6, 7),
                      get(2, "k", "v1", 8, 9),
                  }),
                  "k");
}

// Even while the write of v2 is in flight: once a read saw v2, a later read cannot see v1.
TEST(Linearizability, RejectsReadsThatGoBackInTimeDuringTheWrite) {
  expect_rejected(history({
                      put(1, "k", "v1", 0, 1),
                      put(1, "k", "v2", 2, 20),
                      get(2, "k", "v2", 3, 4),
                      get(3, "k", "v1", 5, 6),
                  }),
                  "k");
}

TEST(Linearizability, RejectsAnInfoWriteSeenThenUnseen) {
  expect_rejected(history({
                      put(1, "k", "v1", 0, 1),
                      put(1, "k", "v2", 2, kNoReply, OpOutcome::kInfo),
                      get(2, "k", "v2", 10, 11),
                      get(2, "k", "v1", 12, 13),
                  }),
                  "k");
}

TEST(Linearizability, RejectsAnOkCasWithTheWrongExpectation) {
  const LinearizabilityResult result = expect_rejected(history({
                                                           put(1, "k", "a", 0, 1),
                                                           cas(2, "k", "b", "c", 2, 3),
                                                       }),
                                                       "k");
  EXPECT_TRUE(contains(result.detail, "an ok cas must see \"b\"")) << result.detail;
}

TEST(Linearizability, RejectsAFailedCasThatMustHaveSucceeded) {
  const LinearizabilityResult result =
      expect_rejected(history({
                          put(1, "k", "a", 0, 1),
                          cas(2, "k", "a", "b", 2, 3, OpOutcome::kFail),
                      }),
                      "k");
  EXPECT_TRUE(contains(result.detail, "a failed cas must see a value other than \"a\""))
      << result.detail;
}

TEST(Linearizability, RejectsALostAcknowledgedWrite) {
  expect_rejected(history({
                      put(1, "k", "v1", 0, 1), get(2, "k", "v1", 2, 3),
                      put(1, "k", "v2", 4, 5),  // acknowledged
                      put(3, "other", "x", 6, 7), get(2, "other", "x", 8, 9),
                      get(3, "k", "v1", 20, 21),  // as if the write were lost
                  }),
                  "k");
}

TEST(Linearizability, RejectsAFailedPutWhoseValueIsRead) {
  expect_rejected(history({
                      put(1, "k", "v1", 0, 1),
                      put(1, "k", "v2", 2, 3, OpOutcome::kFail),
                      get(2, "k", "v2", 4, 5),
                  }),
                  "k");
}

TEST(Linearizability, RejectsAnAbsentReadAfterAWrite) {
  const LinearizabilityResult result = expect_rejected(history({
                                                           put(1, "k", "v1", 0, 1),
                                                           get(2, "k", std::nullopt, 2, 3),
                                                       }),
                                                       "k");
  EXPECT_TRUE(contains(result.detail, "get -> absent")) << result.detail;
}

TEST(Linearizability, MakesALinearizabilityViolation) {
  const LinearizabilityResult result = check_linearizable(history({
      put(1, "k", "v1", 0, 1),
      get(2, "k", "v9", 2, 3),
  }));
  ASSERT_FALSE(result.ok);
  const Violation violation = to_violation(result);
  EXPECT_EQ(violation.property, "linearizability");
  EXPECT_EQ(violation.at.ms(), 3);
  EXPECT_EQ(violation.node, kNoNode);
  EXPECT_EQ(violation.detail, result.detail);
}

// --- keys ---

// On one register this history is impossible (get a -> 1 after put b = 2); per key it is fine.
TEST(Linearizability, ChecksEachKeyAsAnIndependentRegister) {
  const LinearizabilityResult result = check_linearizable(history({
      put(1, "a", "1", 0, 1),
      put(2, "b", "2", 2, 3),
      get(1, "a", "1", 4, 5),
      get(2, "b", "2", 4, 5),
  }));
  EXPECT_TRUE(result.ok) << result.detail;
  ASSERT_EQ(result.keys.size(), 2u);
  EXPECT_EQ(result.keys[0].key, "a");
  EXPECT_EQ(result.keys[1].key, "b");
  EXPECT_EQ(result.keys[0].verdict, KeyVerdict::kLinearizable);
  EXPECT_EQ(result.keys[1].verdict, KeyVerdict::kLinearizable);
}

TEST(Linearizability, ReportsTheFirstViolatingKeyAndChecksEveryKey) {
  const LinearizabilityResult result = check_linearizable(history({
      put(1, "c", "1", 0, 1), get(1, "c", "0", 2, 3),  // violation on c
      put(2, "a", "1", 0, 1), get(2, "a", "1", 2, 3), put(3, "b", "1", 0, 1),
      get(3, "b", std::nullopt, 2, 3),  // violation on b
  }));
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.key, "b");
  EXPECT_TRUE(contains(result.detail, "key \"b\"")) << result.detail;
  ASSERT_EQ(result.keys.size(), 3u);
  EXPECT_EQ(result.keys[0].verdict, KeyVerdict::kLinearizable);
  EXPECT_EQ(result.keys[1].verdict, KeyVerdict::kViolation);
  EXPECT_EQ(result.keys[2].verdict, KeyVerdict::kViolation);
  EXPECT_TRUE(contains(result.keys[2].detail, "key \"c\"")) << result.keys[2].detail;
}

// --- generated histories ---

struct RegisterRun {
  int processes = 5;
  int ops_per_process = 200;
  int keys = 1;
  double info_chance = 0.0;  // an op ends without an answer (taking effect or not)
  uint64_t seed = 1;
};

// Clients drive a real register store: each op takes effect at one instant between its invocation
// and its completion, and the interleaving is random, so the history is linearizable.
History simulate_registers(const RegisterRun& run) {
  enum class Phase { kIdle, kInvoked, kApplied };
  struct Client {
    Phase phase = Phase::kIdle;
    int ops_left = 0;
    size_t op = 0;
  };
  Rng rng(run.seed);
  std::vector<Client> clients(run.processes);
  for (Client& c : clients) c.ops_left = run.ops_per_process;
  std::vector<std::optional<std::string>> store(run.keys);
  std::vector<std::vector<std::string>> written(run.keys);
  History h;
  int64_t time_us = 0;
  int value_count = 0;
  int busy = run.processes;
  while (busy > 0) {
    time_us += rng.between(1, 300);
    const size_t p = rng.below(clients.size());
    Client& c = clients[p];
    if (c.phase == Phase::kIdle) {
      if (c.ops_left == 0) continue;
      --c.ops_left;
      Operation o;
      o.id = h.ops.size();
      o.process = p + 1;
      const size_t key = rng.below(run.keys);
      o.key = "k" + std::to_string(key);
      o.invoked = VirtualTime{} + microseconds(time_us);
      const uint64_t pick = rng.below(100);
      o.kind = pick < 40   ? OpKind::kPut
               : pick < 75 ? OpKind::kGet
               : pick < 90 ? OpKind::kCas
                           : OpKind::kDelete;
      if (o.kind == OpKind::kPut || o.kind == OpKind::kCas) {
        o.value = "v" + std::to_string(++value_count);
      }
      if (o.kind == OpKind::kCas) {
        const std::vector<std::string>& old = written[key];
        if (rng.chance(0.6) || old.empty()) {
          o.expected = store[key];
        } else {
          o.expected = old[rng.below(old.size())];
        }
      }
      c.op = h.ops.size();
      h.ops.push_back(std::move(o));
      c.phase = Phase::kInvoked;
    } else if (c.phase == Phase::kInvoked) {
      Operation& o = h.ops[c.op];
      const size_t key = std::stoul(o.key.substr(1));
      if (rng.chance(run.info_chance)) {  // no answer; it may still have taken effect
        o.outcome = OpOutcome::kInfo;
        const bool happened = o.kind != OpKind::kGet && rng.chance(0.5);
        if (o.kind == OpKind::kGet) o.value.reset();
        if (happened && (o.kind != OpKind::kCas || store[key] == o.expected)) {
          store[key] = o.value;
          if (o.value) written[key].push_back(*o.value);
        }
        c.phase = Phase::kIdle;
        if (c.ops_left == 0) --busy;
        continue;
      }
      switch (o.kind) {  // the linearization point
        case OpKind::kGet:
          o.value = store[key];
          break;
        case OpKind::kPut:
          store[key] = o.value;
          break;
        case OpKind::kDelete:
          store[key].reset();
          break;
        case OpKind::kCas:
          if (store[key] != o.expected) {
            o.outcome = OpOutcome::kFail;
            break;
          }
          store[key] = o.value;
          break;
      }
      if (o.value && o.kind != OpKind::kGet && o.outcome != OpOutcome::kFail) {
        written[key].push_back(*o.value);
      }
      c.phase = Phase::kApplied;
    } else {
      Operation& o = h.ops[c.op];
      if (o.outcome != OpOutcome::kFail) o.outcome = OpOutcome::kOk;
      o.completed = VirtualTime{} + microseconds(time_us);
      c.phase = Phase::kIdle;
      if (c.ops_left == 0) --busy;
    }
  }
  return h;
}

TEST(Linearizability, AcceptsManyConcurrentOpsOnOneKey) {
  const History h = simulate_registers({.processes = 5, .ops_per_process = 200, .keys = 1});
  ASSERT_EQ(h.ops.size(), 1000u);
  const LinearizabilityResult result = check_linearizable(h);
  EXPECT_TRUE(result.ok) << result.detail;
  EXPECT_FALSE(result.gave_up);
  EXPECT_LT(result.states_explored, 100'000u);  // a deterministic stand-in for "fast"
}

// The size of a scenario's history: thousands of ops over 8 keys, 10 clients, timeouts.
TEST(Linearizability, AcceptsAScenarioSizedHistoryWithTimeouts) {
  const History h = simulate_registers(
      {.processes = 10, .ops_per_process = 300, .keys = 8, .info_chance = 0.03, .seed = 7});
  const LinearizabilityResult result = check_linearizable(h);
  EXPECT_TRUE(result.ok) << result.detail;
  EXPECT_FALSE(result.gave_up);
  EXPECT_EQ(result.keys.size(), 8u);
  EXPECT_LT(result.states_explored, 200'000u);
}

TEST(Linearizability, AcceptsManySeedsOfSmallConcurrentHistories) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    const History h = simulate_registers(
        {.processes = 4, .ops_per_process = 25, .keys = 2, .info_chance = 0.1, .seed = seed});
    const LinearizabilityResult result = check_linearizable(h);
    EXPECT_TRUE(result.ok) << "seed " << seed << ": " << result.detail;
    EXPECT_FALSE(result.gave_up) << "seed " << seed;
  }
}

TEST(Linearizability, RejectsManyConcurrentOpsWithOneImpossibleRead) {
  History h = simulate_registers({.processes = 5, .ops_per_process = 200, .keys = 1});
  size_t target = h.ops.size() / 2;
  while (h.ops[target].kind != OpKind::kGet || h.ops[target].outcome != OpOutcome::kOk) ++target;
  h.ops[target].value = "never-written";
  const LinearizabilityResult result = check_linearizable(h);
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.gave_up);
  EXPECT_TRUE(contains(result.detail, "get -> \"never-written\"")) << result.detail;
  EXPECT_EQ(result.at, h.ops[target].completed);
}

// --- against brute force ---

// Tries every order of every subset of the info ops, straight from the history's semantics.
class BruteForce {
 public:
  explicit BruteForce(const History& h) {
    for (const Operation& o : h.ops) {
      const bool definite = o.outcome == OpOutcome::kOk || o.outcome == OpOutcome::kFail;
      if (o.kind == OpKind::kGet && o.outcome != OpOutcome::kOk) continue;
      if (o.kind != OpKind::kCas && o.outcome == OpOutcome::kFail) continue;
      ops_.push_back(&o);
      definite_.push_back(definite);
    }
    placed_.assign(ops_.size(), false);
  }

  bool linearizable() { return search(std::nullopt); }

 private:
  bool search(const std::optional<std::string>& current) {
    bool all_definite_placed = true;
    for (size_t i = 0; i < ops_.size(); ++i) all_definite_placed &= placed_[i] || !definite_[i];
    if (all_definite_placed) return true;
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (placed_[i] || !may_go_next(i)) continue;
      std::optional<std::optional<std::string>> after = step(*ops_[i], current);
      if (!after) continue;
      placed_[i] = true;
      const bool found = search(*after);
      placed_[i] = false;
      if (found) return true;
    }
    return false;
  }

  // Every definite op that completed before op i was invoked is already placed.
  bool may_go_next(size_t i) const {
    for (size_t j = 0; j < ops_.size(); ++j) {
      if (!placed_[j] && definite_[j] && ops_[j]->completed < ops_[i]->invoked) return false;
    }
    return true;
  }

  static std::optional<std::optional<std::string>> step(const Operation& o,
                                                        const std::optional<std::string>& now) {
    switch (o.kind) {
      case OpKind::kPut:
        return std::optional(o.value);
      case OpKind::kDelete:
        return std::optional(std::optional<std::string>());
      case OpKind::kGet:
        if (now == o.value) return std::optional(now);
        return std::nullopt;
      case OpKind::kCas:
        if (o.outcome == OpOutcome::kFail) {
          if (now != o.expected) return std::optional(now);
          return std::nullopt;
        }
        if (now == o.expected) return std::optional(o.value);
        return std::nullopt;
    }
    return std::nullopt;
  }

  std::vector<const Operation*> ops_;
  std::vector<bool> definite_;
  std::vector<bool> placed_;
};

History random_small_history(Rng& rng) {
  const char* const values[] = {"a", "b", "c"};
  auto random_value = [&]() -> std::optional<std::string> {
    const uint64_t pick = rng.below(4);
    if (pick == 3) return std::nullopt;
    return values[pick];
  };
  History h;
  const int count = static_cast<int>(rng.between(2, 7));
  for (int i = 0; i < count; ++i) {
    Operation o;
    o.id = h.ops.size();
    o.process = i;
    o.key = "k";
    o.kind = static_cast<OpKind>(rng.below(4));
    const int64_t from = rng.between(0, 20);
    o.invoked = VirtualTime{} + milliseconds(from);
    o.completed = VirtualTime{} + milliseconds(from + rng.between(0, 8));
    const uint64_t outcome = rng.below(10);
    o.outcome = outcome < 6 ? OpOutcome::kOk : outcome < 8 ? OpOutcome::kFail : OpOutcome::kInfo;
    if (o.kind != OpKind::kDelete) o.value = random_value();
    if (o.kind == OpKind::kPut && !o.value) o.value = "a";
    if (o.kind == OpKind::kCas) o.expected = random_value();
    h.ops.push_back(std::move(o));
  }
  return h;
}

TEST(Linearizability, AgreesWithBruteForceOnSmallRandomHistories) {
  Rng rng(2024);
  int accepted = 0;
  int rejected = 0;
  for (int run = 0; run < 3000; ++run) {
    const History h = random_small_history(rng);
    const bool expected = BruteForce(h).linearizable();
    const LinearizabilityResult result = check_linearizable(h);
    ASSERT_FALSE(result.gave_up);
    ASSERT_EQ(result.ok, expected) << "run " << run << ": " << result.detail;
    (expected ? accepted : rejected)++;
  }
  EXPECT_GT(accepted, 500);  // both verdicts are well represented
  EXPECT_GT(rejected, 500);
}

// A get made to return a value that two later writes had certainly replaced before it began.
TEST(Linearizability, RejectsAStaleReadHiddenInAScenarioSizedHistory) {
  History h = simulate_registers(
      {.processes = 10, .ops_per_process = 300, .keys = 8, .info_chance = 0.03, .seed = 7});
  const Operation* stale = nullptr;
  for (size_t i = h.ops.size() / 2; i < h.ops.size() && stale == nullptr; ++i) {
    Operation& reader = h.ops[i];
    if (reader.kind != OpKind::kGet || reader.outcome != OpOutcome::kOk) continue;
    const Operation* newer = nullptr;
    for (size_t j = i; j-- > 0;) {
      const Operation& w = h.ops[j];
      const bool done_before = w.kind == OpKind::kPut && w.outcome == OpOutcome::kOk &&
                               w.key == reader.key && w.completed < reader.invoked;
      if (!done_before) continue;
      if (newer == nullptr) {
        newer = &w;
      } else if (w.completed < newer->invoked) {
        reader.value = w.value;
        stale = &reader;
        break;
      }
    }
  }
  ASSERT_NE(stale, nullptr);
  const LinearizabilityResult result = check_linearizable(h);
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.gave_up);
  EXPECT_EQ(result.key, stale->key);
  EXPECT_EQ(result.at, stale->completed);
  EXPECT_TRUE(contains(result.detail, "get -> " + std::string("\"") + *stale->value + "\""))
      << result.detail;
}

// --- the smallest set of ops that cannot be ordered ---

TEST(LinearizabilityMinimize, KeepsTheStaleReadAndTheWritesItNeeds) {
  const History h = history({
      put(1, "a", "1", 0, 10),
      get(2, "a", "1", 12, 15),
      put(3, "a", "x", 5, kNoReply, OpOutcome::kInfo),
      put(2, "b", "9", 16, 18),
      put(2, "a", "2", 20, 30),
      get(4, "a", "1", 40, 50),  // stale: "2" replaced "1" before it began
      put(1, "a", "3", 60, 70),
      get(1, "a", "3", 80, 90),
  });
  const MinimalViolation minimal = minimize_violation(h, "a");
  EXPECT_EQ(minimal.key, "a");
  EXPECT_TRUE(minimal.minimal);
  // Not just the get: reading "1" with no write of "1" would hide what went wrong.
  EXPECT_EQ(minimal.op_ids, (std::vector<uint64_t>{0, 4, 5}));
}

TEST(LinearizabilityMinimize, ReducesAReadOfAValueNobodyWroteToThatRead) {
  const History h = history({
      put(1, "a", "1", 0, 10),
      get(2, "a", "zz", 20, 30),
      get(1, "a", "1", 40, 50),
  });
  const MinimalViolation minimal = minimize_violation(h, "a");
  EXPECT_TRUE(minimal.minimal);
  EXPECT_EQ(minimal.op_ids, (std::vector<uint64_t>{1}));
}

TEST(LinearizabilityMinimize, SaysSoWhenTheBudgetRunsOut) {
  const History h = history({
      put(1, "a", "1", 0, 10),
      put(2, "a", "2", 20, 30),
      get(4, "a", "1", 40, 50),
      put(1, "a", "3", 60, 70),
  });
  const MinimalViolation minimal = minimize_violation(h, "a", {}, /*checks_max=*/1);
  EXPECT_FALSE(minimal.minimal);
  EXPECT_EQ(minimal.checks, 1u);
  EXPECT_EQ(minimal.op_ids, (std::vector<uint64_t>{0, 1, 2, 3}));
}

TEST(LinearizabilityMinimize, ReturnsEveryOpOfAKeyThatCanBeOrdered) {
  const History h = history({put(1, "a", "1", 0, 10), get(2, "a", "1", 20, 30)});
  const MinimalViolation minimal = minimize_violation(h, "a");
  EXPECT_FALSE(minimal.minimal);
  EXPECT_EQ(minimal.op_ids, (std::vector<uint64_t>{0, 1}));
}

// Thousands of ops on eight keys come down to the stale read and the two writes that prove it.
TEST(LinearizabilityMinimize, FindsTheStaleReadInAScenarioSizedHistory) {
  History h = simulate_registers(
      {.processes = 10, .ops_per_process = 300, .keys = 8, .info_chance = 0.03, .seed = 7});
  uint64_t stale = 0;
  for (size_t i = h.ops.size() / 2; i < h.ops.size() && stale == 0; ++i) {
    Operation& reader = h.ops[i];
    if (reader.kind != OpKind::kGet || reader.outcome != OpOutcome::kOk) continue;
    const Operation* newer = nullptr;
    for (size_t j = i; j-- > 0;) {
      const Operation& w = h.ops[j];
      if (w.kind != OpKind::kPut || w.outcome != OpOutcome::kOk || w.key != reader.key ||
          w.completed >= reader.invoked) {
        continue;
      }
      if (newer == nullptr) {
        newer = &w;
      } else if (w.completed < newer->invoked) {
        reader.value = w.value;
        stale = i;
        break;
      }
    }
  }
  ASSERT_NE(stale, 0u);
  const LinearizabilityResult result = check_linearizable(h);
  ASSERT_FALSE(result.ok);
  const MinimalViolation minimal = minimize_violation(h, result.key);
  EXPECT_TRUE(minimal.minimal);
  EXPECT_LT(minimal.checks, kMinimizeChecksMax);
  EXPECT_EQ(minimal.op_ids.size(), 3u);
  EXPECT_NE(std::find(minimal.op_ids.begin(), minimal.op_ids.end(), stale), minimal.op_ids.end());
}

// Timed-out writes whose values nobody read cannot matter, and do not blow up the search.
TEST(Linearizability, LeavesOutInfoWritesNobodyObserved) {
  std::vector<Operation> ops = {put(1, "k", "v0", 0, 1)};
  std::vector<std::string> values;
  for (int i = 0; i < 40; ++i) values.push_back("lost" + std::to_string(i));
  for (int i = 0; i < 40; ++i) {
    ops.push_back(put(2 + i, "k", values[i].c_str(), 2, kNoReply, OpOutcome::kInfo));
  }
  ops.push_back(get(1, "k", "v0", 3, 4));
  ops.push_back(get(1, "k", "lost7", 5, 6));
  const LinearizabilityResult result = check_linearizable(history(std::move(ops)));
  EXPECT_TRUE(result.ok) << result.detail;
  ASSERT_EQ(result.keys.size(), 1u);
  EXPECT_EQ(result.keys[0].ops, 4u);  // v0, lost7 and the two gets
}

TEST(Linearizability, GivesUpAtTheStateLimitWithoutReportingAViolation) {
  const History h = simulate_registers({.processes = 5, .ops_per_process = 200, .keys = 1});
  const LinearizabilityResult result = check_linearizable(h, {.max_states = 50});
  EXPECT_TRUE(result.ok);
  EXPECT_TRUE(result.gave_up);
  EXPECT_EQ(result.key, "k0");
  EXPECT_TRUE(contains(result.detail, "gave up")) << result.detail;
  ASSERT_EQ(result.keys.size(), 1u);
  EXPECT_EQ(result.keys[0].verdict, KeyVerdict::kGaveUp);
  EXPECT_EQ(to_string(result.keys[0].verdict), "gave_up");
}

}  // namespace
}  // namespace grape::sim
