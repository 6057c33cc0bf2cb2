// Review against etcd's raft (go.etcd.io/raft/v3): each test pins one divergence that matters and
// fails on the code it was written against. They stay failing until the owner decides on a fix.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/kv/kv.h"
#include "core/node/node.h"
#include "core/raft/raft.h"
#include "tests/unit/raft/raft_test_util.h"

namespace grape {
namespace {

using raft::Entry;
using raft::Message;
using raft::MessageType;
using test::Refusals;
using test::TestNode;

// etcd's raft.Step answers MsgVote and MsgPreVote from any sender: a voter's configuration may be
// older than the candidate's (the comment on learners voting in raft.go). grape's step() refuses
// them from anyone its own configuration does not list (raft.cc, step()), which can leave a group
// that lost a single member with no electable node.
//
// Initial configuration {1, 2, 3}. Leader 1 (term 1) committed AddVoter(4) at index 2 with node 2,
// then index 3 with nodes 2 and 4 (3 of {1, 2, 3, 4}), appended index 4 on node 4 only, and
// crashed. Node 3 was cut off meanwhile and holds index 1 only. Survivors 2, 3, 4 are 3 of 4:
//   - 4 is the only electable node (2 lacks index 4), but 3 drops its requests as a stranger's;
//   - 2 is refused by 4 (log behind), 3 is refused by 2.
TEST(RaftReview, LaggingVoterAnswersVoteRequestsFromAVoterItsConfigurationDoesNotListYet) {
  std::vector<Entry> log = test::make_entries(LogIndex(1), {1, 1, 1, 1});
  log[1].type = raft::EntryType::kConfChange;
  log[1].data = raft::encode_conf_change(
      raft::ConfChange{{raft::ConfChangeItem{raft::ConfChangeType::kAddVoter, NodeId(4)}}});
  const auto prefix = [&log](size_t n) { return std::vector<Entry>(log.begin(), log.begin() + n); };

  std::vector<TestNode> nodes;
  nodes.push_back(test::make_node({.id = 2}, prefix(3), {Term(1), NodeId(1), LogIndex(3)}));
  nodes.push_back(test::make_node({.id = 3}, prefix(1), {Term(1), NodeId(1), LogIndex(1)}));
  nodes.push_back(test::make_node({.id = 4}, prefix(4), {Term(1), kNoNode, LogIndex(3)}));
  for (TestNode& n : nodes) (void)test::handle_all_ready(n);  // 2 and 4 re-apply AddVoter(4)
  ASSERT_EQ(nodes[0]->voters().size(), 4u);
  ASSERT_EQ(nodes[1]->voters().size(), 3u);
  ASSERT_EQ(nodes[2]->voters().size(), 4u);

  const auto has_leader = [&nodes] {
    for (const TestNode& n : nodes) {
      if (n->role() == raft::Role::kLeader) return true;
    }
    return false;
  };
  for (int tick = 0; tick < 300 && !has_leader(); ++tick) {
    test::tick_all(nodes, {NodeId(1)}, nullptr, Refusals::kDropUnknownPeers);
  }

  EXPECT_TRUE(has_leader()) << "three of four voters are up and connected, yet none is elected";
  EXPECT_EQ(nodes[2]->role(), raft::Role::kLeader);  // node 4: the only log a majority accepts
}

// --- node::Node ---------------------------------------------------------------------------------

// A leader's proposal at index i used to answer kDropped to every request of an older term pending
// at or past i (fixed: only the entry applied at i decides now). kDropped promises "another entry was committed at its
// index: it will never apply", but here nothing is committed at i yet: our old entry was only
// overwritten in OUR log, and another node that still holds it can become leader and commit it.
// (etcd leaves the fate of such proposals to the apply loop; Node::apply already decides it
// definitely when the index applies.)
//
// Five voters. Term 1: node 1 leads, appends requests 10, 11, 12 at 2, 3, 4 and replicates them
// to node 2 only. Term 2: node 3 (votes 3, 4, 5) overwrites index 2 on node 1. Term 3: node 1
// (votes 1, 4, 5) leads again and proposes request 13 at index 4: request 12 is answered kDropped.
// Term 4: node 2 (votes 2, 4, 5: their logs end at index 1) leads and commits its log, which still
// holds request 12 at index 4; node 1 applies it.
TEST(NodeReview, RequestOverwrittenOnlyInTheLeadersOwnLogIsNotAnsweredDropped) {
  node::NodeConfig config;
  config.raft.id = NodeId(1);
  config.raft.voters = {NodeId(1), NodeId(2), NodeId(3), NodeId(4), NodeId(5)};
  config.raft.pre_vote = false;
  raft::MemoryLogStore store;
  node::Node node(config, store, Rng(7));

  std::vector<node::ClientReply> replies;
  const auto drain = [&] {
    while (node.has_ready()) {
      node::NodeReady ready = node.take_ready();
      EXPECT_TRUE(store.append(ready.raft.entries_to_persist).is_ok());
      if (ready.raft.hard_state) {
        EXPECT_TRUE(store.set_hard_state(*ready.raft.hard_state).is_ok());
      }
      replies.insert(replies.end(), ready.replies.begin(), ready.replies.end());
      node.advance();
    }
  };
  const auto receive = [&](Message m) {
    m.to = NodeId(1);
    EXPECT_TRUE(node.step(m).is_ok()) << m;
  };
  const auto elect = [&](std::initializer_list<uint64_t> voters) {
    node.campaign();
    drain();
    for (uint64_t voter : voters) {
      receive(test::make_vote_response(voter, 1, node.raft().term().value, true));
    }
    drain();
    ASSERT_EQ(node.raft().role(), raft::Role::kLeader);
  };
  const auto put = [&](uint64_t request, const char* key) {
    node::ClientRequest r;
    r.client = 1;
    r.request = request;
    r.command.op = kv::Op::kPut;
    r.command.key = key;
    r.command.value = "v";
    node.on_client_request(r);
    drain();
  };
  const auto status_of = [&](uint64_t request) -> std::optional<node::ReplyStatus> {
    for (const node::ClientReply& reply : replies) {
      if (reply.request == request) return reply.status;
    }
    return std::nullopt;
  };

  elect({2, 3});  // term 1, no-op at 1
  put(10, "a");   // index 2
  put(11, "b");   // index 3
  put(12, "c");   // index 4
  const std::vector<Entry> term1 = {store.entry(LogIndex(2)), store.entry(LogIndex(3)),
                                    store.entry(LogIndex(4))};

  // Term 2: node 3 leads and overwrites index 2 on node 1 (our log is now [1@1, 2@2]).
  Entry e2;
  e2.term = Term(2);
  e2.index = LogIndex(2);
  receive(test::make_append(3, 1, 2, 1, 1, {e2}, 1));
  drain();

  // Term 3: node 1 leads again (no-op at 3) and proposes request 13 at index 4.
  elect({4, 5});
  put(13, "d");
  ASSERT_EQ(node.raft().log().last_index(), LogIndex(4));

  // Term 4: node 2 leads with the term-1 entries and commits them with its no-op at 5.
  Entry e5;
  e5.term = Term(4);
  e5.index = LogIndex(5);
  std::vector<Entry> entries = term1;
  entries.push_back(e5);
  receive(test::make_append(2, 1, 4, 1, 1, entries, 5));
  drain();

  ASSERT_EQ(node.raft().log().committed(), LogIndex(5));
  ASSERT_EQ(node.kv().get("c"), std::optional<std::string>("v"));  // request 12 was applied
  EXPECT_EQ(status_of(13), node::ReplyStatus::kDropped);           // index 4 holds 12's entry
  EXPECT_NE(status_of(12), node::ReplyStatus::kDropped)
      << "request 12 was answered kDropped, then its entry was committed and applied";
}

}  // namespace
}  // namespace grape
