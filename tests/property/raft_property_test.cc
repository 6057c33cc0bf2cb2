// Property: for random sequences of proposals, time passing, partitions, one-way cuts, crashes and
// restarts on 3- and 5-node clusters, the Raft safety properties hold after every step (election
// safety, log matching, leader completeness, state machine safety, leader append-only), and once
// every fault is healed a leader is elected and a new proposal commits.
//
// The seed is pinned by CTest (RC_PARAMS); a failure prints the minimal failing sequence and a
// `reproduce` string. Run by hand: RC_PARAMS="seed=7 max_success=500" build/tests/grape_property_tests

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <functional>
#include <ostream>
#include <set>

#include "sim/world.h"

namespace grape::sim {
namespace {

struct Op {
  enum class Kind { kPropose, kRun, kPartition, kCut, kCrash, kRestart, kHeal };
  Kind kind = Kind::kRun;
  int node = 0;         // 0-based index into the cluster
  int other = 0;        // kCut: the receiving side; kPropose: even = at the leader
  uint32_t mask = 0;    // kPartition: bit i set = node i in the first group
  int duration_ms = 0;  // kRun; kPropose: (duration_ms % 20) + 1 proposals
};

void showValue(const Op& op, std::ostream& os) {
  switch (op.kind) {
    case Op::Kind::kPropose:
      os << "propose x" << op.duration_ms % 20 + 1 << (op.other % 2 == 0 ? " at leader" : " at n")
         << (op.other % 2 == 0 ? 0 : op.node + 1);
      break;
    case Op::Kind::kRun: os << "run " << op.duration_ms << "ms"; break;
    case Op::Kind::kPartition: os << "partition mask " << op.mask; break;
    case Op::Kind::kCut: os << "cut n" << op.node + 1 << "->n" << op.other + 1; break;
    case Op::Kind::kCrash: os << "crash n" << op.node + 1; break;
    case Op::Kind::kRestart: os << "restart n" << op.node + 1; break;
    case Op::Kind::kHeal: os << "heal"; break;
  }
}

rc::Gen<Op> gen_op(int nodes) {
  using rc::gen::inRange;
  return rc::gen::apply(
      [](int kind, int node, int other, uint32_t mask, int duration_ms) {
        Op op;
        // Weighted: time passing and proposals are the common case, faults rarer.
        static constexpr Op::Kind kKinds[] = {
            Op::Kind::kPropose, Op::Kind::kPropose,   Op::Kind::kPropose, Op::Kind::kRun,
            Op::Kind::kRun,     Op::Kind::kRun,       Op::Kind::kPartition, Op::Kind::kCut,
            Op::Kind::kCrash,   Op::Kind::kRestart,   Op::Kind::kHeal};
        op.kind = kKinds[kind];
        op.node = node;
        op.other = other;
        op.mask = mask;
        op.duration_ms = duration_ms;
        return op;
      },
      inRange(0, 11), inRange(0, nodes), inRange(0, nodes), inRange<uint32_t>(0, 1u << nodes),
      inRange(1, 1500));
}

void apply_op(World& world, const Op& op, int* proposals) {
  const NodeId node(static_cast<uint64_t>(op.node) + 1);
  switch (op.kind) {
    case Op::Kind::kPropose: {
      // Mostly at the leader (a client that follows redirects), sometimes at a random node.
      const NodeId target = op.other % 2 == 0 && world.leader() ? *world.leader() : node;
      for (int i = 0; i <= op.duration_ms % 20 && world.is_up(target); ++i) {
        if (!world.propose(target, to_bytes("p" + std::to_string(*proposals)))) break;
        ++*proposals;
      }
      break;
    }
    case Op::Kind::kRun:
      world.run_for(milliseconds(op.duration_ms));
      break;
    case Op::Kind::kPartition: {
      std::vector<NodeId> first;
      for (NodeId id : world.node_ids()) {
        if (op.mask & (1u << (id.value - 1))) first.push_back(id);
      }
      world.partition({first});
      break;
    }
    case Op::Kind::kCut:
      world.cut({node}, {NodeId(static_cast<uint64_t>(op.other) + 1)});
      break;
    case Op::Kind::kCrash:
      world.crash(node);
      break;
    case Op::Kind::kRestart:
      world.restart(node);
      break;
    case Op::Kind::kHeal:
      world.heal_all();
      break;
  }
}

void check_cluster(int nodes) {
  const auto seed = *rc::gen::inRange<uint64_t>(1, 1'000'000);
  const auto drop_percent = *rc::gen::inRange(0, 10);
  const auto ops = *rc::gen::container<std::vector<Op>>(gen_op(nodes));

  WorldOptions options;
  options.nodes = static_cast<size_t>(nodes);
  options.seed = seed;
  options.network = LinkSpec{milliseconds(1), milliseconds(15), drop_percent / 100.0, 0.02, true};
  options.disk_sync_max = milliseconds(2);
  // Short timeouts against slow links: many elections, many leaders cut off mid-replication,
  // which is where Raft's subtle rules (Figure 8, leader completeness) are exercised.
  if (*rc::gen::arbitrary<bool>()) {
    options.tick = milliseconds(5);
    options.election_timeout_min = milliseconds(30);
    options.election_timeout_max = milliseconds(60);
    options.heartbeat = milliseconds(10);
  }
  World world(options);

  int proposals = 0;
  // The world halts at the first safety violation; say which before any assertion fails.
  auto assert_safe = [&world] {
    if (!world.checks_passed()) RC_LOG() << world.failure_report() << "\n";
    RC_ASSERT(world.checks_passed());
  };
  for (const Op& op : ops) {
    apply_op(world, op, &proposals);
    assert_safe();
  }

  // Heal everything: a leader must be elected and a new proposal must commit on every node. A
  // proposal made at a leader that is about to lose its term may be discarded (legitimately), so
  // the client retries at the current leader every 300 ms, as a real one would.
  world.heal_all();
  world.network().set_all_links(LinkSpec{milliseconds(1), milliseconds(15), 0.0, 0.0, true});
  for (NodeId id : world.node_ids()) world.restart(id);
  const Bytes marker = to_bytes("after-heal");
  std::set<NodeId> applied_marker;
  world.set_apply_hook([&](NodeId id, const raft::Entry& e) {
    if (e.data == marker) applied_marker.insert(id);
  });
  std::function<void(World&)> propose_marker = [&](World& w) {
    if (auto leader = w.leader()) (void)w.propose(*leader, marker);
    w.schedule(w.now() + milliseconds(300), propose_marker);
  };
  world.schedule(world.now(), propose_marker);
  const bool committed = world.run_until(
      [&](const World& w) { return applied_marker.size() == w.node_count(); }, seconds(10));
  assert_safe();
  RC_ASSERT(committed);
  RC_CLASSIFY(world.stats().elections > 1, "several elections");
  RC_CLASSIFY(proposals > 10, "more than 10 proposals");
  RC_CLASSIFY(world.now() > VirtualTime{} + seconds(10), "over 10 s simulated");
}

RC_GTEST_PROP(RaftProperty, SafetyHoldsAndAHealedThreeNodeClusterCommits, ()) { check_cluster(3); }

RC_GTEST_PROP(RaftProperty, SafetyHoldsAndAHealedFiveNodeClusterCommits, ()) { check_cluster(5); }

}  // namespace
}  // namespace grape::sim
