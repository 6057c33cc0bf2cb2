#include "core/shard/placement.h"

#include <algorithm>
#include <tuple>
#include <bit>
#include <deque>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

#include "core/base/hash.h"

namespace grape::shard {

namespace {

__extension__ using U128 = unsigned __int128;

constexpr uint64_t kKeySeed = 0;                       // key -> shard: plain XXH3
constexpr uint64_t kShardSeed = 0x73686172642d7074ULL;  // "shard-pt"
constexpr uint64_t kVnodeSeed = 0x76697274756e6f64ULL;  // "virtunod"
constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
constexpr uint32_t kMaxVirtualNodes = 4'096;

// splitmix64's finaliser: a cheap, well-spread 64-bit mix for rendezvous scores.
uint64_t mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t ceil_div(U128 numerator, U128 denominator) {
  return static_cast<uint64_t>((numerator + denominator - 1) / denominator);
}

// The planner's model of served load, in units of 1 / (R - 1) request (see served_by_node):
// every replica of a shard carries an even share of what its followers served (their total,
// scaled), and its leader, on top of that, what it served beyond such a share; that extra is
// what moving leadership moves.
uint64_t replica_share(const ShardLoad& load, uint32_t replication) {
  return replication > 1 ? load.follower_requests : 0;
}
uint64_t leader_extra(const ShardLoad& load, uint32_t replication) {
  if (replication <= 1) return load.requests;
  const U128 leader = static_cast<U128>(load.requests) * (replication - 1);
  if (leader <= load.follower_requests) return 0;
  return static_cast<uint64_t>(
      std::min<U128>(leader - load.follower_requests, std::numeric_limits<uint64_t>::max()));
}

std::vector<NodeSpec> sorted_by_id(std::vector<NodeSpec> nodes) {
  std::sort(nodes.begin(), nodes.end(),
            [](const NodeSpec& a, const NodeSpec& b) { return a.id < b.id; });
  return nodes;
}

// Water-filling: shares of `total` proportional to weight, none above its cap; the excess of a
// capped node is spread over the others. Exact: shares are fractions numerator / denominator.
std::vector<Quota> capped_quotas(const std::vector<NodeSpec>& nodes, uint64_t total,
                                 const std::vector<uint32_t>& caps, uint32_t epsilon_permille) {
  const size_t n = nodes.size();
  std::vector<bool> capped(n, false);
  uint64_t free_total = total;
  uint64_t free_weight = 0;
  for (const NodeSpec& node : nodes) free_weight += node.weight;
  for (bool changed = true; changed && free_weight > 0;) {
    changed = false;
    for (size_t i = 0; i < n; ++i) {
      if (capped[i]) continue;
      if (static_cast<U128>(free_total) * nodes[i].weight >
          static_cast<U128>(caps[i]) * free_weight) {
        capped[i] = true;
        free_total -= std::min<uint64_t>(caps[i], free_total);
        free_weight -= nodes[i].weight;
        changed = true;
      }
    }
  }
  std::vector<Quota> result(n);
  for (size_t i = 0; i < n; ++i) {
    Quota& quota = result[i];
    quota.node = nodes[i].id;
    if (capped[i]) {
      quota.share_numerator = caps[i];
      quota.share_denominator = 1;
    } else {
      quota.share_numerator = free_total * nodes[i].weight;
      quota.share_denominator = free_weight;
    }
    quota.floor = static_cast<uint32_t>(quota.share_numerator / quota.share_denominator);
    quota.ceil = static_cast<uint32_t>(ceil_div(quota.share_numerator, quota.share_denominator));
    const uint64_t bound =
        ceil_div(static_cast<U128>(quota.share_numerator) * (1000 + epsilon_permille),
                 static_cast<U128>(quota.share_denominator) * 1000);
    quota.bound = static_cast<uint32_t>(std::min<uint64_t>(bound, caps[i]));
    quota.bound = std::max(quota.bound, quota.ceil);
  }
  return result;
}

// The planner's working state. Nodes are indices into the sorted node list; a replica on a node
// that is no longer listed is kNone until it is re-placed. Which node holds which shard is a
// bitset per node, so that "a shard u holds and v lacks" is a few word operations.
class Work {
 public:
  Work(std::vector<NodeSpec> nodes, const PlacementOptions& options)
      : nodes_(std::move(nodes)),
        options_(options),
        ring_(nodes_, options.virtual_nodes),
        words_((options.shards + 63) / 64),
        replicas_(options.shards),
        leaders_(options.shards, kNone),
        count_(nodes_.size(), 0),
        holds_(nodes_.size() * words_, 0),
        original_(nodes_.size() * words_, 0),
        shard_points_(options.shards),
        dirty_(nodes_.size(), true) {
    for (uint32_t shard = 0; shard < options.shards; ++shard) shard_points_[shard] = shard_point(shard);
    replica_quota_ = quotas(nodes_, uint64_t{options.shards} * options.replication,
                            options.shards, options.epsilon_permille);
  }

  uint32_t node_count() const { return static_cast<uint32_t>(nodes_.size()); }
  uint32_t shards() const { return options_.shards; }
  uint32_t replication() const { return options_.replication; }
  const std::vector<NodeSpec>& nodes() const { return nodes_; }
  const Quota& quota(uint32_t node) const { return replica_quota_[node]; }
  uint32_t count(uint32_t node) const { return count_[node]; }
  bool holds(uint32_t node, uint32_t shard) const {
    return (holds_[size_t{node} * words_ + shard / 64] >> (shard % 64)) & 1;
  }
  const std::vector<uint32_t>& replicas(uint32_t shard) const { return replicas_[shard]; }
  uint32_t leader(uint32_t shard) const { return leaders_[shard]; }
  void set_leader(uint32_t shard, uint32_t node) { leaders_[shard] = node; }
  // Each shard's data size (from the load; empty: unknown): of the replicas a node may pass on,
  // the smallest goes first, so that a plan moves as few bytes as its moves allow.
  void set_bytes(const std::vector<ShardLoad>& load) {
    bytes_.clear();
    if (std::none_of(load.begin(), load.end(), [](const ShardLoad& l) { return l.bytes > 0; })) return;
    for (const ShardLoad& l : load) bytes_.push_back(l.bytes);
  }

  uint32_t index_of(NodeId id) const {
    auto it = std::lower_bound(nodes_.begin(), nodes_.end(), id,
                               [](const NodeSpec& node, NodeId value) { return node.id < value; });
    return it != nodes_.end() && it->id == id ? static_cast<uint32_t>(it - nodes_.begin()) : kNone;
  }

  void add_replica(uint32_t shard, uint32_t node) {
    replicas_[shard].push_back(node);
    if (node != kNone) mark(shard, node, true);
  }
  // What every node holds now is what it held before the plan: moving one of these costs a move,
  // passing on a replica that arrived during the plan does not (its move only changes target).
  void remember_original() {
    original_ = holds_;
    std::fill(dirty_.begin(), dirty_.end(), true);
  }

  // Replaces the replica in `slot` of `shard` (keeping the slot, so that diffs pair old and new).
  void replace(uint32_t shard, size_t slot, uint32_t node) {
    const uint32_t old = replicas_[shard][slot];
    if (old != kNone) mark(shard, old, false);
    if (leaders_[shard] == old) leaders_[shard] = kNone;
    replicas_[shard][slot] = node;
    mark(shard, node, true);
  }
  void move(uint32_t shard, uint32_t from, uint32_t to) {
    auto& slots = replicas_[shard];
    replace(shard, static_cast<size_t>(std::find(slots.begin(), slots.end(), from) - slots.begin()),
            to);
  }

  // Bounded loads on the ring: the first R distinct nodes clockwise from the shard's point whose
  // replica count is below their bound.
  void place_on_ring(uint32_t shard) {
    const size_t start = ring_.first_at_or_after(shard_points_[shard]);
    for (size_t k = 0; k < ring_.size() && replicas_[shard].size() < options_.replication; ++k) {
      const uint32_t node = ring_.owner(start + k);
      if (count_[node] < replica_quota_[node].bound && !holds(node, shard)) {
        add_replica(shard, node);
      }
    }
    while (replicas_[shard].size() < options_.replication) {  // every bound reached: least full
      add_replica(shard, least_loaded_without(shard));
    }
  }

  uint32_t least_loaded_without(uint32_t shard) const {
    uint32_t best = kNone;
    for (uint32_t node = 0; node < nodes_.size(); ++node) {
      if (holds(node, shard)) continue;
      if (best == kNone || fuller(best, node)) best = node;
    }
    GRAPE_ASSERT(best != kNone, "replication above the node count");
    return best;
  }

  // What moving a replica from u to v adds to the plan's move count: -1 when u holds one that
  // arrived during the plan and v held before it (the earlier move is undone), 0 when u holds one
  // that arrived during the plan (its move only changes target), 1 when u holds only its original
  // replicas; kNoHop when v holds everything u does.
  static constexpr int kNoHop = 2;
  int pass_cost(uint32_t u, uint32_t v) const { return cost_[size_t{u} * nodes_.size() + v]; }

  // Brings the pass_cost table up to date: the rows and columns of nodes whose holdings changed
  // since the last refresh (a chain of k hops changes k + 1 nodes, so searches stay cheap).
  void refresh_costs() {
    const size_t n = nodes_.size();
    if (cost_.size() != n * n) {
      cost_.assign(n * n, kNoHop);
      std::fill(dirty_.begin(), dirty_.end(), true);
    }
    for (uint32_t x = 0; x < n; ++x) {
      if (!dirty_[x]) continue;
      for (uint32_t y = 0; y < n; ++y) {
        if (y == x) continue;
        cost_[size_t{x} * n + y] = compute_pass_cost(x, y);
        cost_[size_t{y} * n + x] = compute_pass_cost(y, x);
      }
      dirty_[x] = false;
    }
  }

  // The shard to pass from u to v, cheapest first as in pass_cost. Among u's original replicas:
  // one u does not lead (moving it moves no leadership), and of those the one that prefers v
  // most by rendezvous hashing, so that a new node takes a spread of shards, not a block of
  // neighbours that would then fail together.
  uint32_t shard_to_pass(uint32_t u, uint32_t v) const {
    const PairWords p = words_of(u, v);
    uint32_t arrived = kNone;
    uint32_t best = kNone;
    // (not led by u, smaller, preference for v)
    std::tuple<bool, uint64_t, uint64_t> best_score{false, 0, 0};
    const uint64_t v_salt = nodes_[v].id.value * 0x9e3779b97f4a7c15ULL;
    for (size_t w = 0; w < words_; ++w) {
      const uint64_t lacking = p.held_u[w] & ~p.held_v[w];
      const uint64_t moved_in = lacking & ~p.original_u[w];
      if ((moved_in & p.original_v[w]) != 0) {
        return static_cast<uint32_t>(w * 64 + std::countr_zero(moved_in & p.original_v[w]));
      }
      if (moved_in != 0 && arrived == kNone) {
        arrived = static_cast<uint32_t>(w * 64 + std::countr_zero(moved_in));
      }
      if (arrived != kNone) continue;
      for (uint64_t bits = lacking; bits != 0; bits &= bits - 1) {
        const auto shard = static_cast<uint32_t>(w * 64 + std::countr_zero(bits));
        const std::tuple<bool, uint64_t, uint64_t> score{
            leaders_[shard] != u, bytes_.empty() ? 0 : UINT64_MAX - bytes_[shard],
            mix(shard_points_[shard] ^ v_salt)};
        if (best == kNone || score > best_score) best = shard, best_score = score;
      }
    }
    return arrived != kNone ? arrived : best;
  }

 private:
  int compute_pass_cost(uint32_t u, uint32_t v) const {
    const PairWords p = words_of(u, v);
    int cost = kNoHop;
    for (size_t w = 0; w < words_; ++w) {
      const uint64_t lacking = p.held_u[w] & ~p.held_v[w];
      const uint64_t arrived = lacking & ~p.original_u[w];
      if ((arrived & p.original_v[w]) != 0) return -1;
      if (arrived != 0) cost = 0;
      if (lacking != 0 && cost == kNoHop) cost = 1;
    }
    return cost;
  }

  // The bitset words of what u and v hold now and held before the plan.
  struct PairWords {
    const uint64_t* held_u;
    const uint64_t* original_u;
    const uint64_t* held_v;
    const uint64_t* original_v;
  };
  PairWords words_of(uint32_t u, uint32_t v) const {
    return {&holds_[size_t{u} * words_], &original_[size_t{u} * words_],
            &holds_[size_t{v} * words_], &original_[size_t{v} * words_]};
  }

  // Is `a` fuller than `b` relative to their shares? count_a / share_a > count_b / share_b.
  bool fuller(uint32_t a, uint32_t b) const {
    const Quota& qa = replica_quota_[a];
    const Quota& qb = replica_quota_[b];
    const U128 left = static_cast<U128>(count_[a]) * qa.share_denominator * qb.share_numerator;
    const U128 right = static_cast<U128>(count_[b]) * qb.share_denominator * qa.share_numerator;
    return left > right;
  }

  void mark(uint32_t shard, uint32_t node, bool held) {
    uint64_t& word = holds_[size_t{node} * words_ + shard / 64];
    const uint64_t bit = uint64_t{1} << (shard % 64);
    GRAPE_ASSERT(((word & bit) != 0) != held, "a replica placed twice or removed twice");
    dirty_[node] = true;
    if (held) {
      word |= bit;
      ++count_[node];
    } else {
      word &= ~bit;
      --count_[node];
    }
  }

  std::vector<NodeSpec> nodes_;
  PlacementOptions options_;
  Ring ring_;
  size_t words_;
  std::vector<std::vector<uint32_t>> replicas_;
  std::vector<uint32_t> leaders_;
  std::vector<uint32_t> count_;
  std::vector<uint64_t> holds_;
  std::vector<uint64_t> original_;
  std::vector<uint64_t> shard_points_;
  std::vector<uint64_t> bytes_;  // per shard, or empty (see set_bytes)
  std::vector<bool> dirty_;  // holdings changed since the pass_cost table was refreshed
  std::vector<int8_t> cost_;  // pass_cost(u, v) at [u * n + v]
  std::vector<Quota> replica_quota_;
};

// Replica balancing: every node's count into [floor, ceil] of its share, by the cheapest chains
// of moves. A chain u1 -> u2 -> ... -> uk passes one replica along each hop (u1 loses one, uk
// gains one, the others stay even); a hop costs a move unless it passes on a replica that
// arrived earlier in the same plan. Chains are found by a 0-1 breadth-first search over nodes,
// which is what makes a join or a leave move close to the fewest replicas possible: a replica
// that cannot go where it is needed takes a detour instead of overfilling a node that must later
// shed again.
class ReplicaBalancer {
 public:
  explicit ReplicaBalancer(Work& work) : work_(work), n_(work.node_count()) {}

  // The replicas in slots of departed nodes, then nodes above their ceil, then below their floor.
  void run() {
    for (uint32_t shard = 0; shard < work_.shards(); ++shard) {
      for (size_t slot = 0; slot < work_.replicas(shard).size(); ++slot) {
        if (work_.replicas(shard)[slot] == kNone) place_orphan(shard, slot);
      }
    }
    for (uint32_t node = most_above_ceil(); node != kNone; node = most_above_ceil()) {
      if (!shed(node)) break;
    }
    for (uint32_t node = most_below_floor(); node != kNone; node = most_below_floor()) {
      if (!fill(node)) break;
    }
  }

 private:
  static constexpr int64_t kUnreached = INT64_MAX;

  struct Search {
    std::vector<int64_t> cost;
    std::vector<uint32_t> parent;  // the neighbour towards the search's start
  };

  // Cheapest chains from `starts` (each with its cost), forwards (u passes to v) or backwards.
  // Hops may cost -1 (undoing an earlier move of the same plan), so this is Bellman-Ford with a
  // queue; a state reached by the planner's own steps has no negative cycle, and the rounds are
  // bounded in case one appears.
  Search search(const std::vector<std::pair<uint32_t, int64_t>>& starts, bool forwards) {
    work_.refresh_costs();
    Search result{std::vector<int64_t>(n_, kUnreached), std::vector<uint32_t>(n_, kNone)};
    std::deque<uint32_t> queue;
    std::vector<bool> queued(n_, false);
    for (auto [node, cost] : starts) {
      result.cost[node] = cost;
      queue.push_back(node);
      queued[node] = true;
    }
    size_t relaxations = 0;
    const size_t limit = size_t{n_} * n_ + n_;
    while (!queue.empty() && relaxations < limit) {
      const uint32_t u = queue.front();
      queue.pop_front();
      queued[u] = false;
      ++relaxations;
      for (uint32_t v = 0; v < n_; ++v) {
        if (v == u) continue;
        const int hop = forwards ? work_.pass_cost(u, v) : work_.pass_cost(v, u);
        if (hop == Work::kNoHop || result.cost[u] + hop >= result.cost[v]) continue;
        if (creates_cycle(result, u, v)) continue;
        result.cost[v] = result.cost[u] + hop;
        result.parent[v] = u;
        if (!queued[v]) queued[v] = true, queue.push_back(v);
      }
    }
    return result;
  }

  // Would making u the parent of v close a loop (v is already on u's path to the start)?
  bool creates_cycle(const Search& found, uint32_t u, uint32_t v) const {
    for (uint32_t node = u, steps = 0; node != kNone && steps <= n_; node = found.parent[node]) {
      if (node == v) return true;
      ++steps;
    }
    return false;
  }

  bool below_floor(uint32_t node) const { return work_.count(node) < work_.quota(node).floor; }
  bool below_ceil(uint32_t node) const { return work_.count(node) < work_.quota(node).ceil; }
  bool any_below_floor() const {
    for (uint32_t node = 0; node < n_; ++node) {
      if (below_floor(node)) return true;
    }
    return false;
  }

  // Where a forward chain should end: the cheapest node below its ceil, where ending at a node
  // that is not below its floor costs one more while some node is (it will need a move later).
  uint32_t best_sink(const Search& found, uint32_t excluded) const {
    const bool floors_short = any_below_floor();
    uint32_t best = kNone;
    std::pair<int64_t, int64_t> best_score{0, 0};
    for (uint32_t node = 0; node < n_; ++node) {
      if (node == excluded || found.cost[node] == kUnreached || !below_ceil(node)) continue;
      const int64_t penalty = floors_short && !below_floor(node) ? 1 : 0;
      const int64_t room = work_.quota(node).ceil - work_.count(node);
      // cheapest first, then the most room
      const std::pair<int64_t, int64_t> score{found.cost[node] + penalty, -room};
      if (best == kNone || score < best_score) best = node, best_score = score;
    }
    return best;
  }

  // Moves replicas along the chain that ends at `end`, walking parents back to the start.
  void pass_along(const Search& found, uint32_t end) {
    std::vector<uint32_t> chain{end};
    while (found.parent[chain.back()] != kNone) chain.push_back(found.parent[chain.back()]);
    std::reverse(chain.begin(), chain.end());  // start ... end
    for (size_t hop = chain.size() - 1; hop > 0; --hop) {  // from the end, so each hop is valid
      const uint32_t from = chain[hop - 1];
      const uint32_t to = chain[hop];
      work_.move(work_.shard_to_pass(from, to), from, to);
    }
  }

  void place_orphan(uint32_t shard, size_t slot) {
    std::vector<std::pair<uint32_t, int64_t>> starts;
    for (uint32_t node = 0; node < n_; ++node) {
      if (!work_.holds(node, shard)) starts.push_back({node, 1});
    }
    const Search found = search(starts, true);
    uint32_t end = best_sink(found, kNone);
    if (end == kNone) {  // every node at its ceil: the least full that lacks the shard
      work_.replace(shard, slot, work_.least_loaded_without(shard));
      return;
    }
    uint32_t first = end;  // the chain's start: where the orphan lands
    while (found.parent[first] != kNone) first = found.parent[first];
    pass_along(found, end);
    work_.replace(shard, slot, first);
  }

  bool shed(uint32_t node) {
    const Search found = search({{node, 0}}, true);
    const uint32_t end = best_sink(found, node);
    if (end == kNone) return false;
    pass_along(found, end);
    return true;
  }

  bool fill(uint32_t node) {
    const Search found = search({{node, 0}}, false);
    uint32_t best = kNone;
    for (uint32_t from = 0; from < n_; ++from) {
      if (from == node || found.cost[from] == kUnreached) continue;
      if (work_.count(from) <= work_.quota(from).floor) continue;
      if (best == kNone || found.cost[from] < found.cost[best]) best = from;
    }
    if (best == kNone) return false;
    // the backward search's parents point towards `node`: walk from `best` forwards
    for (uint32_t from = best; from != node;) {
      const uint32_t to = found.parent[from];
      work_.move(work_.shard_to_pass(from, to), from, to);
      from = to;
    }
    return true;
  }

  uint32_t most_above_ceil() const {
    uint32_t worst = kNone;
    for (uint32_t node = 0; node < n_; ++node) {
      if (work_.count(node) <= work_.quota(node).ceil) continue;
      if (worst == kNone || work_.count(node) - work_.quota(node).ceil >
                                work_.count(worst) - work_.quota(worst).ceil) {
        worst = node;
      }
    }
    return worst;
  }

  uint32_t most_below_floor() const {
    uint32_t worst = kNone;
    for (uint32_t node = 0; node < n_; ++node) {
      if (!below_floor(node)) continue;
      if (worst == kNone || work_.quota(node).floor - work_.count(node) >
                                work_.quota(worst).floor - work_.count(worst)) {
        worst = node;
      }
    }
    return worst;
  }

  Work& work_;
  uint32_t n_;
};

// Leaders: one replica per shard, each node's count within [floor, ceil] of its share of the S
// leaders (by weight, capped by the replicas it holds). Starts from the current leaders and moves
// leadership along alternating paths (u leads s, v also holds s: s's leadership goes to v), as in
// a bipartite b-matching, so the bounds are met whenever any assignment meets them.
class LeaderBalancer {
 public:
  explicit LeaderBalancer(Work& work) : work_(work), led_(work.node_count(), 0) {
    std::vector<uint32_t> caps(work.node_count());
    for (uint32_t node = 0; node < work.node_count(); ++node) caps[node] = work.count(node);
    quota_ = capped_quotas(work.nodes(), work.shards(), caps, 0);
    for (uint32_t shard = 0; shard < work.shards(); ++shard) {
      if (work.leader(shard) != kNone) ++led_[work.leader(shard)];
    }
    for (uint32_t shard = 0; shard < work.shards(); ++shard) {
      if (work.leader(shard) == kNone) assign_fewest(shard);
    }
  }

  void balance() {
    while (shed_one()) {
    }
    while (gain_one()) {
    }
  }

  // With a measured load: leadership moves while doing so lowers the busier of the two nodes'
  // requests served per unit of weight, the busiest node first (when it can shed nothing, the
  // next busiest may, to a node lighter still). Leader counts stay within their bounds: a node
  // above its floor hands a shard to one below its ceil, or two nodes swap the leadership of a
  // busier shard for a lighter one. Every step lowers the larger of two loads and leaves the
  // others, so the loads sorted from the top fall with each, and the loop ends. A node's load
  // is served_by_node's: what its replicas serve as followers is a base that stays, and only a
  // shard's leader extra moves with its leadership.
  void balance_load(const std::vector<ShardLoad>& load) {
    const uint32_t n = work_.node_count();
    std::vector<uint64_t> served(n, 0);
    std::vector<uint64_t> extra(work_.shards(), 0);
    for (uint32_t shard = 0; shard < work_.shards(); ++shard) {
      const uint64_t share = replica_share(load[shard], work_.replication());
      for (uint32_t node : work_.replicas(shard)) served[node] += share;
      extra[shard] = leader_extra(load[shard], work_.replication());
      served[work_.leader(shard)] += extra[shard];
    }
    // a / wa < b / wb, exactly
    auto less = [&](uint64_t a, uint32_t na, uint64_t b, uint32_t nb) {
      return static_cast<U128>(a) * work_.nodes()[nb].weight <
             static_cast<U128>(b) * work_.nodes()[na].weight;
    };
    struct Step {
      uint32_t shard = kNone;  // its leadership goes from the source to `to`
      uint32_t to = kNone;
      uint32_t back = kNone;   // a swap: this shard's leadership comes back from `to`
      uint64_t after = 0;      // the larger of the two loads after the step (normalised below)
      uint32_t after_node = kNone;
    };
    std::vector<uint32_t> by_load(n);
    std::vector<std::vector<uint32_t>> led_by(n);
    for (uint32_t round = 0; round < 4 * work_.shards(); ++round) {
      std::iota(by_load.begin(), by_load.end(), 0u);
      std::stable_sort(by_load.begin(), by_load.end(), [&](uint32_t a, uint32_t b) {
        return less(served[b], b, served[a], a);  // busiest first
      });
      for (auto& shards : led_by) shards.clear();
      for (uint32_t shard = 0; shard < work_.shards(); ++shard) {
        led_by[work_.leader(shard)].push_back(shard);
      }
      uint32_t from = kNone;
      Step best;
      for (uint32_t source : by_load) {
        // The step moves `moved` from the source to `to`; it must leave both below the source.
        auto consider = [&](uint32_t shard, uint32_t to, uint32_t back, uint64_t moved) {
          const uint64_t from_after = served[source] - moved;
          const uint64_t to_after = served[to] + moved;
          const bool to_worse = less(from_after, source, to_after, to);
          const uint64_t after = to_worse ? to_after : from_after;
          const uint32_t after_node = to_worse ? to : source;
          if (!less(after, after_node, served[source], source)) return;
          if (best.shard == kNone || less(after, after_node, best.after, best.after_node)) {
            best = Step{shard, to, back, after, after_node};
          }
        };
        for (uint32_t shard : led_by[source]) {
          if (extra[shard] == 0) continue;
          for (uint32_t to : work_.replicas(shard)) {
            if (to == source) continue;
            if (led_[source] > quota_[source].floor && led_[to] < quota_[to].ceil) {
              consider(shard, to, kNone, extra[shard]);
            }
            for (uint32_t back : led_by[to]) {
              if (extra[back] >= extra[shard] || !work_.holds(source, back)) continue;
              consider(shard, to, back, extra[shard] - extra[back]);
            }
          }
        }
        if (best.shard != kNone) {
          from = source;
          break;
        }
      }
      if (best.shard == kNone) break;
      uint64_t moved = extra[best.shard];
      lead(best.shard, best.to);
      if (best.back != kNone) {
        moved -= extra[best.back];
        lead(best.back, from);
      }
      served[from] -= moved;
      served[best.to] += moved;
    }
  }

 private:
  void lead(uint32_t shard, uint32_t node) {
    const uint32_t old = work_.leader(shard);
    if (old != kNone) --led_[old];
    work_.set_leader(shard, node);
    ++led_[node];
  }

  void assign_fewest(uint32_t shard) {
    uint32_t best = kNone;
    for (uint32_t node : work_.replicas(shard)) {
      if (best == kNone || led_[node] < led_[best]) best = node;
    }
    lead(shard, best);
  }

  // One node above its ceil hands one leadership, possibly through others, to a node below its
  // ceil. False when no node is above its ceil or no path exists.
  bool shed_one() {
    const uint32_t n = work_.node_count();
    std::vector<std::vector<uint32_t>> led_by(n);
    for (uint32_t shard = 0; shard < work_.shards(); ++shard) {
      led_by[work_.leader(shard)].push_back(shard);
    }
    for (uint32_t start = 0; start < n; ++start) {
      if (led_[start] <= quota_[start].ceil) continue;
      std::vector<uint32_t> via(n, kNone);  // via[v]: the shard whose leadership reaches v
      std::vector<bool> seen(n, false);
      std::vector<uint32_t> queue{start};
      seen[start] = true;
      for (size_t head = 0; head < queue.size(); ++head) {
        for (uint32_t shard : led_by[queue[head]]) {
          for (uint32_t v : work_.replicas(shard)) {
            if (seen[v]) continue;
            seen[v] = true;
            via[v] = shard;
            if (led_[v] < quota_[v].ceil) {
              for (uint32_t node = v; via[node] != kNone;) {  // back along the path
                const uint32_t previous = work_.leader(via[node]);
                lead(via[node], node);
                node = previous;
              }
              return true;
            }
            queue.push_back(v);
          }
        }
      }
    }
    return false;
  }

  // One node below its floor takes one leadership, possibly through others, from a node above
  // its floor. The search runs backwards: from v, a shard v holds reaches that shard's leader.
  bool gain_one() {
    const uint32_t n = work_.node_count();
    std::vector<std::vector<uint32_t>> held_by(n);
    for (uint32_t shard = 0; shard < work_.shards(); ++shard) {
      for (uint32_t node : work_.replicas(shard)) held_by[node].push_back(shard);
    }
    for (uint32_t start = 0; start < n; ++start) {
      if (led_[start] >= quota_[start].floor) continue;
      std::vector<uint32_t> via(n, kNone);      // via[w]: the shard w hands over
      std::vector<uint32_t> to_node(n, kNone);  // to_node[w]: the node that takes it
      std::vector<bool> seen(n, false);
      std::vector<uint32_t> queue{start};
      seen[start] = true;
      for (size_t head = 0; head < queue.size(); ++head) {
        const uint32_t v = queue[head];
        for (uint32_t shard : held_by[v]) {
          const uint32_t w = work_.leader(shard);
          if (seen[w]) continue;
          seen[w] = true;
          via[w] = shard;
          to_node[w] = v;
          if (led_[w] > quota_[w].floor) {
            for (uint32_t node = w; node != start; node = to_node[node]) {
              lead(via[node], to_node[node]);
            }
            return true;
          }
          queue.push_back(w);
        }
      }
    }
    return false;
  }

  Work& work_;
  std::vector<uint32_t> led_;
  std::vector<Quota> quota_;
};

ShardMap to_map(const Work& work, uint32_t replication) {
  ShardMap map;
  map.replication = replication;
  map.shards.resize(work.shards());
  for (uint32_t shard = 0; shard < work.shards(); ++shard) {
    ShardPlacement& placement = map.shards[shard];
    for (uint32_t node : work.replicas(shard)) placement.replicas.push_back(work.nodes()[node].id);
    placement.leader = work.nodes()[work.leader(shard)].id;
  }
  return map;
}

Status<PlacementError> validate_map(const ShardMap& current, const PlacementOptions& options) {
  auto fail = [](std::string message) { return Unexpected(PlacementError{std::move(message)}); };
  if (current.shard_count() != options.shards) {
    return fail("the current map has " + std::to_string(current.shard_count()) +
                " shards, not " + std::to_string(options.shards));
  }
  for (uint32_t shard = 0; shard < current.shard_count(); ++shard) {
    const ShardPlacement& placement = current.shards[shard];
    const std::string where = "shard " + std::to_string(shard) + ": ";
    if (placement.replicas.size() != options.replication) {
      return fail(where + std::to_string(placement.replicas.size()) + " replicas, not " +
                  std::to_string(options.replication));
    }
    std::vector<NodeId> sorted = placement.replicas;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return fail(where + "a node holds two of its replicas");
    }
    if (sorted.front() == kNoNode) return fail(where + "a replica on node 0");
    if (std::find(sorted.begin(), sorted.end(), placement.leader) == sorted.end()) {
      return fail(where + "its leader " + node_name(placement.leader) + " is not a replica");
    }
  }
  return Status<PlacementError>::ok();
}

}  // namespace

uint64_t key_hash(std::string_view key) { return hash64(key, kKeySeed); }

uint64_t shard_point(uint32_t shard) {
  const uint64_t word = shard;
  return hash64(&word, sizeof(word), kShardSeed);
}

std::string node_name(NodeId node) { return "n" + std::to_string(node.value); }

Ring::Ring(const std::vector<NodeSpec>& nodes, uint32_t virtual_nodes)
    : nodes_(static_cast<uint32_t>(nodes.size())) {
  uint64_t total_weight = 0;
  for (const NodeSpec& node : nodes) total_weight += node.weight;
  struct Point {
    uint64_t hash;
    uint32_t owner;
  };
  std::vector<Point> points;
  for (uint32_t index = 0; index < nodes.size(); ++index) {
    // round(virtual_nodes * weight / mean weight), at least one
    const U128 scaled = static_cast<U128>(virtual_nodes) * nodes[index].weight * nodes.size();
    const uint64_t count =
        std::max<uint64_t>(1, static_cast<uint64_t>((2 * scaled + total_weight) /
                                                     (2 * static_cast<U128>(total_weight))));
    for (uint64_t v = 0; v < count; ++v) {
      const uint64_t words[2] = {nodes[index].id.value, v};
      points.push_back({hash64(words, sizeof(words), kVnodeSeed), index});
    }
  }
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.owner < b.owner;
  });
  hashes_.reserve(points.size());
  owners_.reserve(points.size());
  for (const Point& point : points) {
    hashes_.push_back(point.hash);
    owners_.push_back(point.owner);
  }
  buckets_.assign((size_t{1} << kBucketBits) + 1, static_cast<uint32_t>(hashes_.size()));
  for (size_t position = hashes_.size(); position-- > 0;) {
    buckets_[hashes_[position] >> (64 - kBucketBits)] = static_cast<uint32_t>(position);
  }
  for (size_t bucket = buckets_.size() - 1; bucket-- > 0;) {  // empty buckets: the next one's
    buckets_[bucket] = std::min(buckets_[bucket], buckets_[bucket + 1]);
  }
}

size_t Ring::first_at_or_after(uint64_t point) const {
  const size_t bucket = point >> (64 - kBucketBits);
  size_t position = buckets_[bucket];
  const size_t end = buckets_[bucket + 1];
  while (position < end && hashes_[position] < point) ++position;
  return position;  // hashes_.size() wraps to the first point through owner()
}

void Ring::successors(uint64_t point, uint32_t count, std::vector<uint32_t>& out) const {
  out.clear();
  count = std::min(count, nodes_);
  const size_t start = first_at_or_after(point);
  for (size_t k = 0; k < owners_.size() && out.size() < count; ++k) {
    const uint32_t node = owner(start + k);
    if (std::find(out.begin(), out.end(), node) == out.end()) out.push_back(node);
  }
}

Status<PlacementError> validate(const std::vector<NodeSpec>& nodes,
                                const PlacementOptions& options) {
  auto fail = [](std::string message) { return Unexpected(PlacementError{std::move(message)}); };
  if (nodes.empty()) return fail("no nodes");
  if (nodes.size() > kMaxNodes) {
    return fail(std::to_string(nodes.size()) + " nodes; at most " + std::to_string(kMaxNodes));
  }
  if (options.shards == 0 || options.shards > kMaxShards) {
    return fail("shards must be 1.." + std::to_string(kMaxShards) + ", not " +
                std::to_string(options.shards));
  }
  if (options.replication == 0 || options.replication > nodes.size()) {
    return fail("replication " + std::to_string(options.replication) + " needs 1.." +
                std::to_string(nodes.size()) + " (the node count)");
  }
  if (options.virtual_nodes == 0 || options.virtual_nodes > kMaxVirtualNodes) {
    return fail("virtual nodes must be 1.." + std::to_string(kMaxVirtualNodes));
  }
  std::vector<NodeSpec> sorted = sorted_by_id(nodes);
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i].id == kNoNode) return fail("node id 0 is reserved");
    if (sorted[i].weight == 0) return fail(node_name(sorted[i].id) + " has weight 0");
    if (i > 0 && sorted[i].id == sorted[i - 1].id) {
      return fail(node_name(sorted[i].id) + " is listed twice");
    }
  }
  return Status<PlacementError>::ok();
}

std::vector<Quota> quotas(const std::vector<NodeSpec>& nodes, uint64_t total, uint32_t shards,
                          uint32_t epsilon_permille) {
  return capped_quotas(nodes, total, std::vector<uint32_t>(nodes.size(), shards),
                       epsilon_permille);
}

Expected<ShardMap, PlacementError> initial_placement(const std::vector<NodeSpec>& nodes,
                                                     const PlacementOptions& options) {
  if (auto valid = validate(nodes, options); !valid) return Unexpected(valid.error());
  Work work(sorted_by_id(nodes), options);
  for (uint32_t shard = 0; shard < options.shards; ++shard) work.place_on_ring(shard);
  work.remember_original();
  ReplicaBalancer(work).run();
  LeaderBalancer(work).balance();
  return to_map(work, options.replication);
}

Expected<Plan, PlacementError> plan(const ShardMap& current, const std::vector<NodeSpec>& nodes,
                                    const PlacementOptions& options,
                                    const std::vector<ShardLoad>& load) {
  if (auto valid = validate(nodes, options); !valid) return Unexpected(valid.error());
  if (auto valid = validate_map(current, options); !valid) return Unexpected(valid.error());
  if (!load.empty() && load.size() != options.shards) {
    return Unexpected(PlacementError{"load has " + std::to_string(load.size()) +
                                     " shards, the map " + std::to_string(options.shards)});
  }
  Work work(sorted_by_id(nodes), options);
  work.set_bytes(load);
  for (uint32_t shard = 0; shard < options.shards; ++shard) {
    for (NodeId id : current.shards[shard].replicas) work.add_replica(shard, work.index_of(id));
    work.set_leader(shard, work.index_of(current.shards[shard].leader));
  }
  work.remember_original();
  ReplicaBalancer(work).run();
  LeaderBalancer leaders(work);
  leaders.balance();
  const bool loaded = std::any_of(load.begin(), load.end(), [](const ShardLoad& shard) {
    return shard.requests > 0 || shard.follower_requests > 0;
  });
  if (loaded) leaders.balance_load(load);

  Plan result;
  result.target = to_map(work, options.replication);
  result.target.version = current.version;
  for (uint32_t shard = 0; shard < options.shards; ++shard) {
    const ShardPlacement& before = current.shards[shard];
    ShardPlacement& after = result.target.shards[shard];
    after.epoch = before.epoch;
    // Pair what left with what arrived, by set: a replica passed on and later given back by
    // another node moved nowhere. The target keeps the old order, arrivals in departures' slots.
    std::vector<NodeId> arrived;
    for (NodeId node : after.replicas) {
      if (std::find(before.replicas.begin(), before.replicas.end(), node) == before.replicas.end()) {
        arrived.push_back(node);
      }
    }
    const bool changed = !arrived.empty();
    after.replicas = before.replicas;
    size_t next_arrival = 0;
    for (NodeId& node : after.replicas) {
      if (work.index_of(node) != kNone && work.holds(work.index_of(node), shard)) continue;
      result.moves.push_back({shard, node, arrived[next_arrival]});
      node = arrived[next_arrival++];
    }
    if (changed) after.epoch = after.epoch.next();
    if (before.leader != after.leader) {
      result.transfers.push_back({shard, before.leader, after.leader});
    }
  }
  // Drain departed nodes before evening out the rest.
  std::stable_partition(result.moves.begin(), result.moves.end(), [&](const Move& move) {
    return work.index_of(move.from) == kNone;
  });
  if (!result.empty()) ++result.target.version;
  return result;
}

std::vector<NodeCounts> count_by_node(const ShardMap& map, const std::vector<NodeSpec>& nodes,
                                      const std::vector<ShardLoad>& load) {
  std::vector<NodeCounts> counts;
  auto entry = [&](NodeId node) -> NodeCounts& {
    auto it = std::lower_bound(counts.begin(), counts.end(), node,
                               [](const NodeCounts& c, NodeId id) { return c.node < id; });
    if (it == counts.end() || it->node != node) it = counts.insert(it, NodeCounts{node});
    return *it;
  };
  for (const NodeSpec& node : nodes) entry(node.id);
  for (uint32_t shard = 0; shard < map.shard_count(); ++shard) {
    for (NodeId node : map.shards[shard].replicas) ++entry(node).replicas;
    ++entry(map.shards[shard].leader).leaders;
  }
  if (load.size() == map.shard_count() && !counts.empty()) {
    std::vector<NodeSpec> listed;
    for (const NodeCounts& count : counts) listed.push_back(NodeSpec{count.node, 1});
    const uint64_t unit = map.replication > 1 ? map.replication - 1 : 1;
    const std::vector<uint64_t> served = served_by_node(map, listed, load, map.replication);
    for (size_t i = 0; i < counts.size(); ++i) counts[i].requests = served[i] / unit;
  }
  return counts;
}

std::vector<uint64_t> served_by_node(const ShardMap& map, const std::vector<NodeSpec>& nodes,
                                     const std::vector<ShardLoad>& load, uint32_t replication) {
  std::vector<uint64_t> served(nodes.size(), 0);
  std::vector<std::pair<NodeId, size_t>> index;  // sorted by node: where each is in `nodes`
  for (size_t i = 0; i < nodes.size(); ++i) index.push_back({nodes[i].id, i});
  std::sort(index.begin(), index.end());
  auto add = [&](NodeId id, uint64_t requests) {
    auto it = std::lower_bound(index.begin(), index.end(), std::pair<NodeId, size_t>{id, 0});
    for (; it != index.end() && it->first == id; ++it) served[it->second] += requests;
  };
  for (uint32_t shard = 0; shard < map.shard_count() && shard < load.size(); ++shard) {
    const uint64_t share = replica_share(load[shard], replication);
    if (share > 0) {
      for (NodeId node : map.shards[shard].replicas) add(node, share);
    }
    add(map.shards[shard].leader, leader_extra(load[shard], replication));
  }
  return served;
}

uint64_t minimum_moves(const ShardMap& current, const std::vector<NodeSpec>& nodes,
                       const PlacementOptions& options) {
  const std::vector<NodeSpec> sorted = sorted_by_id(nodes);
  const std::vector<Quota> quota =
      quotas(sorted, uint64_t{options.shards} * options.replication, options.shards,
             options.epsilon_permille);
  auto live = [&](NodeId id) {
    auto it = std::lower_bound(sorted.begin(), sorted.end(), id,
                               [](const NodeSpec& node, NodeId value) { return node.id < value; });
    return it != sorted.end() && it->id == id ? static_cast<size_t>(it - sorted.begin())
                                              : sorted.size();
  };
  std::vector<uint32_t> count(sorted.size(), 0);
  std::vector<uint64_t> orphans_lacked(sorted.size(), 0);  // orphans each node could take
  uint64_t orphans = 0;
  for (const ShardPlacement& shard : current.shards) {
    uint32_t departed = 0;
    std::vector<bool> holds(sorted.size(), false);
    for (NodeId node : shard.replicas) {
      const size_t index = live(node);
      if (index == sorted.size()) {
        ++departed;
      } else {
        holds[index] = true;
        ++count[index];
      }
    }
    orphans += departed;
    if (departed == 0) continue;
    for (size_t index = 0; index < sorted.size(); ++index) {
      if (!holds[index]) orphans_lacked[index] += departed;
    }
  }
  // Bound 1: every replica that must leave or arrive is a move, and a move does one of each.
  // Bound 2: every orphan moves, and a node short of its floor by more than the orphans it could
  // take must also receive replicas from live nodes, each one more move.
  uint64_t must_leave = orphans;
  uint64_t must_arrive = 0;
  uint64_t beyond_orphans = 0;
  for (size_t index = 0; index < sorted.size(); ++index) {
    if (count[index] > quota[index].ceil) must_leave += count[index] - quota[index].ceil;
    if (count[index] < quota[index].floor) {
      const uint64_t deficit = quota[index].floor - count[index];
      must_arrive += deficit;
      if (deficit > orphans_lacked[index]) beyond_orphans += deficit - orphans_lacked[index];
    }
  }
  return std::max({must_leave, must_arrive, orphans + beyond_orphans});
}

}  // namespace grape::shard
