#pragma once
// One Raft group: a pure, deterministic state machine in the style of etcd's raft. Nothing happens
// except through its inputs (tick, step, propose, campaign, transfer_leadership) and it performs no
// I/O: its outputs accumulate in a Ready batch that the driver takes, handles top to bottom
// (persist, send, apply) and acknowledges with advance().
//
// Driver loop (sim::World and net's runtime both do this):
//   feed inputs; while (raft.has_ready()) {
//     Ready r = raft.take_ready();
//     store.append(r.entries_to_persist); store.set_hard_state(*r.hard_state); sync;
//     send(r.messages)  /* may also leave before the sync */;  send(r.messages_after_persist);
//     apply(r.entries_to_apply);
//     raft.advance();
//   }
//
// Implements: randomized election timeouts (from the injected Rng), pre-vote (thesis §9.6),
// check-quorum (§6.2), leader stickiness (§4.2.3), log replication with batching, pipelining
// under an in-flight window and fast back-off on conflict (§5.3), the commit rule of Figure 8,
// leadership transfer (§3.10), and membership change with learners and joint consensus (§4.3,
// etcd's confchange). Single-threaded.
//
// Membership. A configuration (ConfState) takes effect when its entry is APPLIED, as in etcd: the
// driver calls apply_conf_change() for every kConfChange entry it applies, in log order, and that
// is the only way the configuration moves. Consequences:
//   - Config.voters and Config.learners are the group's initial configuration; every member,
//     including one added later, starts from the same one and reaches the current configuration
//     by applying the log. On restart the Raft starts from it again and the driver, which
//     re-applies committed entries from its state machine's start, restores the rest (until
//     snapshots carry a ConfState, a restarted node acts on the initial configuration until the
//     re-applying catches up).
//   - At most one conf change is pending (proposed, not yet applied on the leader; etcd's
//     pendingConfIndex), so each is validated against the configuration it will apply to.
//   - Elections, pre-votes, commit and check-quorum count a majority of the voters and, while
//     joint, also a majority of the outgoing voters. Learners get appends and heartbeats only.
//   - Auto-leave: when a leader has applied a joint configuration (or finds itself leading one)
//     it proposes the empty change that leaves it, once, as soon as nothing else is pending.
//   - A leader that is no voter of the applied configuration (removed, or in C_old only after the
//     leave) keeps leading without counting itself and hands leadership to the most caught-up
//     remaining voter (again after each election timeout, until one wins): stepping down at once
//     could strand voters that do not yet know the change committed. A node that is no voter
//     never campaigns.
//   - A node never campaigns (timer, campaign(), TimeoutNow) while a committed entry that it has
//     not applied yet is a configuration change (etcd's hasUnappliedConfChanges): a restarted
//     node would otherwise stand for election under an older configuration than the one it had
//     applied, and could win a term that the current configuration also elects a leader in.
//
// Elections. A (pre-)candidate counts its own vote only after the Ready that carries its new term
// and vote is persisted (advance()): even a single voter becomes leader one Ready later, never
// inside the call that started the campaign.

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/expected.h"
#include "core/base/rng.h"
#include "core/raft/log_store.h"
#include "core/raft/progress.h"
#include "core/raft/quorum.h"
#include "core/raft/raft_log.h"
#include "core/raft/types.h"

namespace grape::raft {

// Snapshot bytes a node may send now, shared by every group it hosts (TiKV's
// snap-io-max-bytes-per-sec, CockroachDB's snapshot rebalance rate): the host refills it every
// tick; a leader sends a snapshot chunk only if the budget holds it, so that moves, which send
// whole shards, cannot starve the links of the groups' appends. A chunk held back goes out on
// the next acknowledgement or heartbeat answer that finds the budget refilled.
struct SnapshotBudget {
  uint64_t available = 0;  // bytes
  uint64_t held = 0;       // chunks held back for want of budget (a metric)
};

struct Config {
  NodeId id;
  // The initial configuration (see "Membership" above): identical on every member of the group.
  std::vector<NodeId> voters;    // at least one
  std::vector<NodeId> learners;  // non-voters; none of them also a voter
  // Election timeout: drawn uniformly from [election_ticks, election_ticks_max) at every reset.
  // election_ticks is also the check-quorum period and the leader-stickiness window.
  int election_ticks = 10;
  int election_ticks_max = 0;  // 0: 2 * election_ticks
  int heartbeat_ticks = 1;
  bool pre_vote = true;
  // A replica a move created (node::Host sets it): it does not campaign until a configuration it
  // holds (applied, or from a snapshot) lists it as a learner, which only the move that created
  // it does. Until then its configuration may be a stale one in which it is a voter (the group's
  // first, or an old snapshot's, from a previous life on this node), and two such replicas could
  // elect each other with logs missing committed entries (TiKV gives each new peer a new id).
  bool passive = false;
  bool check_quorum = true;
  size_t append_entries_max = 64;            // entries per append message (batching)
  size_t append_bytes_max = 1024 * 1024;     // data bytes per append message
  size_t inflight_appends_max = 256;         // appends in flight per follower (pipelining window)
  size_t apply_bytes_max = 4 * 1024 * 1024;  // committed entries handed out per Ready
  // Snapshot transfer to a follower behind the compacted log: chunk size, and chunks in flight.
  size_t snapshot_chunk_bytes = 64 * 1024;
  size_t snapshot_chunks_inflight_max = 4;
  // The host's snapshot budget (null: no limit); it outlives the Raft.
  SnapshotBudget* snapshot_budget = nullptr;
  // The latest snapshot on stable storage, if any: its configuration is the one in force at its
  // index (not the initial one above), and the store's log starts right after it.
  std::shared_ptr<const Snapshot> snapshot;
};

// A read that may be served once the state machine has applied `index` (thesis §6.4).
struct ReadState {
  LogIndex index;
  uint64_t context = 0;  // the id given to read_index()
  bool operator==(const ReadState&) const = default;
};

// Everything the driver must do, in this order, before calling advance().
struct Ready {
  // A snapshot from the leader to persist (it replaces the whole log: the store's entries are
  // dropped) and, before entries_to_apply, to install into the state machine.
  std::shared_ptr<const Snapshot> snapshot;
  std::optional<HardState> hard_state;          // persist when set
  std::vector<Entry> entries_to_persist;        // may replace a conflicting stored suffix
  std::vector<Message> messages;                // may leave at once, even before persisting
  std::vector<Message> messages_after_persist;  // only once everything above is durable
  std::vector<Entry> entries_to_apply;          // committed, in index order
  // Reads confirmed since the last Ready: serve each once entries up to its index are applied.
  std::vector<ReadState> read_states;

  bool empty() const {
    return !snapshot && !hard_state && entries_to_persist.empty() && messages.empty() &&
           messages_after_persist.empty() && entries_to_apply.empty() && read_states.empty();
  }
  bool operator==(const Ready&) const = default;
};

enum class ProposeErrorCode : uint8_t {
  kNotLeader,
  kTransferInProgress,
  kConfChangePending,  // another conf change is not yet applied, or joint and this is no leave
  kConfChangeInvalid,  // the change cannot apply to the current configuration (see conf_change.h)
};
struct ProposeError {
  ProposeErrorCode code = ProposeErrorCode::kNotLeader;
  NodeId leader_hint;  // where to retry, when known
};

enum class StepErrorCode : uint8_t { kWrongRecipient, kUnknownPeer };
struct StepError {
  StepErrorCode code = StepErrorCode::kWrongRecipient;
  std::string detail;
};

enum class ReadErrorCode : uint8_t { kNoLeader };
struct ReadError {
  ReadErrorCode code = ReadErrorCode::kNoLeader;
};

enum class TransferErrorCode : uint8_t { kNotLeader, kUnknownPeer };  // kUnknownPeer: no voter
struct TransferError {
  TransferErrorCode code = TransferErrorCode::kNotLeader;
};

class Raft {
 public:
  // Restores term, vote, commit and log from `store`, which must outlive the Raft and is written
  // only by the driver while handling a Ready.
  Raft(const Config& config, const LogStore& store, Rng rng);

  // One logical clock tick.
  void tick();
  // A leader's heartbeat clock: ticks since its last heartbeat round. A host of many groups sets
  // it when a group starts leading, so that every group it leads beats on the same tick and their
  // heartbeats to a peer leave together (coalesced). Ignored unless leading.
  void align_heartbeat(int elapsed);
  // Handles a message from a peer. Messages from unknown peers or for another node are refused.
  [[nodiscard]] Status<StepError> step(const Message& message);
  // Appends a command to the leader's log; returns its index (not yet committed).
  [[nodiscard]] Expected<LogIndex, ProposeError> propose(Bytes command);
  // Appends a kConfChange entry to the leader's log; returns its index. It takes effect only when
  // applied (apply_conf_change). Refused off the leader, during a transfer, while another conf
  // change is pending or while joint unless `change` is the leave (the empty change).
  [[nodiscard]] Expected<LogIndex, ProposeError> propose_conf_change(const ConfChange& change);
  // The driver applies a committed kConfChange entry: call in log order, for every one, also
  // when re-applying after a restart, except one at or below log().applied() at the time: a
  // snapshot restored while its Ready was being handled carries its effect already (the
  // snapshot's configuration is in force). Returns the configuration now in force. A change that
  // cannot apply (impossible for entries proposed through propose_conf_change) is ignored by
  // every replica alike.
  ConfState apply_conf_change(const ConfChange& change);
  // As if the election timer fired now (a no-op on a leader or a non-voter).
  void campaign();
  // The transport saw its connection from `peer` close: the peer's process died (the kernel
  // resets its sockets) or the connection broke. A follower that loses its leader this way need
  // not wait out a whole election timeout: it forgets the leader (so it stops refusing pre-votes
  // on the leader's behalf) and campaigns after a short random delay (up to two heartbeats).
  // Only with pre-vote and check-quorum, which keep a false alarm harmless: the other followers,
  // still hearing a live leader, refuse the pre-vote, and no term moves.
  void report_peer_down(NodeId peer);
  // Asks the leader to hand leadership to `to` once it is caught up (thesis §3.10).
  [[nodiscard]] Status<TransferError> transfer_leadership(NodeId to);
  // The driver took (and stored, or is storing) a snapshot: followers behind the compacted log
  // receive it. Compacting the store is the driver's business; it must never pass this
  // snapshot's index.
  void set_latest_snapshot(std::shared_ptr<const Snapshot> snapshot);
  // A linearizable read without the log (thesis §6.4, ReadIndex): a ReadState with `context`
  // comes out in a later Ready once it is safe to serve the read at its index. On the leader:
  // after it has committed an entry of its term, its commit index then becomes the read index
  // once one heartbeat round, shared by every read that arrived meanwhile, confirms that a
  // majority still follows it. On a follower: the leader is asked for the index. A read whose
  // leadership is lost on the way never comes out: the driver gives up on it after a timeout.
  [[nodiscard]] Status<ReadError> read_index(uint64_t context);
  const Snapshot* latest_snapshot() const { return latest_snapshot_.get(); }

  bool has_ready() const;
  Ready take_ready();
  // The last Ready has been handled: its entries and hard state are durable, its messages sent
  // and its entries applied.
  void advance();

  // Read-only view (checkers, status pages, tests).
  NodeId id() const { return id_; }
  Role role() const { return role_; }
  bool passive() const { return passive_; }  // see Config::passive
  // The driver knows otherwise that this replica belongs to the group's current configuration
  // (the shard map lists it, at an epoch newer than its creation's): it may campaign again.
  void end_passive() { passive_ = false; }
  Term term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId leader() const { return leader_; }
  NodeId transfer_target() const { return transfer_target_; }
  const Config& config() const { return config_; }
  const RaftLog& log() const { return log_; }
  const std::vector<NodeId>& voters() const { return conf_state_.voters; }  // incoming
  const ConfState& conf_state() const { return conf_state_; }
  // Leader: the index of the last conf change proposed (or of the last entry when elected).
  LogIndex pending_conf_index() const { return pending_conf_index_; }
  HardState hard_state() const { return {term_, vote_, log_.committed()}; }
  // Leader only: the progress of `peer` (nullptr when not leader or unknown).
  const Progress* progress(NodeId peer) const;

 private:
  enum class CampaignKind : uint8_t { kPreElection, kElection, kTransfer };

  // Role transitions.
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(Term term);
  void reset_election_timeout();

  // Ticks.
  void tick_election();
  void tick_heartbeat();

  // Elections.
  void start_campaign(CampaignKind kind);
  // Campaigns unless committed configuration changes are not yet applied (see "Membership").
  void maybe_campaign(CampaignKind kind);
  bool is_promotable() const;
  // Clears passive once the configuration lists this node as a learner (see Config::passive).
  void note_configuration();
  bool in_lease() const;
  void on_vote_request(const Message& m);
  void on_vote_response(const Message& m);
  void learn_commit_from_vote_response(const Message& m);
  void on_vote_result(VoteResult result);
  void maybe_count_self_vote();
  VoteResult record_vote(NodeId from, bool granted);

  // Membership.
  void switch_to(const ConfState& next);
  void update_progress_to_members(bool new_peers_active);
  void maybe_auto_leave();
  void hand_off_leadership();

  // Term rules common to every message (§5.1); false when the message is done with.
  bool handle_term(const Message& m);
  void step_follower(const Message& m);
  void heard_from_leader(NodeId leader);
  void step_candidate(const Message& m);
  void step_leader(const Message& m);

  // Replication, follower side.
  void on_append(const Message& m);
  void on_heartbeat(const Message& m);
  // Replication, leader side.
  void on_append_response(const Message& m);
  void on_heartbeat_response(const Message& m);
  bool maybe_send_append(NodeId to, bool send_if_empty);
  // Snapshots: leader side (one chunk per call, within the window) and follower side.
  bool maybe_send_snapshot_chunk(NodeId to, Progress& pr);
  void on_snapshot_response(const Message& m);
  void on_snapshot(const Message& m);
  void install_snapshot(std::shared_ptr<const Snapshot> snapshot);
  // ReadIndex, leader side.
  struct PendingRead {
    uint64_t context = 0;
    NodeId from;  // ourselves, or the follower that asked
  };
  void add_read(PendingRead read);
  void maybe_start_read_round();
  void maybe_finish_read_round();
  bool committed_in_current_term() const;
  void send_heartbeat(NodeId to);
  void broadcast_heartbeat();
  void flush_broadcast();
  bool maybe_commit();
  bool quorum_active() const;
  void append_entry(Bytes data, EntryType type = EntryType::kNormal);
  Status<ProposeError> check_can_propose() const;
  void send_timeout_now(NodeId to);

  void send(Message m);

  const Config config_;
  const NodeId id_;
  ConfState conf_state_;
  LogIndex pending_conf_index_;  // leader: no new conf change until applied reaches it
  const int election_ticks_max_;
  Rng rng_;

  Term term_;
  bool passive_ = false;
  NodeId vote_;
  Role role_ = Role::kFollower;
  NodeId leader_;
  RaftLog log_;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_ticks_ = 0;
  // report_peer_down named our leader and no leader has been heard of since: short timeouts.
  bool leader_lost_ = false;

  std::map<NodeId, bool> votes_;  // candidate and pre-candidate
  // A (pre-)candidate's own vote counts only once the Ready carrying its new term and vote has
  // been persisted (advance()), as etcd delivers the self-vote after the write: otherwise a
  // single voter would lead, and send appends, in a term it may forget in a crash.
  enum class SelfVote : uint8_t { kNone, kPending, kHanded };
  SelfVote self_vote_ = SelfVote::kNone;
  Term self_vote_term_;                  // the term the campaign asks for
  std::map<NodeId, Progress> progress_;  // leader: every member (voters, learners), self included
  NodeId transfer_target_;
  // Leader: entries were appended or the commit index moved; appends go out at take_ready()
  // so that many proposals between two Readies leave as one batch per follower.
  bool broadcast_pending_ = false;

  // Outputs accumulated for the next Ready.
  std::vector<Message> messages_;
  std::vector<Message> messages_after_persist_;
  HardState last_handed_hard_state_;
  // What the outstanding Ready handed out, retired by advance().
  bool ready_outstanding_ = false;
  struct LogPosition {
    LogIndex index;
    Term term;
  };
  std::optional<LogPosition> ready_last_persisted_;  // the last entry it handed out to persist
  LogIndex ready_last_applied_;
  std::optional<LogIndex> ready_snapshot_index_;  // the snapshot it handed out to install

  // Snapshots.
  std::shared_ptr<const Snapshot> latest_snapshot_;  // what we send to followers behind
  struct IncomingSnapshot {
    NodeId from;
    Term term;
    SnapshotMeta meta;
    Bytes data;
  };
  std::optional<IncomingSnapshot> incoming_snapshot_;  // chunks received so far
  std::shared_ptr<const Snapshot> snapshot_to_install_;  // for the next Ready

  // ReadIndex (leader): reads wait for the leader's first commit of its term and for a round
  // to start; at most one round of heartbeats is out at a time, confirming every read in it.
  std::vector<PendingRead> reads_waiting_;
  struct ReadRound {
    uint64_t id = 0;
    LogIndex index;  // the commit index when the round started: the read index
    std::vector<PendingRead> reads;
    std::map<NodeId, bool> acks;
  };
  std::optional<ReadRound> read_round_;
  uint64_t next_read_round_ = 1;
  std::vector<ReadState> read_states_;  // for the next Ready
};

}  // namespace grape::raft
