#pragma once
// World: a whole cluster in one thread on virtual time. It owns the event queue, the simulated
// network, and one SimNode per member: the real raft::Raft core over a MemoryLogStore that plays
// the node's disk. It drives each core exactly as a real process does (ticks from a timer, messages
// in, Ready out: persist, send, apply, advance) and checks the Raft safety properties online.
//
// Determinism: everything random is drawn from Rngs forked from the one seed (the network, each
// node, each node's incarnations), events at equal times run in insertion order, and no container
// whose order depends on addresses reaches the output. Same options and seed, same trace_hash().
//
// Crash: the node's volatile state (its Raft object, timers, unsynced writes) is gone; its store
// keeps what was persisted. Restart: a new Raft is built from the store, as a process would.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/expected.h"
#include "core/base/hash.h"
#include "core/base/rng.h"
#include "core/raft/log_store.h"
#include "core/raft/raft.h"
#include "sim/checker.h"
#include "sim/event_queue.h"
#include "sim/network.h"
#include "sim/time.h"
#include "sim/trace.h"

namespace grape::sim {

struct WorldOptions {
  size_t nodes = 3;
  uint64_t seed = 1;
  Duration tick = milliseconds(10);  // one Raft tick
  Duration election_timeout_min = milliseconds(150);
  Duration election_timeout_max = milliseconds(300);
  Duration heartbeat = milliseconds(50);
  bool pre_vote = true;
  bool check_quorum = true;
  LinkSpec network;
  // Time from handing a Ready's writes to the disk until they are durable: [min, max].
  Duration disk_sync_min = Duration{0};
  Duration disk_sync_max = Duration{0};
};

struct WorldStats {
  uint64_t events = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_delivered = 0;
  uint64_t elections = 0;  // leaders elected
  Term max_term;
  LogIndex max_commit;
};

class World {
 public:
  explicit World(const WorldOptions& options);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // --- running -----------------------------------------------------------------------------
  VirtualTime now() const { return now_; }
  // Runs one event; false when nothing is left to run.
  bool step();
  void run_for(Duration duration);
  // Runs until `done(*this)` holds (checked after every event) or `limit` passes; returns
  // whether it held.
  bool run_until(const std::function<bool(const World&)>& done, Duration limit);
  // Runs `action` at virtual time `at` (>= now()), in order with every other event.
  void schedule(VirtualTime at, std::function<void(World&)> action);

  // --- faults ------------------------------------------------------------------------------
  SimNetwork& network() { return network_; }
  const SimNetwork& network() const { return network_; }
  void partition(const std::vector<std::vector<NodeId>>& groups);
  void cut(const std::vector<NodeId>& from, const std::vector<NodeId>& to);
  void heal_all();
  // No-ops (recorded in the trace) when the node is already down, or already up.
  void crash(NodeId node);
  void restart(NodeId node);

  // --- clients -----------------------------------------------------------------------------
  // Proposes `command` at `node` as a client request would; the node must be up.
  Expected<LogIndex, raft::ProposeError> propose(NodeId node, Bytes command);
  void campaign(NodeId node);
  Status<raft::TransferError> transfer_leadership(NodeId from, NodeId to);
  // Called for every entry a node applies, in order.
  using ApplyHook = std::function<void(NodeId, const raft::Entry&)>;
  void set_apply_hook(ApplyHook hook) { apply_hook_ = std::move(hook); }
  void set_trace_sink(TraceSink sink) { trace_sink_ = std::move(sink); }

  // --- observing ---------------------------------------------------------------------------
  size_t node_count() const { return nodes_.size(); }
  std::vector<NodeId> node_ids() const;
  bool is_up(NodeId node) const;
  // The live Raft of `node`, or nullptr while it is down.
  const raft::Raft* raft(NodeId node) const;
  const raft::MemoryLogStore& store(NodeId node) const;
  // The up node that is leader in the highest term, if any.
  std::optional<NodeId> leader() const;
  // The highest commit index among up nodes.
  LogIndex max_commit_index() const;
  const WorldStats& stats() const { return stats_; }
  uint64_t trace_hash() const { return trace_.digest(); }
  const SafetyChecker& checker() const { return checker_; }
  bool checks_passed() const { return checker_.ok(); }
  // The first violation with seed, time and what to run to replay it; empty when none.
  std::string failure_report() const;
  const WorldOptions& options() const { return options_; }

 private:
  struct SimNode;
  // One queued event: a message delivery, a node's tick, a disk sync completing, or an action.
  struct Payload {
    enum class Kind : uint8_t { kDeliver, kTick, kSyncDone, kAction };
    Kind kind = Kind::kAction;
    uint32_t node = 0;
    uint32_t slot = 0;  // kDeliver: message slab slot; kAction: index into actions_
    uint64_t incarnation = 0;
  };

  SimNode& node(NodeId id);
  const SimNode& node(NodeId id) const;
  void boot(SimNode& n);
  void schedule_tick(SimNode& n, VirtualTime at);
  void deliver(NodeId to, uint32_t slot);
  void on_tick(NodeId id, uint64_t incarnation);
  void on_sync_done(NodeId id, uint64_t incarnation);
  // Takes and handles every Ready the node has, then reports what changed.
  void drain(SimNode& n);
  void start_persist(SimNode& n);
  void finish_persist(SimNode& n);
  void send_all(SimNode& n, std::vector<raft::Message>& messages);
  void observe(SimNode& n);
  void emit(TraceEvent event);
  uint32_t store_message(raft::Message message);

  WorldOptions options_;
  Rng rng_;
  VirtualTime now_;
  EventQueue<Payload> queue_;
  SimNetwork network_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::vector<std::optional<raft::Message>> in_flight_;  // message slab, indexed by slot
  std::vector<uint32_t> free_slots_;
  std::vector<std::function<void(World&)>> actions_;
  SafetyChecker checker_;
  Hasher trace_;
  WorldStats stats_;
  ApplyHook apply_hook_;
  TraceSink trace_sink_;
  std::vector<VirtualTime> scratch_arrivals_;
};

}  // namespace grape::sim
