// The HTML report renders a crafted run into one self-contained page that names every row, the
// verdict and the violation, with user data escaped.
#include "sim/report.h"

#include <string>

#include <gtest/gtest.h>

namespace grape::sim {
namespace {

VirtualTime at_ms(int64_t ms) { return VirtualTime{} + milliseconds(ms); }

TraceEvent role_change(int64_t ms, uint64_t node, raft::Role role, uint64_t term) {
  TraceEvent e;
  e.at = at_ms(ms);
  e.kind = TraceKind::kRoleChange;
  e.node = NodeId(node);
  e.role = role;
  e.term = Term(term);
  return e;
}

TraceEvent event(int64_t ms, TraceKind kind, uint64_t node, std::string detail = "") {
  TraceEvent e;
  e.at = at_ms(ms);
  e.kind = kind;
  e.node = NodeId(node);
  e.detail = std::move(detail);
  return e;
}

Operation op(uint64_t id, uint64_t process, OpKind kind, std::string key, int64_t invoked_ms,
             int64_t completed_ms, OpOutcome outcome) {
  Operation o;
  o.id = id;
  o.process = process;
  o.kind = kind;
  o.key = std::move(key);
  o.value = "v" + std::to_string(id);
  o.invoked = at_ms(invoked_ms);
  o.completed = at_ms(completed_ms);
  o.outcome = outcome;
  return o;
}

RunRecord crafted_run() {
  RunRecord run;
  run.scenario = "leader-isolated";
  run.file = "scenarios/leader-isolated.yaml";
  run.seed = 4242;
  run.nodes = 3;
  run.end = at_ms(3000);
  run.result = "fail";
  run.replay = "grape scenario run scenarios/leader-isolated.yaml --seed 4242";
  run.trace_hash = 0x9f2c00000000abcdULL;
  run.events = {
      role_change(100, 1, raft::Role::kPreCandidate, 0),
      role_change(110, 1, raft::Role::kCandidate, 1),
      role_change(120, 1, raft::Role::kLeader, 1),
      event(500, TraceKind::kCrash, 1),
      role_change(800, 2, raft::Role::kLeader, 2),
      event(1000, TraceKind::kPartition, 0, "{n2} {n1,n3}"),
      event(1200, TraceKind::kRestart, 1),
      event(1500, TraceKind::kHeal, 0),
      event(1600, TraceKind::kNoOp, 0, "crash: no leader"),
      event(1700, TraceKind::kDiskFault, 4, "torn_write"),  // a node beyond n1..n3
      event(1800, TraceKind::kCrash, 0),                    // names no node: no row "n0"
  };
  for (int i = 0; i < 50; ++i) {
    TraceEvent commit = event(900 + i * 10, TraceKind::kCommit, 2);
    commit.index = LogIndex(static_cast<uint64_t>(i + 1));
    run.events.push_back(commit);
  }
  run.history.ops = {
      op(0, 1, OpKind::kPut, "<script>alert(1)</script>", 200, 250, OpOutcome::kOk),
      op(1, 1, OpKind::kGet, "k2", 300, 320, OpOutcome::kFail),
      op(2, 2, OpKind::kCas, "k3", 400, 0, OpOutcome::kInfo),
      op(3, 2, OpKind::kDelete, std::string("k\x01\xff", 3), 1500, 1600, OpOutcome::kOk),
  };
  run.violations = {
      {"linearizability", at_ms(2500), NodeId(2), "read of \"k2\" saw a stale value"}};
  return run;
}

TEST(Report, PageIsSelfContained) {
  const std::string page = render_report_html(crafted_run());
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("@import"), std::string::npos);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("</html>"), std::string::npos);
}

TEST(Report, PageShowsEveryNodeRowResultSeedAndViolation) {
  const std::string page = render_report_html(crafted_run());
  for (const char* label : {">n1<", ">n2<", ">n3<", ">n4<", ">network<", ">c1<", ">c2<"}) {
    EXPECT_NE(page.find(label), std::string::npos) << label;
  }
  EXPECT_NE(page.find(">fail<"), std::string::npos);
  EXPECT_NE(page.find("4242"), std::string::npos);
  EXPECT_NE(page.find("9f2c00000000abcd"), std::string::npos);
  EXPECT_NE(page.find("read of &quot;k2&quot; saw a stale value"), std::string::npos);
  EXPECT_NE(page.find("linearizability"), std::string::npos);
  EXPECT_NE(page.find("class=\"vl\""), std::string::npos);  // the red line
  EXPECT_NE(page.find("{n2} {n1,n3}"), std::string::npos);  // the partition's detail
  EXPECT_NE(page.find("crash: no leader"), std::string::npos);
  EXPECT_EQ(page.find(">n0<"), std::string::npos);
}

TEST(Report, KeysAndValuesAreEscaped) {
  const std::string page = render_report_html(crafted_run());
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(page.find("<script>alert"), std::string::npos);
  EXPECT_NE(page.find("k\\x01\\xff"), std::string::npos);  // unprintable bytes as \xNN
  EXPECT_EQ(page.find(std::string("\x01")), std::string::npos);
  EXPECT_EQ(page.find(std::string("\xff")), std::string::npos);
}

TEST(Report, EscapeHtmlKeepsUtf8AndReplacesUnprintableBytes) {
  EXPECT_EQ(escape_html("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
  EXPECT_EQ(escape_html("line\nnext"), "line&#10;next");
  EXPECT_EQ(escape_html("\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(escape_html(std::string("\x00\x7f\xc3", 3)), "\\x00\\x7f\\xc3");
  EXPECT_EQ(escape_html("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate
}

TEST(Report, ManyCommitsAreThinnedToOneMarkPerPixelColumn) {
  RunRecord run = crafted_run();
  run.end = at_ms(10'000);
  run.events.clear();
  for (int i = 0; i < 20'000; ++i) {  // one every 0.5 ms; 10 s is 1200 px wide at zoom 1
    TraceEvent commit = event(0, TraceKind::kCommit, 1);
    commit.at = VirtualTime{} + microseconds(500 * i);
    commit.index = LogIndex(static_cast<uint64_t>(i + 1));
    run.events.push_back(commit);
  }
  const std::string page = render_report_html(run);
  size_t marks = 0;
  for (size_t pos = page.find("class=\"cm\""); pos != std::string::npos;
       pos = page.find("class=\"cm\"", pos + 1)) {
    ++marks;
  }
  EXPECT_GT(marks, 1000u);
  EXPECT_LE(marks, 1201u);
}

TEST(Report, EmptyRunRenders) {
  const std::string page = render_report_html(RunRecord{});
  EXPECT_NE(page.find("</html>"), std::string::npos);
  EXPECT_NE(page.find("id=\"tl\""), std::string::npos);
}

}  // namespace
}  // namespace grape::sim
