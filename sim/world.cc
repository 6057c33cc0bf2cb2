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
constexpr GroupId kGroup{1};  // one Raft group per node until the sharding issue
// A sync the disk refused (full, I/O error) is retried this often, as a real node's loop does.
constexpr Duration kSyncRetry{10'000'000};
// A node whose start failed on an I/O error is started again this often (systemd's
// Restart=on-failure); a corrupt log is not retried: that needs an operator.
constexpr Duration kStartRetry{200'000'000};
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
  std::unique_ptr<node::Node> node;  // the process: null while down
  uint64_t incarnation = 0;
  Rng rng{0};                                 // this incarnation's draws: tick phase, disk latency
  std::optional<node::NodeReady> persisting;  // a Ready whose writes are not yet durable
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
  // Last observed, to report changes.
  raft::Role role = raft::Role::kFollower;
  Term term;
  NodeId leader;
  LogIndex commit;
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
  // Every node is a voter of the initial configuration; membership changes turn this off.
  checker_.set_fixed_voters(options.nodes);
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
      checker_.add_violation("storage_integrity", n.id,
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

bool World::boot(SimNode& n) {
  // Recovery first, as a process would: replay the write-ahead log from the disk.
  node::NodeStorageOptions storage_options;
  storage_options.wal_dir = kWalDir;
  storage_options.snapshot_dir = kSnapshotDir;
  storage_options.wal = storage::WalOptions{options_.wal_segment_bytes, false};
  storage_options.group = kGroup;
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
  storage::GroupLog& log = n.storage->log();
  const std::shared_ptr<const raft::Snapshot>& snapshot = n.storage->snapshot();
  // The checker's copy of this node's durable log becomes what recovery found: from its snapshot
  // (one a crash made durable before the node could report installing it, perhaps), then its
  // entries.
  if (log.snapshot_index() > LogIndex(0)) {
    checker_.on_snapshot_installed(n.id, log.snapshot_index(), log.snapshot_term());
  }
  {
    std::vector<raft::Entry> recovered;
    if (log.last_index() >= log.first_index()) {
      log.entries(log.first_index(), log.last_index().next(), SIZE_MAX, recovered);
    }
    checker_.on_recovered(n.id, log.first_index(), recovered);
  }
  ++n.incarnation;
  const Rng incarnation_rng = rng_.fork(n.id.value).fork(n.incarnation);
  n.rng = incarnation_rng.fork(1);
  node::NodeConfig config;
  config.raft.id = n.id;
  // Every node starts from the group's initial configuration, n1..nN, and replays the changes
  // from the log; a node added later is simply not in it (yet).
  for (size_t i = 1; i <= options_.nodes; ++i) config.raft.voters.push_back(NodeId(i));
  config.raft.election_ticks = ticks_in(options_.election_timeout_min, options_.tick);
  config.raft.election_ticks_max = std::max(
      config.raft.election_ticks + 1, ticks_in(options_.election_timeout_max, options_.tick) + 1);
  config.raft.heartbeat_ticks = ticks_in(options_.heartbeat, options_.tick);
  config.raft.pre_vote = options_.pre_vote;
  config.raft.check_quorum = options_.check_quorum;
  config.raft.append_entries_max = options_.append_entries_max;
  config.raft.inflight_appends_max = options_.inflight_appends_max;
  config.raft.apply_bytes_max = options_.apply_bytes_max;
  config.pending_requests_max = options_.pending_requests_max;
  config.snapshot_every = options_.snapshot_every;
  config.raft.snapshot_chunk_bytes = options_.snapshot_chunk_bytes;
  config.raft.snapshot = snapshot;
  n.kill = KillPoint::kNone;
  n.node = std::make_unique<node::Node>(config, log, incarnation_rng.fork(2));
  n.sync_requested = false;
  n.paused = false;
  n.inbox.clear();
  n.sync_done_while_paused = false;
  n.role = n.node->raft().role();
  n.term = n.node->raft().term();
  n.leader = kNoNode;
  n.commit = n.node->raft().log().committed();
  checker_.on_restart(n.id, snapshot ? snapshot->meta.index : LogIndex(0));
  // A random phase, so that nodes' ticks are not in lockstep.
  schedule_tick(n, now_ + Duration{1 + n.rng.between(0, options_.tick.ns - 1)});
  if (now_ < n.disk_fault_until) n.node->set_disk_failing(true);
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
  if (!n.node || n.incarnation != incarnation) return;  // a timer of a crashed incarnation
  if (n.paused) return;                                 // the timer chain restarts at resume
  n.node->tick();
  drain(n);
  schedule_tick(n, now_ + tick_period(n));
}

// ---------------------------------------------------------------------------------------------
// The event loop

bool World::step() {
  // After the first safety violation the run is over: what follows would only be consequences,
  // and a broken invariant may trip assertions that hide the root cause.
  if (queue_.empty() || !checker_.ok()) return false;
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
  checker_.set_now(now_);
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
  checker_.add_violation("resource_limit", kNoNode, what);
}

// ---------------------------------------------------------------------------------------------
// Messages between nodes

void World::send_all(SimNode& n, std::vector<raft::Message>& messages) {
  for (raft::Message& m : messages) {
    ++stats_.messages_sent;
    scratch_arrivals_.clear();
    network_.route(n.id, m.to, kind_bit(static_cast<int>(m.type)), now_, scratch_arrivals_);
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
      const uint32_t slot = last ? in_flight_.put(std::move(m)) : in_flight_.put(m);
      queue_.push(scratch_arrivals_[i], Payload{Payload::Kind::kDeliver, to, slot, 0});
    }
  }
}

void World::deliver(NodeId to, uint32_t slot) {
  SimNode& n = node(to);
  if (n.paused) {
    n.inbox.emplace_back(Payload::Kind::kDeliver, slot);
    return;
  }
  raft::Message m = in_flight_.take(slot);
  trace_.add(static_cast<uint64_t>(m.type)).add(m.from.value).add(m.term.value).add(m.index.value);
  if (!n.node) return;  // the node is down: the message is lost
  if (n.resets_seen.count(m.from.value) != 0 && !node(m.from).node) return;  // its stream is gone
  ++stats_.messages_delivered;
  const auto status = n.node->step(m);
  if (!status.is_ok()) {
    // A removed node still talking, or one the receiver's configuration does not list yet.
    GRAPE_ASSERT(status.error().code == raft::StepErrorCode::kUnknownPeer,
                 "the world routed a message wrongly: " << m);
    ++stats_.messages_refused;
    return;
  }
  drain(n);
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
  if (!n.node) {
    // A process that is down refuses the connection (its port is closed): the client learns at
    // once that nothing was done, as from a redirect without a hint, and tries another node.
    // Unless it never started for good (a corrupt disk): then the call is simply lost.
    if (!n.refused_start.empty()) return;
    const uint32_t reply = client_replies_.put(node::ClientReply{
        request.client, request.request, node::ReplyStatus::kRedirect, kNoNode, {}, {}});
    queue_.push(now_ + network_.client_latency(), Payload{Payload::Kind::kClientReply, 0, reply, 0});
    return;
  }
  n.node->on_client_request(request);
  drain(n);
}

void World::deliver_client_reply(uint32_t slot) {
  node::ClientReply reply = client_replies_.take(slot);
  trace_.add(0xC2).add(reply.client).add(reply.request).add(static_cast<uint64_t>(reply.status));
  if (reply_handler_) reply_handler_(*this, reply);
}

// ---------------------------------------------------------------------------------------------
// Ready handling: the same loop a real node runs

void World::drain(SimNode& n) {
  while (n.node && !n.paused && !n.persisting && n.node->has_ready()) {
    start_persist(n);
    // After every Ready, not once per drain: a leadership that begins and ends within one drain
    // must still reach the election-safety checker.
    observe(n);
  }
  observe(n);
}

void World::start_persist(SimNode& n) {
  n.persisting = n.node->take_ready();
  const raft::Ready& r = n.persisting->raft;
  // The writes go to the disk (snapshot files, then the log: staged in memory, one write and one
  // sync request); they are durable only when the sync completes (on_sync_done).
  // A Ready that needs no sync (only the commit index moved) is staged at once, at no cost.
  const bool writes = n.storage->needs_sync(*n.persisting);
  if (!writes && node::has_writes(*n.persisting)) {
    GRAPE_ASSERT(n.storage->persist(*n.persisting).is_ok(), "staging cannot fail");
  }
  n.sync_requested = !writes;
  if (writes) request_sync(n);
  send_all(n, n.persisting->raft.messages);  // these may leave before the disk write completes
  // Answers to clients leave at once too: each reports something already applied (or refused),
  // never something this Ready has yet to make durable, so a slow or failing disk must not hold
  // them back.
  for (node::ClientReply& reply : n.persisting->replies) {
    const uint32_t slot = client_replies_.put(std::move(reply));
    queue_.push(now_ + network_.client_latency(), Payload{Payload::Kind::kClientReply, 0, slot, 0});
  }
  n.persisting->replies.clear();
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
  latency += options_.apply_entry_cost.ns * static_cast<int64_t>(r.entries_to_apply.size());
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
  if (auto persisted = n.storage->persist(*n.persisting); !persisted) {
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
  if (!n.node || n.incarnation != incarnation || !n.persisting) return;
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
  node::NodeReady ready = std::move(*n.persisting);
  n.persisting.reset();
  const raft::Raft& r = n.node->raft();
  const storage::GroupLog& log = n.storage->log();
  if (ready.raft.snapshot) {
    const raft::SnapshotMeta& meta = ready.raft.snapshot->meta;
    checker_.on_snapshot_installed(n.id, meta.index, meta.term);
    note(TraceKind::kNote, n.id,
         "installed a snapshot up to " + std::to_string(meta.index.value) + "@" +
             std::to_string(meta.term.value) + " (" +
             std::to_string(ready.raft.snapshot->data.size()) + " bytes)");
  }
  checker_.on_persist(n.id, ready.raft.entries_to_persist,
                      r.role() == raft::Role::kLeader ? r.term() : Term(0), r.term());
  if (log.last_index().value > options_.log_entries_max) {
    halt_on_resource_limit("n" + std::to_string(n.id.value) + " holds " +
                           std::to_string(log.last_index().value) + " log entries (limit " +
                           std::to_string(options_.log_entries_max) + ")");
  }
  if (maybe_kill(n, KillPoint::kAfterSync)) return;
  send_all(n, ready.raft.messages_after_persist);
  if (maybe_kill(n, KillPoint::kAfterSend)) return;
  for (const raft::Entry& e : ready.raft.entries_to_apply) {
    checker_.on_apply(n.id, e, r.term());
    if (apply_hook_) apply_hook_(n.id, e);
  }
  n.node->advance();
}

void World::observe(SimNode& n) {
  if (!n.node) return;
  const raft::Raft& r = n.node->raft();
  if (r.role() != n.role || r.term() != n.term || r.leader() != n.leader) {
    const bool became_leader =
        r.role() == raft::Role::kLeader && (n.role != raft::Role::kLeader || n.term != r.term());
    n.role = r.role();
    n.term = r.term();
    n.leader = r.leader();
    stats_.max_term = std::max(stats_.max_term, n.term);
    if (became_leader) {
      ++stats_.elections;
      checker_.on_leader_elected(n.id, r.term(), r.log().last_index(),
                                 [&r](LogIndex i) { return r.log().term(i); });
    }
    emit(TraceEvent{now_, TraceKind::kRoleChange, n.id, n.role, n.term, n.leader, {}, {}});
  }
  const LogIndex commit = r.log().committed();
  if (commit != n.commit) {
    n.commit = commit;
    stats_.max_commit = std::max(stats_.max_commit, commit);
    if (r.role() == raft::Role::kLeader) {
      emit(TraceEvent{now_, TraceKind::kCommit, n.id, n.role, n.term, n.leader, commit, {}});
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
  trace_.add(0xFA04).add(id.value).add(n.node ? 1 : 0);
  if (!n.node) {
    note(TraceKind::kNoOp, id, "crash skipped: already down");
    return false;
  }
  n.node.reset();
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
  n.role = raft::Role::kFollower;
  emit(TraceEvent{now_, TraceKind::kCrash, id, {}, n.term, {}, {}, {}});
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
    if (peer->id == crashed || !peer->node || !network_.can_deliver(crashed, peer->id)) continue;
    const NodeId to = peer->id;
    const uint64_t incarnation = peer->incarnation;
    const VirtualTime earliest = now_ + network_.link(crashed, to).latency_max + Duration{1};
    VirtualTime at = earliest;
    if (auto it = dead.last_arrival.find(to.value); it != dead.last_arrival.end()) {
      at = std::max(at, it->second + Duration{1});
    }
    schedule(at, [to, crashed, incarnation](World& w) {
      SimNode& n = w.node(to);
      if (!n.node || n.incarnation != incarnation || n.paused) return;
      n.resets_seen.insert(crashed.value);
      n.node->report_peer_down(crashed);
      w.drain(n);
    });
  }
}

bool World::arm_kill_point(NodeId id, KillPoint point, VirtualTime deadline) {
  SimNode& n = node(id);
  trace_.add(0xFA0C).add(id.value).add(static_cast<uint64_t>(point));
  if (!n.node) {
    note(TraceKind::kNoOp, id, "kill point skipped: already down");
    return false;
  }
  n.kill = point;
  const uint64_t incarnation = n.incarnation;
  // No such moment before the deadline (an idle node, a stalled disk): crash then.
  schedule(std::max(deadline, now_), [id, incarnation](World& w) {
    SimNode& target = w.node(id);
    if (target.node && target.incarnation == incarnation && target.kill != KillPoint::kNone) {
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
  trace_.add(0xFA05).add(id.value).add(n.node ? 1 : 0);
  if (n.node && n.kill != KillPoint::kNone) {
    // Still waiting for its kill point: the crash the restart follows happens now.
    n.kill = KillPoint::kNone;
    crash(id);
  }
  if (n.node) {
    note(TraceKind::kNoOp, id, "restart skipped: already up");
    return false;
  }
  if (!n.refused_start.empty()) {
    note(TraceKind::kNoOp, id, "restart failed: " + n.refused_start);
    return false;
  }
  if (!boot(n)) return false;
  emit(TraceEvent{now_, TraceKind::kRestart, id, n.role, n.term, {}, {}, {}});
  return true;
}

bool World::pause(NodeId id, Duration duration) {
  SimNode& n = node(id);
  trace_.add(0xFA06).add(id.value).add(static_cast<uint64_t>(duration.ns));
  if (!n.node || n.paused) {
    note(TraceKind::kNoOp, id, n.node ? "pause skipped: already paused" : "pause skipped: down");
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
                  n.term,
                  {},
                  {},
                  "for " + std::to_string(duration.ms()) + "ms"});
  return true;
}

void World::on_resume(NodeId id, uint64_t incarnation) {
  SimNode& n = node(id);
  if (!n.node || n.incarnation != incarnation || !n.paused) return;
  n.paused = false;
  emit(TraceEvent{now_, TraceKind::kResume, id, {}, n.term, {}, {}, {}});
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
    if (!n.node || n.incarnation != incarnation) break;  // a kill point struck meanwhile
    if (stage == 0) {
      for (int i = 0; i < burst && n.node; ++i) {
        n.node->tick();
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
      n.term,
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
  if (n.node) n.node->set_disk_failing(true);
  schedule(until, [id, full](World& w) {
    SimNode& target = w.node(id);
    if (w.now() < target.disk_fault_until) return;  // a later fault still holds
    target.disk.set_full(false);
    target.disk.set_eio(false);
    if (target.node) target.node->set_disk_failing(false);
    w.note(TraceKind::kDiskFault, id, full ? "disk has space again" : "disk works again");
  });
  emit(TraceEvent{now_,
                  TraceKind::kDiskFault,
                  id,
                  {},
                  n.term,
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
                  n.term,
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
  GRAPE_ASSERT(n.node, "propose at n" << id << " while it is down");
  auto result = n.node->propose(std::move(command));
  drain(n);
  return result;
}

NodeId World::add_node() {
  checker_.set_fixed_voters(0);
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
  if (!n.node) return Unexpected(raft::ProposeError{raft::ProposeErrorCode::kNotLeader, kNoNode});
  checker_.set_fixed_voters(0);  // copies on learners or removed nodes would count otherwise
  auto result = n.node->propose_conf_change(change);
  drain(n);
  return result;
}

bool World::campaign(NodeId id) {
  SimNode& n = node(id);
  trace_.add(0xFA0A).add(id.value);
  if (!n.node || n.paused) {
    note(TraceKind::kNoOp, id, "campaign skipped: the node is down or paused");
    return false;
  }
  n.node->campaign();
  drain(n);
  return true;
}

Status<raft::TransferError> World::transfer_leadership(NodeId from, NodeId to) {
  SimNode& n = node(from);
  if (!n.node) return Unexpected(raft::TransferError{raft::TransferErrorCode::kNotLeader});
  auto status = n.node->transfer_leadership(to);
  drain(n);
  return status;
}

bool World::is_up(NodeId id) const { return node(id).node != nullptr; }

const raft::Raft* World::raft(NodeId id) const {
  const SimNode& n = node(id);
  return n.node ? &n.node->raft() : nullptr;
}

const kv::KvStore* World::kv(NodeId id) const {
  const SimNode& n = node(id);
  return n.node ? &n.node->kv() : nullptr;
}

const raft::LogStore& World::store(NodeId id) const {
  const SimNode& n = node(id);
  GRAPE_ASSERT(n.storage != nullptr, "n" << id << " is down: its log is on its disk only");
  return n.storage->log();
}

std::optional<NodeId> World::leader() const {
  std::optional<NodeId> best;
  Term best_term;
  for (const auto& n : nodes_) {
    if (!n->node) continue;
    const raft::Raft& r = n->node->raft();
    if (r.role() == raft::Role::kLeader && (!best || r.term() > best_term)) {
      best = n->id;
      best_term = r.term();
    }
  }
  return best;
}

LogIndex World::max_commit_index() const {
  LogIndex commit;
  for (const auto& n : nodes_) {
    if (n->node) commit = std::max(commit, n->node->raft().log().committed());
  }
  return commit;
}

std::string World::failure_report() const {
  if (checker_.ok()) return {};
  const Violation& v = checker_.violations().front();
  std::ostringstream out;
  out << v.property << " violated at " << v.at << " on n" << v.node << ": " << v.detail << " (seed "
      << options_.seed << ", " << checker_.violations().size() << " violation(s) in all)";
  return out.str();
}

}  // namespace grape::sim
