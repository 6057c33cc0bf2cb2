#pragma once
// node::Host: the multi-Raft host of one grape process (DESIGN.md 2.5). It hosts many groups'
// replicas (node::Node: a Raft group and its key-value state machine), all over one write-ahead
// log, and batches what they do so that a thousand idle groups cost little:
//
//   - one Ready for all groups: the driver persists every group's writes and syncs once;
//   - messages leave in one batch per peer per Ready (TiKV's batched raft messages); every group
//     it leads beats on the same tick, so idle groups' heartbeats to a peer travel as one batch
//     per heartbeat interval (CockroachDB's coalesced heartbeats), and so do the answers, when
//     the driver steps a whole batch before taking the next Ready;
//   - a tick of an idle follower group is a counter increment.
//
// The driver's loop is node::Node's, once for all groups:
//
//   host.tick() / host.step(batch) / host.on_client_request(request)
//   while (host.has_ready()) {
//     HostReady r = host.take_ready();
//     persist each r.groups[i].ready (one sync for all); send r.batches (any time) and
//     r.batches_after_persist (after the sync); send each group's replies and r.refused;
//     host.advance();
//   }
//
// Pure and deterministic: groups are kept and visited in id order.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/base/expected.h"
#include "core/base/ids.h"
#include "core/base/rng.h"
#include "core/node/node.h"
#include "core/shard/control.h"
#include "core/shard/executor.h"
#include "core/shard/meta.h"
#include "core/shard/routing.h"

namespace grape::node {

// One group's message, as hosts exchange them; or, with `control` set, a placement message
// (core/shard/control.h) whose `message` carries only from and to.
struct GroupMessage {
  GroupId group;
  raft::Message message;
  std::optional<shard::Control> control;
  bool operator==(const GroupMessage&) const = default;
};

// A replica a move asks this host to create (empty, with the group's initial configuration):
// the driver opens its log and calls add_group().
struct GroupToCreate {
  GroupId group;
  std::vector<NodeId> initial_voters;
};

// Which moves a replica's life on this host belongs to: the move that created it (0: an initial
// replica) and the move whose drop removed it (0: none). The driver keeps them durable and gives
// them back at a restart (restore_replica_history): a drop or a command older than the replica's
// creation is stale, and a dropped replica stays dropped (TiKV's tombstones).
struct ReplicaHistory {
  GroupId group;
  uint64_t created_by = 0;
  uint64_t dropped_by = 0;
  // A replica a move created has since seen itself a learner in its configuration (it is no
  // longer passive: raft::Config::passive); until then a restart starts it passive again.
  bool caught_up = false;
  bool operator==(const ReplicaHistory&) const = default;
};

// How a sharded host drives placement: the executor (on the metadata group's leader), moves (on
// shard leaders) and preferred leaders, every `interval_ticks`.
struct PlacementHostOptions {
  shard::ExecutorOptions executor;
  int interval_ticks = 10;
  // A leader hands its shard to the preferred leader at most this often (a transfer that fails,
  // the target down or behind, is not retried at once).
  int transfer_backoff_ticks = 100;
  // A learner within this many entries of the leader's last index has caught up.
  uint64_t catch_up_lag = 16;
  // The metadata group's members (where load reports go) and how often they go.
  std::vector<NodeId> meta_voters;
  int load_report_ticks = 100;
};

// Everything one host sends one peer in one Ready.
struct PeerBatch {
  NodeId from;
  NodeId to;
  std::vector<GroupMessage> messages;
  bool operator==(const PeerBatch&) const = default;
};

struct GroupReady {
  GroupId group;
  NodeReady ready;  // its raft messages are moved into the batches; replies carry the group
};

struct HostReady {
  std::vector<GroupReady> groups;                // in group order
  std::vector<PeerBatch> batches;                // may leave at once
  std::vector<PeerBatch> batches_after_persist;  // once every group's writes are durable
  std::vector<ClientReply> refused;              // requests for groups not hosted here
  std::vector<GroupToCreate> create;             // replicas to create (a move's new node)
  std::vector<GroupId> dropped;                  // replicas dropped: the driver closes their logs
  std::vector<ReplicaHistory> history;           // to keep durable (see ReplicaHistory)
  size_t message_count() const;
};

enum class HostErrorCode : uint8_t {
  kUnknownGroup,  // no replica of that group here
  kGroupExists,   // add_group of a group already hosted
  kWrongNode,     // a group's config names another node, or a message is for another node
  kRaft,          // the group's Raft refused the message (see detail)
};

struct HostError {
  HostErrorCode code = HostErrorCode::kUnknownGroup;
  GroupId group;
  std::string detail;
  raft::StepErrorCode raft_code{};  // kRaft: why Raft refused it
};

// What the metadata group's members hear of a shard's traffic (kLoad reports from every node):
// requests served over the last complete window, whoever served them, and the shard's size as
// its leader last reported it.
struct ShardTraffic {
  uint64_t requests = 0;            // in the last complete window, all replicas together
  uint64_t follower_requests = 0;   // of which its followers served (reads)
  bool has_bytes = false;
  uint64_t bytes = 0;
};

class Host {
 public:
  // `heartbeat_ticks`: the heartbeat interval every hosted group uses (their Raft configs must
  // agree with it; it sets the beat all leaders share).
  Host(NodeId id, int heartbeat_ticks);

  NodeId id() const { return id_; }

  // Starts hosting a replica of `group` over `store` (its view of the shared log), drawing from
  // `rng` (the driver derives one per group, so that adding a group leaves the others' draws
  // alone).
  [[nodiscard]] Status<HostError> add_group(GroupId group, const NodeConfig& config,
                                            const raft::LogStore& store, Rng rng);
  // Stops hosting it (its replica was moved away): its state is dropped; the driver deletes its
  // log. Messages for it are then refused with kUnknownGroup.
  void remove_group(GroupId group);
  bool hosts(GroupId group) const { return groups_.count(group) != 0; }
  size_t group_count() const { return groups_.size(); }
  std::vector<GroupId> group_ids() const;
  // A replica, to act on (campaign, propose, transfer): it is then looked at for a Ready.
  Node* group(GroupId group);
  const Node* group(GroupId group) const;

  void tick();
  // The connection to `peer` closed (see Raft::report_peer_down): every group hears it.
  void report_peer_down(NodeId peer);
  // Limits the snapshot bytes this host's leaders send (moves send whole shards) to
  // `bytes_per_tick` per tick on average and `burst` at once (raised to at least one chunk of
  // `chunk_bytes`); 0: no limit. For the groups added afterwards.
  void limit_snapshot_rate(uint64_t bytes_per_tick, uint64_t burst, uint64_t chunk_bytes);
  const raft::SnapshotBudget& snapshot_budget() const { return snapshot_budget_; }
  // The disk refuses writes: every group refuses client writes meanwhile (Node::set_disk_failing).
  void set_disk_failing(bool failing);
  // Steps one message into its group.
  [[nodiscard]] Status<HostError> step(const GroupMessage& message);
  // Steps a whole batch; returns the errors (a message for an unknown group is refused alone).
  std::vector<HostError> step(const PeerBatch& batch);
  // A client request for `request.group`: answered by that replica (redirect, refusal, result),
  // or, when no replica is here, at once with kRedirect. With routes set (a sharded host), a
  // request for a shard must carry the shard's current epoch: else kStaleEpoch (or kRedirect
  // when this host is the one behind), and every redirect carries the host's route entry.
  void on_client_request(const ClientRequest& request);

  // After a restart: what the driver kept of each replica's history.
  void restore_replica_history(const ReplicaHistory& history);

  // Sharded: placement. The host runs the executor while it leads the metadata group, drives
  // the moves of the shards it leads, and hands shards to their preferred leaders.
  void enable_placement(PlacementHostOptions options);
  // An operator's write to the metadata state (a node joins or leaves, a rebalance): proposed
  // when this host leads the metadata group. False otherwise (ask the leader).
  bool propose_meta(const kv::Command& command);
  // The metadata state as this host's replica has applied it (empty without one).
  std::optional<shard::MetaState> meta_state() const;

  // Sharded, on the metadata group's members: each shard's traffic, and the window it is
  // measured over (the executor's load check).
  const std::map<uint32_t, ShardTraffic>& shard_traffic() const { return traffic_; }
  int traffic_window_ticks() const;

  // Sharded: the route entries this host knows (from the metadata group), newest wins.
  void set_route(const shard::RouteEntry& entry) { routes_.update(entry); }
  const shard::RouteEntry* route(uint32_t shard) const { return routes_.find(shard); }

  bool has_ready() const;
  HostReady take_ready();
  void advance();

  uint64_t ticks() const { return ticks_; }

 private:
  struct Replica {
    std::unique_ptr<Node> node;
    Term aligned_term;  // the term whose leadership was last aligned to the host's beat
  };

  // Puts a group's messages into the per-peer batches, preserving each group's order.
  void route(GroupId group, std::vector<raft::Message>& messages, std::vector<PeerBatch>& into);
  // An answer that does not serve the request, now: kRedirect or kStaleEpoch with the route.
  void refuse(const ClientRequest& request, ReplyStatus status);
  // The route entry for a shard group, its leader hint refreshed from the replica here.
  std::optional<shard::RouteEntry> current_route(GroupId group) const;
  void align_new_leaders();
  void handle_control(NodeId from, const shard::Control& control);
  void handle_drop(NodeId executor, const shard::Control& control);
  void send_control(NodeId to, GroupId group, shard::Control control);
  void run_executor();
  void drive_moves();
  void drive_move(GroupId group, Node& node, const shard::Control& move, NodeId executor);
  void hand_to_preferred_leaders();
  void report_load();

  NodeId id_;
  int heartbeat_ticks_;
  uint64_t ticks_ = 0;
  std::map<GroupId, Replica> groups_;
  // Groups that may have a Ready: stepped, asked, ticked into one, acted on or advanced since
  // they were last taken. has_ready() and take_ready() look at these only, so that a message to
  // one group of a thousand costs one group's work.
  mutable std::set<GroupId> dirty_;
  std::vector<ClientReply> refused_;  // requests for groups not hosted here
  shard::RouteCache routes_;
  // Placement (sharded hosts).
  std::optional<PlacementHostOptions> placement_;
  std::unique_ptr<shard::Executor> executor_;
  mutable std::optional<shard::MetaState> meta_cache_;  // the metadata state as of meta_cache_index_
  mutable LogIndex meta_cache_index_;
  const shard::MetaState* cached_meta() const;
  struct ActiveMove {
    shard::Control move;
    NodeId executor;  // where to report it done
  };
  std::map<GroupId, ActiveMove> moves_;               // moves of groups hosted here
  std::map<GroupId, uint64_t> last_transfer_;         // tick of the last hand-off, per group
  // The move that created this host's replica of a group (none: an initial replica); a drop
  // for an older move is stale (the replica was added back since) and ignored.
  std::map<GroupId, uint64_t> created_by_move_;
  // The move whose drop removed this host's replica of a group: a command of that move or an
  // older one must not create the replica again.
  std::map<GroupId, uint64_t> dropped_by_move_;
  std::map<GroupId, bool> caught_up_;   // see ReplicaHistory::caught_up
  // Replicas started passive, until they are no longer, with the epoch of their shard's route
  // when they started: a newer route that lists this host ends it (the move that created the
  // replica is done, whether or not the replica ever saw itself a learner: a snapshot taken after
  // its promotion may have carried it past that).
  std::map<GroupId, Epoch> passive_;
  void note_caught_up();
  std::set<GroupId> creating_;                        // asked of the driver, not yet added
  std::vector<GroupMessage> control_out_;             // placement messages for the next Ready
  std::vector<GroupToCreate> create_;
  std::vector<GroupId> dropped_;
  std::map<uint32_t, shard::ShardServed> served_;  // per shard since the last load report
  std::map<uint32_t, uint64_t> reported_bytes_;     // size of each shard led here, last reported
  std::map<uint32_t, ShardTraffic> traffic_;        // heard from every node (metadata members)
  std::map<uint32_t, std::pair<uint64_t, uint64_t>> traffic_window_;  // (all, by followers) now
  void note_traffic(const shard::Control& report);
  void close_traffic_window();
  std::vector<ReplicaHistory> history_out_;
  // Drops handled (executor, drop), acknowledged after the Ready that carries them is durable.
  std::vector<std::pair<NodeId, shard::Control>> drop_acks_;
  std::vector<std::pair<NodeId, shard::Control>> acks_taken_;
  void note_history(GroupId group);
  std::vector<GroupId> taken_;        // groups whose Ready is being handled
  raft::SnapshotBudget snapshot_budget_;
  uint64_t snapshot_bytes_per_tick_ = 0;  // 0: no limit
  uint64_t snapshot_burst_ = 0;
};

}  // namespace grape::node
