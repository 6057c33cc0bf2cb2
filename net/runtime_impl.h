#pragma once
// The runtime's state, shared by runtime.cc (the loop: ticks, frames, Readies, storage) and
// http_api.cc (the HTTP routes). Private to net/.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/node/host.h"
#include "core/node/node.h"
#include "core/node/node_storage.h"
#include "core/shard/layout.h"
#include "net/asio.h"
#include "net/batch_wire.h"
#include "net/http_server.h"
#include "net/metrics.h"
#include "net/peers.h"
#include "net/posix_disk.h"
#include "net/runtime.h"

namespace grape::net {

using Clock = std::chrono::steady_clock;

// The client id of requests the runtime makes for itself (a member's address): no one to answer.
inline constexpr uint64_t kInternalClient = UINT64_MAX;

// Keys the runtime keeps in the replicated store for itself; user keys may not start with '\0'.
inline const std::string kPeerAddressPrefix = std::string("\0peer/", 6);
// Written once a member has run with this cluster (etcd's published member attributes): a node
// whose data dir is empty but whose peers hold this for it has lost its state and must not
// bootstrap again (it would forget its votes).
inline const std::string kStartedPrefix = std::string("\0started/", 9);

// 64 random bits from the OS (a node's Raft draws, request ids).
uint64_t random_seed();

class Runtime {
 public:
  explicit Runtime(RuntimeConfig config);
  // Opens the storage, binds the ports and starts the loop; the error says what failed.
  [[nodiscard]] Status<std::string> start();
  void run();  // until stop()
  void stop();

  // --- used by the HTTP routes (http_api.cc) ---
  // A client request from HTTP: answered through `done` once applied, refused or timed out.
  struct Outcome {
    node::ReplyStatus status = node::ReplyStatus::kOk;
    kv::Result result;
    LogIndex index;
    NodeId served_by;
    bool timed_out = false;
  };
  // Sharded, the key's shard group serves it (keys the runtime keeps for itself, the metadata
  // group); any node takes any key and sends it on to the group's leader.
  void submit(kv::Command command, std::function<void(Outcome)> done);
  void submit_to(GroupId group, kv::Command command, std::function<void(Outcome)> done);
  // Waits (up to the request timeout) until `ready()` holds, checked after every drain and tick.
  void wait_until(std::function<bool()> ready, std::function<void(bool)> done);
  std::optional<std::string> peer_address(NodeId id) const;
  void handle_http(HttpRequest request, Respond respond);

  const RuntimeConfig& config() const { return config_; }
  bool sharded() const { return params_.shards > 0; }
  const ClusterParams& params() const { return params_; }
  node::Host& host() { return *host_; }
  // This node's replica of group 1 (unsharded: the only group; sharded: the metadata group,
  // null on nodes that hold none).
  node::Node* meta() { return host_ ? host_->group(shard::kMetaGroup) : nullptr; }
  GroupId group_of_key(const std::string& key) const;
  Metrics& metrics() { return metrics_; }
  PeerNetwork& peers() { return *peers_; }
  void request_drain();
  // The metadata group's leader: tells every node the peer addresses it knows.
  void share_addresses();

 private:
  struct PendingRequest {
    kv::Command command;
    GroupId group{1};
    std::function<void(Outcome)> done;
    Clock::time_point deadline;
    int forwards = 0;          // times sent on to a leader
    NodeId forwarded_to;       // the node whose answer counts (none: ours)
    bool waiting_for_leader = false;  // resubmitted at the next tick
  };
  struct Waiter {
    std::function<bool()> ready;
    std::function<void(bool)> done;
    Clock::time_point deadline;
  };

  // A node with an empty data dir: asks its peers whether it has been a member before; an error
  // when one says so.
  [[nodiscard]] Status<std::string> check_never_started();
  void maybe_mark_started();
  void schedule_tick();
  void on_tick();
  void on_frame(NodeId from, Frame frame);
  bool on_startup_frame(NodeId from, const Frame& frame);
  void drain();
  // The cluster's parameters: the data dir's file, else a peer's (joining), else the flags.
  [[nodiscard]] Status<std::string> settle_params(bool fresh);
  [[nodiscard]] Status<std::string> ask_params();
  // Bootstraps every replica the first layout gives this node that holds nothing yet.
  [[nodiscard]] Status<std::string> bootstrap_groups();
  [[nodiscard]] Status<std::string> start_host();
  [[nodiscard]] Status<std::string> start_group(GroupId group, std::vector<NodeId> voters);
  node::NodeConfig group_config(std::vector<NodeId> voters) const;
  int ticks_in(int64_t ms) const;  // a duration in ticks, at least one
  node::PlacementHostOptions placement_options() const;
  ClusterParams params_with_addresses() const;
  void handle_ready(node::HostReady ready);
  bool persist(node::HostReady& ready);  // false: the disk refused, retried later
  void retry_persist();
  void finish(node::HostReady ready);
  void apply_placement(node::HostReady& ready);
  void send_batches(const std::vector<node::PeerBatch>& batches);
  void on_reply(const node::ClientReply& reply, NodeId served_by);
  // Sends a pending request to where its group is served: this host, or a peer.
  void dispatch(uint64_t id, NodeId to);
  NodeId guess_server(GroupId group) const;
  void observe_state();
  void check_waiters();
  void finish_waiters(const std::function<bool(const Waiter&)>& due, bool outcome);
  void expire_requests();

  RuntimeConfig config_;
  boost::asio::io_context io_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::signal_set signals_;
  Clock::time_point next_tick_;
  PosixDisk disk_;
  std::unique_ptr<node::NodeStorage> storage_;
  std::unique_ptr<node::Host> host_;
  ClusterParams params_;
  std::optional<shard::ClusterLayout> layout_;  // sharded
  // Peer addresses from the metadata leader (nodes without a metadata replica).
  std::map<NodeId, std::string> addresses_;
  uint64_t ticks_ = 0;
  std::unique_ptr<PeerNetwork> peers_;
  std::unique_ptr<HttpServer> http_;
  Metrics metrics_;
  bool drain_posted_ = false;
  std::optional<node::HostReady> persisting_;  // refused by the disk: retried by retry_timer_
  std::map<uint64_t, PendingRequest> pending_;
  // Drawn at random at start: a request id must not repeat across restarts, or a leader's answer
  // to a request of our previous incarnation would complete a new one.
  uint64_t next_request_ = 1;
  std::vector<Waiter> waiters_;
  // Leader: when each of its entries was appended, for the replication latency histogram.
  std::deque<std::pair<LogIndex, Clock::time_point>> proposed_at_;
  raft::Role last_role_ = raft::Role::kFollower;
  Term last_term_;
  NodeId last_leader_;
  bool stopped_ = false;
  bool disk_refusing_ = false;
  // check_never_started(): peers' answers (node -> started).
  std::map<NodeId, bool> member_answers_;
  std::optional<ClusterParams> params_answer_;  // ask_params(): a peer's answer
  bool marking_started_ = false;  // our kStartedPrefix write is in flight
  bool marked_started_ = false;   // it is written
  bool withholds(const node::GroupMessage& message) const;
};

}  // namespace grape::net
