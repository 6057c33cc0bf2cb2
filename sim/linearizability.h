#pragma once
// The linearizability checker: is a client history (sim/history.h) explained by some order of its
// operations, one at a time, that respects real time (an op that completed before another was
// invoked comes first) and the semantics of a key-value store?
//
// Keys are independent registers (P-compositionality: a history is linearizable iff each key's
// sub-history is), so each key is checked on its own with the Wing-Gong/Lowe (WGL) search that
// Knossos and Porcupine use: try to order each pending op next, backtrack when an op's completion
// is reached unordered, and remember every (set of ordered ops, register value) already explored
// so that no configuration is searched twice.
//
// The register holds a value or nothing (absent, the initial state). How each op is read:
//   put/delete  ok: sets the value (delete: absent). fail: certainly did not happen, dropped.
//   get         ok: must see the current value (nullopt: absent). fail/info: no observed value,
//               it constrains nothing, dropped.
//   cas         ok: requires current == expected, sets value. fail: a definite answer that reads
//               the register: current != expected at some point within its interval.
//   any         info (or still pending): may or may not have taken effect, at any point after
//               its invocation; it has no completion and may be left out of the order.
// Real time: an op precedes another only if it completed strictly before the other was invoked;
// ops whose completion and invocation fall on the same instant count as concurrent, which only
// allows more orders and so never reports a false violation.
//
// Cost: each key's search is bounded by CheckLimits::max_states configurations; past it the key's
// verdict is unknown (gave_up), which is reported but is not a violation. A configuration costs
// a few tens of bytes (the default limit stays near 100 MB and half a second on a 3000-op key).
// Histories that are linearizable are quick (a scenario's few thousand ops over 8 keys: about a
// millisecond); proving a violation means exhausting every order up to it, which costs more
// when many clients hit one key or many ops timed out. Pure function of its input; no threads,
// no clock.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/history.h"
#include "sim/time.h"

namespace grape::sim {

struct Violation;  // sim/checker.h

// The most states a key's search can explore, whatever CheckLimits asks: the cache indexes its
// entries with 32 bits.
inline constexpr uint64_t kCheckStatesMax = uint64_t{1} << 31;

struct CheckLimits {
  // Per key: the most (ordered ops, register value) configurations the search may explore
  // (at most kCheckStatesMax).
  uint64_t max_states = 1'000'000;
};

enum class KeyVerdict : uint8_t {
  kLinearizable,
  kViolation,  // no order fits: the history is not linearizable
  kGaveUp,     // the search hit CheckLimits::max_states: unknown
};

// One key's verdict.
struct KeyCheck {
  std::string key;
  KeyVerdict verdict = KeyVerdict::kLinearizable;
  uint64_t ops = 0;              // ops that took part in the search (after dropping, see above)
  uint64_t states_explored = 0;  // distinct configurations explored
  VirtualTime at;                // kViolation: completion of the op the search could not order
  std::string detail;            // kViolation, kGaveUp: an explanation for a person
};

struct LinearizabilityResult {
  bool ok = true;        // no key was proven non-linearizable (a key given up on is not a failure)
  bool gave_up = false;  // some key hit the limit: the history may or may not be linearizable
  std::string key;       // the first violating key in key order; else the first key given up on
  std::string detail;    // that key's detail; empty when every key is linearizable
  VirtualTime at;        // !ok: when the violation shows (see KeyCheck::at)
  uint64_t states_explored = 0;  // over all keys
  std::vector<KeyCheck> keys;    // every key of the history, in key order
};

// Checks every key of `history`. Operations must be well formed: completed >= invoked for ok and
// fail ops (a completion before the invocation is taken as the invocation time).
LinearizabilityResult check_linearizable(const History& history, const CheckLimits& limits = {});

// The `linearizability` violation (scenario-format.md) for a result with ok == false. The history
// is the clients' view, so the violation names no node. Include sim/checker.h to call it.
Violation to_violation(const LinearizabilityResult& result);

// A violation cut down to the operations that matter (what `grape history check` prints): a set
// of one key's ops that still cannot be ordered, from which no single op can be removed without
// the rest becoming orderable -- a local minimum, not necessarily the smallest such set. Found by
// delta debugging: drop ops invoked after the violation shows, then chunks of ops, halving the
// chunk size down to single ops, keeping each removal after which the rest still cannot be
// ordered. One rule keeps the set readable: a get or cas that reads a value some op of the key
// writes keeps one of those writes (else "reads "v1", which nobody wrote" would stand in for a
// stale read). A search that gives up counts as orderable. Deterministic.
struct MinimalViolation {
  std::string key;
  std::vector<uint64_t> op_ids;  // ascending, into History::ops
  bool minimal = false;          // false: the check budget ran out first; the set still violates
  uint64_t checks = 0;           // linearizability checks run
};

inline constexpr uint64_t kMinimizeChecksMax = 2'000;

// Precondition: `key`'s ops cannot be ordered (check_linearizable(history, limits) found it). If
// they can, returns them all with minimal == false. Each check is bounded by `limits`.
MinimalViolation minimize_violation(const History& history, std::string_view key,
                                    const CheckLimits& limits = {},
                                    uint64_t checks_max = kMinimizeChecksMax);

std::string_view to_string(KeyVerdict verdict);

}  // namespace grape::sim
