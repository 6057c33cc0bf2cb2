#include "sim/runner.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <iomanip>
#include <set>

#include "core/base/assert.h"
#include "core/shard/routing.h"
#include "sim/chaos.h"
#include "sim/clients.h"
#include "sim/linearizability.h"
#include "sim/membership.h"
#include "sim/world.h"

namespace grape::sim {

namespace {
// An operator's write to the metadata state is tried again this often until it shows.
constexpr Duration kAdminRetry{200'000'000};

// Streams of the run's seed, one per consumer (the world forks its own from the seed itself).
constexpr uint64_t kFaultStream = 0xFA17;
constexpr uint64_t kNemesisStream = 0x4E4D;
constexpr uint64_t kClientStream = 0xC11E;
// After the run, how long the cluster may take to settle before the final reads.
constexpr Duration kSettleLimit = seconds(30);
constexpr const char* kFinalReadProcessNote = "final read";
// A crash armed for a kill point strikes at the latest this long after the fault fires.
constexpr Duration kKillPointWindow = milliseconds(30);
// A latency fault that chaos turns into a clog holds messages this long at most.
constexpr Duration kClogMax = milliseconds(300);

VirtualTime at_time(Duration since_start) { return VirtualTime{} + since_start; }

WorldOptions world_options(const Scenario& s, uint64_t seed) {
  WorldOptions o;
  o.nodes = s.cluster.nodes;
  o.seed = seed;
  o.election_timeout_min = s.cluster.election_timeout.min;
  o.election_timeout_max = s.cluster.election_timeout.max;
  o.heartbeat = s.cluster.heartbeat;
  o.pre_vote = s.cluster.pre_vote;
  o.check_quorum = s.cluster.check_quorum;
  o.snapshot_every = s.cluster.snapshot_every;
  o.network = s.network.link_spec();
  o.shards = s.cluster.shards;
  o.replication = s.cluster.replication;
  o.disk_sync_min = s.disk.sync_latency.min;
  o.disk_sync_max = s.disk.sync_latency.max;
  // A tick fine enough for the timeouts: at most 10 ms, and a tenth of the heartbeat.
  o.tick = std::min(milliseconds(10),
                    Duration{std::max<int64_t>(1'000'000, s.cluster.heartbeat.ns / 5)});
  return o;
}

// The scenario's message kinds as the network's bits (raft::MessageType order; snapshot apart).
MessageKinds to_kinds(const MessageSet& set) {
  if (set.is_all()) return kAllMessageKinds;
  static constexpr std::pair<MessageKind, int> kMap[] = {
      {MessageKind::kAppend, 0},     {MessageKind::kAppendResponse, 1},
      {MessageKind::kVote, 2},       {MessageKind::kVoteResponse, 3},
      {MessageKind::kPreVote, 4},    {MessageKind::kPreVoteResponse, 5},
      {MessageKind::kHeartbeat, 6},  {MessageKind::kHeartbeatResponse, 7},
      {MessageKind::kTimeoutNow, 8}, {MessageKind::kSnapshot, kSnapshotKindBit},
  };
  MessageKinds kinds = 0;
  for (const auto& [kind, bit] : kMap) {
    if (set.contains(kind)) kinds |= kind_bit(bit);
  }
  // `snapshot` names the whole transfer: the chunks and their acknowledgements.
  if (set.contains(MessageKind::kSnapshot)) kinds |= kind_bit(kSnapshotKindBit + 1);
  return kinds;
}

std::optional<Duration> fault_duration(const FaultAction& action) {
  return std::visit(
      [](const auto& f) -> std::optional<Duration> {
        using F = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<F, PauseFault>) {
          return f.duration;
        } else if constexpr (std::is_same_v<F, LatencyFault> || std::is_same_v<F, DropFault> ||
                             std::is_same_v<F, DuplicateFault> || std::is_same_v<F, DiskFault> ||
                             std::is_same_v<F, DriftFault>) {
          return f.duration;
        } else {
          return std::nullopt;
        }
      },
      action);
}

// When the last fault ends: liveness is measured from here.
VirtualTime last_heal(const std::vector<FaultStep>& faults) {
  VirtualTime last;
  for (const FaultStep& step : faults) {
    if (std::holds_alternative<PutFault>(step.action)) continue;  // a client call, not a fault
    last = std::max(last, at_time(step.at + fault_duration(step.action).value_or(Duration{})));
  }
  return last;
}

// ---------------------------------------------------------------------------------------------
// Selectors, resolved when a fault fires.

class FaultPlayer {
 public:
  FaultPlayer(World& world, Clients& clients, Rng rng, VirtualTime run_end, const Chaos& chaos,
              uint64_t seed)
      : world_(world),
        clients_(clients),
        membership_(world),
        rng_(rng),
        run_end_(run_end),
        chaos_(chaos),
        seed_(seed) {}

  void play(const FaultStep& step) {
    at_ = step.at;
    std::visit([this](const auto& fault) { apply(fault); }, step.action);
  }

 private:
  std::vector<NodeId> all() const { return world_.node_ids(); }

  std::vector<NodeId> random_subset(size_t count) {
    std::vector<NodeId> nodes = all();
    // Fisher-Yates on our own generator: the same on every machine.
    for (size_t i = nodes.size(); i > 1; --i) std::swap(nodes[i - 1], nodes[rng_.below(i)]);
    nodes.resize(std::min(count, nodes.size()));
    std::sort(nodes.begin(), nodes.end());
    return nodes;
  }

  // Resolves one selector; `others` is handled by the caller.
  std::vector<NodeId> resolve_one(const NodeSelector& selector) {
    const size_t n = world_.node_count();
    switch (selector.kind) {
      case SelectorKind::kNode:
        // A node an add_node fault names may not have started yet (additions run one at a time):
        // it resolves to nothing until it has, like a selector that finds no leader.
        if (selector.node.value > n) return {};
        return {selector.node};
      case SelectorKind::kLeader:
        if (auto leader = world_.leader()) return {*leader};
        return {};
      case SelectorKind::kLeaderOf:
        if (auto leader = world_.leader(shard::group_of(static_cast<uint32_t>(selector.shard.value)))) {
          return {*leader};
        }
        return {};
      case SelectorKind::kFollowers: {
        auto leader = world_.leader();
        if (!leader) return {};
        std::vector<NodeId> out;
        for (NodeId id : all()) {
          if (id != *leader) out.push_back(id);
        }
        return out;
      }
      case SelectorKind::kOthers:
        return {};
      case SelectorKind::kRandom:
        return random_subset(1);
      case SelectorKind::kRandomMinority:
        return random_subset((n - 1) / 2);
      case SelectorKind::kRandomMajority:
        return random_subset(n / 2 + 1);
      case SelectorKind::kAll:
        return all();
    }
    return {};
  }

  static bool has_others(const NodeSet& set) {
    return std::any_of(set.begin(), set.end(),
                       [](const NodeSelector& s) { return s.kind == SelectorKind::kOthers; });
  }

  // Resolves the node sets of one fault; `others` stands for every node none of the other sets
  // of the fault names.
  std::vector<std::vector<NodeId>> resolve_sets(const std::vector<const NodeSet*>& sets) {
    std::vector<std::set<NodeId>> resolved(sets.size());
    std::set<NodeId> named;
    for (size_t i = 0; i < sets.size(); ++i) {
      for (const NodeSelector& selector : *sets[i]) {
        for (NodeId id : resolve_one(selector)) resolved[i].insert(id);
      }
      named.insert(resolved[i].begin(), resolved[i].end());
    }
    for (size_t i = 0; i < sets.size(); ++i) {
      if (!has_others(*sets[i])) continue;
      for (NodeId id : all()) {
        if (!named.count(id)) resolved[i].insert(id);
      }
    }
    std::vector<std::vector<NodeId>> out;
    for (const auto& s : resolved) out.emplace_back(s.begin(), s.end());
    return out;
  }

  std::vector<NodeId> resolve(const NodeSet& set) { return resolve_sets({&set})[0]; }

  void no_op(const char* fault, const std::string& why) {
    world_.note(TraceKind::kNoOp, kNoNode, std::string(fault) + ": " + why);
  }

  void apply(const PartitionFault& f) {
    std::vector<const NodeSet*> sets;
    for (const NodeSet& g : f.groups) sets.push_back(&g);
    auto groups = resolve_sets(sets);
    std::erase_if(groups, [](const std::vector<NodeId>& g) { return g.empty(); });
    if (groups.empty()) return no_op("partition", "its groups resolved to no node");
    world_.partition(groups);
  }

  void apply(const CutFault& f) {
    auto sides = resolve_sets({&f.from, &f.to});
    if (sides[0].empty() || sides[1].empty()) return no_op("cut", "a side resolved to no node");
    world_.network().cut(sides[0], sides[1], to_kinds(f.messages));
    world_.note(TraceKind::kCut, kNoNode,
                describe(sides[0]) + " -> " + describe(sides[1]) + messages_note(f.messages));
  }

  void apply(const HealFault&) {
    if (!world_.network().has_faults()) return no_op("heal", "nothing to heal");
    world_.heal_all();
  }

  void apply(const CrashFault& f) {
    const auto nodes = resolve(f.nodes);
    if (nodes.empty()) return no_op("crash", "no node selected");
    for (NodeId id : nodes) {
      // Chaos: some crashes wait for the node's next protocol moment (a sync, the sends after
      // it), where a crash finds bugs that a crash at a random instant almost never does.
      const World::KillPoint point = kill_point_for(chaos_, seed_, at_, id);
      if (point == World::KillPoint::kNone ||
          !world_.arm_kill_point(id, point, world_.now() + kKillPointWindow)) {
        world_.crash(id);
      }
    }
  }

  void apply(const RestartFault& f) {
    const auto nodes = resolve(f.nodes);
    if (nodes.empty()) return no_op("restart", "no node selected");
    for (NodeId id : nodes) world_.restart(id);
  }

  void apply(const PauseFault& f) {
    const auto nodes = resolve(f.nodes);
    if (nodes.empty()) return no_op("pause", "no node selected");
    for (NodeId id : nodes) world_.pause(id, f.duration);
  }

  template <class F>
  void add_link_rule(const F& f, const char* name, LinkRule rule, const std::string& what) {
    auto sides = resolve_sets({&f.from, &f.to});
    if (sides[0].empty() || sides[1].empty()) return no_op(name, "a side resolved to no node");
    rule.from = sides[0];
    rule.to = sides[1];
    rule.kinds = to_kinds(f.messages);
    // Without `for` the change lasts until the run stops (a heal does not lift it).
    rule.until = world_.now() + f.duration.value_or(run_end_ - world_.now());
    world_.network().add_rule(rule);
    world_.note(TraceKind::kLinkChange, kNoNode,
                std::string(name) + " " + what + " " + describe(sides[0]) + " -> " +
                    describe(sides[1]) + messages_note(f.messages) + " for " +
                    std::to_string((*rule.until - world_.now()).ms()) + "ms");
  }

  void apply(const LatencyFault& f) {
    LinkRule rule;
    if (f.duration && clog_for(chaos_, seed_, at_)) {
      // Chaos: the links clog instead, for a while shorter than a client's patience, and then
      // release their whole backlog at once (FoundationDB's clogging).
      rule.effect = LinkRule::Effect::kClog;
      LatencyFault clog = f;
      clog.duration = std::min(*f.duration, kClogMax);
      return add_link_rule(clog, "clog", rule, "(backlog released at the end)");
    }
    rule.effect = LinkRule::Effect::kLatency;
    rule.latency_min = f.value.min;
    rule.latency_max = f.value.max;
    add_link_rule(f, "latency", rule,
                  std::to_string(f.value.min.ms()) + "-" + std::to_string(f.value.max.ms()) + "ms");
  }

  void apply(const DropFault& f) {
    LinkRule rule;
    rule.effect = LinkRule::Effect::kDrop;
    rule.rate = f.rate;
    add_link_rule(f, "drop", rule, std::to_string(static_cast<int>(f.rate * 100)) + "%");
  }

  void apply(const DuplicateFault& f) {
    LinkRule rule;
    rule.effect = LinkRule::Effect::kDuplicate;
    rule.rate = f.rate;
    add_link_rule(f, "duplicate", rule, std::to_string(static_cast<int>(f.rate * 100)) + "%");
  }

  void apply(const DiskFault& f) {
    const auto nodes = resolve(f.nodes);
    if (nodes.empty()) return no_op("disk", "no node selected");
    for (NodeId id : nodes) {
      switch (f.fault) {
        case DiskFaultKind::kTornWrite:
          world_.arm_crash_fault(id, World::CrashFault::kTornWrite);
          break;
        case DiskFaultKind::kCorrupt:
          world_.arm_crash_fault(id, World::CrashFault::kCorrupt);
          break;
        case DiskFaultKind::kLoseUnsynced:
          world_.arm_crash_fault(id, World::CrashFault::kLoseUnsynced);
          break;
        case DiskFaultKind::kFull:
          world_.fail_disk(id, storage::DiskErrorCode::kFull, f.duration.value_or(Duration{}));
          break;
        case DiskFaultKind::kEio:
          world_.fail_disk(id, storage::DiskErrorCode::kIo, f.duration.value_or(Duration{}));
          break;
      }
    }
  }

  void apply(const DriftFault& f) {
    const auto nodes = resolve(f.nodes);
    if (nodes.empty()) return no_op("drift", "no node selected");
    for (NodeId id : nodes) world_.drift(id, f.rate, f.duration.value_or(run_end_ - world_.now()));
  }

  void apply(const CampaignFault& f) {
    const auto nodes = resolve(f.nodes);
    if (nodes.empty()) return no_op("campaign", "no node selected");
    for (NodeId id : nodes) world_.campaign(id);
  }

  void apply(const TransferLeaderFault& f) {
    auto leader = world_.leader();
    const auto targets = resolve(NodeSet{f.target});
    if (!leader || targets.empty()) return no_op("transfer_leader", "no leader or no target");
    if (!world_.transfer_leadership(*leader, targets.front()).is_ok()) {
      return no_op("transfer_leader", "the leader refused");
    }
    world_.note(TraceKind::kNote, *leader,
                "transfer leadership to n" + std::to_string(targets.front().value));
  }

  void apply(const PutFault& f) { clients_.call(OpKind::kPut, f.key, f.value); }

  void apply(const AddNodeFault& f) {
    if (world_.sharded()) {
      if (f.node.value > world_.node_count()) world_.add_node();
      world_.note(TraceKind::kNote, f.node, "add_node: joins; the planner gives it replicas");
      const NodeId id = f.node;
      admin("add_node", shard::put_node({id, 1, shard::NodeState::kActive}),
            [id](const shard::MetaState& meta) {
              const shard::MetaNode* node = meta.node(id);
              return node != nullptr && node->state == shard::NodeState::kActive;
            });
      return;
    }
    world_.note(TraceKind::kNote, f.node, "add_node: joins as a learner, then votes");
    membership_.add(f.node);
  }

  void apply(const RemoveNodeFault& f) {
    const auto nodes = resolve(f.nodes);
    if (nodes.empty()) return no_op("remove_node", "no node selected");
    for (NodeId id : nodes) {
      if (world_.sharded()) {
        world_.note(TraceKind::kNote, id, "remove_node: its replicas move away first");
        admin("remove_node", shard::put_node({id, 1, shard::NodeState::kLeaving}),
              [id](const shard::MetaState& meta) {
                const shard::MetaNode* node = meta.node(id);
                return node == nullptr || node->state == shard::NodeState::kLeaving;
              });
        decommission_when_empty(id);
        continue;
      }
      world_.note(TraceKind::kNote, id, "remove_node: leaves the configuration");
      membership_.remove(id);
    }
  }

  void apply(const RebalanceFault&) {
    world_.note(TraceKind::kNote, kNoNode, "rebalance: the planner runs now");
    // One more than the count when it fires: repeated tries do not ask twice.
    std::optional<uint64_t> target;
    admin_with(
        "rebalance",
        [this, target](const shard::MetaState& meta) mutable {
          if (!target) target = meta.rebalances + 1;
          return shard::put_rebalances(*target);
        },
        [this, target](const shard::MetaState& meta) mutable {
          return target.has_value() && meta.rebalances >= *target;
        });
  }

  // An operator's write to the metadata state, proposed at its leader and retried (a leader may
  // lose it) until `done` holds of the state, or the run ends.
  template <class Done>
  void admin(const char* what, kv::Command command, Done done) {
    admin_with(what, [command](const shard::MetaState&) { return command; }, std::move(done));
  }

  template <class Make, class Done>
  void admin_with(const char* /*what*/, Make make, Done done) {
    // The task lives as long as the player; each retry runs it through a plain pointer (a task
    // that captured itself would never be freed).
    auto* attempt = retried(nullptr);
    *attempt = [this, make = std::move(make), done = std::move(done), attempt](World& w) mutable {
      const auto meta = w.meta_state();
      if (meta && meta->initialized() && done(*meta)) return;
      if (meta && meta->initialized()) (void)w.propose_meta(make(*meta));
      if (w.now() + kAdminRetry <= run_end_) {
        w.schedule(w.now() + kAdminRetry, [attempt](World& again) { (*attempt)(again); });
      }
    };
    (*attempt)(world_);
  }

  // A task retried until it is done, owned by the player.
  std::function<void(World&)>* retried(std::function<void(World&)> task) {
    tasks_.push_back(std::make_unique<std::function<void(World&)>>(std::move(task)));
    return tasks_.back().get();
  }

  // A leaving node stops once no shard lists it and no move involves it (a member of the
  // metadata group keeps running for it).
  void decommission_when_empty(NodeId id) {
    auto* check = retried(nullptr);
    *check = [id, check, this](World& w) {
      const auto meta = w.meta_state();
      bool empty = meta && meta->initialized() && meta->moves_unfinished() == 0;
      if (empty) {
        for (const shard::ShardPlacement& shard : meta->map.shards) {
          if (std::count(shard.replicas.begin(), shard.replicas.end(), id)) empty = false;
        }
      }
      if (empty) {
        const auto& meta_voters = w.groups().at(World::kFirstGroup);
        if (std::count(meta_voters.begin(), meta_voters.end(), id)) {
          w.note(TraceKind::kNote, id, "holds no shard now; stays up for the metadata group");
        } else {
          w.note(TraceKind::kNote, id, "holds no shard now: decommissioned");
          w.decommission(id);
        }
        return;
      }
      if (w.now() + kAdminRetry <= run_end_) {
        w.schedule(w.now() + kAdminRetry, [check](World& again) { (*check)(again); });
      }
    };
    world_.schedule(world_.now() + kAdminRetry, [check](World& again) { (*check)(again); });
  }

  static std::string describe(const std::vector<NodeId>& nodes) {
    std::string out = "{";
    for (size_t i = 0; i < nodes.size(); ++i) {
      out += (i ? ",n" : "n") + std::to_string(nodes[i].value);
    }
    return out + "}";
  }

  static std::string messages_note(const MessageSet& set) {
    if (set.is_all()) return "";
    std::string out = " [";
    bool first = true;
    for (size_t k = 0; k < kMessageKindCount; ++k) {
      const auto kind = static_cast<MessageKind>(k);
      if (!set.contains(kind)) continue;
      out += (first ? "" : ",") + std::string(to_string(kind));
      first = false;
    }
    return out + "]";
  }

  World& world_;
  Clients& clients_;
  MembershipDriver membership_;
  std::vector<std::unique_ptr<std::function<void(World&)>>> tasks_;  // retried operator writes
  Rng rng_;
  VirtualTime run_end_;
  const Chaos& chaos_;
  uint64_t seed_;
  Duration at_;  // the time of the step being played
};

// ---------------------------------------------------------------------------------------------
// Checks after the run

// Sharded: no move unfinished, the map what the planner wants (a plan from it is empty), every
// shard's group configured as the map says (its leader's voters are the map's replicas), no node
// that is up hosting a replica the map does not give it (every drop a move owed was done) or
// keeping a dropped replica's log, and no replica still passive (raft::Config::passive).
template <class Fail>
void check_converged(const World& world, Fail&& fail) {
  const auto meta = world.meta_state();
  if (!meta || !meta->initialized()) {
    fail("converged", kNoNode, "no metadata leader with a map at the end");
    return;
  }
  if (const size_t unfinished = meta->moves_unfinished(); unfinished > 0) {
    fail("converged", kNoNode, std::to_string(unfinished) + " moves unfinished at the end");
    return;
  }
  shard::PlacementOptions options;
  options.shards = world.options().shards;
  options.replication = world.options().replication;
  const auto plan = shard::plan(meta->map, meta->active_nodes(), options);
  if (!plan || !plan->moves.empty()) {
    fail("converged", kNoNode,
         plan ? std::to_string(plan->moves.size()) + " moves still planned for the map"
              : "the map cannot be planned: " + plan.error().message);
    return;
  }
  for (uint32_t s = 0; s < meta->map.shard_count(); ++s) {
    const auto leader = world.leader(shard::group_of(s));
    if (!leader) continue;  // liveness is recovers_within's business
    std::vector<NodeId> voters = world.raft(*leader, shard::group_of(s))->conf_state().voters;
    std::vector<NodeId> replicas = meta->map.shards[s].replicas;
    std::sort(voters.begin(), voters.end());
    std::sort(replicas.begin(), replicas.end());
    if (voters != replicas || world.raft(*leader, shard::group_of(s))->conf_state().is_joint()) {
      fail("converged", *leader,
           "shard " + std::to_string(s) + ": its group's voters differ from the map's replicas");
      return;
    }
  }
  for (NodeId node : world.node_ids()) {
    if (!world.is_up(node)) continue;
    for (uint32_t s = 0; s < meta->map.shard_count(); ++s) {
      const std::vector<NodeId>& replicas = meta->map.shards[s].replicas;
      if (world.raft(node, shard::group_of(s)) == nullptr ||
          std::find(replicas.begin(), replicas.end(), node) != replicas.end()) {
        continue;
      }
      fail("converged", node,
           "n" + std::to_string(node.value) + " still hosts a replica of shard " +
               std::to_string(s) + ", which the map no longer gives it (a drop never done)");
      return;
    }
    for (uint32_t s = 0; s < meta->map.shard_count(); ++s) {
      const raft::Raft* r = world.raft(node, shard::group_of(s));
      if (r == nullptr || !r->passive()) continue;
      fail("converged", node,
           "n" + std::to_string(node.value) + "'s replica of shard " + std::to_string(s) +
               " is still passive at the end (it never saw itself a learner, nor a newer map "
               "listing it): it can never campaign");
      return;
    }
    // And a replica dropped here left nothing in the log (it would pin its segments for ever).
    for (GroupId group : world.groups_with_log(node)) {
      if (!shard::is_shard_group(group) || world.raft(node, group) != nullptr) continue;
      fail("converged", node,
           "n" + std::to_string(node.value) + " keeps the log of group " +
               std::to_string(group.value) + ", whose replica it no longer hosts (a drop that did "
               "not forget it)");
      return;
    }
  }
}

// The standard deviation of `values` as a percentage of their mean (0 when the mean is 0).
double stddev_pct(const std::vector<double>& values) {
  if (values.empty()) return 0;
  double mean = 0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  if (mean == 0) return 0;
  double variance = 0;
  for (double v : values) variance += (v - mean) * (v - mean);
  variance /= static_cast<double>(values.size());
  return 100.0 * std::sqrt(variance) / mean;
}

// Sharded: calls answered ok per node (nodes still in the cluster) in the last 5 s of the
// workload, as a standard deviation in % of the mean.
template <class Fail>
void check_served_spread(const World& world, const Clients& clients, const WorkloadSpec& w,
                         Duration run_until, double max_pct, Fail&& fail) {
  const Duration until = w.until.value_or(run_until);
  const Duration from = std::max(w.from, until - seconds(5));
  const auto served = clients.served_between(at_time(from), at_time(until));
  std::vector<double> values;
  std::string detail;
  for (NodeId id : world.node_ids()) {
    if (!world.refused_start(id).empty()) continue;  // decommissioned or dead for good
    const auto it = served.find(id);
    const uint64_t count = it == served.end() ? 0 : it->second;
    values.push_back(static_cast<double>(count));
    detail += (detail.empty() ? "" : ", ") + ("n" + std::to_string(id.value)) + " " +
              std::to_string(count);
  }
  const double pct = stddev_pct(values);
  if (pct > max_pct) {
    std::ostringstream out;
    out << "calls served per node in the last 5 s of the workload spread " << std::fixed
        << std::setprecision(1) << pct << "% of the mean, expected at most " << max_pct << "% ("
        << detail << ")";
    fail("max_served_stddev_pct", kNoNode, out.str());
  }
}

// Sharded: replicas per node (the shard groups' voters) and leaders per node (the shard groups
// each leads at the end), each as a standard deviation in % of the mean.
template <class Fail>
void check_load_spread(const World& world, double max_pct, Fail&& fail) {
  std::map<NodeId, double> replicas;
  std::map<NodeId, double> leaders;
  for (NodeId id : world.node_ids()) replicas[id] = leaders[id] = 0;
  // The replicas each shard's group has now (its leader's voters; the initial ones without one),
  // over the nodes still in the cluster.
  for (const auto& [group, initial] : world.groups()) {
    if (!shard::is_shard_group(group)) continue;
    const auto leader = world.leader(group);
    const std::vector<NodeId> voters =
        leader ? world.raft(*leader, group)->conf_state().voters : initial;
    for (NodeId id : voters) replicas[id] += 1;
    if (leader) leaders[*leader] += 1;
  }
  for (NodeId id : world.node_ids()) {
    if (!world.refused_start(id).empty() && replicas[id] == 0) {  // decommissioned
      replicas.erase(id);
      leaders.erase(id);
    }
  }
  auto check = [&](const char* what, const std::map<NodeId, double>& counts) {
    std::vector<double> values;
    std::string detail;
    for (const auto& [id, count] : counts) {
      values.push_back(count);
      detail += (detail.empty() ? "" : ", ") + ("n" + std::to_string(id.value)) + " " +
                std::to_string(static_cast<int64_t>(count));
    }
    const double pct = stddev_pct(values);
    if (pct > max_pct) {
      std::ostringstream out;
      out << what << " per node spread " << std::fixed << std::setprecision(1) << pct
          << "% of the mean, expected at most " << max_pct << "% (" << detail << ")";
      fail("max_load_stddev_pct", kNoNode, out.str());
    }
  };
  check("replicas", replicas);
  check("leaders", leaders);
}

void check_expectations(const Scenario& s, World& world, const Clients& clients,
                        RunResult& result) {
  const ExpectSpec& e = s.expect;
  auto fail = [&](const char* property, NodeId node, std::string detail) {
    result.violations.push_back(Violation{property, world.now(), node, std::move(detail)});
  };
  if (e.min_committed && clients.stats().writes_acknowledged < *e.min_committed) {
    fail("min_committed", kNoNode,
         std::to_string(clients.stats().writes_acknowledged) +
             " writes acknowledged, expected at least " + std::to_string(*e.min_committed));
  }
  if (e.max_term && world.stats().max_term.value > *e.max_term) {
    fail("max_term", kNoNode,
         "term reached " + std::to_string(world.stats().max_term.value) + ", expected at most " +
             std::to_string(*e.max_term));
  }
  if (e.converged && *e.converged) check_converged(world, fail);
  if (e.max_served_stddev_pct && s.workload) {
    check_served_spread(world, clients, *s.workload, s.run_until, *e.max_served_stddev_pct, fail);
  }
  if (e.max_load_stddev_pct) check_load_spread(world, *e.max_load_stddev_pct, fail);
  if (e.leader_at_end) {
    auto leader = world.leader();
    if (leader != e.leader_at_end) {
      fail("leader_at_end", leader.value_or(kNoNode),
           "the leader at the end is " +
               (leader ? "n" + std::to_string(leader->value) : std::string("nobody")) +
               ", expected n" + std::to_string(e.leader_at_end->value));
    }
  }
}

// Every key whose search gave up, as an undecided `property`; `prefix` starts each detail.
std::vector<Undecided> undecided_keys(const LinearizabilityResult& check, const char* property,
                                      const std::string& prefix = "") {
  std::vector<Undecided> out;
  for (const KeyCheck& key : check.keys) {
    if (key.verdict == KeyVerdict::kGaveUp) out.push_back({property, key.key, prefix + key.detail});
  }
  return out;
}

// Heals everything, restarts every node that can start, and waits for a write to commit after
// that; then every committed write is applied at the leader, whose state is the final state.
std::optional<FinalState> settle_and_read(World& world, Clients& clients,
                                          const std::vector<std::string>& keys) {
  world.heal_all();
  for (NodeId id : world.node_ids()) {
    if (!world.is_up(id)) world.restart(id);
  }
  const VirtualTime start = world.now();
  clients.start_probe(start);
  // The probe's first success at or after `start` proves a leader committed in the new epoch.
  // Then read at a leader that has applied all it committed: the one that served the probe may
  // just have stepped down (a restarted node's higher term reached it), so wait for the next.
  const bool settled = world.run_until(
      [&](const World& w) {
        if (!clients.probe_committed_at() || *clients.probe_committed_at() < start) return false;
        const auto leader = w.leader();
        if (!leader) return false;
        const raft::RaftLog& log = w.raft(*leader)->log();
        return log.applied() == log.committed() &&
               log.term(log.committed()) == w.raft(*leader)->term();
      },
      kSettleLimit);
  if (!settled) return std::nullopt;
  auto leader = world.leader();
  if (!leader) return std::nullopt;
  FinalState state;
  if (!world.sharded()) {
    for (const std::string& key : keys) state[key] = world.kv(*leader)->get(key);
    return state;
  }
  // Sharded: each key at its shard's leader, once that leader has applied all it committed in
  // its own term (a no-op of its term commits first, so every acknowledged write is applied).
  for (const std::string& key : keys) {
    const GroupId group = shard::group_of(shard::shard_of(key, world.options().shards));
    const bool ready = world.run_until(
        [group](const World& w) {
          const auto l = w.leader(group);
          if (!l) return false;
          const raft::RaftLog& log = w.raft(*l, group)->log();
          return log.applied() == log.committed() &&
                 log.term(log.committed()) == w.raft(*l, group)->term();
        },
        kSettleLimit);
    if (!ready) return std::nullopt;
    state[key] = world.kv(*world.leader(group), group)->get(key);
  }
  return state;
}

}  // namespace

FinalStateCheck check_final_state(const History& history, const FinalState& state, VirtualTime at,
                                  const CheckLimits& limits) {
  // The final reads, invoked after everything else: linearizable together with the history only
  // if every acknowledged write is still visible.
  History with_reads = history;
  for (const auto& [key, value] : state) {
    Operation read;
    read.id = with_reads.ops.size();
    read.process = 0;
    read.kind = OpKind::kGet;
    read.key = key;
    read.value = value;
    read.invoked = at;
    read.completed = at;
    read.outcome = OpOutcome::kOk;
    with_reads.ops.push_back(std::move(read));
  }
  const LinearizabilityResult check = check_linearizable(with_reads, limits);
  const std::string note = std::string(kFinalReadProcessNote) + " after healing: ";
  FinalStateCheck out{.undecided = undecided_keys(check, "lost_write", note)};
  if (check.ok) return out;
  Violation v = to_violation(check);
  v.property = "lost_write";
  v.detail = note + v.detail;
  out.lost_write = std::move(v);
  return out;
}

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::optional<std::string> unsupported_feature(const Scenario& scenario) {
  const bool sharded = scenario.cluster.shards > 0;
  if (!sharded && (scenario.expect.max_load_stddev_pct || scenario.expect.converged ||
                   scenario.expect.max_served_stddev_pct)) {
    return "expect.max_load_stddev_pct, expect.converged and expect.max_served_stddev_pct need a "
           "sharded cluster";
  }
  if (scenario.expect.max_served_stddev_pct && !scenario.workload) {
    return "expect.max_served_stddev_pct needs a workload";
  }
  for (const FaultStep& step : scenario.faults) {
    if (std::holds_alternative<RebalanceFault>(step.action) && !sharded) {
      return "rebalance needs a sharded cluster";
    }
  }
  return std::nullopt;
}

namespace {

// A nemesis partition in one of several shapes: the leader alone, a random minority, an arbitrary
// split drawn now, or a storm of short partitions of whoever leads, which flips leadership
// quickly (each one is resolved when it fires).
void add_nemesis_partition(Rng& rng, uint32_t nodes, Duration t, Duration length,
                           std::vector<FaultStep>& faults) {
  const NodeSet others{NodeSelector::of(SelectorKind::kOthers)};
  switch (rng.below(4)) {
    case 0:
      faults.push_back({t, PartitionFault{{{NodeSelector::of(SelectorKind::kLeader)}, others}}});
      break;
    case 1:
      faults.push_back(
          {t, PartitionFault{{{NodeSelector::of(SelectorKind::kRandomMinority)}, others}}});
      break;
    case 2: {
      NodeSet side;
      const uint64_t size = 1 + rng.below(std::max<uint32_t>(1, nodes - 1));
      std::vector<uint32_t> ids(nodes);
      for (uint32_t i = 0; i < nodes; ++i) ids[i] = i + 1;
      for (uint32_t i = nodes; i > 1; --i) std::swap(ids[i - 1], ids[rng.below(i)]);
      ids.resize(size);
      std::sort(ids.begin(), ids.end());
      for (uint32_t id : ids) side.push_back(NodeSelector::named(NodeId(id)));
      faults.push_back({t, PartitionFault{{side, others}}});
      break;
    }
    default: {
      Duration at = t;
      const uint64_t storms = 3 + rng.below(4);
      for (uint64_t i = 0; i < storms && at < t + length; ++i) {
        faults.push_back({at, PartitionFault{{{NodeSelector::of(SelectorKind::kLeader)}, others}}});
        at = at + milliseconds(rng.between(50, 300));
        faults.push_back({at, HealFault{}});
        at = at + milliseconds(rng.between(0, 200));
      }
      return;
    }
  }
  faults.push_back({t + length, HealFault{}});
}

// A nemesis crash: the leader or a random node, or now and then a majority or the whole cluster
// at once (a power loss); restarted after the interval or, a third of the time, within
// milliseconds, which is when a lost vote or acknowledgement still matters.
void add_nemesis_crash(Rng& rng, uint32_t nodes, Duration t, Duration length,
                       std::vector<FaultStep>& faults) {
  NodeSelector target = NodeSelector::named(NodeId(1 + rng.below(nodes)));
  const uint64_t shape = rng.below(8);
  if (shape < 3) target = NodeSelector::of(SelectorKind::kLeader);
  if (shape == 6) target = NodeSelector::of(SelectorKind::kRandomMajority);
  if (shape == 7) target = NodeSelector::of(SelectorKind::kAll);
  const Duration down = rng.chance(1.0 / 3) ? milliseconds(rng.between(1, 50)) : length;
  faults.push_back({t, CrashFault{{target}}});
  faults.push_back({t + down, RestartFault{{NodeSelector::of(SelectorKind::kAll)}}});
}

}  // namespace

std::vector<FaultStep> materialize_faults(const Scenario& scenario, uint64_t seed) {
  std::vector<FaultStep> faults = scenario.faults;
  if (scenario.nemesis && !scenario.nemesis->kinds.empty()) {
    const NemesisSpec& n = *scenario.nemesis;
    Rng rng = Rng(seed).fork(kNemesisStream);
    const Duration until = n.until.value_or(scenario.run_until);
    const uint32_t nodes = scenario.cluster.nodes;
    auto random_node = [&] { return NodeSelector::named(NodeId(1 + rng.below(nodes))); };
    auto draw = [&](DurationRange r) { return Duration{rng.between(r.min.ns, r.max.ns)}; };
    Duration t = n.from + draw(n.interval);
    while (t < until) {
      const Duration length = std::min(draw(n.interval), until - t);
      const NemesisKind kind = n.kinds[rng.below(n.kinds.size())];
      switch (kind) {
        case NemesisKind::kPartition:
          add_nemesis_partition(rng, nodes, t, length, faults);
          break;
        case NemesisKind::kCut:
          faults.push_back(
              {t, CutFault{{random_node()}, {NodeSelector::of(SelectorKind::kOthers)}, {}}});
          faults.push_back({t + length, HealFault{}});
          break;
        case NemesisKind::kCrash:
          add_nemesis_crash(rng, nodes, t, length, faults);
          break;
        case NemesisKind::kPause:
          faults.push_back({t, PauseFault{{random_node()}, length}});
          break;
        case NemesisKind::kLatency:
          faults.push_back({t, LatencyFault{{NodeSelector::of(SelectorKind::kAll)},
                                            {random_node()},
                                            {milliseconds(50), milliseconds(250)},
                                            length,
                                            {}}});
          break;
        case NemesisKind::kDrop:
          faults.push_back(
              {t, DropFault{
                      {NodeSelector::of(SelectorKind::kAll)}, {random_node()}, 0.5, length, {}}});
          break;
        case NemesisKind::kDuplicate:
          faults.push_back({t, DuplicateFault{{NodeSelector::of(SelectorKind::kAll)},
                                              {NodeSelector::of(SelectorKind::kAll)},
                                              0.3,
                                              length,
                                              {}}});
          break;
        case NemesisKind::kDisk:
          faults.push_back({t, DiskFault{{random_node()}, DiskFaultKind::kFull, length}});
          break;
        case NemesisKind::kDrift:
          static constexpr double kRates[] = {0.5, 0.8, 1.25, 2.0, 3.0};
          faults.push_back({t, DriftFault{{random_node()}, kRates[rng.below(5)], length}});
          break;
      }
      t = t + draw(n.interval);
    }
    // Everything is healed at `until`.
    faults.push_back({until, HealFault{}});
    faults.push_back({until, RestartFault{{NodeSelector::of(SelectorKind::kAll)}}});
  }
  std::stable_sort(faults.begin(), faults.end(),
                   [](const FaultStep& a, const FaultStep& b) { return a.at < b.at; });
  return faults;
}

namespace {

// Linearizability and lost writes on the client history, when the scenario expects either.
void check_history(const Scenario& scenario, const CheckLimits& limits, World& world,
                   Clients& clients, RunResult& result) {
  const bool want_linearizable = scenario.expect.linearizable.value_or(false);
  const bool want_no_loss = scenario.expect.no_lost_writes.value_or(false);
  if (!want_linearizable && !want_no_loss) return;
  const LinearizabilityResult lin = check_linearizable(clients.history(), limits);
  result.undecided = undecided_keys(lin, "linearizability");
  // Reported even when only no_lost_writes was asked for: a broken history must never pass.
  if (!lin.ok) {
    result.violations.push_back(to_violation(lin));
    return;
  }
  if (!want_no_loss) return;
  const std::vector<std::string> keys = clients.keys();
  auto state = settle_and_read(world, clients, keys);
  if (!state) {
    result.violations.push_back(Violation{"lost_write", world.now(), kNoNode,
                                          "the healed cluster committed nothing within " +
                                              std::to_string(kSettleLimit.ms()) +
                                              "ms, so the final state could not be read"});
    return;
  }
  FinalStateCheck final_check = check_final_state(clients.history(), *state, world.now(), limits);
  if (final_check.lost_write) result.violations.push_back(std::move(*final_check.lost_write));
  // A key the history check gave up on is undecided here too: say it once.
  std::set<std::string> known;
  for (const Undecided& u : result.undecided) known.insert(u.key);
  for (Undecided& u : final_check.undecided) {
    if (!known.count(u.key)) result.undecided.push_back(std::move(u));
  }
}

}  // namespace

namespace {

// Does the scenario move replicas (nodes joining or leaving, rebalances)?
bool scenario_moves_replicas(const Scenario& scenario) {
  for (const FaultStep& step : scenario.faults) {
    if (std::holds_alternative<AddNodeFault>(step.action) ||
        std::holds_alternative<RemoveNodeFault>(step.action) ||
        std::holds_alternative<RebalanceFault>(step.action)) {
      return true;
    }
  }
  return false;
}

}  // namespace

RunResult run_scenario(const Scenario& scenario, uint64_t seed, const RunOptions& options) {
  GRAPE_ASSERT(!unsupported_feature(scenario), "run_scenario on an unsupported scenario");
  RunResult result;
  const Chaos chaos = options.chaos ? draw_chaos(seed) : Chaos{};
  result.chaos = describe(chaos);
  WorldOptions world_opts = world_options(scenario, seed);
  apply_chaos(chaos, world_opts);
  World world(world_opts);
  if (world.sharded() && scenario_moves_replicas(scenario)) world.enable_moves();
  if (options.record_events) {
    world.set_trace_sink([&result](const TraceEvent& e) { result.events.push_back(e); });
  }
  const Duration timeout = scenario.workload ? scenario.workload->timeout : seconds(1);
  Clients clients(world, Rng(seed).fork(kClientStream), timeout);
  const VirtualTime run_end = at_time(scenario.run_until);
  FaultPlayer player(world, clients, Rng(seed).fork(kFaultStream), run_end, chaos, seed);

  const std::vector<FaultStep> faults = materialize_faults(scenario, seed);
  for (const FaultStep& step : faults) {
    if (step.at > scenario.run_until) continue;
    world.schedule(at_time(step.at), [&player, step](World&) { player.play(step); });
  }
  if (const auto& w = scenario.workload) {
    WorkloadOptions workload;
    workload.clients = w->clients;
    workload.keys = w->keys;
    workload.put = w->mix.put;
    workload.get = w->mix.get;
    workload.cas = w->mix.cas;
    workload.del = w->mix.del;
    workload.rate_per_s =
        static_cast<double>(w->rate.count) * 1e9 / static_cast<double>(w->rate.per.ns);
    workload.from = at_time(w->from);
    workload.until = at_time(w->until.value_or(scenario.run_until));
    workload.zipf = w->zipf;
    workload.zipf_s = w->zipf_s;
    clients.start_workload(workload);
  }
  const VirtualTime healed = last_heal(faults);
  if (scenario.expect.recovers_within) clients.start_probe(healed);

  world.run_for(scenario.run_until);
  const bool safe = world.checks_passed();  // else the world halted at the violation
  if (safe && scenario.expect.recovers_within) {
    // The deadline may lie past run_until: keep going until the probe commits or it passes.
    const VirtualTime deadline = healed + *scenario.expect.recovers_within;
    if (!clients.probe_committed_at() && world.now() < deadline) {
      world.run_until([&](const World&) { return clients.probe_committed_at().has_value(); },
                      deadline - world.now());
    }
    const auto committed = clients.probe_committed_at();
    if (!committed || *committed > deadline) {
      result.violations.push_back(Violation{
          "liveness", deadline, kNoNode,
          "no write committed within " + std::to_string(scenario.expect.recovers_within->ms()) +
              "ms of the last heal at " + std::to_string(healed.ms()) + "ms" +
              (committed ? " (it took until " + std::to_string(committed->ms()) + "ms)" : "")});
    }
  }
  clients.finish();
  result.end = world.now();
  if (safe) check_expectations(scenario, world, clients, result);

  if (safe) check_history(scenario, options.history_limits, world, clients, result);

  // Safety violations found online come first: they are the root cause when present.
  std::vector<Violation> all = world.violations();
  all.insert(all.end(), result.violations.begin(), result.violations.end());
  result.violations = std::move(all);
  // An undecided check must not pass silently; a violation decides the run whatever it says.
  if (!result.violations.empty()) {
    result.verdict = Verdict::kFail;
  } else {
    result.verdict = result.undecided.empty() ? Verdict::kPass : Verdict::kUnknown;
  }

  const WorldStats& ws = world.stats();
  result.stats.sim_ms = result.end.ms();
  result.stats.events = ws.events;
  result.stats.messages = ws.messages_sent;
  result.stats.elections = ws.elections;
  result.stats.max_term = ws.max_term.value;
  result.stats.committed = clients.stats().writes_acknowledged;
  result.stats.client_ops = clients.stats().ops;
  result.stats.ok = clients.stats().ok;
  result.stats.failed = clients.stats().failed;
  result.stats.indeterminate = clients.stats().indeterminate;
  result.trace_hash = world.trace_hash();
  result.history = clients.history();
  return result;
}

}  // namespace grape::sim
