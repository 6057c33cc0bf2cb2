#pragma once
// The commands that run and talk to real nodes (docs/operations.md, docs/http-api.md):
//   grape node start            one node process (net/runtime.h), configured by flags and/or YAML
//   grape cluster status        members, leader, term, match indexes
//   grape kv put|get|del|cas    key-value requests through any node
//   grape member list|add|remove|promote, grape leader transfer   admin calls (cluster token)
// Every function returns the exit code: 0 ok, 1 the request failed, 2 bad input.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cli/common.h"

namespace grape::cli {

// Each field is a flag; those not given come from the --config YAML file (same key names without
// the dashes' prefix, e.g. `data-dir: /var/lib/grape`), then from the defaults.
struct NodeStartArgs {
  std::string config;
  std::optional<std::string> id, data_dir, listen_peer, listen_http, initial_cluster,
      initial_cluster_state, cluster_id, cluster_token, heartbeat, election_timeout, tick,
      request_timeout, log_level;
  std::optional<uint64_t> snapshot_every;
  std::optional<uint64_t> snapshot_rate;  // MiB/s
  std::optional<uint64_t> shards;
  std::optional<uint64_t> replication;
};
int node_start(const NodeStartArgs& args);

struct ClientArgs {
  std::string endpoints;  // comma-separated; default $GRAPE_ENDPOINTS, then http://127.0.0.1:8001
  std::string token;      // default $GRAPE_TOKEN
  std::string timeout = "5s";
  Format format = Format::kText;
};

// --endpoints (else $GRAPE_ENDPOINTS, else http://127.0.0.1:8001) as a list of URLs; the error
// names the bad one.
std::optional<std::vector<std::string>> parse_endpoints(const std::string& flag, std::string& error);

int cluster_status(const ClientArgs& client);
int kv_put(const ClientArgs& client, const std::string& key, const std::string& value);
int kv_get(const ClientArgs& client, const std::string& key, bool stale);
int kv_del(const ClientArgs& client, const std::string& key);
// values: [OLD] NEW; with `absent` the key must be absent and only NEW is given.
int kv_cas(const ClientArgs& client, const std::string& key, const std::vector<std::string>& values,
           bool absent);
int member_list(const ClientArgs& client);
// grape shard list | show ID | route KEY | rebalance [--dry-run] | status
int shard_list(const ClientArgs& client);
int shard_show(const ClientArgs& client, const std::string& id);
int shard_route(const ClientArgs& client, const std::string& key);
int shard_rebalance(const ClientArgs& client, bool dry_run);
int shard_status(const ClientArgs& client);
int member_add(const ClientArgs& client, const std::string& id, const std::string& peer_address,
               bool learner);
int member_remove(const ClientArgs& client, const std::string& id);
int member_promote(const ClientArgs& client, const std::string& id);
int leader_transfer(const ClientArgs& client, const std::string& to);

}  // namespace grape::cli
