// Snapshots in the Raft core: a follower behind the compacted log receives the leader's snapshot
// in chunks under flow control, installs it (log, commit and configuration), and resumes from
// the log; reordered, duplicated and lost chunks neither stall the transfer forever nor multiply
// messages; a restarted node acts on its snapshot's configuration.

#include <algorithm>
#include <memory>
#include <set>

#include <gtest/gtest.h>

#include "core/base/mark.h"
#include "tests/unit/raft/raft_test_util.h"

namespace grape::test {
namespace {

using raft::MessageType;
using raft::Role;

constexpr size_t kChunk = 8;
constexpr size_t kChunksInFlight = 2;

NodeOptions options_for_snapshots() {
  NodeOptions o;
  o.cluster_size = 3;
  o.election_ticks = 10;
  return o;
}

std::vector<TestNode> make_snapshot_cluster(raft::SnapshotBudget* budget = nullptr) {
  std::vector<TestNode> nodes = make_cluster(options_for_snapshots());
  for (TestNode& n : nodes) {
    n.config.snapshot_chunk_bytes = kChunk;
    n.config.snapshot_chunks_inflight_max = kChunksInFlight;
    n.config.snapshot_budget = budget;
    n.restart();
  }
  return nodes;
}

// The leader takes a snapshot at its applied index (data: 50 bytes naming it) and compacts its
// store up to there.
std::shared_ptr<const raft::Snapshot> snapshot_and_compact(TestNode& leader) {
  auto snap = std::make_shared<raft::Snapshot>();
  snap->meta.index = leader->log().applied();
  snap->meta.term = leader->log().term(snap->meta.index);
  snap->meta.conf_state = leader->conf_state();
  snap->data = Bytes(50, std::byte{0x42});
  leader->set_latest_snapshot(snap);
  leader.store->mark_snapshot(snap->meta.index, snap->meta.term);
  return snap;
}

// n1 leads; n3 is cut off while 20 entries commit; the leader snapshots and compacts.
struct Behind {
  std::vector<TestNode> nodes;
  std::shared_ptr<const raft::Snapshot> snap;

  explicit Behind(raft::SnapshotBudget* budget = nullptr) : nodes(make_snapshot_cluster(budget)) {
    elect(nodes, 1);
    const std::set<NodeId> cut{NodeId(3)};
    for (int i = 0; i < 20; ++i) {
      EXPECT_TRUE(nodes[0]->propose(to_bytes("v" + std::to_string(i))).has_value());
      deliver_until_quiet(nodes, cut);
    }
    snap = snapshot_and_compact(nodes[0]);
    EXPECT_GT(nodes[0]->log().first_index(), nodes[2]->log().last_index().next());
  }
};

TEST(RaftSnapshot, FollowerBehindTheCompactedLogInstallsTheSnapshotInChunksAndCatchesUp) {
  Behind b;
  NetworkTrace trace;
  tick_all(b.nodes, {}, &trace);  // the heartbeat round finds n3 behind
  for (int i = 0; i < 5; ++i) tick_all(b.nodes, {}, &trace);
  const auto chunks = of_type(to_node(trace.delivered, NodeId(3)), MessageType::kSnapshot);
  // 50 bytes in chunks of 8: 7 chunks, each sent once on a lossless FIFO network.
  EXPECT_EQ(chunks.size(), 7u);
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].offset, i * kChunk);
    EXPECT_EQ(chunks[i].done, i + 1 == chunks.size());
  }
  TestNode& n3 = b.nodes[2];
  EXPECT_EQ(n3.store->first_index(), b.snap->meta.index.next());
  EXPECT_EQ(n3->log().committed(), b.nodes[0]->log().committed());
  EXPECT_EQ(n3->log().last_index(), b.nodes[0]->log().last_index());
  // Back on the log: a new entry reaches it as an append.
  ASSERT_TRUE(b.nodes[0]->propose(to_bytes("after")).has_value());
  deliver_until_quiet(b.nodes);
  EXPECT_EQ(n3->log().committed(), b.nodes[0]->log().committed());
  EXPECT_EQ(b.nodes[0]->progress(NodeId(3))->state, raft::ProgressState::kReplicate);
}

// A host's snapshot budget (--snapshot-rate): the leader sends a chunk only if the budget holds
// it; a chunk held back goes out once the budget is refilled, on the next answer or heartbeat
// round, and the transfer completes as before.
TEST(RaftSnapshot, ASnapshotBudgetHoldsChunksBackUntilItIsRefilled) {
  raft::SnapshotBudget budget;  // empty
  Behind b(&budget);
  NetworkTrace trace;
  for (int i = 0; i < 6; ++i) tick_all(b.nodes, {}, &trace);
  auto chunks_to_n3 = [&] {
    return of_type(to_node(trace.delivered, NodeId(3)), MessageType::kSnapshot).size();
  };
  EXPECT_EQ(chunks_to_n3(), 0u) << "a chunk went out with no budget";
  EXPECT_GT(budget.held, 0u);
  EXPECT_EQ(b.nodes[0]->progress(NodeId(3))->state, raft::ProgressState::kSnapshot);

  budget.available = 2 * kChunk + 3;  // two chunks' worth
  for (int i = 0; i < 6; ++i) tick_all(b.nodes, {}, &trace);
  EXPECT_EQ(chunks_to_n3(), 2u);
  EXPECT_EQ(budget.available, 3u) << "each chunk sent is paid for";

  budget.available = 1'000;
  for (int i = 0; i < 6; ++i) tick_all(b.nodes, {}, &trace);
  EXPECT_EQ(chunks_to_n3(), 7u) << "50 bytes in chunks of 8, each sent once";
  EXPECT_EQ(budget.available, 1'000u - (50 - 2 * kChunk));
  EXPECT_EQ(b.nodes[2]->log().last_index(), b.nodes[0]->log().last_index());
}

// n3 answers a heartbeat; appends and heartbeats the leader sends it are answered too (so the
// leader learns that n3 is behind its compacted log), but snapshot chunks are not delivered:
// they are returned, for the test to deliver as it likes.
std::vector<raft::Message> heartbeat_answer_from_n3(Behind& b) {
  TestNode& leader = b.nodes[0];
  TestNode& n3 = b.nodes[2];
  receive(leader, make_message(MessageType::kHeartbeatResponse, 3, 1, leader->term().value));
  std::vector<raft::Message> chunks;
  for (int exchange = 0; exchange < 4 && chunks.empty(); ++exchange) {
    for (const raft::Message& m : to_node(handle_all_ready(leader).messages, NodeId(3))) {
      if (m.type == MessageType::kSnapshot) {
        chunks.push_back(m);
        continue;
      }
      receive(n3, m);
      for (const raft::Message& r : handle_all_ready(n3).messages) receive(leader, r);
    }
  }
  return chunks;
}

TEST(RaftSnapshot, TheWindowBoundsChunksInFlight) {
  Behind b;
  // n3 answers heartbeats but never a chunk: the leader never has more than the window out.
  std::vector<raft::Message> chunks;
  for (int round = 0; round < 6; ++round) {
    for (const raft::Message& m : of_type(heartbeat_answer_from_n3(b), MessageType::kSnapshot)) {
      chunks.push_back(m);
    }
  }
  ASSERT_FALSE(chunks.empty());
  for (const raft::Message& c : chunks) {
    EXPECT_LE(c.offset + c.data.size(), kChunk * kChunksInFlight) << c;
  }
  // After a silent heartbeat round it starts again from what n3 confirmed (nothing).
  const auto first_chunks = std::count_if(chunks.begin(), chunks.end(),
                                         [](const raft::Message& c) { return c.offset == 0; });
  EXPECT_GE(first_chunks, 2);
  EXPECT_GT(mark_count("raft.snapshot_resent_after_silence"), 0u);
}

TEST(RaftSnapshot, ReorderedAndDuplicatedChunksCompleteWithoutAStorm) {
  Behind b;
  TestNode& leader = b.nodes[0];
  TestNode& n3 = b.nodes[2];
  // Drive the transfer by hand: every batch of chunks reaches n3 reversed and twice.
  leader->tick();
  size_t chunks_sent = 0;
  for (int round = 0; round < 200 && n3->log().committed() < leader->log().committed(); ++round) {
    std::vector<raft::Message> to_leader;
    std::vector<raft::Message> to_n3;
    for (TestNode& n : b.nodes) {
      for (const raft::Message& m : handle_all_ready(n).messages) {
        if (m.to == NodeId(3)) {
          to_n3.push_back(m);
        } else if (m.to == NodeId(1)) {
          to_leader.push_back(m);
        } else {
          receive(b.nodes[m.to.value - 1], m);
        }
      }
    }
    chunks_sent += of_type(to_n3, MessageType::kSnapshot).size();
    std::reverse(to_n3.begin(), to_n3.end());
    for (const raft::Message& m : to_n3) receive(n3, m);
    for (const raft::Message& m : to_n3) {
      if (m.type == MessageType::kSnapshot) receive(n3, m);  // the duplicate
    }
    for (const raft::Message& m : to_leader) receive(leader, m);
    if (round % 3 == 2) leader->tick();  // heartbeat rounds resend after silence
  }
  (void)handle_all_ready(n3);  // the install's Ready
  EXPECT_EQ(n3->log().committed(), leader->log().committed());
  EXPECT_EQ(n3.store->first_index(), b.snap->meta.index.next());
  // 7 chunks needed; reordering costs resends, but a bounded number, not a multiplying storm.
  EXPECT_GE(chunks_sent, 7u);
  EXPECT_LE(chunks_sent, 60u);
}

TEST(RaftSnapshot, FollowerThatRestartsMidTransferIsSentTheSnapshotFromTheStart) {
  Behind b;
  TestNode& leader = b.nodes[0];
  TestNode& n3 = b.nodes[2];
  // The first window (two chunks) leaves; the first reaches n3, which then crashes (its
  // partial snapshot is volatile) and restarts.
  const std::vector<raft::Message> to_n3 = heartbeat_answer_from_n3(b);
  const auto chunks = of_type(to_n3, MessageType::kSnapshot);
  ASSERT_EQ(chunks.size(), 2u);
  receive(n3, chunks[0]);
  (void)handle_all_ready(n3);
  n3.restart();
  // The second chunk finds no start: n3 asks for the transfer from offset 0.
  receive(n3, chunks[1]);
  const auto answer = of_type(handle_all_ready(n3).messages, MessageType::kSnapshotResponse);
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_TRUE(answer[0].reject);
  EXPECT_EQ(answer[0].offset, 0u);
  receive(leader, answer[0]);
  const auto resent = of_type(handle_all_ready(leader).messages, MessageType::kSnapshot);
  ASSERT_FALSE(resent.empty());
  EXPECT_EQ(resent[0].offset, 0u);
  deliver_until_quiet(b.nodes);
  for (int i = 0; i < 5; ++i) tick_all(b.nodes);
  EXPECT_EQ(n3->log().committed(), leader->log().committed());
}

TEST(RaftSnapshot, SnapshotThatMatchesTheFollowersLogOnlyCommits) {
  // n3 holds entries 1..5 of term 1 (uncommitted as far as it knows); a snapshot at 3@1 arrives.
  NodeOptions o = options_for_snapshots();
  o.id = 3;
  TestNode n3 = make_node(o, make_entries(LogIndex(1), {1, 1, 1, 1, 1}), {Term(1), kNoNode, LogIndex(0)});
  raft::Message m = make_message(MessageType::kSnapshot, 1, 3, 1);
  m.index = LogIndex(3);
  m.log_term = Term(1);
  m.conf_state.voters = {NodeId(1), NodeId(2), NodeId(3)};
  m.data = Bytes(3, std::byte{1});
  m.done = true;
  receive(n3, m);
  const Handled h = handle_all_ready(n3);
  EXPECT_EQ(n3->log().committed(), LogIndex(3));
  EXPECT_EQ(n3->log().last_index(), LogIndex(5));  // the entries after it stay
  EXPECT_EQ(n3.store->first_index(), LogIndex(1));  // nothing to install: the log has it all
  const auto acks = of_type(h.messages, MessageType::kAppendResponse);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].index, LogIndex(3));
}

TEST(RaftSnapshot, InstalledSnapshotReplacesLogAndConfigurationAndIsAnsweredOnlyAfterPersisting) {
  NodeOptions o = options_for_snapshots();
  o.id = 3;
  // A stale log of term 1 that the snapshot (of term 2) does not contain.
  TestNode n3 = make_node(o, make_entries(LogIndex(1), {1, 1, 1, 1}), {Term(1), kNoNode, LogIndex(0)});
  raft::Message m = make_message(MessageType::kSnapshot, 1, 3, 2);
  m.index = LogIndex(10);
  m.log_term = Term(2);
  m.conf_state.voters = {NodeId(1), NodeId(3), NodeId(4)};  // n2 left, n4 joined
  m.data = Bytes(5, std::byte{7});
  m.done = true;
  receive(n3, m);
  ASSERT_TRUE(n3->has_ready());
  const raft::Ready ready = n3->take_ready();
  ASSERT_NE(ready.snapshot, nullptr);
  EXPECT_EQ(ready.snapshot->meta.index, LogIndex(10));
  EXPECT_EQ(ready.snapshot->data, m.data);
  // The acknowledgement promises the snapshot is durable: it waits for the persist.
  EXPECT_TRUE(of_type(ready.messages, MessageType::kAppendResponse).empty());
  ASSERT_EQ(of_type(ready.messages_after_persist, MessageType::kAppendResponse).size(), 1u);
  EXPECT_TRUE(ready.entries_to_apply.empty());
  (void)handle(n3, ready);
  EXPECT_EQ(n3->log().committed(), LogIndex(10));
  EXPECT_EQ(n3->log().applied(), LogIndex(10));
  EXPECT_EQ(n3->log().first_index(), LogIndex(11));
  EXPECT_EQ(n3->log().last_index(), LogIndex(10));
  EXPECT_EQ(n3.store->first_index(), LogIndex(11));
  EXPECT_EQ(n3->voters(), (std::vector<NodeId>{NodeId(1), NodeId(3), NodeId(4)}));
  // The log continues right after it.
  receive(n3, make_append(1, 3, 2, 10, 2, make_entries(LogIndex(11), {2}), 11));
  (void)handle_all_ready(n3);
  EXPECT_EQ(n3->log().committed(), LogIndex(11));
}

TEST(RaftSnapshot, RestartedNodeActsOnItsSnapshotsConfigurationNotTheInitialOne) {
  NodeOptions o = options_for_snapshots();  // initial configuration {1, 2, 3}
  o.id = 1;
  TestNode n1 = make_node(o);
  auto snap = std::make_shared<raft::Snapshot>();
  snap->meta.index = LogIndex(7);
  snap->meta.term = Term(3);
  snap->meta.conf_state.voters = {NodeId(1)};  // it was alone when it took the snapshot
  n1.store->mark_snapshot(LogIndex(7), Term(3));
  ASSERT_TRUE(n1.store->set_hard_state({Term(3), NodeId(1), LogIndex(7)}).is_ok());
  n1.config.snapshot = snap;
  n1.restart();
  EXPECT_EQ(n1->voters(), std::vector<NodeId>{NodeId(1)});
  EXPECT_EQ(n1->log().applied(), LogIndex(7));
  EXPECT_EQ(n1->log().committed(), LogIndex(7));
  // Alone in its configuration, it wins by itself (its initial configuration would need a peer).
  n1->campaign();
  for (int i = 0; i < 4; ++i) (void)handle_all_ready(n1);
  EXPECT_EQ(n1->role(), Role::kLeader);
}

TEST(RaftSnapshot, ChunkOfAnOlderSnapshotAtOrBelowCommitIsAnsweredWithTheCommitIndex) {
  NodeOptions o = options_for_snapshots();
  o.id = 3;
  TestNode n3 = make_node(o, make_entries(LogIndex(1), {1, 1, 1, 1}), {Term(1), kNoNode, LogIndex(4)});
  raft::Message m = make_message(MessageType::kSnapshot, 1, 3, 1);
  m.index = LogIndex(2);
  m.log_term = Term(1);
  m.data = Bytes(3, std::byte{1});
  m.done = true;
  receive(n3, m);
  const auto acks = of_type(handle_all_ready(n3).messages, MessageType::kAppendResponse);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].index, LogIndex(4));
  EXPECT_EQ(n3.store->first_index(), LogIndex(1));
}

}  // namespace
}  // namespace grape::test
