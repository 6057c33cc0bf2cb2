#pragma once
// SimNetwork: the simulated wire between nodes. It decides, for each message sent, whether and
// when it arrives: per-link latency drawn uniformly from a range, random drop and duplication,
// reordering (or strict per-link FIFO), symmetric partitions and one-way cuts, and heal.
// All randomness comes from its own forked Rng, so its draws do not depend on other subsystems.
//
// Nodes are numbered 1..N; links are directed (from -> to).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/base/ids.h"
#include "core/base/rng.h"
#include "sim/time.h"

namespace grape::sim {

// Message kinds as the scenario format names them, as bits of a mask (0 = every kind). The raft
// message types map onto the first bits in their declaration order; snapshot has its own bit.
using MessageKinds = uint32_t;
inline constexpr MessageKinds kAllMessageKinds = 0;
inline constexpr int kSnapshotKindBit = 9;
inline MessageKinds kind_bit(int message_type) { return MessageKinds{1} << message_type; }

// A timed change to some links: lose, drop, duplicate or delay the messages of some kinds from
// some nodes to others, until `until` (or until healed when it has no end).
struct LinkRule {
  // kClog: messages are held and the whole backlog arrives at once when the rule ends (a link
  // that stalls and then releases everything, as FoundationDB's swizzled clogging does).
  enum class Effect : uint8_t { kCut, kDrop, kDuplicate, kLatency, kClog };
  Effect effect = Effect::kCut;
  std::vector<NodeId> from;  // sorted
  std::vector<NodeId> to;    // sorted
  MessageKinds kinds = kAllMessageKinds;
  double rate = 1.0;                  // kDrop, kDuplicate
  Duration latency_min, latency_max;  // kLatency
  std::optional<VirtualTime> until;   // nullopt: until heal_all()
};

// What a real network does rarely and a simulated one must do too, or code that trusts a message
// from an older term or incarnation is never tested (sim-fidelity.md, section 2). Applied to every
// link on top of its spec; all off by default.
struct NetworkChaos {
  double long_delay_rate = 0.0;  // a message arrives [long_delay_min, long_delay_max] late
  Duration long_delay_min = milliseconds(500);
  Duration long_delay_max = seconds(3);
  double late_duplicate_rate = 0.0;  // an extra copy arrives [long_delay_min, long_delay_max] late
};

struct LinkSpec {
  Duration latency_min = milliseconds(1);
  Duration latency_max = milliseconds(10);
  double drop = 0.0;       // probability a message is lost
  double duplicate = 0.0;  // probability a message is delivered twice
  bool reorder = true;     // false: the link delivers in send order
};

class SimNetwork {
 public:
  SimNetwork(size_t node_count, const LinkSpec& defaults, Rng rng);
  void set_chaos(const NetworkChaos& chaos) { chaos_ = chaos; }

  size_t node_count() const { return node_count_; }
  // Grows the network for a node joining; its links get the default spec.
  void add_node();

  // The delivery times of one message of kind bit `kind` sent now from -> to: none (lost or
  // blocked), one, or two (duplicated). Appends to `out`.
  void route(NodeId from, NodeId to, MessageKinds kind, VirtualTime now,
             std::vector<VirtualTime>& out);
  // The latency of a client <-> node message: the default link latency; clients are never
  // partitioned (faults are between nodes).
  Duration client_latency();

  // Symmetric partition: nodes in different groups cannot talk. Nodes in no group form one more
  // group together. Replaces any earlier partition (cuts stay).
  void partition(const std::vector<std::vector<NodeId>>& groups);
  // One-way cut: messages from any of `from` to any of `to` are lost until healed.
  void cut(const std::vector<NodeId>& from, const std::vector<NodeId>& to,
           MessageKinds kinds = kAllMessageKinds);
  // Adds a timed or healable change to some links.
  void add_rule(LinkRule rule);
  // Isolates one node from every other, both ways.
  void isolate(NodeId node);
  // Lifts every partition and cut, and every link rule without an end time. Returns whether
  // there was anything to heal.
  bool heal_all();
  bool has_faults() const;
  bool can_deliver(NodeId from, NodeId to) const;

  LinkSpec& link(NodeId from, NodeId to);
  const LinkSpec& link(NodeId from, NodeId to) const;
  void set_all_links(const LinkSpec& spec);

  uint64_t dropped() const { return dropped_; }
  uint64_t duplicated() const { return duplicated_; }
  uint64_t delayed_long() const { return delayed_long_; }

 private:
  size_t slot(NodeId from, NodeId to) const;
  void resize(size_t node_count);
  // Applies the rules to one message; false when a cut or drop rule loses it.
  bool apply_rules(NodeId from, NodeId to, MessageKinds kind, VirtualTime now, int& copies,
                   LinkSpec& spec, VirtualTime& held_until);
  Duration long_delay();

  size_t node_count_;
  LinkSpec defaults_;
  NetworkChaos chaos_;
  Rng rng_;
  std::vector<LinkSpec> links_;       // [(from-1) * N + (to-1)]
  std::vector<uint8_t> partitioned_;  // symmetric partition blocks this link
  std::vector<LinkRule> rules_;
  std::vector<VirtualTime> last_arrival_;  // FIFO links: arrival time of the last message
  uint64_t dropped_ = 0;
  uint64_t duplicated_ = 0;
  uint64_t delayed_long_ = 0;
};

}  // namespace grape::sim
