#pragma once
// The client history of a simulated run: every call a client made and how it ended, in the order
// things happened, for the linearizability and lost-write checkers and for external tools
// (scenario-format.md: `--history FILE.jsonl`, the Porcupine/Knossos shape).
//
// An operation is invoked once and completes at most once:
//   ok    it took effect (a get's `value` is what it read: nullopt = the key was absent);
//   fail  it certainly did not take effect (refused before it was proposed, or a cas whose
//         expectation did not hold: a cas `fail` read `expected` as false, it did not write);
//   info  unknown: it may or may not have taken effect, at any time after its invocation
//         (a timeout, a crash of the node holding it). Such an op never completes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/time.h"

namespace grape::sim {

enum class OpKind : uint8_t { kPut, kGet, kDelete, kCas };
enum class OpOutcome : uint8_t { kPending, kOk, kFail, kInfo };

struct Operation {
  uint64_t id = 0;       // unique in the history, in invocation order
  uint64_t process = 0;  // the client that issued it (one op at a time per process)
  OpKind kind = OpKind::kPut;
  std::string key;
  std::optional<std::string> value;     // put/cas: the value written; get (ok): the value read
  std::optional<std::string> expected;  // cas: the value it requires (nullopt: key absent)
  VirtualTime invoked;
  VirtualTime completed;  // kOk, kFail: the answer; kInfo: when the client gave up waiting
  OpOutcome outcome = OpOutcome::kPending;

  bool operator==(const Operation&) const = default;
};

struct History {
  std::vector<Operation> ops;  // indexed by id

  bool operator==(const History&) const = default;
};

std::string_view to_string(OpKind kind);
std::string_view to_string(OpOutcome outcome);

// For people: `"v1"` (quoted, cut after 40 bytes) or `absent`.
std::string describe_value(const std::optional<std::string>& value);
// For people: `process 3 cas "a" -> "b" [1.0ms .. 2.5ms, fail]` (the key is not named).
std::string describe(const Operation& op);

}  // namespace grape::sim
