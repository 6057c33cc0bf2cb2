#pragma once
// Clients: the simulated users of a cluster. Each client is a process doing one call at a time
// through the same protocol a real client uses: send the request to the node it believes leads,
// follow redirects (to the leader hint, else the next node), and give up at a timeout. Every call
// is recorded in the History: `ok` and `fail` are definite answers; a call that times out is
// `info` (it may or may not have happened) and its process is retired, a fresh process id taking
// its place, as Jepsen does.
//
// Also: single scripted calls (the scenario's `put` fault) and the liveness probe, a write on a key
// of its own retried until it commits (not recorded in the history).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/rng.h"
#include "core/node/node.h"
#include "core/shard/routing.h"
#include "sim/history.h"
#include "sim/time.h"

namespace grape::sim {

class World;

struct WorkloadOptions {
  size_t clients = 3;
  size_t keys = 8;
  // Weights of each kind of call (normalized).
  double put = 0.5;
  double get = 0.4;
  double cas = 0.05;
  double del = 0.05;
  double rate_per_s = 200;  // total, spread over the clients
  VirtualTime from;
  VirtualTime until;
  bool zipf = false;     // keys drawn by Zipf's law (key i with weight 1/(i+1)^s), else uniformly
  double zipf_s = 0.99;
};

struct ClientStats {
  uint64_t ops = 0;
  uint64_t ok = 0;
  uint64_t failed = 0;
  uint64_t indeterminate = 0;
  uint64_t writes_acknowledged = 0;  // put, delete and successful cas answered ok
};

class Clients {
 public:
  // Registers itself as `world`'s client reply handler; must outlive the world's run.
  Clients(World& world, Rng rng, Duration timeout);
  Clients(const Clients&) = delete;
  Clients& operator=(const Clients&) = delete;

  // Starts the workload's clients.
  void start_workload(const WorkloadOptions& options);
  // One call by a process of its own, now.
  void call(OpKind kind, std::string key, std::optional<std::string> value,
            std::optional<std::string> expected = std::nullopt);
  // From `at` on, writes a probe key until a write commits; see probe_committed_at(), which this
  // resets.
  void start_probe(VirtualTime at);
  std::optional<VirtualTime> probe_committed_at() const { return probe_committed_at_; }

  // Calls still waiting become `info` (the run is over, their fate unknown).
  void finish();

  const History& history() const { return history_; }
  const ClientStats& stats() const { return stats_; }
  // The workload's keys, k0..k(K-1).
  std::vector<std::string> keys() const;
  // Calls answered ok by each node (the node the call was last sent to) between two times.
  std::map<NodeId, uint64_t> served_between(VirtualTime from, VirtualTime to) const;

 private:
  struct Client {
    uint64_t process = 0;
    std::optional<uint64_t> op;  // the call in progress (an index into the history)
    NodeId target;               // where it sends next: its idea of the leader
    bool is_probe = false;
    bool scripted = false;
    // Where it sends reads: any node serves them (ReadIndex), so some clients read from a
    // follower; once a call times out it reads from `target` instead.
    NodeId read_target;
    NodeId sent_to;  // where the call in progress went last
  };

  void schedule_next_call(size_t client, Duration period);
  void begin(size_t client, OpKind kind, std::string key, std::optional<std::string> value,
             std::optional<std::string> expected);
  void send(size_t client);
  void on_reply(const node::ClientReply& reply);
  void complete(size_t client, OpOutcome outcome, std::optional<std::string> read_value);
  void on_timeout(size_t client, uint64_t op);
  // The call's outcome is unknown (`info`): the process retires and the client, under a fresh
  // process id, sends its next call to `next_target`.
  void give_up(size_t client, NodeId next_target);
  NodeId next_node(NodeId after);
  OpKind pick_kind();
  size_t pick_key();
  // Sharded: where a call for `shard` goes, from the route cache (the leader hint, else a
  // replica, else any node: its answer carries the route).
  NodeId shard_target(uint32_t shard, bool read, bool read_elsewhere);
  // Sharded: what a refusal or silence teaches the cache; the next call goes elsewhere.
  void learn_route(uint32_t shard, const node::ClientReply* reply, NodeId failed);

  World& world_;
  Rng rng_;
  Duration timeout_;
  WorkloadOptions workload_;
  std::vector<Client> clients_;
  History& history_of(const Client& client) { return client.is_probe ? probe_history_ : history_; }

  History history_;
  History probe_history_;  // the probe's calls: not part of the checked history
  std::map<std::string, std::optional<std::string>> last_seen_;  // per key: cas expectations
  ClientStats stats_;
  uint64_t next_process_ = 1;
  uint64_t probe_sequence_ = 0;
  std::optional<VirtualTime> probe_committed_at_;
  // Sharded clusters: the clients' cache of shard routes (one client library, shared).
  uint32_t shards_ = 0;
  shard::RouteCache routes_;
  std::vector<uint64_t> zipf_cdf_;  // cumulative integer weights of the keys
  std::vector<std::pair<VirtualTime, NodeId>> served_;  // each ok answer: when, by whom
};

}  // namespace grape::sim
