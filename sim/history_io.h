#pragma once
// The client history's file format (scenario-format.md, `--history FILE.jsonl`): one JSON object
// per line, an `invoke` line and a completion line per call, in the order things happened. This is
// the one place that writes and reads it, so that `grape scenario run --history`, `grape history
// check` and external checkers (Porcupine, Knossos-style tools) agree on it.
//
//   {"process":3,"type":"invoke","f":"put","key":"k2","value":"v17","time_ns":1200000}
//   {"process":3,"type":"ok","f":"put","key":"k2","value":"v17","time_ns":1900000}
//
// Fields: `process` (a non-negative integer), `type` (invoke | ok | fail | info), `f` (put | get |
// delete | cas), `key` (a string), `time_ns` (an integer), `value` (put, cas: the value written;
// an ok get: the value read) and `expected` (cas), each a string or null (absent).
//
// What the reader requires, beyond the fields' types:
// - put and cas invocations carry `value`, cas invocations `expected`; an ok get carries `value`.
// - A process has at most one call in flight: it invokes again only after a completion.
// - A completion follows its process's invocation (on an earlier line), with the same `f` and
//   `key`, at a time not before it; `value` and `expected`, when a put or cas completion repeats
//   them, equal the invocation's.
// - A call whose invocation has no completion by the end of the file is still pending, which the
//   checker reads like `info` (it may or may not have taken effect).
// Fields it does not know are ignored (other tools add their own); blank lines are skipped. Line
// order matters only per process: times, not lines, decide what happened before what.

#include <string>
#include <string_view>
#include <vector>

#include "core/base/expected.h"
#include "sim/history.h"

namespace grape::sim {

// The history as JSON lines, in time order; at one instant invocations come before completions,
// and a completion is never written before its invocation. A pending op gets no completion line
// (the reader gives it back as pending); ok, fail and info ops get one.
std::string to_jsonl(const History& history);

// Bad input: where and what. `h.jsonl:7: field "type": expected one of invoke, ok, fail, info`.
struct HistoryReadError {
  std::string file;
  int line = 0;         // 1-based
  std::string field;    // the field at fault; empty when the line as a whole is (bad JSON)
  std::string message;  // one line

  std::string to_string() const;
  bool operator==(const HistoryReadError&) const = default;
};

// Where each op came from: its invocation's and its completion's line (0: none, still pending).
struct OpLines {
  int invoke = 0;
  int complete = 0;
  bool operator==(const OpLines&) const = default;
};

// Parses a whole file's text; `file_name` prefixes every error. Ops get ids in the order of their
// invocation lines. `lines`, when given, receives each op's lines, indexed by id. Never throws;
// the first problem found is the error.
[[nodiscard]] Expected<History, HistoryReadError> read_jsonl(std::string_view text,
                                                             std::string_view file_name,
                                                             std::vector<OpLines>* lines = nullptr);

}  // namespace grape::sim
