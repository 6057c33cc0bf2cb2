#include "sim/network.h"

#include <algorithm>

#include "core/base/assert.h"

namespace grape::sim {

SimNetwork::SimNetwork(size_t node_count, const LinkSpec& defaults, Rng rng)
    : node_count_(0), defaults_(defaults), rng_(rng) {
  resize(node_count);
}

void SimNetwork::resize(size_t node_count) {
  // Links are stored densely; rebuild keeping what existing pairs had.
  std::vector<LinkSpec> links(node_count * node_count, defaults_);
  std::vector<uint8_t> partitioned(node_count * node_count, 0);
  std::vector<uint8_t> cut(node_count * node_count, 0);
  std::vector<VirtualTime> last(node_count * node_count);
  for (size_t f = 0; f < node_count_; ++f) {
    for (size_t t = 0; t < node_count_; ++t) {
      const size_t old_slot = f * node_count_ + t;
      const size_t new_slot = f * node_count + t;
      links[new_slot] = links_[old_slot];
      partitioned[new_slot] = partitioned_[old_slot];
      cut[new_slot] = cut_[old_slot];
      last[new_slot] = last_arrival_[old_slot];
    }
  }
  node_count_ = node_count;
  links_ = std::move(links);
  partitioned_ = std::move(partitioned);
  cut_ = std::move(cut);
  last_arrival_ = std::move(last);
}

void SimNetwork::add_node() { resize(node_count_ + 1); }

size_t SimNetwork::slot(NodeId from, NodeId to) const {
  GRAPE_ASSERT(from.value >= 1 && from.value <= node_count_ && to.value >= 1 &&
                   to.value <= node_count_,
               "link " << from << "->" << to << " outside 1.." << node_count_);
  return (from.value - 1) * node_count_ + (to.value - 1);
}

LinkSpec& SimNetwork::link(NodeId from, NodeId to) { return links_[slot(from, to)]; }
const LinkSpec& SimNetwork::link(NodeId from, NodeId to) const { return links_[slot(from, to)]; }

void SimNetwork::set_all_links(const LinkSpec& spec) {
  defaults_ = spec;
  std::fill(links_.begin(), links_.end(), spec);
}

bool SimNetwork::can_deliver(NodeId from, NodeId to) const {
  const size_t s = slot(from, to);
  return partitioned_[s] == 0 && cut_[s] == 0;
}

void SimNetwork::route(NodeId from, NodeId to, VirtualTime now, std::vector<VirtualTime>& out) {
  const size_t s = slot(from, to);
  if (partitioned_[s] != 0 || cut_[s] != 0) {
    ++dropped_;
    return;
  }
  const LinkSpec& spec = links_[s];
  if (spec.drop > 0.0 && rng_.chance(spec.drop)) {
    ++dropped_;
    return;
  }
  const int copies = spec.duplicate > 0.0 && rng_.chance(spec.duplicate) ? 2 : 1;
  if (copies == 2) ++duplicated_;
  for (int i = 0; i < copies; ++i) {
    VirtualTime arrival = now + Duration{rng_.between(spec.latency_min.ns, spec.latency_max.ns)};
    if (!spec.reorder) {
      arrival = std::max(arrival, last_arrival_[s]);
      last_arrival_[s] = arrival;
    }
    out.push_back(arrival);
  }
}

void SimNetwork::partition(const std::vector<std::vector<NodeId>>& groups) {
  // group_of[n] = index of n's group; unlisted nodes share group `groups.size()`.
  std::vector<size_t> group_of(node_count_ + 1, groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    for (NodeId n : groups[g]) {
      (void)slot(n, n);  // validates the node
      group_of[n.value] = g;
    }
  }
  for (size_t f = 1; f <= node_count_; ++f) {
    for (size_t t = 1; t <= node_count_; ++t) {
      partitioned_[slot(NodeId(f), NodeId(t))] = group_of[f] != group_of[t] ? 1 : 0;
    }
  }
}

void SimNetwork::cut(const std::vector<NodeId>& from, const std::vector<NodeId>& to) {
  for (NodeId f : from) {
    for (NodeId t : to) {
      if (f != t) cut_[slot(f, t)] = 1;
    }
  }
}

void SimNetwork::isolate(NodeId node) { partition({{node}}); }

void SimNetwork::heal_all() {
  std::fill(partitioned_.begin(), partitioned_.end(), 0);
  std::fill(cut_.begin(), cut_.end(), 0);
}

bool SimNetwork::has_faults() const {
  return std::any_of(partitioned_.begin(), partitioned_.end(), [](uint8_t b) { return b != 0; }) ||
         std::any_of(cut_.begin(), cut_.end(), [](uint8_t b) { return b != 0; });
}

}  // namespace grape::sim
