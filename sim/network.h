#pragma once
// SimNetwork: the simulated wire between nodes. It decides, for each message sent, whether and
// when it arrives: per-link latency drawn uniformly from a range, random drop and duplication,
// reordering (or strict per-link FIFO), symmetric partitions and one-way cuts, and heal.
// All randomness comes from its own forked Rng, so its draws do not depend on other subsystems.
//
// Nodes are numbered 1..N; links are directed (from -> to).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/base/ids.h"
#include "core/base/rng.h"
#include "sim/time.h"

namespace grape::sim {

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

  size_t node_count() const { return node_count_; }
  // Grows the network for a node joining; its links get the default spec.
  void add_node();

  // The delivery times of one message sent now from -> to: none (lost or blocked), one, or two
  // (duplicated). Appends to `out`.
  void route(NodeId from, NodeId to, VirtualTime now, std::vector<VirtualTime>& out);

  // Symmetric partition: nodes in different groups cannot talk. Nodes in no group form one more
  // group together. Replaces any earlier partition (cuts stay).
  void partition(const std::vector<std::vector<NodeId>>& groups);
  // One-way cut: messages from any of `from` to any of `to` are lost until healed.
  void cut(const std::vector<NodeId>& from, const std::vector<NodeId>& to);
  // Isolates one node from every other, both ways.
  void isolate(NodeId node);
  // Lifts every partition and cut.
  void heal_all();
  bool has_faults() const;
  bool can_deliver(NodeId from, NodeId to) const;

  LinkSpec& link(NodeId from, NodeId to);
  const LinkSpec& link(NodeId from, NodeId to) const;
  void set_all_links(const LinkSpec& spec);

  uint64_t dropped() const { return dropped_; }
  uint64_t duplicated() const { return duplicated_; }

 private:
  size_t slot(NodeId from, NodeId to) const;
  void resize(size_t node_count);

  size_t node_count_;
  LinkSpec defaults_;
  Rng rng_;
  std::vector<LinkSpec> links_;          // [(from-1) * N + (to-1)]
  std::vector<uint8_t> partitioned_;     // symmetric partition blocks this link
  std::vector<uint8_t> cut_;             // one-way cut blocks this link
  std::vector<VirtualTime> last_arrival_;  // FIFO links: arrival time of the last message
  uint64_t dropped_ = 0;
  uint64_t duplicated_ = 0;
};

}  // namespace grape::sim
