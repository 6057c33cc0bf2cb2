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
  std::vector<VirtualTime> last(node_count * node_count);
  for (size_t f = 0; f < node_count_; ++f) {
    for (size_t t = 0; t < node_count_; ++t) {
      const size_t old_slot = f * node_count_ + t;
      const size_t new_slot = f * node_count + t;
      links[new_slot] = links_[old_slot];
      partitioned[new_slot] = partitioned_[old_slot];
      last[new_slot] = last_arrival_[old_slot];
    }
  }
  node_count_ = node_count;
  links_ = std::move(links);
  partitioned_ = std::move(partitioned);
  last_arrival_ = std::move(last);
}

void SimNetwork::add_node() { resize(node_count_ + 1); }

size_t SimNetwork::slot(NodeId from, NodeId to) const {
  GRAPE_ASSERT(
      from.value >= 1 && from.value <= node_count_ && to.value >= 1 && to.value <= node_count_,
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
  if (partitioned_[slot(from, to)] != 0) return false;
  for (const LinkRule& rule : rules_) {
    if (rule.effect == LinkRule::Effect::kCut && rule.kinds == kAllMessageKinds &&
        std::binary_search(rule.from.begin(), rule.from.end(), from) &&
        std::binary_search(rule.to.begin(), rule.to.end(), to)) {
      return false;
    }
  }
  return true;
}

bool SimNetwork::apply_rules(NodeId from, NodeId to, MessageKinds kind, VirtualTime now,
                             int& copies, LinkSpec& spec, VirtualTime& held_until) {
  for (const LinkRule& rule : rules_) {
    if (rule.until && now >= *rule.until) continue;
    if (rule.kinds != kAllMessageKinds && (rule.kinds & kind) == 0) continue;
    if (!std::binary_search(rule.from.begin(), rule.from.end(), from) ||
        !std::binary_search(rule.to.begin(), rule.to.end(), to)) {
      continue;
    }
    switch (rule.effect) {
      case LinkRule::Effect::kCut:
        return false;
      case LinkRule::Effect::kDrop:
        if (rng_.chance(rule.rate)) return false;
        break;
      case LinkRule::Effect::kDuplicate:
        if (rng_.chance(rule.rate)) copies = 2;
        break;
      case LinkRule::Effect::kLatency:
        spec.latency_min = rule.latency_min;
        spec.latency_max = rule.latency_max;
        break;
      case LinkRule::Effect::kClog:
        // Held until the clog ends; a clog without an end holds nothing (the runner gives every
        // clog one).
        if (rule.until) held_until = std::max(held_until, *rule.until);
        break;
    }
  }
  return true;
}

void SimNetwork::route(NodeId from, NodeId to, MessageKinds kind, VirtualTime now,
                       std::vector<VirtualTime>& out) {
  const size_t s = slot(from, to);
  if (partitioned_[s] != 0) {
    ++dropped_;
    return;
  }
  LinkSpec spec = links_[s];
  int copies = spec.duplicate > 0.0 && rng_.chance(spec.duplicate) ? 2 : 1;
  VirtualTime held_until = now;
  if (!rules_.empty() && !apply_rules(from, to, kind, now, copies, spec, held_until)) {
    ++dropped_;
    return;
  }
  if (spec.drop > 0.0 && rng_.chance(spec.drop)) {
    ++dropped_;
    return;
  }
  if (copies == 2) ++duplicated_;
  for (int i = 0; i < copies; ++i) {
    VirtualTime arrival = std::max(now, held_until) +
                          Duration{rng_.between(spec.latency_min.ns, spec.latency_max.ns)};
    if (chaos_.long_delay_rate > 0.0 && rng_.chance(chaos_.long_delay_rate)) {
      arrival = arrival + long_delay();
    }
    if (!spec.reorder) {
      arrival = std::max(arrival, last_arrival_[s]);
      last_arrival_[s] = arrival;
    }
    out.push_back(arrival);
  }
  // A copy replayed long after the original, on any link (FIFO ones too: a retransmission from
  // an older connection), so that a message of an older term arrives after newer ones.
  if (chaos_.late_duplicate_rate > 0.0 && rng_.chance(chaos_.late_duplicate_rate)) {
    ++duplicated_;
    out.push_back(out.back() + long_delay());
  }
}

Duration SimNetwork::long_delay() {
  ++delayed_long_;
  return Duration{rng_.between(chaos_.long_delay_min.ns, chaos_.long_delay_max.ns)};
}

Duration SimNetwork::client_latency() {
  return Duration{rng_.between(defaults_.latency_min.ns, defaults_.latency_max.ns)};
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

void SimNetwork::cut(const std::vector<NodeId>& from, const std::vector<NodeId>& to,
                     MessageKinds kinds) {
  LinkRule rule;
  rule.effect = LinkRule::Effect::kCut;
  rule.from = from;
  rule.to = to;
  rule.kinds = kinds;
  add_rule(std::move(rule));
}

void SimNetwork::add_rule(LinkRule rule) {
  for (NodeId n : rule.from) (void)slot(n, n);  // validates the nodes
  for (NodeId n : rule.to) (void)slot(n, n);
  std::sort(rule.from.begin(), rule.from.end());
  std::sort(rule.to.begin(), rule.to.end());
  rules_.push_back(std::move(rule));
}

void SimNetwork::isolate(NodeId node) { partition({{node}}); }

bool SimNetwork::heal_all() {
  const bool had_faults = has_faults();
  std::fill(partitioned_.begin(), partitioned_.end(), 0);
  std::erase_if(rules_, [](const LinkRule& rule) { return !rule.until; });
  return had_faults;
}

bool SimNetwork::has_faults() const {
  return std::any_of(partitioned_.begin(), partitioned_.end(), [](uint8_t b) { return b != 0; }) ||
         std::any_of(rules_.begin(), rules_.end(), [](const LinkRule& r) { return !r.until; });
}

}  // namespace grape::sim
