#include "sim/world.h"

#include <algorithm>
#include <sstream>

#include "core/base/assert.h"

namespace grape::sim {

namespace {
// The world whose assertion is failing, for the crash hook (the simulator is single-threaded).
thread_local const World* g_current_world = nullptr;

void print_world_on_crash() {
  if (g_current_world == nullptr) return;
  std::fprintf(stderr, "  simulated world: seed %llu, virtual time %lld ns, %llu events run\n",
               static_cast<unsigned long long>(g_current_world->options().seed),
               static_cast<long long>(g_current_world->now().ns),
               static_cast<unsigned long long>(g_current_world->stats().events));
}

int ticks_in(Duration span, Duration tick) { return static_cast<int>(std::max<int64_t>(1, span / tick)); }
}  // namespace

struct World::SimNode {
  NodeId id;
  raft::MemoryLogStore store;  // the node's disk: survives crashes
  std::unique_ptr<raft::Raft> raft;  // volatile: null while the node is down
  uint64_t incarnation = 0;
  Rng rng{0};                         // this incarnation's draws: tick phase, disk latency
  std::optional<raft::Ready> persisting;  // a Ready whose writes are not yet durable
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
  GRAPE_ASSERT(options.nodes >= 1, "a world needs nodes");
  GRAPE_ASSERT(options.tick.ns > 0, "tick must be positive");
  g_current_world = this;
  set_crash_hook(&print_world_on_crash);
  for (size_t i = 1; i <= options.nodes; ++i) {
    auto n = std::make_unique<SimNode>();
    n->id = NodeId(i);
    nodes_.push_back(std::move(n));
  }
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

void World::boot(SimNode& n) {
  ++n.incarnation;
  const Rng incarnation_rng = rng_.fork(n.id.value).fork(n.incarnation);
  n.rng = incarnation_rng.fork(1);
  raft::Config config;
  config.id = n.id;
  config.voters = node_ids();
  config.election_ticks = ticks_in(options_.election_timeout_min, options_.tick);
  config.election_ticks_max =
      std::max(config.election_ticks + 1, ticks_in(options_.election_timeout_max, options_.tick) + 1);
  config.heartbeat_ticks = ticks_in(options_.heartbeat, options_.tick);
  config.pre_vote = options_.pre_vote;
  config.check_quorum = options_.check_quorum;
  n.raft = std::make_unique<raft::Raft>(config, n.store, incarnation_rng.fork(2));
  n.role = n.raft->role();
  n.term = n.raft->term();
  n.leader = kNoNode;
  n.commit = n.raft->log().committed();
  checker_.on_restart(n.id);
  // A random phase, so that nodes' ticks are not in lockstep.
  schedule_tick(n, now_ + Duration{1 + n.rng.between(0, options_.tick.ns - 1)});
}

void World::schedule_tick(SimNode& n, VirtualTime at) {
  queue_.push(at, Payload{Payload::Kind::kTick, static_cast<uint32_t>(n.id.value), 0, n.incarnation});
}

void World::on_tick(NodeId id, uint64_t incarnation) {
  SimNode& n = node(id);
  if (!n.raft || n.incarnation != incarnation) return;  // a timer of a crashed incarnation
  n.raft->tick();
  drain(n);
  schedule_tick(n, now_ + options_.tick);
}

// ---------------------------------------------------------------------------------------------
// The event loop

bool World::step() {
  if (queue_.empty()) return false;
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
      auto action = std::move(actions_[p.slot]);
      action(*this);
      break;
    }
  }
  return true;
}

void World::run_for(Duration duration) {
  const VirtualTime deadline = now_ + duration;
  while (!queue_.empty() && queue_.top().at <= deadline) step();
  now_ = deadline;
}

bool World::run_until(const std::function<bool(const World&)>& done, Duration limit) {
  const VirtualTime deadline = now_ + limit;
  while (!done(*this)) {
    if (queue_.empty() || queue_.top().at > deadline) {
      now_ = std::max(now_, deadline);
      return done(*this);
    }
    step();
  }
  return true;
}

void World::schedule(VirtualTime at, std::function<void(World&)> action) {
  GRAPE_ASSERT(at >= now_, "cannot schedule in the past: " << at << " < " << now_);
  actions_.push_back(std::move(action));
  queue_.push(at, Payload{Payload::Kind::kAction, 0, static_cast<uint32_t>(actions_.size() - 1), 0});
}

// ---------------------------------------------------------------------------------------------
// Messages

uint32_t World::store_message(raft::Message message) {
  if (!free_slots_.empty()) {
    const uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    in_flight_[slot] = std::move(message);
    return slot;
  }
  in_flight_.push_back(std::move(message));
  return static_cast<uint32_t>(in_flight_.size() - 1);
}

void World::send_all(SimNode& n, std::vector<raft::Message>& messages) {
  for (raft::Message& m : messages) {
    ++stats_.messages_sent;
    scratch_arrivals_.clear();
    network_.route(n.id, m.to, now_, scratch_arrivals_);
    const auto to = static_cast<uint32_t>(m.to.value);
    for (size_t i = 0; i < scratch_arrivals_.size(); ++i) {
      // The last copy takes the message; a duplicate before it gets a copy.
      const bool last = i + 1 == scratch_arrivals_.size();
      const uint32_t slot = last ? store_message(std::move(m)) : store_message(m);
      queue_.push(scratch_arrivals_[i], Payload{Payload::Kind::kDeliver, to, slot, 0});
    }
  }
}

void World::deliver(NodeId to, uint32_t slot) {
  raft::Message m = std::move(*in_flight_[slot]);
  in_flight_[slot].reset();
  free_slots_.push_back(slot);
  trace_.add(static_cast<uint64_t>(m.type)).add(m.from.value).add(m.term.value).add(m.index.value);
  SimNode& n = node(to);
  if (!n.raft) return;  // the node is down: the message is lost
  ++stats_.messages_delivered;
  const auto status = n.raft->step(m);
  GRAPE_ASSERT(status.is_ok(), "the world routed a message wrongly: " << m);
  drain(n);
}

// ---------------------------------------------------------------------------------------------
// Ready handling: the same loop a real node runs

void World::drain(SimNode& n) {
  while (n.raft && !n.persisting && n.raft->has_ready()) start_persist(n);
  observe(n);
}

void World::start_persist(SimNode& n) {
  n.persisting = n.raft->take_ready();
  send_all(n, n.persisting->messages);  // these may leave before the disk write completes
  const int64_t latency = n.rng.between(options_.disk_sync_min.ns, options_.disk_sync_max.ns);
  if (latency == 0) {
    finish_persist(n);
    return;
  }
  queue_.push(now_ + Duration{latency},
              Payload{Payload::Kind::kSyncDone, static_cast<uint32_t>(n.id.value), 0, n.incarnation});
}

void World::on_sync_done(NodeId id, uint64_t incarnation) {
  SimNode& n = node(id);
  if (!n.raft || n.incarnation != incarnation || !n.persisting) return;
  finish_persist(n);
  drain(n);
}

void World::finish_persist(SimNode& n) {
  raft::Ready ready = std::move(*n.persisting);
  n.persisting.reset();
  const raft::Raft& r = *n.raft;
  // A MemoryLogStore cannot fail; the write-ahead log's failures arrive with disk faults.
  GRAPE_ASSERT(n.store.append(ready.entries_to_persist).is_ok(), "memory store append failed");
  if (ready.hard_state) {
    GRAPE_ASSERT(n.store.set_hard_state(*ready.hard_state).is_ok(), "memory store failed");
  }
  checker_.on_persist(n.id, ready.entries_to_persist,
                      r.role() == raft::Role::kLeader ? r.term() : Term(0));
  send_all(n, ready.messages_after_persist);
  for (const raft::Entry& e : ready.entries_to_apply) {
    checker_.on_apply(n.id, e, r.term());
    if (apply_hook_) apply_hook_(n.id, e);
  }
  n.raft->advance();
}

void World::observe(SimNode& n) {
  if (!n.raft) return;
  const raft::Raft& r = *n.raft;
  if (r.role() != n.role || r.term() != n.term || r.leader() != n.leader) {
    const bool became_leader = r.role() == raft::Role::kLeader &&
                               (n.role != raft::Role::kLeader || n.term != r.term());
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

// ---------------------------------------------------------------------------------------------
// Faults

namespace {
std::string describe_nodes(const std::vector<NodeId>& nodes) {
  std::ostringstream out;
  out << "{";
  for (size_t i = 0; i < nodes.size(); ++i) out << (i ? "," : "") << "n" << nodes[i];
  out << "}";
  return out.str();
}
}  // namespace

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
  emit(TraceEvent{now_, TraceKind::kCut, {}, {}, {}, {}, {},
                  describe_nodes(from) + " -> " + describe_nodes(to)});
}

void World::heal_all() {
  network_.heal_all();
  trace_.add(0xFA03);
  emit(TraceEvent{now_, TraceKind::kHeal, {}, {}, {}, {}, {}, {}});
}

void World::crash(NodeId id) {
  SimNode& n = node(id);
  trace_.add(0xFA04).add(id.value).add(n.raft ? 1 : 0);
  if (!n.raft) {
    emit(TraceEvent{now_, TraceKind::kNoOp, id, {}, {}, {}, {}, "crash skipped: already down"});
    return;
  }
  n.raft.reset();
  n.persisting.reset();  // writes not yet synced are lost with the process
  n.role = raft::Role::kFollower;
  emit(TraceEvent{now_, TraceKind::kCrash, id, {}, n.term, {}, {}, {}});
}

void World::restart(NodeId id) {
  SimNode& n = node(id);
  trace_.add(0xFA05).add(id.value).add(n.raft ? 1 : 0);
  if (n.raft) {
    emit(TraceEvent{now_, TraceKind::kNoOp, id, {}, {}, {}, {}, "restart skipped: already up"});
    return;
  }
  boot(n);
  emit(TraceEvent{now_, TraceKind::kRestart, id, n.role, n.term, {}, {}, {}});
}

// ---------------------------------------------------------------------------------------------
// Clients and observers

Expected<LogIndex, raft::ProposeError> World::propose(NodeId id, Bytes command) {
  SimNode& n = node(id);
  GRAPE_ASSERT(n.raft, "propose at n" << id << " while it is down");
  auto result = n.raft->propose(std::move(command));
  drain(n);
  return result;
}

void World::campaign(NodeId id) {
  SimNode& n = node(id);
  if (!n.raft) return;
  n.raft->campaign();
  drain(n);
}

Status<raft::TransferError> World::transfer_leadership(NodeId from, NodeId to) {
  SimNode& n = node(from);
  if (!n.raft) return Unexpected(raft::TransferError{raft::TransferErrorCode::kNotLeader});
  auto status = n.raft->transfer_leadership(to);
  drain(n);
  return status;
}

bool World::is_up(NodeId id) const { return node(id).raft != nullptr; }

const raft::Raft* World::raft(NodeId id) const { return node(id).raft.get(); }

const raft::MemoryLogStore& World::store(NodeId id) const { return node(id).store; }

std::optional<NodeId> World::leader() const {
  std::optional<NodeId> best;
  Term best_term;
  for (const auto& n : nodes_) {
    if (n->raft && n->raft->role() == raft::Role::kLeader && (!best || n->raft->term() > best_term)) {
      best = n->id;
      best_term = n->raft->term();
    }
  }
  return best;
}

LogIndex World::max_commit_index() const {
  LogIndex commit;
  for (const auto& n : nodes_) {
    if (n->raft) commit = std::max(commit, n->raft->log().committed());
  }
  return commit;
}

std::string World::failure_report() const {
  if (checker_.ok()) return {};
  const Violation& v = checker_.violations().front();
  std::ostringstream out;
  out << v.property << " violated at " << v.at << " on n" << v.node << ": " << v.detail
      << " (seed " << options_.seed << ", " << checker_.violations().size()
      << " violation(s) in all)";
  return out.str();
}

}  // namespace grape::sim
