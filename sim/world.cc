#include "sim/world.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "core/base/assert.h"
#include "core/node/node_storage.h"
#include "core/storage/snapshot_store.h"
#include "core/storage/wal.h"
#include "core/shard/layout.h"
#include "core/shard/placement.h"
#include "sim/sim_disk.h"

namespace grape::sim {

namespace {
// The world whose assertion is failing, for the crash hook (the simulator is single-threaded;
// sweeps run one world per thread).
thread_local const World* g_current_world = nullptr;

void print_world_on_crash() {
  if (g_current_world == nullptr) return;
  std::fprintf(stderr, "  simulated world: seed %llu, virtual time %lld ns, %llu events run\n",
               static_cast<unsigned long long>(g_current_world->options().seed),
               static_cast<long long>(g_current_world->now().ns),
               static_cast<unsigned long long>(g_current_world->stats().events));
}

int ticks_in(Duration span, Duration tick) {
  return static_cast<int>(std::max<int64_t>(1, span / tick));
}

std::string describe_nodes(const std::vector<NodeId>& nodes) {
  std::ostringstream out;
  out << "{";
  for (size_t i = 0; i < nodes.size(); ++i) out << (i ? "," : "") << "n" << nodes[i];
  out << "}";
  return out.str();
}
}  // namespace

// The directory of a simulated node's write-ahead log on its SimDisk.
constexpr const char* kWalDir = "wal";
constexpr const char* kSnapshotDir = "snap";
// A sync the disk refused (full, I/O error) is retried this often, as a real node's loop does.
constexpr Duration kSyncRetry{10'000'000};
// A node whose start failed on an I/O error is started again this often (systemd's
// Restart=on-failure); a corrupt log is not retried: that needs an operator.
constexpr Duration kStartRetry{200'000'000};
// A learner this close to the leader's last index has caught up (node::PlacementHostOptions).
constexpr uint64_t kMoveCatchUpLag = 16;
// The longest a clog holds a link's messages (sim/network.cc): still one TCP stream.
constexpr Duration kClogMax{300'000'000};

struct World::SimNode {
  NodeId id;
  SimDisk disk;                        // the node's disk: survives crashes
  std::unique_ptr<node::NodeStorage> storage;  // the process's open log: null while down
  // Per peer: when the last message sent to it arrives (a crash's connection reset comes after).
  std::map<uint64_t, VirtualTime> last_arrival;
  // Peers whose connection reset this node has seen (report_peer_down): while such a peer stays
  // down, nothing more of it can arrive (the stream is gone), not even a late replay.
  std::set<uint64_t> resets_seen;
  std::unique_ptr<node::Host> host;  // the process: null while down
  uint64_t incarnation = 0;
  Rng rng{0};                                 // this incarnation's draws: tick phase, disk latency
  std::optional<node::HostReady> persisting;  // a Ready whose writes are not yet durable
  bool sync_done_while_paused = false;
  // Pause: what arrived meanwhile, delivered in order at resume.
  bool paused = false;
  VirtualTime paused_at;
  std::vector<std::pair<Payload::Kind, uint32_t>> inbox;
  double tick_rate = 1.0;  // drift
  VirtualTime drift_until;
  // The persisting Ready's writes: handed to the disk (sync asked for) or refused by it (to be
  // retried every kSyncRetry while the disk is full or failing).
  bool sync_requested = false;
  bool persisting_refused_noted = false;
  VirtualTime disk_fault_until;  // full or eio until then
  KillPoint kill = KillPoint::kNone;  // armed kill point
  CrashFault crash_fault = CrashFault::kPlain;  // what the next crash does to the disk
  std::string refused_start;  // set when the disk is corrupt: the node stays down
  bool corruption_injected = false;  // a `corrupt` fault flipped a bit on this disk
  // Last observed, per group, to report changes.
  struct Observed {
    raft::Role role = raft::Role::kFollower;
    Term term;
    NodeId leader;
    LogIndex commit;
  };
  std::map<GroupId, Observed> observed;
};

World::World(const WorldOptions& options)
    : options_(options),
      rng_(options.seed),
      network_(options.nodes, options.network, rng_.fork(0)) {
  network_.set_chaos(options.network_chaos);
  GRAPE_ASSERT(options.nodes >= 1, "a world needs nodes");
  GRAPE_ASSERT(options.tick.ns > 0, "tick must be positive");
  g_current_world = this;
  set_crash_hook(&print_world_on_crash);
  for (size_t i = 1; i <= options.nodes; ++i) {
    auto n = std::make_unique<SimNode>();
    n->id = NodeId(i);
    nodes_.push_back(std::move(n));
  }
  place_groups();
  for (auto& n : nodes_) boot(*n);
}

World::~World() {
  if (g_current_world == this) g_current_world = nullptr;
}

World::SimNode& World::node(NodeId id) {
  GRAPE_ASSERT(id.value >= 1 && id.value <= nodes_.size(), "no node n" << id);
  return *nodes_[id.value - 1];
}
const World::SimNode& World::node(NodeId id) const {
  GRAPE_ASSERT(id.value >= 1 && id.value <= nodes_.size(), "no node n" << id);
  return *nodes_[id.value - 1];
}

// The groups and their initial voters: group 1 on every node (unsharded), or the metadata group
// on the first nodes and each shard on the replicas core/shard/placement gives it. Each group's
// voters are fixed for the checker until a membership change.
void World::place_groups() {
  const size_t n = options_.nodes;
  std::vector<NodeId> all;
  for (size_t i = 1; i <= n; ++i) all.push_back(NodeId(i));
  if (!sharded()) {
    groups_[kFirstGroup] = all;
  } else {
    std::vector<shard::NodeSpec> specs;
    for (NodeId id : all) specs.push_back({id, 1});
    shard::PlacementOptions placement;
    placement.shards = options_.shards;
    placement.replication = options_.replication;
    auto layout = shard::initial_layout(specs, placement);
    GRAPE_ASSERT(layout.has_value(), "placement: " << layout.error().message);
    groups_[kFirstGroup] = layout->meta_voters;
    for (auto& [s, replicas] : layout->voters) groups_[shard_group(s)] = std::move(replicas);
    shard_map_ = std::move(layout->map);
  }
  for (const auto& [group, voters] : groups_) {
    SafetyChecker& checker = checkers_[group];
    checker.count_violations_in(&violation_count_);
    if (sharded()) {
      checker.set_fixed_voters(voters);
    } else {
      checker.set_fixed_voters(options_.nodes);
    }
  }
}

std::vector<GroupId> World::hosted_by(NodeId node) const {
  std::vector<GroupId> hosted;
  for (const auto& [group, voters] : groups_) {
    if (!sharded() || std::find(voters.begin(), voters.end(), node) != voters.end()) {
      hosted.push_back(group);
    }
  }
  return hosted;
}

node::Node* World::replica(SimNode& n, GroupId group) {
  return n.host ? n.host->group(group) : nullptr;
}

const node::Node* World::replica(const SimNode& n, GroupId group) const {
  return n.host ? n.host->group(group) : nullptr;
}

SafetyChecker& World::check(GroupId group) {
  SafetyChecker& checker = checkers_[group];
  checker.set_now(now_);
  return checker;
}

const SafetyChecker& World::checker(GroupId group) const { return checkers_[group]; }

std::vector<Violation> World::violations() const {
  std::vector<Violation> all;
  for (const auto& [group, checker] : checkers_) {
    all.insert(all.end(), checker.violations().begin(), checker.violations().end());
  }
  return all;
}

std::vector<NodeId> World::node_ids() const {
  std::vector<NodeId> ids;
  for (const auto& n : nodes_) ids.push_back(n->id);
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Booting and ticking

// Recovery could not open `what` (the log, a snapshot). Corruption: the node refuses to start
// for good, and unless a `corrupt` fault damaged its synced bytes, the storage damaged itself (a
// storage_integrity violation). An I/O failure: started again later, as a supervisor would.
void World::start_failed(SimNode& n, bool corrupt, const std::string& what,
                         const std::string& message) {
  if (corrupt) {
    n.refused_start = "corrupt " + what + ": " + message;
    note(TraceKind::kDiskFault, n.id, "start refused: " + n.refused_start);
    if (!n.corruption_injected) {
      check(kFirstGroup).add_violation("storage_integrity", n.id,
                             "the " + what + " is damaged though no corruption was injected: " +
                                 message);
    }
    return;
  }
  note(TraceKind::kDiskFault, n.id, "start failed: " + message + " (retried)");
  const NodeId id = n.id;
  schedule(now_ + kStartRetry, [id](World& w) {
    if (!w.is_up(id) && w.node(id).refused_start.empty()) w.restart(id);
  });
}

// A replica's config: the group's initial voters and the world's Raft knobs.
node::NodeConfig World::group_config(NodeId id, GroupId group) const {
  node::NodeConfig config;
  config.raft.id = id;
  // Every replica starts from the group's initial configuration and replays the changes from
  // the log; a node added later is simply not in it (yet).
  config.raft.voters = groups_.at(group);
  config.raft.election_ticks = ticks_in(options_.election_timeout_min, options_.tick);
  config.raft.election_ticks_max =
      std::max(config.raft.election_ticks + 1,
               ticks_in(options_.election_timeout_max, options_.tick) + 1);
  config.raft.heartbeat_ticks = ticks_in(options_.heartbeat, options_.tick);
  config.raft.pre_vote = options_.pre_vote;
  config.raft.check_quorum = options_.check_quorum;
  config.raft.append_entries_max = options_.append_entries_max;
  config.raft.inflight_appends_max = options_.inflight_appends_max;
  config.raft.apply_bytes_max = options_.apply_bytes_max;
  config.pending_requests_max = options_.pending_requests_max;
  config.snapshot_every = options_.snapshot_every;
  config.raft.snapshot_chunk_bytes = options_.snapshot_chunk_bytes;
  return config;
}

node::PlacementHostOptions World::placement_options() const {
  node::PlacementHostOptions options;
  options.executor.placement.shards = options_.shards;
  options.executor.placement.replication = options_.replication;
  for (size_t i = 1; i <= options_.nodes; ++i) options.executor.initial_nodes.push_back({NodeId(i), 1});
  for (const auto& [group, voters] : groups_) {
    if (shard::is_shard_group(group)) options.executor.initial_voters[shard::shard_of_group(group)] = voters;
  }
  options.executor.moves_in_flight_max = options_.moves_in_flight_max;
  options.interval_ticks = std::max(1, ticks_in(options_.heartbeat, options_.tick));
  options.transfer_backoff_ticks = 4 * ticks_in(options_.election_timeout_max, options_.tick);
  options.catch_up_lag = kMoveCatchUpLag;
  options.meta_voters = groups_.at(kFirstGroup);
  options.load_report_ticks = std::max(1, ticks_in(seconds(1), options_.tick));
  options.executor.load_check_ticks = 3 * options.load_report_ticks;
  options.executor.move_timeout_ticks = ticks_in(seconds(10), options_.tick);
  return options;
}

// Starts the node's replica of `group` from what its disk holds (nothing, for a new replica).
bool World::start_group(SimNode& n, GroupId group, const Rng& incarnation_rng) {
  if (auto opened = n.storage->open_group(group); !opened) {
    note(TraceKind::kDiskFault, n.id, "group " + std::to_string(group.value) + ": " +
                                          opened.error().message);
    return false;
  }
  storage::GroupLog& log = n.storage->log(group);
  const std::shared_ptr<const raft::Snapshot>& snapshot = n.storage->snapshot(group);
  // The checker's copy of this node's durable log becomes what recovery found: from its
  // snapshot (one a crash made durable before the node could report installing it, perhaps),
  // then its entries.
  if (log.snapshot_index() > LogIndex(0)) {
    check(group).on_snapshot_installed(n.id, log.snapshot_index(), log.snapshot_term());
  }
  {
    std::vector<raft::Entry> recovered;
    if (log.last_index() >= log.first_index()) {
      log.entries(log.first_index(), log.last_index().next(), SIZE_MAX, recovered);
    }
    check(group).on_recovered(n.id, log.first_index(), recovered);
  }
  node::NodeConfig config = group_config(n.id, group);
  config.raft.snapshot = snapshot;
  // One group: the draws of a single-group node; more: one stream per group.
  const Rng group_rng =
      sharded() ? incarnation_rng.fork(2).fork(group.value) : incarnation_rng.fork(2);
  GRAPE_ASSERT(n.host->add_group(group, config, log, group_rng).is_ok(), "add_group");
  const raft::Raft& r = n.host->group(group)->raft();
  n.observed[group] = SimNode::Observed{r.role(), r.term(), kNoNode, r.log().committed()};
  check(group).on_restart(n.id, snapshot ? snapshot->meta.index : LogIndex(0));
  return true;
}

bool World::boot(SimNode& n) {
  // Recovery first, as a process would: replay the write-ahead log from the disk.
  node::NodeStorageOptions storage_options;
  storage_options.wal_dir = kWalDir;
  storage_options.snapshot_dir = kSnapshotDir;
  storage_options.wal = storage::WalOptions{options_.wal_segment_bytes, false};
  storage_options.group = kFirstGroup;
  auto opened = node::NodeStorage::open(n.disk, storage_options);
  if (!opened) {
    start_failed(n, opened.error().corrupt, opened.error().what, opened.error().message);
    return false;
  }
  n.storage = std::move(*opened);
  if (const auto& repaired = n.storage->repaired()) {
    note(TraceKind::kDiskFault, n.id,
         "recovery cut a torn tail: " + repaired->file + " at offset " +
             std::to_string(repaired->offset) + ", " + std::to_string(repaired->bytes) +
             " bytes (" + repaired->reason + ")");
  }
  std::vector<GroupId> hosted = hosted_by(n.id);
  std::vector<node::ReplicaHistory> histories;
  if (sharded()) {
    // And every replica a move brought here, less those dropped since.
    histories = n.storage->histories();
    hosted = n.storage->replicas_at_start(std::move(hosted));
  }
  for (GroupId group : hosted) {
    if (auto group_opened = n.storage->open_group(group); !group_opened) {
      n.storage.reset();
      start_failed(n, group_opened.error().corrupt, group_opened.error().what,
                   group_opened.error().message);
      return false;
    }
  }
  ++n.incarnation;
  const Rng incarnation_rng = rng_.fork(n.id.value).fork(n.incarnation);
  n.rng = incarnation_rng.fork(1);
  const int heartbeat_ticks = ticks_in(options_.heartbeat, options_.tick);
  n.host = std::make_unique<node::Host>(n.id, heartbeat_ticks);
  if (options_.snapshot_bytes_per_sec > 0) {
    const uint64_t per_tick =
        options_.snapshot_bytes_per_sec * static_cast<uint64_t>(options_.tick.ns) / 1'000'000'000;
    n.host->limit_snapshot_rate(per_tick, options_.snapshot_bytes_per_sec / 4,
                                options_.snapshot_chunk_bytes);
  }
  n.observed.clear();
  for (const node::ReplicaHistory& history : histories) n.host->restore_replica_history(history);
  for (GroupId group : hosted) start_group(n, group, incarnation_rng);
  if (sharded()) n.host->enable_placement(placement_options());
  // Sharded: the host knows every shard's route (as a real node learns the map from the
  // metadata group).
  if (sharded()) {
    for (uint32_t shard = 0; shard < shard_map_.shard_count(); ++shard) {
      n.host->set_route(shard::route_of(shard_map_, shard));
    }
  }
  n.kill = KillPoint::kNone;
  n.sync_requested = false;
  n.paused = false;
  n.inbox.clear();
  n.sync_done_while_paused = false;
  // A random phase, so that nodes' ticks are not in lockstep.
  schedule_tick(n, now_ + Duration{1 + n.rng.between(0, options_.tick.ns - 1)});
  if (now_ < n.disk_fault_until) n.host->set_disk_failing(true);
  return true;
}

Duration World::tick_period(const SimNode& n) const {
  if (n.tick_rate == 1.0) return options_.tick;
  return Duration{std::max<int64_t>(
      1, static_cast<int64_t>(static_cast<double>(options_.tick.ns) / n.tick_rate))};
}

void World::schedule_tick(SimNode& n, VirtualTime at) {
  queue_.push(at,
              Payload{Payload::Kind::kTick, static_cast<uint32_t>(n.id.value), 0, n.incarnation});
}

void World::on_tick(NodeId id, uint64_t incarnation) {
  SimNode& n = node(id);
  if (!n.host || n.incarnation != incarnation) return;  // a timer of a crashed incarnation
  if (n.paused) return;                                 // the timer chain restarts at resume
  n.host->tick();
  drain(n);
  schedule_tick(n, now_ + tick_period(n));
}

// ---------------------------------------------------------------------------------------------
// The event loop

bool World::step() {
  // After the first safety violation the run is over: what follows would only be consequences,
  // and a broken invariant may trip assertions that hide the root cause.
  if (queue_.empty() || violation_count_ != 0) return false;
  if (queue_.size() > options_.events_queued_max) {
    halt_on_resource_limit(std::to_string(queue_.size()) + " events queued (limit " +
                           std::to_string(options_.events_queued_max) + ")");
    return false;
  }
  if (in_flight_.size() > options_.messages_in_flight_max) {
    halt_on_resource_limit(std::to_string(in_flight_.size()) + " messages in flight (limit " +
                           std::to_string(options_.messages_in_flight_max) + ")");
    return false;
  }
  if (stats_.events >= options_.events_max) {
    halt_on_resource_limit(std::to_string(stats_.events) + " events run (limit " +
                           std::to_string(options_.events_max) + ")");
    return false;
  }
  auto event = queue_.pop();
  GRAPE_ASSERT(event.at >= now_, "event at " << event.at << " before now " << now_);
  now_ = event.at;
  ++stats_.events;
  const Payload& p = event.payload;
  trace_.add(static_cast<uint64_t>(now_.ns)).add(static_cast<uint64_t>(p.kind)).add(p.node);
  switch (p.kind) {
    case Payload::Kind::kDeliver:
      deliver(NodeId(p.node), p.slot);
      break;
    case Payload::Kind::kTick:
      on_tick(NodeId(p.node), p.incarnation);
      break;
    case Payload::Kind::kSyncDone:
      on_sync_done(NodeId(p.node), p.incarnation);
      break;
    case Payload::Kind::kAction: {
      auto action = actions_.take(p.slot);
      action(*this);
      break;
    }
    case Payload::Kind::kClientRequest:
      deliver_client_request(NodeId(p.node), p.slot);
      break;
    case Payload::Kind::kClientReply:
      deliver_client_reply(p.slot);
      break;
    case Payload::Kind::kResume:
      on_resume(NodeId(p.node), p.incarnation);
      break;
  }
  return true;
}

void World::run_for(Duration duration) {
  const VirtualTime deadline = now_ + duration;
  while (!queue_.empty() && queue_.top().at <= deadline) {
    if (!step()) return;  // halted by a violation: time stops where it happened
  }
  now_ = deadline;
}

bool World::run_until(const std::function<bool(const World&)>& done, Duration limit) {
  const VirtualTime deadline = now_ + limit;
  while (!done(*this)) {
    if (queue_.empty() || queue_.top().at > deadline) {
      now_ = std::max(now_, deadline);
      return done(*this);
    }
    if (!step()) return false;  // halted by a violation
  }
  return true;
}

void World::schedule(VirtualTime at, std::function<void(World&)> action) {
  GRAPE_ASSERT(at >= now_, "cannot schedule in the past: " << at << " < " << now_);
  queue_.push(at, Payload{Payload::Kind::kAction, 0, actions_.put(std::move(action)), 0});
}

// A buggy core can flood the world (a message storm, a timer loop): stop with a verdict before
// memory or time runs out, rather than die of std::bad_alloc.
void World::halt_on_resource_limit(const std::string& what) {
  check(kFirstGroup).add_violation("resource_limit", kNoNode, what);
}

// ---------------------------------------------------------------------------------------------
// Messages between nodes

void World::send_all(SimNode& n, std::vector<node::PeerBatch>& batches) {
  // Each message travels on its own (its own latency, loss, duplication), as the single-group
  // world always had them: the faults stay as fine-grained as they were.
  for (node::PeerBatch& batch : batches) {
    for (node::GroupMessage& m : batch.messages) send_one(n, m);
  }
}

void World::send_one(SimNode& n, node::GroupMessage& gm) {
  const raft::Message& m = gm.message;
  ++stats_.messages_sent;
  if (!moved_in_.empty() && moved_in_.count({m.to.value, gm.group.value})) {
    stats_.move_bytes += m.data.size();
    for (const raft::Entry& e : m.entries) stats_.move_bytes += e.data.size();
  }
  scratch_arrivals_.clear();
  // Placement messages are of no Raft kind: only faults on every kind touch them.
  const int kind = gm.control ? raft::kMessageTypeCount : static_cast<int>(m.type);
  network_.route(n.id, m.to, kind_bit(kind), now_, scratch_arrivals_);
  const auto to = static_cast<uint32_t>(m.to.value);
  // Late replays and long delays (chaos) model no TCP stream: the reset does not wait for them.
  VirtualTime& latest = n.last_arrival[m.to.value];
  const VirtualTime in_stream = now_ + network_.link(n.id, m.to).latency_max + kClogMax;
  for (VirtualTime at : scratch_arrivals_) {
    if (at <= in_stream) latest = std::max(latest, at);
  }
  for (size_t i = 0; i < scratch_arrivals_.size(); ++i) {
    // The last copy takes the message; a duplicate before it gets a copy.
    const bool last = i + 1 == scratch_arrivals_.size();
    const uint32_t slot = last ? in_flight_.put(std::move(gm)) : in_flight_.put(gm);
    queue_.push(scratch_arrivals_[i], Payload{Payload::Kind::kDeliver, to, slot, 0});
  }
}

void World::deliver(NodeId to, uint32_t slot) {
  SimNode& n = node(to);
  if (n.paused) {
    n.inbox.emplace_back(Payload::Kind::kDeliver, slot);
    return;
  }
  node::GroupMessage gm = in_flight_.take(slot);
  const raft::Message& m = gm.message;
  trace_.add(static_cast<uint64_t>(m.type)).add(m.from.value).add(m.term.value).add(m.index.value);
  if (sharded()) trace_.add(gm.group.value).add(gm.control ? 1 + static_cast<uint64_t>(gm.control->kind) : 0);
  if (!n.host) return;  // the node is down: the message is lost
  if (n.resets_seen.count(m.from.value) != 0 && !node(m.from).host) return;  // its stream is gone
  ++stats_.messages_delivered;
  const auto status = n.host->step(gm);
  if (!status.is_ok()) {
    // A removed node still talking, one the receiver's configuration does not list yet, or a
    // group whose replica is not (or no longer) here.
    GRAPE_ASSERT(status.error().code == node::HostErrorCode::kUnknownGroup ||
                     status.error().raft_code == raft::StepErrorCode::kUnknownPeer,
                 "the world routed a message wrongly: " << m);
    ++stats_.messages_refused;
    return;
  }
  if (sharded()) {
    drain(n, {gm.group});
  } else {
    drain(n);
  }
}

// ---------------------------------------------------------------------------------------------
// Client requests and replies

void World::send_client_request(NodeId to, node::ClientRequest request) {
  (void)node(to);  // validates
  ++stats_.client_requests;
  const uint32_t slot = client_requests_.put(std::move(request));
  queue_.push(now_ + network_.client_latency(),
              Payload{Payload::Kind::kClientRequest, static_cast<uint32_t>(to.value), slot, 0});
}

void World::deliver_client_request(NodeId to, uint32_t slot) {
  SimNode& n = node(to);
  if (n.paused) {
    n.inbox.emplace_back(Payload::Kind::kClientRequest, slot);
    return;
  }
  node::ClientRequest request = client_requests_.take(slot);
  trace_.add(0xC1).add(request.client).add(request.request);
  if (sharded()) trace_.add(request.group.value);
  if (!n.host) {
    // A process that is down refuses the connection (its port is closed): the client learns at
    // once that nothing was done, as from a redirect without a hint, and tries another node.
    // Unless it never started for good (a corrupt disk): then the call is simply lost.
    if (!n.refused_start.empty()) return;
    const uint32_t reply = client_replies_.put(node::ClientReply{
        request.client, request.request, node::ReplyStatus::kRedirect, kNoNode, {}, {},
        request.group});
    queue_.push(now_ + network_.client_latency(), Payload{Payload::Kind::kClientReply, 0, reply, 0});
    return;
  }
  const GroupId group = request.group;
  n.host->on_client_request(request);
  if (sharded()) {
    drain(n, {group});
  } else {
    drain(n);
  }
}

void World::deliver_client_reply(uint32_t slot) {
  node::ClientReply reply = client_replies_.take(slot);
  trace_.add(0xC2).add(reply.client).add(reply.request).add(static_cast<uint64_t>(reply.status));
  if (reply_handler_) reply_handler_(*this, reply);
}

// ---------------------------------------------------------------------------------------------
// Ready handling: the same loop a real node runs

void World::drain(SimNode& n, const std::vector<GroupId>& touched) {
  // Unsharded: group 1 is observed after every Ready. Sharded: the groups touched and those
  // whose Readies were taken (a role change always comes with one), not all of them each time.
  std::vector<GroupId> seen = touched;
  while (n.host && !n.paused && !n.persisting && n.host->has_ready()) {
    start_persist(n);
    // After every Ready, not once per drain: a leadership that begins and ends within one drain
    // must still reach the election-safety checker.
    if (!sharded()) {
      observe(n);
    } else if (n.persisting) {
      for (const node::GroupReady& g : n.persisting->groups) seen.push_back(g.group);
      observe(n, seen);
    }
  }
  if (!sharded()) {
    observe(n);
  } else if (!seen.empty()) {
    observe(n, seen);
  }
}

void World::start_persist(SimNode& n) {
  n.persisting = n.host->take_ready();
  node::HostReady& ready = *n.persisting;
  // Replica histories ride on this Ready's sync (the writes below sync when they need to; a
  // history that misses a sync is redone from the next command at worst).
  for (const node::ReplicaHistory& history : ready.history) n.storage->keep_history(history);
  // Dropped replicas' logs are forgotten first (a sync of their own): if the disk refuses it, this
  // Ready waits for a sync that makes the drop durable, since its drops are acknowledged after it.
  n.storage->close_groups(ready.dropped);  // one sync for them all
  for (const GroupId group : ready.dropped) {
    n.observed.erase(group);
    note(TraceKind::kNote, n.id, "dropped its replica of group " + std::to_string(group.value));
  }
  // The writes go to the disk (snapshot files, then the log: staged in memory, one write and one
  // sync request); they are durable only when the sync completes (on_sync_done).
  // A Ready that needs no sync (only the commit index moved) is staged at once, at no cost.
  const bool writes = n.storage->needs_sync(ready.groups);
  if (!writes) {
    GRAPE_ASSERT(n.storage->persist(ready.groups).is_ok(), "staging cannot fail");
  }
  n.sync_requested = !writes;
  if (writes) request_sync(n);
  send_all(n, ready.batches);  // these may leave before the disk write completes
  // Answers to clients leave at once too: each reports something already applied (or refused),
  // never something this Ready has yet to make durable, so a slow or failing disk must not hold
  // them back.
  auto answer = [&](node::ClientReply& reply) {
    const uint32_t slot = client_replies_.put(std::move(reply));
    queue_.push(now_ + network_.client_latency(), Payload{Payload::Kind::kClientReply, 0, slot, 0});
  };
  size_t applies = 0;
  for (node::GroupReady& g : ready.groups) {
    for (node::ClientReply& reply : g.ready.replies) answer(reply);
    g.ready.replies.clear();
    applies += g.ready.raft.entries_to_apply.size();
  }
  for (node::ClientReply& reply : ready.refused) answer(reply);
  ready.refused.clear();
  for (const node::GroupToCreate& create : ready.create) {
    if (!groups_.count(create.group) || n.host->hosts(create.group)) continue;
    const Rng incarnation_rng = rng_.fork(n.id.value).fork(n.incarnation);
    if (start_group(n, create.group, incarnation_rng)) {
      moved_in_.insert({n.id.value, create.group.value});
      note(TraceKind::kNote, n.id, "created an empty replica of group " +
                                       std::to_string(create.group.value) + " for a move");
    }
  }
  if (maybe_kill(n, KillPoint::kBeforeSync)) return;
  if (!n.sync_requested) {
    schedule_sync_done(n, now_ + kSyncRetry);  // the disk refused: try again then
    return;
  }
  // Nothing to write, nothing to sync (a real node skips the fsync too).
  int64_t latency = 0;
  if (writes) {
    latency = n.rng.between(options_.disk_sync_min.ns, options_.disk_sync_max.ns);
    if (options_.disk_slow_sync_rate > 0.0 && n.rng.chance(options_.disk_slow_sync_rate)) {
      latency = n.rng.between(options_.disk_sync_min.ns, options_.disk_slow_sync_max.ns);
    }
  }
  // Applying takes time too; Raft keeps ticking and stepping meanwhile, as with etcd's
  // asynchronous apply (a restarted node re-applying its log can time out and campaign).
  latency += options_.apply_entry_cost.ns * static_cast<int64_t>(applies);
  VirtualTime done = now_ + Duration{latency};
  if (done == now_) {
    n.disk.complete_syncs();
    finish_persist(n);
    return;
  }
  schedule_sync_done(n, done);
}

void World::schedule_sync_done(SimNode& n, VirtualTime at) {
  queue_.push(
      at, Payload{Payload::Kind::kSyncDone, static_cast<uint32_t>(n.id.value), 0, n.incarnation});
}

// Hands the persisting Ready's writes to the disk (NodeStorage::persist). A disk that is full or
// failing refuses a step; the next try (kSyncRetry later) resumes from that step, with nothing
// lost or doubled.
void World::request_sync(SimNode& n) {
  if (auto persisted = n.storage->persist(n.persisting->groups); !persisted) {
    n.sync_requested = false;
    if (!n.persisting_refused_noted) {
      note(TraceKind::kDiskFault, n.id, "write refused: " + persisted.error());
    }
    n.persisting_refused_noted = true;
    return;
  }
  n.sync_requested = true;
  n.persisting_refused_noted = false;
}

void World::on_sync_done(NodeId id, uint64_t incarnation) {
  SimNode& n = node(id);
  if (!n.host || n.incarnation != incarnation || !n.persisting) return;
  if (!n.sync_requested) {
    request_sync(n);
    const int64_t latency = n.rng.between(options_.disk_sync_min.ns, options_.disk_sync_max.ns);
    schedule_sync_done(n, now_ + (n.sync_requested ? Duration{latency} : kSyncRetry));
    return;
  }
  // The sync completed: durable now, whatever the process does next.
  n.disk.complete_syncs();
  if (n.paused) {
    n.sync_done_while_paused = true;
    return;
  }
  finish_persist(n);
  drain(n);
}

void World::finish_persist(SimNode& n) {
  node::HostReady ready = std::move(*n.persisting);
  n.persisting.reset();
  for (const node::GroupReady& g : ready.groups) {
    // A replica dropped while its Ready was being persisted (its move is done): nothing more of
    // it is checked or applied.
    const node::Node* replica = n.host->group(g.group);
    if (replica == nullptr) continue;
    const raft::Raft& r = replica->raft();
    if (g.ready.raft.snapshot) {
      const raft::SnapshotMeta& meta = g.ready.raft.snapshot->meta;
      check(g.group).on_snapshot_installed(n.id, meta.index, meta.term);
      note(TraceKind::kNote, n.id,
           (sharded() ? "group " + std::to_string(g.group.value) + ": " : std::string()) +
               "installed a snapshot up to " + std::to_string(meta.index.value) + "@" +
               std::to_string(meta.term.value) + " (" +
               std::to_string(g.ready.raft.snapshot->data.size()) + " bytes)");
    }
    check(g.group).on_persist(n.id, g.ready.raft.entries_to_persist,
                              r.role() == raft::Role::kLeader ? r.term() : Term(0), r.term());
    if (sharded() && shard::is_shard_group(g.group) && r.role() == raft::Role::kLeader) {
      check_moves_catch_up(n, g.group, r, g.ready.raft.entries_to_persist);
    }
    const storage::GroupLog& log = n.storage->log(g.group);
    if (log.last_index().value > options_.log_entries_max) {
      halt_on_resource_limit("n" + std::to_string(n.id.value) + " holds " +
                             std::to_string(log.last_index().value) + " log entries (limit " +
                             std::to_string(options_.log_entries_max) + ")");
    }
  }
  if (maybe_kill(n, KillPoint::kAfterSync)) return;
  send_all(n, ready.batches_after_persist);
  if (maybe_kill(n, KillPoint::kAfterSend)) return;
  for (const node::GroupReady& g : ready.groups) {
    const node::Node* replica = n.host->group(g.group);
    if (replica == nullptr) continue;
    const raft::Raft& r = replica->raft();
    for (const raft::Entry& e : g.ready.raft.entries_to_apply) {
      check(g.group).on_apply(n.id, e, r.term());
      if (apply_hook_) apply_hook_(n.id, e);
    }
  }
  n.host->advance();
}

// The move protocol's promise (DESIGN.md 2.4): a new replica becomes a voter only once it has
// caught up, so that a move never leans on an empty replica for a quorum. Checked where the
// leader writes its own conf change that promotes a learner: the learner's match index then was
// within the catch-up lag of the log's end when the change was proposed (match only grows).
void World::check_moves_catch_up(SimNode& n, GroupId group, const raft::Raft& r,
                                 const std::vector<raft::Entry>& entries) {
  for (const raft::Entry& e : entries) {
    if (e.type != raft::EntryType::kConfChange || e.term != r.term()) continue;
    auto change = raft::decode_conf_change(e.data);
    if (!change) continue;
    for (const raft::ConfChangeItem& item : change->changes) {
      if (item.type != raft::ConfChangeType::kAddVoter) continue;
      const raft::Progress* pr = r.progress(item.node);
      const uint64_t match = pr ? pr->match.value : 0;
      if (match > 0 && match + kMoveCatchUpLag + 1 >= e.index.value) continue;
      check(group).add_violation(
          "move_catch_up", n.id,
          "group " + std::to_string(group.value) + ": n" + std::to_string(item.node.value) +
              " made a voter at index " + std::to_string(e.index.value) + " with only " +
              std::to_string(match) + " entries (the catch-up lag allows " +
              std::to_string(kMoveCatchUpLag) + ")");
    }
  }
}

void World::observe(SimNode& n, const std::vector<GroupId>& groups) {
  if (!n.host) return;
  if (groups.empty()) {
    for (GroupId group : n.host->group_ids()) observe_group(n, group);
    return;
  }
  for (GroupId group : groups) observe_group(n, group);
}

void World::observe_group(SimNode& n, GroupId group) {
  const node::Node* replica = n.host->group(group);
  if (replica == nullptr) return;
  const raft::Raft& r = replica->raft();
  SimNode::Observed& seen = n.observed[group];
  if (r.role() != seen.role || r.term() != seen.term || r.leader() != seen.leader) {
    const bool became_leader = r.role() == raft::Role::kLeader &&
                               (seen.role != raft::Role::kLeader || seen.term != r.term());
    seen.role = r.role();
    seen.term = r.term();
    seen.leader = r.leader();
    stats_.max_term = std::max(stats_.max_term, seen.term);
    if (became_leader) {
      ++stats_.elections;
      check(group).on_leader_elected(n.id, r.term(), r.log().last_index(),
                                     [&r](LogIndex i) { return r.log().term(i); });
    }
    // The timeline shows group 1 (the metadata group of a sharded cluster).
    if (group == kFirstGroup) {
      emit(TraceEvent{now_, TraceKind::kRoleChange, n.id, seen.role, seen.term, seen.leader, {}, {}});
    }
  }
  const LogIndex commit = r.log().committed();
  if (commit != seen.commit) {
    seen.commit = commit;
    if (group == kFirstGroup) {
      stats_.max_commit = std::max(stats_.max_commit, commit);
      if (r.role() == raft::Role::kLeader) {
        emit(TraceEvent{now_, TraceKind::kCommit, n.id, seen.role, seen.term, seen.leader, commit, {}});
      }
    }
  }
}

void World::emit(TraceEvent event) {
  if (trace_sink_) trace_sink_(event);
}

void World::note(TraceKind kind, NodeId id, std::string detail) {
  trace_.add(0xFA00).add(static_cast<uint64_t>(kind)).add(id.value);
  emit(TraceEvent{now_, kind, id, {}, {}, {}, {}, std::move(detail)});
}

// ---------------------------------------------------------------------------------------------
// Faults

void World::partition(const std::vector<std::vector<NodeId>>& groups) {
  network_.partition(groups);
  std::string detail;
  for (const auto& g : groups) detail += describe_nodes(g) + " ";
  trace_.add(0xFA01).add(groups.size());
  emit(TraceEvent{now_, TraceKind::kPartition, {}, {}, {}, {}, {}, detail});
}

void World::cut(const std::vector<NodeId>& from, const std::vector<NodeId>& to) {
  network_.cut(from, to);
  trace_.add(0xFA02).add(from.size()).add(to.size());
  emit(TraceEvent{now_,
                  TraceKind::kCut,
                  {},
                  {},
                  {},
                  {},
                  {},
                  describe_nodes(from) + " -> " + describe_nodes(to)});
}

void World::heal_all() {
  network_.heal_all();
  trace_.add(0xFA03);
  emit(TraceEvent{now_, TraceKind::kHeal, {}, {}, {}, {}, {}, {}});
}

bool World::crash(NodeId id) {
  SimNode& n = node(id);
  trace_.add(0xFA04).add(id.value).add(n.host ? 1 : 0);
  if (!n.host) {
    note(TraceKind::kNoOp, id, "crash skipped: already down");
    return false;
  }
  n.host.reset();
  n.storage.reset();
  n.persisting.reset();  // writes not yet synced are lost with the process
  n.sync_requested = false;
  // The disk keeps what was durable, shaped by the fault armed for this crash.
  const std::string what = n.disk.crash(n.crash_fault, n.rng);
  if (n.crash_fault == CrashFault::kCorrupt && !what.empty()) n.corruption_injected = true;
  n.crash_fault = CrashFault::kPlain;
  if (!what.empty()) note(TraceKind::kDiskFault, id, what);
  n.paused = false;
  for (const auto& [kind, slot] : n.inbox) {
    if (kind == Payload::Kind::kDeliver) (void)in_flight_.take(slot);
    if (kind == Payload::Kind::kClientRequest) (void)client_requests_.take(slot);
  }
  n.inbox.clear();
  for (auto& [group, seen] : n.observed) seen.role = raft::Role::kFollower;
  emit(TraceEvent{now_, TraceKind::kCrash, id, {}, shown_term(n), {}, {}, {}});
  report_connections_closed(id);
  return true;
}

// A crashed process's sockets are reset by its kernel: every peer it can still reach sees its
// connection close (a real node calls Raft::report_peer_down then). TCP delivers the reset after
// the data sent before it: the report comes after the last message sent to that peer (but for
// chaos's late replays and long delays, which model no TCP stream).
void World::report_connections_closed(NodeId crashed) {
  const SimNode& dead = node(crashed);
  for (auto& peer : nodes_) {
    if (peer->id == crashed || !peer->host || !network_.can_deliver(crashed, peer->id)) continue;
    const NodeId to = peer->id;
    const uint64_t incarnation = peer->incarnation;
    const VirtualTime earliest = now_ + network_.link(crashed, to).latency_max + Duration{1};
    VirtualTime at = earliest;
    if (auto it = dead.last_arrival.find(to.value); it != dead.last_arrival.end()) {
      at = std::max(at, it->second + Duration{1});
    }
    schedule(at, [to, crashed, incarnation](World& w) {
      SimNode& n = w.node(to);
      if (!n.host || n.incarnation != incarnation || n.paused) return;
      n.resets_seen.insert(crashed.value);
      n.host->report_peer_down(crashed);
      w.drain(n);
    });
  }
}

bool World::arm_kill_point(NodeId id, KillPoint point, VirtualTime deadline) {
  SimNode& n = node(id);
  trace_.add(0xFA0C).add(id.value).add(static_cast<uint64_t>(point));
  if (!n.host) {
    note(TraceKind::kNoOp, id, "kill point skipped: already down");
    return false;
  }
  n.kill = point;
  const uint64_t incarnation = n.incarnation;
  // No such moment before the deadline (an idle node, a stalled disk): crash then.
  schedule(std::max(deadline, now_), [id, incarnation](World& w) {
    SimNode& target = w.node(id);
    if (target.host && target.incarnation == incarnation && target.kill != KillPoint::kNone) {
      target.kill = KillPoint::kNone;
      w.crash(id);
    }
  });
  return true;
}

bool World::maybe_kill(SimNode& n, KillPoint point) {
  if (n.kill != point) return false;
  n.kill = KillPoint::kNone;
  static constexpr const char* kNames[] = {"", "before its sync", "after its sync, before sending",
                                           "after sending, before applying"};
  note(TraceKind::kNote, n.id, std::string("kill point: crash ") + kNames[static_cast<int>(point)]);
  crash(n.id);
  return true;
}

bool World::restart(NodeId id) {
  SimNode& n = node(id);
  trace_.add(0xFA05).add(id.value).add(n.host ? 1 : 0);
  if (n.host && n.kill != KillPoint::kNone) {
    // Still waiting for its kill point: the crash the restart follows happens now.
    n.kill = KillPoint::kNone;
    crash(id);
  }
  if (n.host) {
    note(TraceKind::kNoOp, id, "restart skipped: already up");
    return false;
  }
  if (!n.refused_start.empty()) {
    note(TraceKind::kNoOp, id, "restart failed: " + n.refused_start);
    return false;
  }
  if (!boot(n)) return false;
  emit(TraceEvent{now_, TraceKind::kRestart, id, shown_role(n), shown_term(n), {}, {}, {}});
  return true;
}

bool World::pause(NodeId id, Duration duration) {
  SimNode& n = node(id);
  trace_.add(0xFA06).add(id.value).add(static_cast<uint64_t>(duration.ns));
  if (!n.host || n.paused) {
    note(TraceKind::kNoOp, id, n.host ? "pause skipped: already paused" : "pause skipped: down");
    return false;
  }
  n.paused = true;
  n.paused_at = now_;
  queue_.push(now_ + duration,
              Payload{Payload::Kind::kResume, static_cast<uint32_t>(id.value), 0, n.incarnation});
  emit(TraceEvent{now_,
                  TraceKind::kPause,
                  id,
                  {},
                  shown_term(n),
                  {},
                  {},
                  "for " + std::to_string(duration.ms()) + "ms"});
  return true;
}

void World::on_resume(NodeId id, uint64_t incarnation) {
  SimNode& n = node(id);
  if (!n.host || n.incarnation != incarnation || !n.paused) return;
  n.paused = false;
  emit(TraceEvent{now_, TraceKind::kResume, id, {}, shown_term(n), {}, {}, {}});
  // The timer fires late, once or (resume_ticks_max > 1) in a burst of some of the ticks it
  // missed, as a stalled process's timers do; the timer chain then restarts.
  schedule_tick(n, now_);
  const int64_t missed = std::max<int64_t>(1, (now_ - n.paused_at) / options_.tick);
  const int burst = options_.resume_ticks_max <= 1
                        ? 0
                        : static_cast<int>(n.rng.below(static_cast<uint64_t>(
                              std::min<int64_t>(missed, options_.resume_ticks_max))));
  // What piled up is handled in the order a real process would (sync, inbox), or in a random
  // order when the burst is on: a stalled process's event loop picks up its ready handlers in no
  // fixed order.
  int order[3] = {0, 1, 2};  // 0: tick burst, 1: the sync that completed, 2: the inbox
  if (options_.resume_ticks_max > 1) {
    for (int i = 2; i > 0; --i)
      std::swap(order[i], order[n.rng.below(static_cast<uint64_t>(i + 1))]);
  }
  std::vector<std::pair<Payload::Kind, uint32_t>> inbox = std::move(n.inbox);
  n.inbox.clear();
  for (int stage : order) {
    if (!n.host || n.incarnation != incarnation) break;  // a kill point struck meanwhile
    if (stage == 0) {
      for (int i = 0; i < burst && n.host; ++i) {
        n.host->tick();
        drain(n);
      }
    } else if (stage == 1 && n.sync_done_while_paused) {
      n.sync_done_while_paused = false;
      if (n.persisting) finish_persist(n);
    } else if (stage == 2) {
      for (const auto& [kind, slot] : inbox) {
        if (kind == Payload::Kind::kDeliver) deliver(id, slot);
        if (kind == Payload::Kind::kClientRequest) deliver_client_request(id, slot);
      }
      inbox.clear();
    }
  }
  // Whatever the inbox still holds (a crash struck first) is lost with the process.
  for (const auto& [kind, slot] : inbox) {
    if (kind == Payload::Kind::kDeliver) (void)in_flight_.take(slot);
    if (kind == Payload::Kind::kClientRequest) (void)client_requests_.take(slot);
  }
  drain(n);
}

bool World::drift(NodeId id, double rate, Duration duration) {
  SimNode& n = node(id);
  trace_.add(0xFA07).add(id.value).add(static_cast<uint64_t>(rate * 1000));
  if (rate <= 0.0) {
    note(TraceKind::kNoOp, id, "drift skipped: the rate must be positive");
    return false;
  }
  n.tick_rate = rate;
  // Overlapping drifts: the last one set holds until its own end, and an earlier one's end does
  // not cut it short.
  n.drift_until = now_ + duration;
  schedule(now_ + duration, [id](World& w) {
    SimNode& target = w.node(id);
    if (w.now() >= target.drift_until) target.tick_rate = 1.0;
  });
  emit(TraceEvent{
      now_,
      TraceKind::kDrift,
      id,
      {},
      shown_term(n),
      {},
      {},
      "timer x" + std::to_string(rate) + " for " + std::to_string(duration.ms()) + "ms"});
  return true;
}

bool World::fail_disk(NodeId id, storage::DiskErrorCode code, Duration duration) {
  SimNode& n = node(id);
  trace_.add(0xFA08).add(id.value).add(static_cast<uint64_t>(duration.ns)).add(static_cast<uint64_t>(code));
  const bool full = code == storage::DiskErrorCode::kFull;
  if (full) {
    n.disk.set_full(true);
  } else {
    n.disk.set_eio(true);
  }
  const VirtualTime until = now_ + duration;
  n.disk_fault_until = std::max(n.disk_fault_until, until);
  if (n.host) n.host->set_disk_failing(true);
  schedule(until, [id, full](World& w) {
    SimNode& target = w.node(id);
    if (w.now() < target.disk_fault_until) return;  // a later fault still holds
    target.disk.set_full(false);
    target.disk.set_eio(false);
    if (target.host) target.host->set_disk_failing(false);
    w.note(TraceKind::kDiskFault, id, full ? "disk has space again" : "disk works again");
  });
  emit(TraceEvent{now_,
                  TraceKind::kDiskFault,
                  id,
                  {},
                  shown_term(n),
                  {},
                  {},
                  std::string(full ? "disk full" : "disk I/O errors") + " for " +
                      std::to_string(duration.ms()) + "ms"});
  return true;
}

void World::arm_crash_fault(NodeId id, CrashFault fault) {
  SimNode& n = node(id);
  trace_.add(0xFA09).add(id.value).add(static_cast<uint64_t>(fault));
  // The stronger fault wins: corruption also loses unsynced writes, as a torn write does.
  if (static_cast<int>(fault) > static_cast<int>(n.crash_fault)) n.crash_fault = fault;
  emit(TraceEvent{now_,
                  TraceKind::kDiskFault,
                  id,
                  {},
                  shown_term(n),
                  {},
                  {},
                  fault == CrashFault::kTornWrite      ? "armed: torn write at next crash"
                  : fault == CrashFault::kCorrupt      ? "armed: corruption at next crash"
                  : fault == CrashFault::kLoseUnsynced ? "armed: unsynced writes lost at next crash"
                                                       : "armed: plain crash"});
}

const std::string& World::refused_start(NodeId id) const { return node(id).refused_start; }

bool World::is_paused(NodeId id) const { return node(id).paused; }

// ---------------------------------------------------------------------------------------------
// Clients and observers

Expected<LogIndex, raft::ProposeError> World::propose(NodeId id, Bytes command) {
  SimNode& n = node(id);
  GRAPE_ASSERT(replica(n, kFirstGroup), "propose at n" << id << " while it is down");
  auto result = replica(n, kFirstGroup)->propose(std::move(command));
  drain(n);
  return result;
}

NodeId World::add_node() {
  if (!sharded()) check(kFirstGroup).set_fixed_voters(0);
  auto n = std::make_unique<SimNode>();
  n->id = NodeId(nodes_.size() + 1);
  network_.add_node();
  nodes_.push_back(std::move(n));
  SimNode& added = *nodes_.back();
  trace_.add(0xFA0B).add(added.id.value);
  boot(added);
  note(TraceKind::kNote, added.id, "n" + std::to_string(added.id.value) + " starts, empty");
  return added.id;
}

void World::decommission(NodeId id) {
  crash(id);
  node(id).refused_start = "decommissioned: it left the configuration";
  note(TraceKind::kNote, id, "decommissioned after leaving the configuration");
}

Expected<LogIndex, raft::ProposeError> World::propose_conf_change(NodeId id,
                                                                  const raft::ConfChange& change) {
  SimNode& n = node(id);
  node::Node* group = replica(n, kFirstGroup);
  if (!group) return Unexpected(raft::ProposeError{raft::ProposeErrorCode::kNotLeader, kNoNode});
  // copies on learners or removed nodes would count otherwise
  check(kFirstGroup).set_fixed_voters(0);
  auto result = group->propose_conf_change(change);
  drain(n);
  return result;
}

bool World::campaign(NodeId id) {
  SimNode& n = node(id);
  trace_.add(0xFA0A).add(id.value);
  if (!replica(n, kFirstGroup) || n.paused) {
    note(TraceKind::kNoOp, id, "campaign skipped: the node is down or paused");
    return false;
  }
  replica(n, kFirstGroup)->campaign();
  drain(n);
  return true;
}

Status<raft::TransferError> World::transfer_leadership(NodeId from, NodeId to) {
  SimNode& n = node(from);
  node::Node* group = replica(n, kFirstGroup);
  if (!group) return Unexpected(raft::TransferError{raft::TransferErrorCode::kNotLeader});
  auto status = group->transfer_leadership(to);
  drain(n);
  return status;
}

bool World::is_up(NodeId id) const { return node(id).host != nullptr; }

void World::enable_moves() {
  // Copies on learners and removed replicas would count towards durable commitment otherwise.
  for (auto& [group, checker] : checkers_) {
    if (shard::is_shard_group(group)) checker.set_fixed_voters(0);
  }
}

bool World::propose_meta(const kv::Command& command) {
  const auto leader = this->leader(kFirstGroup);
  if (!leader) return false;
  SimNode& n = node(*leader);
  if (n.paused || !n.host->propose_meta(command)) return false;
  drain(n, {kFirstGroup});
  return true;
}

std::optional<shard::MetaState> World::meta_state() const {
  const auto leader = this->leader(kFirstGroup);
  if (!leader) return std::nullopt;
  return node(*leader).host->meta_state();
}

const raft::Raft* World::raft(NodeId id, GroupId group) const {
  const node::Node* r = replica(node(id), group);
  return r ? &r->raft() : nullptr;
}

const kv::KvStore* World::kv(NodeId id, GroupId group) const {
  const node::Node* r = replica(node(id), group);
  return r ? &r->kv() : nullptr;
}

const raft::LogStore& World::store(NodeId id, GroupId group) const {
  const SimNode& n = node(id);
  GRAPE_ASSERT(n.storage != nullptr, "n" << id << " is down: its log is on its disk only");
  return n.storage->log(group);
}

std::vector<GroupId> World::groups_with_log(NodeId id) const {
  const SimNode& n = node(id);
  std::vector<GroupId> out;
  if (n.storage == nullptr) return out;
  for (GroupId group : n.storage->groups_in_log()) {
    const storage::GroupLog& log = n.storage->log(group);
    if (log.snapshot_index() > LogIndex(0) || log.last_index() > LogIndex(0)) out.push_back(group);
  }
  return out;
}

std::optional<NodeId> World::leader(GroupId group) const {
  std::optional<NodeId> best;
  Term best_term;
  for (const auto& n : nodes_) {
    const node::Node* r = replica(*n, group);
    if (r == nullptr) continue;
    if (r->raft().role() == raft::Role::kLeader && (!best || r->raft().term() > best_term)) {
      best = n->id;
      best_term = r->raft().term();
    }
  }
  return best;
}

LogIndex World::max_commit_index(GroupId group) const {
  LogIndex commit;
  for (const auto& n : nodes_) {
    if (const node::Node* r = replica(*n, group)) commit = std::max(commit, r->raft().log().committed());
  }
  return commit;
}

Term World::shown_term(const SimNode& n) const {
  auto it = n.observed.find(kFirstGroup);
  return it == n.observed.end() ? Term() : it->second.term;
}

raft::Role World::shown_role(const SimNode& n) const {
  auto it = n.observed.find(kFirstGroup);
  return it == n.observed.end() ? raft::Role::kFollower : it->second.role;
}

std::string World::failure_report() const {
  if (checks_passed()) return {};
  const std::vector<Violation> all = violations();
  const Violation& v = all.front();
  std::ostringstream out;
  out << v.property << " violated at " << v.at << " on n" << v.node << ": " << v.detail << " (seed "
      << options_.seed << ", " << all.size() << " violation(s) in all)";
  return out.str();
}

}  // namespace grape::sim
