#pragma once
// World: a whole cluster in one thread on virtual time. It owns the event queue, the simulated
// network, and one SimNode per member: the real node::Node (Raft group and key-value state
// machine) over a MemoryLogStore that plays the node's disk. It drives each node exactly as a real
// process does (ticks from a timer, messages and client requests in, Ready out: persist, send,
// reply, apply, advance) and checks the Raft safety properties online.
//
// Determinism: everything random is drawn from Rngs forked from the one seed (the network, each
// node, each node's incarnations), events at equal times run in insertion order, and no container
// whose order depends on addresses reaches the output. Same options and seed, same trace_hash().
//
// Crash: the node's volatile state (its Raft object, timers, unsynced writes) is gone; its store
// keeps what was persisted. Restart: a new Raft is built from the store, as a process would.
// Pause: the process is alive but takes no steps; what arrives meanwhile waits in its socket
// buffers. Drift: its timer runs fast or slow. Disk stall: its syncs do not complete.

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/expected.h"
#include "core/base/hash.h"
#include "core/base/rng.h"
#include "core/node/host.h"
#include "core/node/node.h"
#include "core/raft/log_store.h"
#include "core/raft/raft.h"
#include "core/shard/placement.h"
#include "sim/checker.h"
#include "sim/event_queue.h"
#include "sim/network.h"
#include "sim/sim_disk.h"
#include "sim/slab.h"
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
  // A rare slow sync (FoundationDB's BUGGIFY'd disks): with this probability a sync takes
  // [disk_sync_min, disk_slow_sync_max] instead.
  double disk_slow_sync_rate = 0.0;
  Duration disk_slow_sync_max = Duration{0};
  // Virtual time to apply one committed entry (0: instant). A Ready completes once its writes
  // are synced and its entries applied.
  Duration apply_entry_cost;
  // The node's knobs (see raft::Config and node::NodeConfig); sim/chaos.h varies them per seed.
  size_t append_entries_max = 64;
  size_t inflight_appends_max = 256;
  size_t apply_bytes_max = 4 * 1024 * 1024;
  size_t pending_requests_max = 100'000;
  // On resume from a pause: how many of the missed ticks fire at once (a real timer fires in a
  // burst after a stall), at most; 1 = exactly one tick. The order of the backlog (ticks, the
  // finished sync, the inbox) is drawn at random when this is above 1.
  int resume_ticks_max = 1;
  NetworkChaos network_chaos;  // rare long delays and late replays (sim/network.h)
  // Resource limits: past any of them the run halts with a `resource_limit` violation instead of
  // exhausting memory or time whatever the core does.
  size_t events_queued_max = 2'000'000;     // ~32 bytes each
  size_t messages_in_flight_max = 200'000;  // a message carries up to a batch of entries
  // A new write-ahead-log segment once the current one is this large (small: segments roll and
  // are replayed across often in the simulator).
  uint64_t wal_segment_bytes = 256 * 1024;
  // Snapshots: every this many applied entries (0: never), sent to lagging followers in chunks
  // of this many bytes.
  uint64_t snapshot_every = 0;
  size_t snapshot_chunk_bytes = 64 * 1024;
  // Snapshot bytes per second a node's leaders send, all groups together (0: no limit): the
  // real node's --snapshot-rate default.
  uint64_t snapshot_bytes_per_sec = uint64_t{64} << 20;
  uint64_t log_entries_max = 2'000'000;     // per node (the checker keeps a digest of each)
  // Sharded (shards > 0): besides the metadata group (group 1, on the first 3 nodes, 5 from 7
  // nodes on), shard s is group s + 2 on `replication` nodes placed by core/shard/placement.
  // 0: one group, group 1, on every node.
  uint32_t shards = 0;
  uint32_t replication = 3;
  uint32_t moves_in_flight_max = 4;  // sharded: the executor's limit
  uint64_t events_max = 200'000'000;        // about a minute of one core
};

struct WorldStats {
  uint64_t events = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_delivered = 0;
  uint64_t elections = 0;  // leaders elected
  uint64_t client_requests = 0;
  uint64_t messages_refused = 0;  // from nodes outside the receiver's configuration
  // Sharded: bytes of log entries and snapshot chunks sent to replicas that moves created.
  uint64_t move_bytes = 0;
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
  // Runs one event; false when nothing is left to run, or once a safety property is violated
  // (the world halts at the first violation, with virtual time where it happened).
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
  // No-ops (recorded in the trace) when the node is already down, or already up; each returns
  // whether it applied.
  bool crash(NodeId node);
  bool restart(NodeId node);
  // The node takes no steps for `duration`; messages, requests and syncs wait until it resumes.
  bool pause(NodeId node, Duration duration);
  // The node's timer runs `rate` times as fast for `duration`.
  bool drift(NodeId node, double rate, Duration duration);
  // The node's disk refuses writes for `duration`: with kFull (no space), or with kIo (I/O
  // errors, which also fail reads, hence a start). The node refuses client writes meanwhile and
  // recovers on its own afterwards.
  bool fail_disk(NodeId node, storage::DiskErrorCode code, Duration duration);
  // Crashes the node at its next protocol moment of this kind (a kill point, as FoundationDB and
  // TigerBeetle's simulators place them), or at `deadline` if none comes first:
  //   kBeforeSync:  its Ready's writes were handed to the disk but are not durable;
  //   kAfterSync:   durable, but the messages that depend on them were not sent;
  //   kAfterSend:   sent, but nothing applied and the Ready not acknowledged.
  enum class KillPoint : uint8_t { kNone, kBeforeSync, kAfterSync, kAfterSend };
  bool arm_kill_point(NodeId node, KillPoint point, VirtualTime deadline);
  // Disk faults that strike at the node's next crash.
  using CrashFault = sim::DiskCrashFault;  // kPlain, kLoseUnsynced, kTornWrite, kCorrupt
  void arm_crash_fault(NodeId node, CrashFault fault);
  // Why a node refuses to start (its disk is corrupt), or empty.
  const std::string& refused_start(NodeId node) const;
  // Records a note (a fault that did not apply and why, a scenario comment) in the trace.
  void note(TraceKind kind, NodeId node, std::string detail);
  bool is_paused(NodeId node) const;

  // --- membership --------------------------------------------------------------------------
  // Starts a new, empty node n(N+1) with the group's initial configuration: it is no member until
  // a leader adds it (it follows the leader's appends and learns the configuration from the log).
  NodeId add_node();
  // Stops a node that has left the configuration for good: it is never restarted.
  void decommission(NodeId node);
  // Proposes a configuration change at `node` (which must be up and leader to succeed).
  Expected<LogIndex, raft::ProposeError> propose_conf_change(NodeId node,
                                                             const raft::ConfChange& change);

  // --- groups ------------------------------------------------------------------------------
  // Group 1 is the only group of an unsharded world, and the metadata group of a sharded one.
  static constexpr GroupId kFirstGroup{1};
  static GroupId shard_group(uint32_t shard) { return GroupId(shard + 2); }
  bool sharded() const { return options_.shards > 0; }
  // Every group and its initial voters, in id order.
  const std::map<GroupId, std::vector<NodeId>>& groups() const { return groups_; }
  // Sharded: replicas will move (add_node, remove_node, rebalance); the checkers stop assuming
  // each shard's voters are fixed.
  void enable_moves();
  // Sharded: an operator's write to the metadata state, proposed at the metadata group's leader;
  // false when there is none (try again later).
  bool propose_meta(const kv::Command& command);
  // Sharded: the metadata state at the metadata group's leader, if any.
  std::optional<shard::MetaState> meta_state() const;

  // --- clients -----------------------------------------------------------------------------
  // Proposes `command` at `node` directly (tests, benchmarks); the node must be up.
  Expected<LogIndex, raft::ProposeError> propose(NodeId node, Bytes command);
  // Sends a client request to `node` over the client network (default latency, never
  // partitioned); lost if the node is down when it arrives. Answers reach the reply handler.
  void send_client_request(NodeId node, node::ClientRequest request);
  using ClientReplyHandler = std::function<void(World&, const node::ClientReply&)>;
  void set_client_reply_handler(ClientReplyHandler handler) { reply_handler_ = std::move(handler); }
  bool campaign(NodeId node);
  Status<raft::TransferError> transfer_leadership(NodeId from, NodeId to);
  // Called for every entry a node applies, in order.
  using ApplyHook = std::function<void(NodeId, const raft::Entry&)>;
  void set_apply_hook(ApplyHook hook) { apply_hook_ = std::move(hook); }
  void set_trace_sink(TraceSink sink) { trace_sink_ = std::move(sink); }

  // --- observing ---------------------------------------------------------------------------
  size_t node_count() const { return nodes_.size(); }
  std::vector<NodeId> node_ids() const;
  bool is_up(NodeId node) const;
  // The live Raft of `node`'s replica of `group`, or nullptr while it is down (or hosts none).
  const raft::Raft* raft(NodeId node, GroupId group = kFirstGroup) const;
  // The live key-value state of `node`'s replica of `group`, or nullptr.
  const kv::KvStore* kv(NodeId node, GroupId group = kFirstGroup) const;
  // The log of an up node (its write-ahead log's view for the group).
  const raft::LogStore& store(NodeId node, GroupId group = kFirstGroup) const;
  // The groups whose log on an up node holds anything (entries or a snapshot mark).
  std::vector<GroupId> groups_with_log(NodeId node) const;
  // The up node that leads `group` in the highest term, if any.
  std::optional<NodeId> leader(GroupId group = kFirstGroup) const;
  // The highest commit index of `group` among up nodes.
  LogIndex max_commit_index(GroupId group = kFirstGroup) const;
  const WorldStats& stats() const { return stats_; }
  uint64_t trace_hash() const { return trace_.digest(); }
  // The safety checker of a group (one per group: the properties are per group).
  const SafetyChecker& checker(GroupId group = kFirstGroup) const;
  bool checks_passed() const { return violation_count_ == 0; }
  // Every group's violations, group 1's first.
  std::vector<Violation> violations() const;
  // The first violation with seed, time and what to run to replay it; empty when none.
  std::string failure_report() const;
  const WorldOptions& options() const { return options_; }

 private:
  struct SimNode;
  // One queued event: a message delivery, a node's tick, a disk sync completing, or an action.
  struct Payload {
    enum class Kind : uint8_t {
      kDeliver,
      kTick,
      kSyncDone,
      kAction,
      kClientRequest,
      kClientReply,
      kResume
    };
    Kind kind = Kind::kAction;
    uint32_t node = 0;
    uint32_t slot = 0;  // kDeliver: message slot; kAction: action; kClient*: request/reply slot
    uint64_t incarnation = 0;
  };

  SimNode& node(NodeId id);
  const SimNode& node(NodeId id) const;
  // Starts the node's process from its disk; false if the log cannot be opened (the reason is
  // in the trace; an I/O failure is retried, corruption is not).
  bool boot(SimNode& n);
  void start_failed(SimNode& n, bool corrupt, const std::string& what, const std::string& message);
  void schedule_tick(SimNode& n, VirtualTime at);
  void deliver(NodeId to, uint32_t slot);
  void deliver_client_request(NodeId to, uint32_t slot);
  void deliver_client_reply(uint32_t slot);
  void on_tick(NodeId id, uint64_t incarnation);
  void on_sync_done(NodeId id, uint64_t incarnation);
  void on_resume(NodeId id, uint64_t incarnation);
  Duration tick_period(const SimNode& n) const;
  // Takes and handles every Ready the node has, then reports what changed (sharded: in the
  // groups `touched` and those that had a Ready).
  void drain(SimNode& n, const std::vector<GroupId>& touched = {});
  void place_groups();
  node::NodeConfig group_config(NodeId id, GroupId group) const;
  node::PlacementHostOptions placement_options() const;
  bool start_group(SimNode& n, GroupId group, const Rng& incarnation_rng);
  // The term and role the timeline shows for a node: its replica of group 1's.
  Term shown_term(const SimNode& n) const;
  raft::Role shown_role(const SimNode& n) const;
  void report_connections_closed(NodeId crashed);
  void start_persist(SimNode& n);
  void finish_persist(SimNode& n);
  void schedule_sync_done(SimNode& n, VirtualTime at);
  void request_sync(SimNode& n);
  // Crashes `n` if it is armed for `point`; returns whether it did.
  bool maybe_kill(SimNode& n, KillPoint point);
  void halt_on_resource_limit(const std::string& what);
  void send_all(SimNode& n, std::vector<node::PeerBatch>& batches);
  void send_one(SimNode& n, node::GroupMessage& message);
  // Reports role, term and commit changes of the node's replicas of `groups` (all when empty).
  void observe(SimNode& n, const std::vector<GroupId>& groups = {});
  void observe_group(SimNode& n, GroupId group);
  void check_moves_catch_up(SimNode& n, GroupId group, const raft::Raft& r,
                            const std::vector<raft::Entry>& entries);
  // The group's checker, its clock set to now.
  SafetyChecker& check(GroupId group);
  // The groups `node` hosts: every group whose initial voters include it (an unsharded world's
  // added nodes host group 1 too).
  std::vector<GroupId> hosted_by(NodeId node) const;
  node::Node* replica(SimNode& n, GroupId group);
  const node::Node* replica(const SimNode& n, GroupId group) const;
  void emit(TraceEvent event);

  WorldOptions options_;
  Rng rng_;
  VirtualTime now_;
  EventQueue<Payload> queue_;
  SimNetwork network_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  Slab<node::GroupMessage> in_flight_;
  Slab<node::ClientRequest> client_requests_;
  Slab<node::ClientReply> client_replies_;
  ClientReplyHandler reply_handler_;
  Slab<std::function<void(World&)>> actions_;
  std::map<GroupId, std::vector<NodeId>> groups_;
  shard::ShardMap shard_map_;  // sharded: the initial placement
  std::set<std::pair<uint64_t, uint64_t>> moved_in_;  // (node, group) replicas moves created
  mutable std::map<GroupId, SafetyChecker> checkers_;
  size_t violation_count_ = 0;  // over every checker, kept by check()
  Hasher trace_;
  WorldStats stats_;
  ApplyHook apply_hook_;
  TraceSink trace_sink_;
  std::vector<VirtualTime> scratch_arrivals_;
};

}  // namespace grape::sim
