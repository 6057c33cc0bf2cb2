// Review 7: snapshots, compaction and ReadIndex against etcd's raft (go.etcd.io/raft/v3) and
// etcdserver, the application that drives it. Each test pins one divergence that matters and
// fails on the code it was written against (aabb161).
//
// Three of them share one root cause. A follower may install a snapshot while the driver is still
// handling an earlier Ready (raft.cc, advance(): "a snapshot restored meanwhile"): the Raft moves
// applied, commit and the configuration to the snapshot's at once, but the kv store is replaced
// only when the Ready that carries the snapshot is handled. Meanwhile node::Node::advance() goes
// on treating Raft's applied index as the kv store's, and applies the earlier Ready's conf
// changes on top of the snapshot's configuration. etcdserver keeps its own applied index (its
// appliedi, moved by applySnapshot and applyEntries) for exactly these decisions: which reads it
// may serve, when and at what index it snapshots, and it applies a conf change only above it
// (shouldApplyV3 / "entry index <= appliedi: already applied").

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/kv/kv.h"
#include "core/node/node.h"
#include "core/raft/log_store.h"
#include "core/raft/raft.h"
#include "tests/unit/raft/raft_test_util.h"

namespace grape {
namespace {

using raft::Entry;
using raft::Message;
using raft::MessageType;

// Node 1, a follower of node 2 in {1, 2, 3}, driven as sim::World drives a node: a Ready is
// taken, persisted (snapshot mark, entries, hard state) and only then acknowledged with
// advance(); messages may be stepped in between.
class Follower {
 public:
  explicit Follower(uint64_t snapshot_every = 0, uint64_t seed = 7)
      : node_(config(snapshot_every), store_, Rng(seed)) {}

  static node::NodeConfig config(uint64_t snapshot_every) {
    node::NodeConfig c;
    c.raft.id = NodeId(1);
    c.raft.voters = {NodeId(1), NodeId(2), NodeId(3)};
    c.snapshot_every = snapshot_every;
    return c;
  }

  node::Node& node() { return node_; }
  raft::MemoryLogStore& store() { return store_; }

  void receive(Message m) {
    m.to = NodeId(1);
    EXPECT_TRUE(node_.step(m).is_ok()) << m;
  }

  // The driver's half of one Ready, up to (not including) advance().
  void persist(const node::NodeReady& ready) {
    if (ready.raft.snapshot) {
      store_.mark_snapshot(ready.raft.snapshot->meta.index, ready.raft.snapshot->meta.term);
    }
    EXPECT_TRUE(store_.append(ready.raft.entries_to_persist).is_ok());
    if (ready.raft.hard_state) {
      EXPECT_TRUE(store_.set_hard_state(*ready.raft.hard_state).is_ok());
    }
    sent.insert(sent.end(), ready.raft.messages.begin(), ready.raft.messages.end());
    sent.insert(sent.end(), ready.raft.messages_after_persist.begin(),
                ready.raft.messages_after_persist.end());
    replies.insert(replies.end(), ready.replies.begin(), ready.replies.end());
    if (ready.snapshot_to_save) saved.push_back(ready.snapshot_to_save);
  }

  void drain() {
    for (int i = 0; i < 100 && node_.has_ready(); ++i) {
      persist(node_.take_ready());
      node_.advance();
    }
    EXPECT_FALSE(node_.has_ready());
  }

  std::optional<node::ClientReply> reply_to(uint64_t request) const {
    for (const node::ClientReply& r : replies) {
      if (r.request == request) return r;
    }
    return std::nullopt;
  }

  std::vector<Message> sent;
  std::vector<node::ClientReply> replies;
  std::vector<std::shared_ptr<const raft::Snapshot>> saved;  // snapshot_to_save, in order

 private:
  raft::MemoryLogStore store_;
  node::Node node_;
};

Entry put_entry(uint64_t index, const std::string& key, const std::string& value) {
  Entry e;
  e.term = Term(1);
  e.index = LogIndex(index);
  kv::Command c;
  c.op = kv::Op::kPut;
  c.key = key;
  c.value = value;
  e.data = kv::encode_command(c);
  return e;
}

Entry conf_entry(uint64_t index, const raft::ConfChange& change) {
  Entry e;
  e.term = Term(1);
  e.index = LogIndex(index);
  e.type = raft::EntryType::kConfChange;
  e.data = raft::encode_conf_change(change);
  return e;
}

// The leader's snapshot at 3@1, in one chunk: the kv state {k: v2, x: 1}.
Message snapshot_at_3(const raft::ConfState& conf) {
  kv::KvStore kv;
  kv.apply(kv::Command{kv::Op::kPut, "k", "v2", std::nullopt});
  kv.apply(kv::Command{kv::Op::kPut, "x", "1", std::nullopt});
  Message m = test::make_message(MessageType::kSnapshot, 2, 1, 1);
  m.index = LogIndex(3);
  m.log_term = Term(1);
  m.conf_state = conf;
  m.offset = 0;
  m.data = kv.encode_snapshot();
  m.done = true;
  return m;
}

raft::ConfState voters_123() {
  raft::ConfState c;
  c.voters = {NodeId(1), NodeId(2), NodeId(3)};
  return c;
}

node::ClientRequest get(uint64_t request, const std::string& key) {
  node::ClientRequest r;
  r.client = 1;
  r.request = request;
  r.command.op = kv::Op::kGet;
  r.command.key = key;
  return r;
}

uint64_t read_context(const std::vector<Message>& sent) {
  const auto reads = test::of_type(sent, MessageType::kReadIndex);
  EXPECT_EQ(reads.size(), 1u);
  return reads.empty() ? 0 : reads.back().context;
}

// Index 1 (k = v1) is committed and applied: the follower knows leader 2 in term 1.
void start_with_k_v1(Follower& f) {
  f.receive(test::make_append(2, 1, 1, 0, 0, {put_entry(1, "k", "v1")}, 1));
  f.drain();
  ASSERT_EQ(f.node().kv().get("k"), std::optional<std::string>("v1"));
}

// node::Node::serve_reads (reads) against etcdserver's linearizableReadLoop, which serves a read
// once its own appliedi reaches the read index.
//
// A read of k is confirmed at index 3 in the same Ready that applies index 2. Before that Ready is
// acknowledged, the leader's snapshot at 3 (k = v2) arrives. Node::advance() applies index 2 to
// the old kv store, then finds Raft's applied index at 3 and serves the read from a kv store that
// holds index 2 at most: k = v1, a value overwritten at index 3, which the read must see.
TEST(NodeReview7, ReadIsNotServedFromAStateMachineOlderThanTheSnapshotRestoredMeanwhile) {
  Follower f;
  start_with_k_v1(f);
  f.node().on_client_request(get(10, "k"));
  f.drain();
  const uint64_t context = read_context(f.sent);

  f.receive(test::make_append(2, 1, 1, 1, 1, {put_entry(2, "x", "0")}, 2));
  Message confirmed = test::make_message(MessageType::kReadIndexResponse, 2, 1, 1);
  confirmed.index = LogIndex(3);
  confirmed.context = context;
  f.receive(confirmed);
  node::NodeReady ready = f.node().take_ready();  // applies 2, confirms the read at 3
  ASSERT_EQ(ready.raft.read_states.size(), 1u);
  f.receive(snapshot_at_3(voters_123()));  // restored while that Ready is handled
  f.persist(ready);
  f.node().advance();
  f.drain();

  ASSERT_EQ(f.node().kv().get("k"), std::optional<std::string>("v2"));
  const auto reply = f.reply_to(10);
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->status, node::ReplyStatus::kOk);
  EXPECT_EQ(reply->result.value, std::optional<std::string>("v2"))
      << "the read confirmed at index 3 returned the value of index 1";
}

// node::Node::maybe_take_snapshot against etcdserver's triggerSnapshot, which snapshots its own
// applied state at its own appliedi.
//
// Same interleaving, snapshotting after every applied entry: Node::advance() of the earlier Ready
// takes a snapshot labelled 3@1 (Raft's applied index) of the old kv store (k = v1). sim::World
// saves it under the same file name as the leader's snapshot at 3, after it, so the disk ends
// with the wrong state at index 3: a restart (or a snapshot sent from there once this node leads)
// loses the write at index 3.
TEST(NodeReview7, OwnSnapshotIsNotTakenOfAStateMachineOlderThanTheSnapshotRestoredMeanwhile) {
  Follower f(/*snapshot_every=*/1);
  start_with_k_v1(f);

  f.receive(test::make_append(2, 1, 1, 1, 1, {put_entry(2, "x", "0")}, 2));
  node::NodeReady ready = f.node().take_ready();
  ASSERT_EQ(ready.raft.entries_to_apply.size(), 1u);
  f.receive(snapshot_at_3(voters_123()));
  f.persist(ready);
  f.node().advance();
  f.drain();

  for (const auto& snapshot : f.saved) {
    kv::KvStore state;
    ASSERT_TRUE(state.restore(snapshot->data).is_ok());
    if (snapshot->meta.index < LogIndex(3)) continue;
    EXPECT_EQ(state.get("k"), std::optional<std::string>("v2"))
        << "snapshot " << snapshot->meta.index << "@" << snapshot->meta.term
        << " holds k = v1, the state of index 2";
  }
}

// node::Node::apply_conf_change against etcdserver's applyConfChange after applySnapshot: an
// entry at or below the applied index (the snapshot's) is not applied again; its effect is in
// the snapshot's ConfState already.
//
// The earlier Ready applies AddLearner(4) at index 2; the snapshot at 3, restored meanwhile, was
// taken after index 3 removed node 4 again: its configuration is {1, 2, 3}. Node::advance() hands
// index 2 to Raft::apply_conf_change, which applies it on top of the snapshot's configuration:
// node 4 is back as a learner, a configuration the group never had at any index, and nothing
// ever takes it out again.
TEST(NodeReview7, ConfChangeOfTheReadyBeingHandledDoesNotAlterTheSnapshotsConfiguration) {
  Follower f;
  start_with_k_v1(f);
  raft::ConfChange add_learner_4;
  add_learner_4.changes = {{raft::ConfChangeType::kAddLearner, NodeId(4)}};

  f.receive(test::make_append(2, 1, 1, 1, 1, {conf_entry(2, add_learner_4)}, 2));
  node::NodeReady ready = f.node().take_ready();
  ASSERT_EQ(ready.raft.entries_to_apply.size(), 1u);
  f.receive(snapshot_at_3(voters_123()));
  ASSERT_EQ(f.node().raft().conf_state(), voters_123());
  f.persist(ready);
  f.node().advance();
  f.drain();

  EXPECT_EQ(f.node().raft().log().applied(), LogIndex(3));
  EXPECT_EQ(f.node().raft().conf_state(), voters_123())
      << "learners: " << f.node().raft().conf_state().learners.size();
}

// node::Node::start_read (read contexts) against etcdserver, whose read request ids come from
// idutil.Generator (member id, start time and a counter): unique across restarts.
//
// Node numbers its reads 1, 2, ... from every start. A follower asks the leader to confirm read 10
// (context 1) and restarts; the new incarnation asks for read 20, again context 1. The leader's
// answer to the first request, still in flight, is taken as the answer to read 20: its index was
// fixed before read 20 began, so writes acknowledged in between may be missing from it (the
// leader's commit index moved on; the follower does not know).
TEST(NodeReview7, ReadIndexAnswerForAPreviousIncarnationDoesNotConfirmANewRead) {
  raft::MemoryLogStore store;
  node::NodeConfig config = Follower::config(0);
  Message heartbeat = test::make_heartbeat(2, 1, 1, 0);

  uint64_t old_context = 0;
  {
    node::Node before(config, store, Rng(7));  // sim::World: a fresh Rng fork per incarnation
    EXPECT_TRUE(before.step(heartbeat).is_ok());
    before.on_client_request(get(10, "k"));
    node::NodeReady ready = before.take_ready();
    EXPECT_TRUE(store.set_hard_state(*ready.raft.hard_state).is_ok());
    old_context = read_context(ready.raft.messages);
    before.advance();
  }
  node::Node after(config, store, Rng(8));
  EXPECT_TRUE(after.step(heartbeat).is_ok());
  after.on_client_request(get(20, "k"));
  std::vector<node::ClientReply> replies;
  std::vector<Message> sent;
  const auto drain = [&] {
    while (after.has_ready()) {
      node::NodeReady ready = after.take_ready();
      if (ready.raft.hard_state) {
        EXPECT_TRUE(store.set_hard_state(*ready.raft.hard_state).is_ok());
      }
      sent.insert(sent.end(), ready.raft.messages.begin(), ready.raft.messages.end());
      replies.insert(replies.end(), ready.replies.begin(), ready.replies.end());
      after.advance();
    }
  };
  drain();
  const uint64_t new_context = read_context(sent);

  Message stale = test::make_message(MessageType::kReadIndexResponse, 2, 1, 1);
  stale.index = LogIndex(0);
  stale.context = old_context;  // the leader's answer to read 10
  EXPECT_TRUE(after.step(stale).is_ok());
  drain();

  EXPECT_NE(new_context, old_context);
  EXPECT_TRUE(replies.empty()) << "read 20 was answered with the confirmation of read 10";
}

}  // namespace
}  // namespace grape

namespace grape::test {
namespace {

// A candidate that never heard of a commit learns it from a vote answer, when it holds the entry
// the voter names (Log Matching makes its prefix the committed one); never otherwise.
TEST(RaftVoteCommit, CandidateLearnsCommitFromAVoteAnswerWhenItHoldsThatEntry) {
  NodeOptions o;
  o.id = 1;
  o.pre_vote = false;
  TestNode n1 = make_node(o, make_entries(LogIndex(1), {1, 1, 2, 2, 2, 2}),
                          {Term(2), kNoNode, LogIndex(4)});
  n1->campaign();
  (void)handle_all_ready(n1);
  ASSERT_EQ(n1->role(), raft::Role::kCandidate);
  raft::Message denied = make_vote_response(2, 1, n1->term().value, false);
  denied.commit = LogIndex(6);
  denied.log_term = Term(2);
  receive(n1, denied);
  EXPECT_EQ(n1->log().committed(), LogIndex(6));
}

TEST(RaftVoteCommit, AVoteAnswerNamingAnEntryWeDoNotHoldCommitsNothing) {
  NodeOptions o;
  o.id = 1;
  o.pre_vote = false;
  TestNode n1 = make_node(o, make_entries(LogIndex(1), {1, 1, 2, 2, 2, 2}),
                          {Term(2), kNoNode, LogIndex(4)});
  n1->campaign();
  (void)handle_all_ready(n1);
  raft::Message other = make_vote_response(2, 1, n1->term().value, false);
  other.commit = LogIndex(6);
  other.log_term = Term(3);  // their entry 6 is of term 3: not ours
  receive(n1, other);
  EXPECT_EQ(n1->log().committed(), LogIndex(4));
  raft::Message beyond = make_vote_response(3, 1, n1->term().value, false);
  beyond.commit = LogIndex(9);  // past our log
  beyond.log_term = Term(2);
  receive(n1, beyond);
  EXPECT_EQ(n1->log().committed(), LogIndex(4));
}

}  // namespace
}  // namespace grape::test
