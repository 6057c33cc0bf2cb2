// node::Node's client answers (issue 6, defect 3): every request that reaches a live node is
// answered, also when the node stops leading with it in flight: definitely when its index applies
// here, else kUnknown one election timeout later.

#include "core/node/node.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/mark.h"
#include "core/kv/kv.h"
#include "core/raft/log_store.h"

namespace grape::node {
namespace {

using raft::Message;
using raft::MessageType;

class NodeAnswers : public ::testing::Test {
 protected:
  NodeAnswers() : node_(config(), store_, Rng(7)) {}

  static NodeConfig config() {
    NodeConfig c;
    c.raft.id = NodeId(1);
    c.raft.voters = {NodeId(1), NodeId(2), NodeId(3)};
    c.raft.pre_vote = false;
    return c;
  }

  // Handles every Ready as a driver does; returns the replies.
  std::vector<ClientReply> drain() {
    std::vector<ClientReply> replies;
    while (node_.has_ready()) {
      NodeReady ready = node_.take_ready();
      EXPECT_TRUE(store_.append(ready.raft.entries_to_persist).is_ok());
      if (ready.raft.hard_state) {
        EXPECT_TRUE(store_.set_hard_state(*ready.raft.hard_state).is_ok());
      }
      replies.insert(replies.end(), ready.replies.begin(), ready.replies.end());
      node_.advance();
    }
    return replies;
  }

  void receive(Message m) {
    m.to = NodeId(1);
    EXPECT_TRUE(node_.step(m).is_ok());
  }

  void become_leader() {
    node_.campaign();
    drain();
    Message grant;
    grant.type = MessageType::kVoteResponse;
    grant.from = NodeId(2);
    grant.term = node_.raft().term();
    receive(grant);
    drain();
    ASSERT_EQ(node_.raft().role(), raft::Role::kLeader);
  }

  void put(uint64_t request, const char* key) {
    ClientRequest r;
    r.client = 1;
    r.request = request;
    r.command.op = kv::Op::kPut;
    r.command.key = key;
    r.command.value = "v";
    node_.on_client_request(r);
  }

  raft::MemoryLogStore store_;
  Node node_;
};

TEST_F(NodeAnswers, DeposedLeaderAnswersUnresolvedRequestsUnknownAfterAnElectionTimeout) {
  become_leader();
  put(10, "a");
  put(11, "b");
  drain();
  ASSERT_EQ(node_.pending_requests(), 2u);
  const uint64_t before = mark_count("node.pending_abandoned_after_step_down");

  Message heartbeat;  // a leader of a later term: we step down with both requests in flight
  heartbeat.type = MessageType::kHeartbeat;
  heartbeat.from = NodeId(2);
  heartbeat.term = node_.raft().term().next();
  receive(heartbeat);
  const std::vector<ClientReply> at_once = drain();
  for (int tick = 0; tick < 10; ++tick) node_.tick();  // election_ticks: 10
  const std::vector<ClientReply> replies = drain();

  EXPECT_TRUE(at_once.empty());  // their index may still apply here: wait a little
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].request, 10u);
  EXPECT_EQ(replies[0].status, ReplyStatus::kUnknown);
  EXPECT_EQ(replies[1].status, ReplyStatus::kUnknown);
  EXPECT_EQ(replies[0].leader_hint, NodeId(2));
  EXPECT_EQ(node_.pending_requests(), 0u);
  EXPECT_EQ(mark_count("node.pending_abandoned_after_step_down"), before + 2);
}

TEST_F(NodeAnswers, LeaderThatLosesItsQuorumAnswersItsRequests) {
  become_leader();
  put(10, "a");
  drain();

  for (int tick = 0; tick < 30 && node_.raft().role() == raft::Role::kLeader; ++tick) {
    node_.tick();  // nobody answers: check-quorum deposes it
  }
  for (int tick = 0; tick < 10; ++tick) node_.tick();
  const std::vector<ClientReply> replies = drain();

  EXPECT_NE(node_.raft().role(), raft::Role::kLeader);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].status, ReplyStatus::kUnknown);
}

TEST_F(NodeAnswers, RequestOverwrittenByANewLeaderIsAnsweredDroppedWhenItsIndexApplies) {
  become_leader();  // term 1: no-op at 1
  put(10, "a");     // index 2, term 1
  drain();
  const LogIndex first_index = node_.raft().log().last_index();

  // A leader of term 2 overwrites index 2 with its own entry and commits it: the request is
  // answered kDropped, definitely, when index 2 applies here.
  Message append;
  append.type = MessageType::kAppend;
  append.from = NodeId(2);
  append.term = Term(2);
  append.index = LogIndex(1);
  append.log_term = Term(1);
  raft::Entry e;
  e.term = Term(2);
  e.index = first_index;
  append.entries = {e};
  append.commit = first_index;
  receive(append);
  const std::vector<ClientReply> replies = drain();

  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].request, 10u);
  EXPECT_EQ(replies[0].status, ReplyStatus::kDropped);
  EXPECT_EQ(node_.pending_requests(), 0u);
}

}  // namespace
}  // namespace grape::node
