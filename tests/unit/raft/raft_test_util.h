#pragma once
// Helpers for the Raft unit tests: a node (a MemoryLogStore and the Raft core over it), a driver
// that handles one Ready exactly as sim::World does, message builders and filters, and a tiny
// synchronous network that delivers everything among a few nodes until they fall quiet.
//
// Everything is deterministic: nodes draw from Rng(seed).fork(id), the network delivers in FIFO
// order, and nothing reads a clock.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/bytes.h"
#include "core/base/ids.h"
#include "core/base/rng.h"
#include "core/raft/log_store.h"
#include "core/raft/raft.h"
#include "core/raft/raft_log.h"
#include "core/raft/types.h"

namespace grape::raft {
// Readable failure output for the enums (found by GoogleTest through ADL).
inline void PrintTo(Role role, std::ostream* out) { *out << to_string(role); }
inline void PrintTo(MessageType type, std::ostream* out) { *out << to_string(type); }
}  // namespace grape::raft

namespace grape::test {

struct NodeOptions {
  uint64_t id = 1;
  size_t cluster_size = 3;  // voters are 1..cluster_size
  int election_ticks = 10;  // timeouts drawn from [election_ticks, 2 * election_ticks)
  int heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t seed = 1;
  size_t append_entries_max = 64;
  size_t inflight_appends_max = 256;
};

inline raft::Config make_config(const NodeOptions& options) {
  raft::Config config;
  config.id = NodeId(options.id);
  for (uint64_t voter = 1; voter <= options.cluster_size; ++voter) {
    config.voters.push_back(NodeId(voter));
  }
  config.election_ticks = options.election_ticks;
  config.heartbeat_ticks = options.heartbeat_ticks;
  config.pre_vote = options.pre_vote;
  config.check_quorum = options.check_quorum;
  config.append_entries_max = options.append_entries_max;
  config.inflight_appends_max = options.inflight_appends_max;
  return config;
}

// A node: its store (heap-allocated, so the node can move while the Raft keeps referring to it)
// and the Raft core over it.
struct TestNode {
  raft::Config config;
  uint64_t seed = 0;
  std::unique_ptr<raft::MemoryLogStore> store;
  std::unique_ptr<raft::Raft> raft;

  raft::Raft* operator->() { return raft.get(); }
  const raft::Raft* operator->() const { return raft.get(); }
  NodeId id() const { return config.id; }

  // A crash and restart: the volatile state is gone, a new Raft recovers from the store.
  void restart() {
    raft = std::make_unique<raft::Raft>(config, *store, Rng(seed).fork(config.id.value));
  }
};

// Entries first, first + 1, ... with the given terms; data names the position ("3@2").
inline std::vector<raft::Entry> make_entries(LogIndex first,
                                             std::initializer_list<uint64_t> terms) {
  std::vector<raft::Entry> entries;
  LogIndex index = first;
  for (uint64_t term : terms) {
    raft::Entry e;
    e.index = index;
    e.term = Term(term);
    e.data = to_bytes(std::to_string(index.value) + "@" + std::to_string(term));
    entries.push_back(std::move(e));
    index = index.next();
  }
  return entries;
}

// A node whose store already holds `log` and `state`, as if it had run before.
inline TestNode make_node(const NodeOptions& options, const std::vector<raft::Entry>& log = {},
                          const raft::HardState& state = {}) {
  TestNode node;
  node.config = make_config(options);
  node.seed = options.seed;
  node.store = std::make_unique<raft::MemoryLogStore>();
  EXPECT_TRUE(node.store->append(log).is_ok());
  EXPECT_TRUE(node.store->set_hard_state(state).is_ok());
  node.restart();
  return node;
}

// Nodes 1..cluster_size, all with `options` but their own id.
inline std::vector<TestNode> make_cluster(NodeOptions options) {
  std::vector<TestNode> nodes;
  for (uint64_t id = 1; id <= options.cluster_size; ++id) {
    options.id = id;
    nodes.push_back(make_node(options));
  }
  return nodes;
}

// What handling one Ready produced.
struct Handled {
  std::vector<raft::Message> messages;  // `messages`, then `messages_after_persist`
  std::vector<raft::Entry> applied;
};

// Handles `ready` as a driver does: persist entries and hard state, send, apply, advance().
// Applying a kConfChange entry hands it to the Raft (configurations take effect when applied).
inline Handled handle(TestNode& node, const raft::Ready& ready) {
  if (ready.snapshot) node.store->mark_snapshot(ready.snapshot->meta.index, ready.snapshot->meta.term);
  EXPECT_TRUE(node.store->append(ready.entries_to_persist).is_ok());
  if (ready.hard_state) {
    EXPECT_TRUE(node.store->set_hard_state(*ready.hard_state).is_ok());
  }
  Handled out;
  out.messages = ready.messages;
  out.messages.insert(out.messages.end(), ready.messages_after_persist.begin(),
                      ready.messages_after_persist.end());
  out.applied = ready.entries_to_apply;
  for (const raft::Entry& e : ready.entries_to_apply) {
    if (e.type != raft::EntryType::kConfChange) continue;
    auto change = raft::decode_conf_change(e.data);
    EXPECT_TRUE(change.has_value()) << "undecodable conf change " << e;
    if (change) node->apply_conf_change(*change);
  }
  node->advance();
  return out;
}

// Takes and handles one Ready (nothing when the node has none).
inline Handled handle_ready(TestNode& node) {
  if (!node->has_ready()) return {};
  return handle(node, node->take_ready());
}

// Handles Readies until the node has none left.
inline Handled handle_all_ready(TestNode& node) {
  Handled all;
  for (int i = 0; i < 100 && node->has_ready(); ++i) {
    Handled one = handle_ready(node);
    all.messages.insert(all.messages.end(), one.messages.begin(), one.messages.end());
    all.applied.insert(all.applied.end(), one.applied.begin(), one.applied.end());
  }
  EXPECT_FALSE(node->has_ready()) << "node " << node.id() << " never runs out of Readies";
  return all;
}

inline void tick_times(TestNode& node, int ticks) {
  for (int i = 0; i < ticks; ++i) node->tick();
}

// Steps one message into `node`, which must accept it.
inline void receive(TestNode& node, const raft::Message& message) {
  const auto status = node->step(message);
  EXPECT_TRUE(status.is_ok()) << "refused: " << message << ": " << status.error().detail;
}

// --- filters ----------------------------------------------------------------------------------

inline std::vector<raft::Message> of_type(const std::vector<raft::Message>& messages,
                                          raft::MessageType type) {
  std::vector<raft::Message> out;
  for (const raft::Message& m : messages) {
    if (m.type == type) out.push_back(m);
  }
  return out;
}

inline std::vector<raft::Message> to_node(const std::vector<raft::Message>& messages, NodeId to) {
  std::vector<raft::Message> out;
  for (const raft::Message& m : messages) {
    if (m.to == to) out.push_back(m);
  }
  return out;
}

// The recipients of the messages of `type`, in order.
inline std::vector<NodeId> recipients(const std::vector<raft::Message>& messages,
                                      raft::MessageType type) {
  std::vector<NodeId> out;
  for (const raft::Message& m : of_type(messages, type)) out.push_back(m.to);
  return out;
}

// --- message builders ---------------------------------------------------------------------------

inline raft::Message make_message(raft::MessageType type, uint64_t from, uint64_t to,
                                  uint64_t term) {
  raft::Message m;
  m.type = type;
  m.from = NodeId(from);
  m.to = NodeId(to);
  m.term = Term(term);
  return m;
}

// AppendEntries after (prev_index, prev_term).
inline raft::Message make_append(uint64_t from, uint64_t to, uint64_t term, uint64_t prev_index,
                                 uint64_t prev_term, std::vector<raft::Entry> entries,
                                 uint64_t commit) {
  raft::Message m = make_message(raft::MessageType::kAppend, from, to, term);
  m.index = LogIndex(prev_index);
  m.log_term = Term(prev_term);
  m.entries = std::move(entries);
  m.commit = LogIndex(commit);
  return m;
}

inline raft::Message make_append_response(uint64_t from, uint64_t to, uint64_t term,
                                          uint64_t index) {
  raft::Message m = make_message(raft::MessageType::kAppendResponse, from, to, term);
  m.index = LogIndex(index);
  return m;
}

// RequestVote (or PreVote) from a candidate whose log ends at (last_index, last_term).
inline raft::Message make_vote(uint64_t from, uint64_t to, uint64_t term, uint64_t last_index,
                               uint64_t last_term,
                               raft::MessageType type = raft::MessageType::kVote) {
  raft::Message m = make_message(type, from, to, term);
  m.index = LogIndex(last_index);
  m.log_term = Term(last_term);
  return m;
}

inline raft::Message make_vote_response(uint64_t from, uint64_t to, uint64_t term, bool granted,
                                        raft::MessageType type = raft::MessageType::kVoteResponse) {
  raft::Message m = make_message(type, from, to, term);
  m.reject = !granted;
  return m;
}

inline raft::Message make_heartbeat(uint64_t from, uint64_t to, uint64_t term, uint64_t commit) {
  raft::Message m = make_message(raft::MessageType::kHeartbeat, from, to, term);
  m.commit = LogIndex(commit);
  return m;
}

// --- a tiny network -----------------------------------------------------------------------------

inline TestNode& node_by_id(std::vector<TestNode>& nodes, NodeId id) {
  for (TestNode& n : nodes) {
    if (n.id() == id) return n;
  }
  ADD_FAILURE() << "no node " << id;
  return nodes.front();
}

// What a network run delivered and what each node applied, in order.
struct NetworkTrace {
  std::vector<raft::Message> delivered;
  std::map<NodeId, std::vector<raft::Entry>> applied;
};

// How the network treats a message its recipient refuses as coming from an unknown peer.
// kExpectAccepted (the default) fails the test; kDropUnknownPeers drops it as a real driver does:
// membership tests need it, since a removed node keeps talking until it learns of its removal.
enum class Refusals : uint8_t { kExpectAccepted, kDropUnknownPeers };

inline void deliver(TestNode& to, const raft::Message& message, Refusals refusals) {
  if (refusals == Refusals::kExpectAccepted) {
    receive(to, message);
    return;
  }
  const auto status = to->step(message);
  EXPECT_TRUE(status.is_ok() || status.error().code == raft::StepErrorCode::kUnknownPeer)
      << "refused: " << message << ": " << status.error().detail;
}

// One round: handles every node's Readies and delivers the messages they produced (FIFO).
// Messages from or to an `isolated` node are dropped. Returns how many messages were produced.
inline size_t deliver_round(std::vector<TestNode>& nodes, const std::set<NodeId>& isolated = {},
                            NetworkTrace* trace = nullptr,
                            Refusals refusals = Refusals::kExpectAccepted) {
  std::vector<raft::Message> in_flight;
  for (TestNode& n : nodes) {
    for (int i = 0; i < 100 && n->has_ready(); ++i) {
      Handled handled = handle_ready(n);
      in_flight.insert(in_flight.end(), handled.messages.begin(), handled.messages.end());
      if (trace != nullptr) {
        auto& applied = trace->applied[n.id()];
        applied.insert(applied.end(), handled.applied.begin(), handled.applied.end());
      }
    }
  }
  for (const raft::Message& m : in_flight) {
    if (isolated.count(m.from) > 0 || isolated.count(m.to) > 0) continue;
    deliver(node_by_id(nodes, m.to), m, refusals);
    if (trace != nullptr) trace->delivered.push_back(m);
  }
  return in_flight.size();
}

// Delivers round after round until no node has anything left to say.
inline void deliver_until_quiet(std::vector<TestNode>& nodes, const std::set<NodeId>& isolated = {},
                                NetworkTrace* trace = nullptr,
                                Refusals refusals = Refusals::kExpectAccepted) {
  for (int round = 0; round < 1000; ++round) {
    if (deliver_round(nodes, isolated, trace, refusals) == 0) return;
  }
  ADD_FAILURE() << "the network never fell quiet";
}

// One tick for every node, then delivery until quiet.
inline void tick_all(std::vector<TestNode>& nodes, const std::set<NodeId>& isolated = {},
                     NetworkTrace* trace = nullptr, Refusals refusals = Refusals::kExpectAccepted) {
  for (TestNode& n : nodes) n->tick();
  deliver_until_quiet(nodes, isolated, trace, refusals);
}

// Makes `id` campaign and delivers until quiet; `id` should then lead.
inline void elect(std::vector<TestNode>& nodes, uint64_t id,
                  const std::set<NodeId>& isolated = {}) {
  node_by_id(nodes, NodeId(id))->campaign();
  deliver_until_quiet(nodes, isolated);
  EXPECT_EQ(node_by_id(nodes, NodeId(id))->role(), raft::Role::kLeader) << "node " << id;
}

// The terms of a log's entries, first to last: compact to compare.
inline std::vector<uint64_t> log_terms(const raft::RaftLog& log) {
  std::vector<uint64_t> terms;
  if (log.last_index() < log.first_index()) return terms;
  const size_t count = log.last_index() - log.first_index() + 1;
  for (const raft::Entry& e : log.entries_from(log.first_index(), count, SIZE_MAX)) {
    terms.push_back(e.term.value);
  }
  return terms;
}

inline std::vector<uint64_t> store_terms(const raft::MemoryLogStore& store) {
  std::vector<uint64_t> terms;
  for (LogIndex i(1); i <= store.last_index(); i = i.next()) {
    terms.push_back(store.entry(i).term.value);
  }
  return terms;
}

}  // namespace grape::test
