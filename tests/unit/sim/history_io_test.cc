// The history's JSON lines: what the writer produces reads back as the same history, and every
// kind of bad input is refused with the line and the field at fault, never a crash.
#include "sim/history_io.h"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sim/runner.h"
#include "sim/scenario.h"

namespace grape::sim {
namespace {

Operation make_op(uint64_t process, OpKind kind, std::string key, int64_t invoked_ns,
                  int64_t completed_ns, OpOutcome outcome) {
  Operation op;
  op.process = process;
  op.kind = kind;
  op.key = std::move(key);
  op.invoked = VirtualTime{invoked_ns};
  op.completed = VirtualTime{completed_ns};
  op.outcome = outcome;
  return op;
}

History numbered(std::vector<Operation> ops) {
  History history;
  history.ops = std::move(ops);
  for (size_t i = 0; i < history.ops.size(); ++i) history.ops[i].id = i;
  return history;
}

// Every kind and outcome, values and absences, ties in time, and a call still pending.
History varied_history() {
  Operation put = make_op(1, OpKind::kPut, "a", 100, 200, OpOutcome::kOk);
  put.value = "v1";
  Operation get = make_op(2, OpKind::kGet, "a", 150, 200, OpOutcome::kOk);  // ends with the put
  get.value = "v1";
  Operation absent = make_op(3, OpKind::kGet, "b", 200, 200, OpOutcome::kOk);  // zero length
  Operation del = make_op(1, OpKind::kDelete, "a", 200, 300, OpOutcome::kFail);
  Operation cas = make_op(2, OpKind::kCas, "b", 250, 400, OpOutcome::kOk);
  cas.value = "v2";  // expected absent
  Operation cas_failed = make_op(3, OpKind::kCas, "b", 260, 270, OpOutcome::kFail);
  cas_failed.expected = "v9";
  cas_failed.value = "quote \" and \\ and \xc3\xa9";
  Operation lost = make_op(4, OpKind::kPut, "a", 300, 1300, OpOutcome::kInfo);
  lost.value = "v3";
  Operation read_failed = make_op(5, OpKind::kGet, "b", 310, 320, OpOutcome::kFail);
  Operation pending = make_op(6, OpKind::kPut, "c", 500, 0, OpOutcome::kPending);
  pending.value = "v4";
  return numbered({put, get, absent, del, cas, cas_failed, lost, read_failed, pending});
}

Expected<History, HistoryReadError> read(const std::string& text,
                                         std::vector<OpLines>* lines = nullptr) {
  return read_jsonl(text, "h.jsonl", lines);
}

TEST(HistoryJsonl, WrittenHistoryReadsBackTheSame) {
  const History history = varied_history();
  const std::string text = to_jsonl(history);
  auto back = read(text);
  ASSERT_TRUE(back.has_value()) << back.error().to_string() << "\n" << text;
  EXPECT_EQ(*back, history) << text;
  EXPECT_EQ(to_jsonl(*back), text);
}

TEST(HistoryJsonl, SimulatedRunHistoryReadsBackTheSame) {
  auto scenario = parse_scenario(R"(
name: crash
cluster: {nodes: 3}
workload: {clients: 4, keys: 3, rate: 200/s, mix: {put: 0.4, get: 0.3, cas: 0.2, delete: 0.1}}
faults:
  - {at: 1s, crash: leader}
  - {at: 2s, restart: all}
run_until: 3s
)",
                                 "crash.yaml");
  ASSERT_TRUE(scenario.has_value()) << scenario.error().to_string();
  const RunResult run = run_scenario(*scenario, 4);
  ASSERT_GT(run.stats.indeterminate, 0u);  // the crash leaves calls without an answer
  auto back = read(to_jsonl(run.history));
  ASSERT_TRUE(back.has_value()) << back.error().to_string();
  EXPECT_EQ(*back, run.history);
}

TEST(HistoryJsonl, WriterUsesTheDocumentedFieldOrder) {
  const std::string text = to_jsonl(numbered({varied_history().ops[0], varied_history().ops[4]}));
  EXPECT_EQ(text,
            R"({"process":1,"type":"invoke","f":"put","key":"a","value":"v1","time_ns":100})"
            "\n"
            R"({"process":1,"type":"ok","f":"put","key":"a","value":"v1","time_ns":200})"
            "\n"
            R"({"process":2,"type":"invoke","f":"cas","key":"b","expected":null,"value":"v2",)"
            R"("time_ns":250})"
            "\n"
            R"({"process":2,"type":"ok","f":"cas","key":"b","expected":null,"value":"v2",)"
            R"("time_ns":400})"
            "\n");
}

TEST(HistoryJsonl, ReaderRecordsLinesAndKeepsAnUnansweredCallPending) {
  std::vector<OpLines> lines;
  auto history = read(
      "{\"process\":1,\"type\":\"invoke\",\"f\":\"get\",\"key\":\"a\",\"time_ns\":5}\r\n"
      "\n"
      "   \n"
      "{\"process\":2,\"type\":\"invoke\",\"f\":\"delete\",\"key\":\"a\",\"time_ns\":6,"
      "\"index\":17}\n"
      "{\"time_ns\":9,\"process\":1,\"type\":\"ok\",\"f\":\"get\",\"key\":\"a\",\"value\":null}",
      &lines);
  ASSERT_TRUE(history.has_value()) << history.error().to_string();
  ASSERT_EQ(history->ops.size(), 2u);
  EXPECT_EQ(history->ops[0].outcome, OpOutcome::kOk);
  EXPECT_EQ(history->ops[0].value, std::nullopt);
  EXPECT_EQ(history->ops[0].completed, VirtualTime{9});
  EXPECT_EQ(history->ops[1].outcome, OpOutcome::kPending);
  EXPECT_EQ(lines, (std::vector<OpLines>{{1, 5}, {4, 0}}));
}

TEST(HistoryJsonl, EmptyTextIsAnEmptyHistory) {
  auto history = read("");
  ASSERT_TRUE(history.has_value());
  EXPECT_TRUE(history->ops.empty());
}

TEST(HistoryJsonl, ErrorNamesFileLineAndField) {
  auto history = read(
      "{\"process\":1,\"type\":\"invoke\",\"f\":\"get\",\"key\":\"a\",\"time_ns\":5}\n"
      "{\"process\":1,\"type\":\"done\",\"f\":\"get\",\"key\":\"a\",\"time_ns\":6}\n");
  ASSERT_FALSE(history.has_value());
  EXPECT_EQ(history.error().to_string(),
            "h.jsonl:2: field \"type\": expected one of invoke, ok, fail, info, got \"done\"");
}

struct BadInput {
  const char* name;
  std::string text;
  int line;
  const char* field;
  const char* message_part;
};

// The invocation every bad line below follows.
const std::string kInvokePut =
    R"({"process":1,"type":"invoke","f":"put","key":"a","value":"x","time_ns":10})"
    "\n";

TEST(HistoryJsonl, BadInputIsRefusedWithLineAndField) {
  const std::vector<BadInput> cases = {
      {"malformed", kInvokePut + "{\"process\":1,\"type\":ok}", 2, "", "malformed JSON at column"},
      {"truncated", "{\"process\":1", 1, "", "malformed JSON"},
      {"not an object", "[1,2]", 1, "", "expected a JSON object, got array"},
      {"missing key", R"({"process":1,"type":"invoke","f":"get","time_ns":1})", 1, "key",
       "missing"},
      {"process as string", R"({"process":"1","type":"invoke","f":"get","key":"a","time_ns":1})", 1,
       "process", "expected a non-negative integer"},
      {"negative process", R"({"process":-1,"type":"invoke","f":"get","key":"a","time_ns":1})", 1,
       "process", "non-negative"},
      {"unknown f", R"({"process":1,"type":"invoke","f":"read","key":"a","time_ns":1})", 1, "f",
       "expected one of put, get, delete, cas, got \"read\""},
      {"key as number", R"({"process":1,"type":"invoke","f":"get","key":7,"time_ns":1})", 1, "key",
       "expected a string, got 7"},
      {"fractional time", R"({"process":1,"type":"invoke","f":"get","key":"a","time_ns":1.5})", 1,
       "time_ns", "expected an integer"},
      {"huge time",
       R"({"process":1,"type":"invoke","f":"get","key":"a","time_ns":18446744073709551615})", 1,
       "time_ns", "expected an integer"},
      {"completion without invoke", R"({"process":1,"type":"ok","f":"get","key":"a","time_ns":1})",
       1, "type", "no call in flight"},
      {"two invokes in flight",
       kInvokePut + R"({"process":1,"type":"invoke","f":"get","key":"a","time_ns":11})", 2,
       "process", "in flight"},
      {"completion of another f",
       kInvokePut + R"({"process":1,"type":"ok","f":"get","key":"a","time_ns":11})", 2, "f",
       "differs from the invocation on line 1"},
      {"completion of another key",
       kInvokePut + R"({"process":1,"type":"ok","f":"put","key":"b","value":"x","time_ns":11})", 2,
       "key", "differs from the invocation on line 1"},
      {"completion before invocation",
       kInvokePut + R"({"process":1,"type":"ok","f":"put","key":"a","value":"x","time_ns":9})", 2,
       "time_ns", "before the invocation"},
      {"completion with another value",
       kInvokePut + R"({"process":1,"type":"ok","f":"put","key":"a","value":"y","time_ns":11})", 2,
       "value", "differs from the invocation"},
      {"put without value", R"({"process":1,"type":"invoke","f":"put","key":"a","time_ns":1})", 1,
       "value", "missing"},
      {"cas without expected",
       R"({"process":1,"type":"invoke","f":"cas","key":"a","value":"x","time_ns":1})", 1,
       "expected", "missing"},
      {"value as number",
       R"({"process":1,"type":"invoke","f":"put","key":"a","value":3,"time_ns":1})", 1, "value",
       "expected a string or null"},
      {"ok get without value",
       R"({"process":1,"type":"invoke","f":"get","key":"a","time_ns":1})"
       "\n"
       R"({"process":1,"type":"ok","f":"get","key":"a","time_ns":2})",
       2, "value", "an ok get carries the value it read"},
      {"deep nesting", std::string(100'000, '[') + std::string(100'000, ']'), 1, "",
       "expected a JSON object"},
      {"invalid utf-8", "{\"process\":1,\"type\":\"invoke\",\"f\":\"get\",\"key\":\"\xff\"}", 1, "",
       "malformed JSON"},
  };
  for (const BadInput& c : cases) {
    auto history = read(c.text);
    ASSERT_FALSE(history.has_value()) << c.name;
    const HistoryReadError& error = history.error();
    EXPECT_EQ(error.file, "h.jsonl") << c.name;
    EXPECT_EQ(error.line, c.line) << c.name << ": " << error.to_string();
    EXPECT_EQ(error.field, c.field) << c.name << ": " << error.to_string();
    EXPECT_NE(error.message.find(c.message_part), std::string::npos)
        << c.name << ": " << error.to_string();
  }
}

}  // namespace
}  // namespace grape::sim
