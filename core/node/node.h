#pragma once
// node::Node: the deterministic heart of one grape process. Today it hosts one Raft group with the
// key-value state machine and answers client requests; it grows into the multi-Raft host of the
// design (metadata group plus shard replicas, batched sends) in the sharding issues. Both worlds
// drive it the same way (sim::World now, net's runtime later):
//
//   tick() / step(message) / on_client_request(request)
//   while (node.has_ready()) {
//     NodeReady r = node.take_ready();
//     persist r.raft's entries and hard state; send r.raft.messages (any time) and
//     r.raft.messages_after_persist (after the sync); send r.replies to their clients (any
//     time: they report what was applied, or refused, before this Ready);
//     node.advance();   // applies r.raft.entries_to_apply; their replies come in the next Ready
//   }
//
// Client requests: a follower answers kRedirect with its leader hint; the leader proposes the
// command and answers once the entry is applied. Every request that reaches a live node is
// answered: when it stops leading, each request it proposed is still answered definitely when it
// applies that index (ok if its entry survived, kDropped if another took its place), and those
// still unresolved an election timeout later are answered kUnknown (their fate rests with another
// leader: a node that removed itself, or whose indexes lie past the new leader's log, would
// otherwise never answer). A request whose entry left this node's log is not answered kDropped
// before its index applies: another node may still hold the entry and commit it. Only silence is
// left to the client's timeout: a request whose node crashes, or whose answer is lost.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/base/rng.h"
#include "core/kv/kv.h"
#include "core/raft/raft.h"
#include "core/shard/routing.h"

namespace grape::node {

struct ClientRequest {
  uint64_t client = 0;   // where the answer goes
  uint64_t request = 0;  // the client's id for this call, echoed in the answer
  kv::Command command;
  GroupId group{1};  // the group it is for (node::Host; a single-group node has group 1)
  // Sharded: the epoch of the route entry the client used (0: it has none). A host refuses a
  // request whose epoch is not the shard's current one, with the current entry.
  Epoch epoch;
};

enum class ReplyStatus : uint8_t {
  kOk,        // applied: `result` holds the outcome (a cas with result.ok false did not write)
  kRedirect,  // not the leader; nothing was proposed; retry at `leader_hint` when known
  kRejected,  // refused before proposing (transfer in progress, overloaded); nothing happened
  kDropped,   // proposed, but another entry was committed at its index: it will never apply
  kUnknown,   // proposed, but this node stopped leading and did not learn its fate within an
              // election timeout: it may or may not apply (through a later leader); the client
              // must treat it as indeterminate
  kStaleEpoch,  // sharded: sent with an old (or no) route entry; `route` holds the current one.
                // Nothing was proposed. (Last: the values are hashed into traces and sent.)
};

struct ClientReply {
  uint64_t client = 0;
  uint64_t request = 0;
  ReplyStatus status = ReplyStatus::kOk;
  NodeId leader_hint;
  kv::Result result;
  // The state it reports: the index the write was applied at, or that the read saw (the node's
  // applied index when it answered).
  LogIndex index;
  // The group that answered (set by node::Host; a single-group node leaves it 0).
  GroupId group;
  // Sharded, with kRedirect or kStaleEpoch: the newer route entry this host knows, if any.
  std::optional<shard::RouteEntry> route;
};

struct NodeConfig {
  raft::Config raft;  // raft.snapshot: the latest snapshot on disk; the kv store starts from it
  size_t pending_requests_max = 100'000;  // proposed requests awaiting apply
  // Take a snapshot of the kv store every this many applied entries (0: never).
  uint64_t snapshot_every = 0;
};

struct NodeReady {
  raft::Ready raft;
  std::vector<ClientReply> replies;
  // A snapshot this node took of its state machine: the driver stores it and may then compact
  // the log up to it (never past it).
  std::shared_ptr<const raft::Snapshot> snapshot_to_save;
};

class Node {
 public:
  Node(const NodeConfig& config, const raft::LogStore& store, Rng rng);

  void tick();
  [[nodiscard]] Status<raft::StepError> step(const raft::Message& message) {
    return raft_.step(message);
  }
  void on_client_request(const ClientRequest& request);
  // Proposes opaque bytes with no client to answer (tests and benchmarks; clients use requests).
  [[nodiscard]] Expected<LogIndex, raft::ProposeError> propose(Bytes command) {
    return raft_.propose(std::move(command));
  }
  // Membership: see raft.h. The change takes effect when its entry is applied (advance()).
  [[nodiscard]] Expected<LogIndex, raft::ProposeError> propose_conf_change(
      const raft::ConfChange& change) {
    return raft_.propose_conf_change(change);
  }
  void campaign() { raft_.campaign(); }
  // The map lists this replica in its group now (see raft::Config::passive).
  void end_passive() { raft_.end_passive(); }
  void align_heartbeat(int elapsed) { raft_.align_heartbeat(elapsed); }
  void report_peer_down(NodeId peer) { raft_.report_peer_down(peer); }
  [[nodiscard]] Status<raft::TransferError> transfer_leadership(NodeId to) {
    return raft_.transfer_leadership(to);
  }

  // The disk refuses writes (full, I/O errors): client requests are refused (kRejected) rather
  // than piled up behind writes that cannot become durable; the driver clears it once a write
  // succeeds again.
  void set_disk_failing(bool failing) { disk_failing_ = failing; }

  bool has_ready() const {
    return !replies_.empty() || snapshot_to_save_ != nullptr || raft_.has_ready();
  }
  NodeReady take_ready();
  void advance();

  const raft::Raft& raft() const { return raft_; }
  const kv::KvStore& kv() const { return kv_; }
  size_t pending_requests() const { return pending_.size(); }

 private:
  struct Pending {
    uint64_t client = 0;
    uint64_t request = 0;
    Term term;  // the term it was proposed in: the entry at its index must carry it
  };

  void apply(const raft::Entry& entry);
  // Applies a normal entry to the kv store; returns its result, or nullopt when there is none
  // (a no-op, or an entry that does not decode).
  std::optional<kv::Result> apply_command(const raft::Entry& entry);
  void apply_conf_change(const raft::Entry& entry);
  // Replaces the kv store with a snapshot's state (received from the leader, or at start).
  void restore(const raft::Snapshot& snapshot);
  void maybe_take_snapshot();
  // Reads (ReadIndex): start one, note the read states of a Ready, answer those now applied,
  // and give up on those whose confirmation never came.
  void start_read(const ClientRequest& request);
  void serve_reads();
  void expire_reads();
  void reply(uint64_t client, uint64_t request, ReplyStatus status, kv::Result result = {});
  // Whether a request past the commit index was proposed in a leadership this node no longer
  // holds (its fate now rests with another leader).
  bool has_orphaned_pending() const;
  // Answers kUnknown for every orphaned request past the commit index.
  void abandon_orphaned_pending();

  const NodeConfig config_;
  raft::Raft raft_;
  kv::KvStore kv_;
  // By index; an index may hold requests of several leaderships of ours (an older one's entry
  // left our log but may still commit elsewhere): the entry applied there decides.
  std::multimap<LogIndex, Pending> pending_;
  std::vector<ClientReply> replies_;
  bool raft_ready_taken_ = false;
  std::vector<raft::Entry> to_apply_;  // of the Ready being handled
  int orphaned_ticks_ = 0;             // ticks since requests were orphaned (see tick())
  bool disk_failing_ = false;
  std::shared_ptr<const raft::Snapshot> to_install_;        // of the Ready being handled
  std::shared_ptr<const raft::Snapshot> snapshot_to_save_;  // for the next Ready
  LogIndex last_snapshot_index_;
  // The state the kv store holds: the last entry applied to it, or the snapshot it was restored
  // from (etcdserver's appliedi). Usually Raft's applied index; but a snapshot that Raft restores
  // while the driver handles a Ready moves Raft's applied index (and configuration) at once, and
  // the kv store only when the next Ready installs it. Reads and snapshots go by this one.
  LogIndex applied_;
  struct PendingRead {
    uint64_t client = 0;
    uint64_t request = 0;
    std::string key;
    std::optional<LogIndex> index;  // known once the read is confirmed
    uint64_t started_tick = 0;
  };
  std::map<uint64_t, PendingRead> reads_;  // by the context given to Raft::read_index
  uint64_t next_read_ = 1;                 // drawn at start (see the constructor)
  uint64_t ticks_ = 0;
};

}  // namespace grape::node
