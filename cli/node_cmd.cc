#include "cli/node_cmd.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "net/http_client.h"
#include "net/http_server.h"
#include "net/peers.h"
#include "core/shard/placement.h"
#include "net/runtime.h"
#include "sim/scenario.h"

namespace grape::cli {

using json = nlohmann::json;

namespace {

int bad_input(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return kExitBadInput;
}

int failed(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return kExitFailed;
}

// ---------------------------------------------------------------------------------------------
// grape node start

// The YAML config's keys, each named like its flag.
const std::set<std::string>& config_keys() {
  static const std::set<std::string> keys{
      "id", "data-dir", "listen-peer", "listen-http", "initial-cluster", "initial-cluster-state",
      "cluster-id", "cluster-token", "heartbeat", "election-timeout", "tick", "request-timeout",
      "log-level", "snapshot-every", "snapshot-rate", "shards", "replication"};
  return keys;
}

// Fills the flags not given from the YAML file; the error names the file, the line and the key.
std::optional<std::string> load_config(const std::string& file, NodeStartArgs& args) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    return file + ": cannot read the file";
  } catch (const YAML::Exception& e) {
    return file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg;
  }
  if (root.IsNull()) return std::nullopt;
  if (!root.IsMap()) return file + ": the config must be a map of key: value";
  std::set<std::string> seen;
  for (const auto& pair : root) {
    const std::string key = pair.first.as<std::string>();
    const std::string where = file + ":" + std::to_string(pair.first.Mark().line + 1) + ": key '" + key + "'";
    if (!config_keys().count(key)) return where + ": unknown key (keys are named like the flags)";
    if (!seen.insert(key).second) return where + ": duplicate key";
    if (!pair.second.IsScalar()) return where + ": must be a single value";
    const std::string value = pair.second.as<std::string>();
    auto fill = [&value](std::optional<std::string>& field) {
      if (!field) field = value;
    };
    if (key == "id") fill(args.id);
    if (key == "data-dir") fill(args.data_dir);
    if (key == "listen-peer") fill(args.listen_peer);
    if (key == "listen-http") fill(args.listen_http);
    if (key == "initial-cluster") fill(args.initial_cluster);
    if (key == "initial-cluster-state") fill(args.initial_cluster_state);
    if (key == "cluster-id") fill(args.cluster_id);
    if (key == "cluster-token") fill(args.cluster_token);
    if (key == "heartbeat") fill(args.heartbeat);
    if (key == "election-timeout") fill(args.election_timeout);
    if (key == "tick") fill(args.tick);
    if (key == "request-timeout") fill(args.request_timeout);
    if (key == "log-level") fill(args.log_level);
    auto fill_number = [&](std::optional<uint64_t>& field) -> std::optional<std::string> {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0') return where + ": must be a whole number";
      if (!field) field = n;
      return std::nullopt;
    };
    std::optional<std::string> bad;
    if (key == "snapshot-every") bad = fill_number(args.snapshot_every);
    if (key == "snapshot-rate") bad = fill_number(args.snapshot_rate);
    if (key == "shards") bad = fill_number(args.shards);
    if (key == "replication") bad = fill_number(args.replication);
    if (bad) return bad;
  }
  return std::nullopt;
}

std::optional<int64_t> milliseconds(const std::optional<std::string>& text, int64_t fallback,
                                    const std::string& name, std::string& error) {
  if (!text) return fallback;
  const auto d = sim::parse_duration(*text);
  if (!d || d->ns < 1'000'000) {
    error = name + ": '" + *text + "' is not a duration of at least 1ms (e.g. 100ms, 1s)";
    return std::nullopt;
  }
  return d->ns / 1'000'000;
}

}  // namespace

int node_start(const NodeStartArgs& given) {
  NodeStartArgs args = given;
  if (!args.config.empty()) {
    if (auto error = load_config(args.config, args)) return bad_input(*error);
  }
  net::RuntimeConfig config;
  if (!args.id) return bad_input("--id is required (e.g. --id n1)");
  const auto id = net::parse_node_name(*args.id);
  if (!id) return bad_input("--id: '" + *args.id + "' is not a node id (n1, n2, ...)");
  config.id = *id;
  if (!args.data_dir) return bad_input("--data-dir is required");
  config.data_dir = *args.data_dir;
  if (!args.initial_cluster) return bad_input("--initial-cluster is required (n1=host:port,...)");
  auto cluster = net::parse_initial_cluster(*args.initial_cluster);
  if (!cluster) return bad_input("--initial-cluster: " + cluster.error());
  config.initial_cluster = *cluster;
  const std::string state = args.initial_cluster_state.value_or("new");
  if (state != "new" && state != "existing") {
    return bad_input("--initial-cluster-state: '" + state + "' is not new or existing");
  }
  config.join = state == "existing";
  if (!config.join && !config.initial_cluster.count(config.id)) {
    return bad_input("--initial-cluster must name " + *args.id +
                     " (or join a running cluster with --initial-cluster-state existing)");
  }
  if (config.join) {
    config.initial_cluster.erase(config.id);
    if (config.initial_cluster.empty()) {
      return bad_input("--initial-cluster-state existing: --initial-cluster must name the running members");
    }
  }
  if (args.listen_peer) {
    config.listen_peer = *args.listen_peer;
  } else if (cluster->count(config.id)) {
    config.listen_peer = cluster->at(config.id);
  } else {
    return bad_input("--listen-peer is required when --initial-cluster does not name this node");
  }
  if (!net::split_host_port(config.listen_peer)) return bad_input("--listen-peer: '" + config.listen_peer + "' is not host:port");
  config.listen_http = args.listen_http.value_or("127.0.0.1:8001");
  if (!net::split_host_port(config.listen_http)) return bad_input("--listen-http: '" + config.listen_http + "' is not host:port");
  if (!args.cluster_token || args.cluster_token->empty()) {
    return bad_input("--cluster-token is required: peers prove it to each other, admins send it");
  }
  config.token = *args.cluster_token;
  config.cluster_id = args.cluster_id.value_or("grape");
  std::string error;
  const auto heartbeat = milliseconds(args.heartbeat, 100, "--heartbeat", error);
  const auto election = milliseconds(args.election_timeout, 1000, "--election-timeout", error);
  // 0: the runtime's choice (10ms, or 50ms for a sharded cluster's thousand groups).
  const auto tick = milliseconds(args.tick, 0, "--tick", error);
  const auto timeout = milliseconds(args.request_timeout, 5000, "--request-timeout", error);
  if (!heartbeat || !election || !tick || !timeout) return bad_input(error);
  if (args.tick && *tick > *heartbeat) return bad_input("--tick must not be longer than --heartbeat");
  if (*election < 2 * *heartbeat) return bad_input("--election-timeout must be at least twice --heartbeat");
  config.heartbeat_ms = *heartbeat;
  config.election_timeout_ms = *election;
  config.tick_ms = *tick;
  config.request_timeout_ms = *timeout;
  config.snapshot_every = args.snapshot_every.value_or(100'000);
  config.snapshot_rate_mib = args.snapshot_rate.value_or(64);
  config.shards = static_cast<uint32_t>(args.shards.value_or(0));
  config.replication = static_cast<uint32_t>(args.replication.value_or(3));
  if (args.shards && *args.shards > shard::kMaxShards) {
    return bad_input("--shards: at most " + std::to_string(shard::kMaxShards));
  }
  if (config.shards > 0 && !config.join &&
      (config.replication == 0 || config.replication > config.initial_cluster.size())) {
    return bad_input("--replication: " + std::to_string(config.replication) +
                     " replicas per shard need at least as many nodes in --initial-cluster");
  }
  config.log_level = args.log_level.value_or("info");
  return net::run_node(config);
}

// ---------------------------------------------------------------------------------------------
// The client commands

std::optional<std::vector<std::string>> parse_endpoints(const std::string& flag, std::string& error) {
  std::string endpoints = flag;
  if (endpoints.empty() && std::getenv("GRAPE_ENDPOINTS")) endpoints = std::getenv("GRAPE_ENDPOINTS");
  if (endpoints.empty()) endpoints = "http://127.0.0.1:8001";
  std::vector<std::string> out;
  std::stringstream in(endpoints);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (part.empty()) continue;
    if (!net::endpoint_address(part)) {
      error = "--endpoints: '" + part + "' is not http://host:port";
      return std::nullopt;
    }
    out.push_back(part);
  }
  if (out.empty()) {
    error = "--endpoints: no endpoint given";
    return std::nullopt;
  }
  return out;
}

namespace {

struct Client {
  std::vector<std::string> endpoints;
  std::string token;
  std::chrono::milliseconds timeout{5000};
  Format format = Format::kText;
};

std::optional<Client> make_client(const ClientArgs& args, std::string& error) {
  Client c;
  auto endpoints = parse_endpoints(args.endpoints, error);
  if (!endpoints) return std::nullopt;
  c.endpoints = std::move(*endpoints);
  c.token = args.token;
  if (c.token.empty() && std::getenv("GRAPE_TOKEN")) c.token = std::getenv("GRAPE_TOKEN");
  const auto timeout = sim::parse_duration(args.timeout);
  if (!timeout || timeout->ns < 1'000'000) {
    error = "--timeout: '" + args.timeout + "' is not a duration (e.g. 5s)";
    return std::nullopt;
  }
  c.timeout = std::chrono::milliseconds(timeout->ns / 1'000'000);
  c.format = args.format;
  return c;
}

struct Answer {
  std::string endpoint;
  unsigned status = 0;
  json body;
};

// Sends the call to the endpoints in turn until one answers; with `leader_only`, until one
// answers other than 503 "not the leader". Nullopt (error set) when none could.
std::optional<Answer> call(const Client& client, net::HttpCall http, std::string& error,
                           bool leader_only = false) {
  http.timeout = client.timeout;
  if (!client.token.empty()) http.headers.emplace_back("Authorization", "Bearer " + client.token);
  std::optional<Answer> last;
  std::vector<std::string> failures;
  for (const std::string& endpoint : client.endpoints) {
    auto result = net::http_call(endpoint, http);
    if (!result) {
      failures.push_back(result.error());
      continue;
    }
    Answer answer{endpoint, result->status, json::parse(result->body, nullptr, false)};
    if (answer.body.is_discarded()) answer.body = json{{"error", result->body}};
    if (leader_only && answer.status == 503 && answer.body.contains("leader")) {
      last = std::move(answer);
      continue;
    }
    return answer;
  }
  if (last) return last;
  error = "no endpoint answered:";
  for (const std::string& f : failures) error += "\n  " + f;
  return std::nullopt;
}

std::string error_of(const Answer& answer) {
  std::string message = answer.body.value("error", std::string("HTTP ") + std::to_string(answer.status));
  if (answer.body.contains("leader") && !answer.body["leader"].is_null()) {
    message += " (leader: " + answer.body["leader"].get<std::string>() + ")";
  }
  return answer.endpoint + ": " + message;
}

std::string text(const json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>();
  return j.dump();
}

// A table for people: columns padded to their widest cell.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::cout << out << '\n';
  };
  line(header);
  for (const auto& row : rows) line(row);
}

void print_members(const json& members) {
  std::vector<std::vector<std::string>> rows;
  if (!members.empty() && members[0].contains("replicas")) {  // a sharded cluster's nodes
    for (const json& m : members) {
      rows.push_back({text(m["id"]), text(m["state"]), text(m["replicas"]), text(m["leaders"]),
                      text(m["peer_address"])});
    }
    print_table({"ID", "STATE", "REPLICAS", "LEADERS", "PEER ADDRESS"}, rows);
    return;
  }
  for (const json& m : members) {
    rows.push_back({text(m["id"]), text(m["role"]), text(m["peer_address"]), text(m["match_index"]),
                    text(m["lag"])});
  }
  print_table({"ID", "ROLE", "PEER ADDRESS", "MATCH", "LAG"}, rows);
}

std::string key_target(const std::string& key) { return "/v1/kv/" + net::percent_encode(key); }

// Prints a key-value answer (json or a line) and returns the exit code.
int kv_result(const Client& client, const Answer& answer, const std::string& done_text) {
  if (client.format == Format::kJson) {
    std::cout << answer.body.dump() << '\n';
    return answer.status == 200 ? kExitOk : kExitFailed;
  }
  if (answer.status != 200) return failed(error_of(answer));
  std::cout << done_text << " (node " << text(answer.body["node"]) << ", index "
            << text(answer.body["index"]) << ")\n";
  return kExitOk;
}

}  // namespace

#define GRAPE_CLIENT_OR_EXIT(args)                            \
  std::string error;                                          \
  const std::optional<Client> client = make_client(args, error); \
  if (!client) return bad_input(error)

namespace {

// Asks every endpoint for `target` and keeps the leader's answer (it alone knows the match
// indexes, and a removed or partitioned node's view may be stale); else the first answer.
std::optional<Answer> leader_view(const Client& client, const std::string& target, std::string& error) {
  std::optional<Answer> best;
  std::vector<std::string> failures;
  for (const std::string& endpoint : client.endpoints) {
    Client one = client;
    one.endpoints = {endpoint};
    auto answer = call(one, net::HttpCall{"GET", target, {}, {}, {}}, error);
    if (!answer) {
      failures.push_back(error);
      continue;
    }
    if (answer->status != 200) continue;
    const bool is_leader = answer->body.contains("node") && answer->body["node"] == answer->body["leader"];
    if (!best || is_leader) best = std::move(answer);
    if (is_leader) break;
  }
  if (!best) {
    error = "no endpoint answered";
    for (const auto& f : failures) error += "\n  " + f;
  }
  return best;
}

}  // namespace

int cluster_status(const ClientArgs& args) {
  GRAPE_CLIENT_OR_EXIT(args);
  const std::optional<Answer> best = leader_view(*client, "/v1/cluster", error);
  if (!best) return failed(error);
  const json& c = best->body;
  if (client->format == Format::kJson) {
    std::cout << c.dump() << '\n';
    return kExitOk;
  }
  std::cout << "leader " << text(c["leader"]) << ", term " << text(c["term"]) << ", commit "
            << text(c["commit_index"]) << ", applied " << text(c["applied_index"]) << " (as seen by "
            << text(c["node"]) << ")\n";
  print_members(c["members"]);
  return kExitOk;
}

int kv_put(const ClientArgs& args, const std::string& key, const std::string& value) {
  GRAPE_CLIENT_OR_EXIT(args);
  auto answer = call(*client, net::HttpCall{"PUT", key_target(key), value, {}, {}}, error);
  if (!answer) return failed(error);
  return kv_result(*client, *answer, "ok");
}

int kv_get(const ClientArgs& args, const std::string& key, bool stale) {
  GRAPE_CLIENT_OR_EXIT(args);
  auto answer = call(*client,
                     net::HttpCall{"GET", key_target(key) + (stale ? "?consistency=stale" : ""), {}, {}, {}},
                     error);
  if (!answer) return failed(error);
  if (client->format == Format::kJson) {
    std::cout << answer->body.dump() << '\n';
    return answer->status == 200 ? kExitOk : kExitFailed;
  }
  if (answer->status == 404) return kExitFailed;  // absent: no output, exit 1 (for scripts)
  if (answer->status != 200) return failed(error_of(*answer));
  std::cout << text(answer->body["value"]) << '\n';
  return kExitOk;
}

int kv_del(const ClientArgs& args, const std::string& key) {
  GRAPE_CLIENT_OR_EXIT(args);
  auto answer = call(*client, net::HttpCall{"DELETE", key_target(key), {}, {}, {}}, error);
  if (!answer) return failed(error);
  return kv_result(*client, *answer, "deleted");
}

int kv_cas(const ClientArgs& args, const std::string& key, const std::vector<std::string>& values,
           bool absent) {
  GRAPE_CLIENT_OR_EXIT(args);
  if (values.size() != (absent ? 1u : 2u)) {
    return bad_input(absent ? "kv cas --absent KEY NEW: give NEW only" : "kv cas KEY OLD NEW: give OLD and NEW");
  }
  json body{{"value", values.back()}, {"expected", absent ? json(nullptr) : json(values.front())}};
  auto answer = call(*client, net::HttpCall{"POST", key_target(key) + "/cas", body.dump(), {}, {}}, error);
  if (!answer) return failed(error);
  if (client->format == Format::kJson) {
    std::cout << answer->body.dump() << '\n';
    return answer->status == 200 ? kExitOk : kExitFailed;
  }
  if (answer->status == 409) {
    std::cout << "not swapped: the value is " << (answer->body["value"].is_null() ? "absent" : "'" + text(answer->body["value"]) + "'") << '\n';
    return kExitFailed;
  }
  return kv_result(*client, *answer, "swapped");
}

int member_list(const ClientArgs& args) {
  GRAPE_CLIENT_OR_EXIT(args);
  const std::optional<Answer> answer = leader_view(*client, "/v1/members", error);
  if (!answer) return failed(error);
  if (client->format == Format::kJson) {
    std::cout << answer->body.dump() << '\n';
  } else {
    print_members(answer->body["members"]);
  }
  return kExitOk;
}

namespace {

int admin_result(const Client& client, const Answer& answer, const std::string& done_text) {
  if (client.format == Format::kJson) {
    std::cout << answer.body.dump() << '\n';
    return answer.status == 200 ? kExitOk : kExitFailed;
  }
  if (answer.status != 200) return failed(error_of(answer));
  std::cout << done_text << '\n';
  if (answer.body.contains("members")) print_members(answer.body["members"]);
  return kExitOk;
}

}  // namespace

int member_add(const ClientArgs& args, const std::string& id, const std::string& peer_address,
               bool learner) {
  GRAPE_CLIENT_OR_EXIT(args);
  if (!net::parse_node_name(id)) return bad_input("member id '" + id + "' is not n1, n2, ...");
  if (!net::split_host_port(peer_address)) return bad_input("peer address '" + peer_address + "' is not host:port");
  json body{{"id", id}, {"peer_address", peer_address}, {"learner", learner}};
  auto answer = call(*client, net::HttpCall{"POST", "/v1/members", body.dump(), {}, {}}, error, true);
  if (!answer) return failed(error);
  return admin_result(*client, *answer, "added " + id + (learner ? " as a learner" : ""));
}

int member_remove(const ClientArgs& args, const std::string& id) {
  GRAPE_CLIENT_OR_EXIT(args);
  if (!net::parse_node_name(id)) return bad_input("member id '" + id + "' is not n1, n2, ...");
  auto answer = call(*client, net::HttpCall{"DELETE", "/v1/members/" + id, {}, {}, {}}, error, true);
  if (!answer) return failed(error);
  const bool sharded = answer->body.value("state", std::string()) == "leaving";
  return admin_result(*client, *answer,
                      sharded ? id + " is leaving: its replicas move away first (see grape shard status)"
                              : "removed " + id);
}

int member_promote(const ClientArgs& args, const std::string& id) {
  GRAPE_CLIENT_OR_EXIT(args);
  if (!net::parse_node_name(id)) return bad_input("member id '" + id + "' is not n1, n2, ...");
  auto answer = call(*client, net::HttpCall{"POST", "/v1/members/" + id + "/promote", {}, {}, {}}, error, true);
  if (!answer) return failed(error);
  return admin_result(*client, *answer, "promoted " + id + " to voter");
}

int leader_transfer(const ClientArgs& args, const std::string& to) {
  GRAPE_CLIENT_OR_EXIT(args);
  if (!to.empty() && !net::parse_node_name(to)) return bad_input("'" + to + "' is not n1, n2, ...");
  const json body = to.empty() ? json::object() : json{{"to", to}};
  auto answer = call(*client, net::HttpCall{"POST", "/v1/leader/transfer", body.dump(), {}, {}}, error, true);
  if (!answer) return failed(error);
  return admin_result(*client, *answer, "leader is now " + text(answer->body.value("leader", json(nullptr))));
}

}  // namespace grape::cli

// ---------------------------------------------------------------------------------------------
// grape shard list | show | route | rebalance | status: the cluster's shards (net/http_shards.cc)

namespace grape::cli {

namespace {

std::string names(const json& list) {
  std::string out;
  for (const json& id : list) out += (out.empty() ? "" : ",") + text(id);
  return out;
}

// The first endpoint that answers 200 (the map lives on the metadata group's replicas).
std::optional<Answer> first_ok(const Client& client, const std::string& target, std::string& error) {
  std::optional<Answer> last;
  for (const std::string& endpoint : client.endpoints) {
    Client one = client;
    one.endpoints = {endpoint};
    auto answer = call(one, net::HttpCall{"GET", target, {}, {}, {}}, error);
    if (answer && answer->status == 200) return answer;
    if (answer) last = std::move(answer);
  }
  if (last) error = error_of(*last);
  return std::nullopt;
}

int print_json_or(const Client& client, const Answer& answer, const std::function<void()>& table) {
  if (client.format == Format::kJson) {
    std::cout << answer.body.dump() << '\n';
  } else {
    table();
  }
  return kExitOk;
}

}  // namespace

int shard_list(const ClientArgs& args) {
  GRAPE_CLIENT_OR_EXIT(args);
  auto answer = first_ok(*client, "/v1/shards", error);
  if (!answer) return failed(error);
  return print_json_or(*client, *answer, [&] {
    std::vector<std::vector<std::string>> rows;
    for (const json& s : answer->body["shards"]) {
      rows.push_back({text(s["id"]), text(s["epoch"]), names(s["replicas"]), text(s["leader"]),
                      text(s.value("leader_now", json(nullptr)))});
    }
    print_table({"SHARD", "EPOCH", "REPLICAS", "PREFERRED", "LEADER"}, rows);
    std::cout << "map version " << text(answer->body["map_version"]) << ", "
              << text(answer->body["moves_unfinished"]) << " moves unfinished\n";
  });
}

int shard_show(const ClientArgs& args, const std::string& id) {
  GRAPE_CLIENT_OR_EXIT(args);
  auto answer = first_ok(*client, "/v1/shards/" + net::percent_encode(id), error);
  if (!answer) return failed(error);
  return print_json_or(*client, *answer, [&] {
    const json& s = answer->body;
    std::cout << "shard " << text(s["id"]) << ": epoch " << text(s["epoch"]) << ", replicas "
              << names(s["replicas"]) << ", preferred leader " << text(s["leader"])
              << ", leader " << text(s.value("leader_now", json(nullptr))) << '\n';
    if (s.contains("replica")) std::cout << "this node's replica: " << s["replica"].dump() << '\n';
    for (const json& m : s["moves"]) {
      std::cout << "move " << text(m["id"]) << ": " << text(m["from"]) << " -> " << text(m["to"])
                << " " << text(m["state"]) << '\n';
    }
  });
}

int shard_route(const ClientArgs& args, const std::string& key) {
  GRAPE_CLIENT_OR_EXIT(args);
  auto answer = first_ok(*client, "/v1/route?key=" + net::percent_encode(key), error);
  if (!answer) return failed(error);
  return print_json_or(*client, *answer, [&] {
    const json& r = answer->body;
    std::cout << "key " << text(r["key"]) << " -> shard " << text(r["shard"]) << " (group "
              << text(r.value("group", json(nullptr))) << ", epoch " << text(r.value("epoch", json(nullptr)))
              << "), replicas " << names(r.value("replicas", json::array())) << ", leader "
              << text(r.value("leader", json(nullptr))) << '\n';
  });
}

int shard_rebalance(const ClientArgs& args, bool dry_run) {
  GRAPE_CLIENT_OR_EXIT(args);
  const json body{{"dry_run", dry_run}};
  auto answer = call(*client, net::HttpCall{"POST", "/v1/rebalance", body.dump(), {}, {}}, error, true);
  if (!answer) return failed(error);
  if (answer->status != 200 && answer->status != 202) {
    if (client->format == Format::kJson) std::cout << answer->body.dump() << '\n';
    return failed(error_of(*answer));
  }
  return print_json_or(*client, *answer, [&] {
    const json& moves = answer->body["moves"];
    std::cout << (dry_run ? "would move " : "planning; the plan moves ") << moves.size()
              << " replicas" << (moves.empty() ? " (balanced)" : ":") << '\n';
    std::vector<std::vector<std::string>> rows;
    for (const json& m : moves) rows.push_back({text(m["shard"]), text(m["from"]), text(m["to"])});
    if (!rows.empty()) print_table({"SHARD", "FROM", "TO"}, rows);
  });
}

int shard_status(const ClientArgs& args) {
  GRAPE_CLIENT_OR_EXIT(args);
  auto answer = first_ok(*client, "/v1/rebalance", error);
  if (!answer) return failed(error);
  auto members = leader_view(*client, "/v1/members", error);
  return print_json_or(*client, *answer, [&] {
    const json& r = answer->body;
    std::cout << "map version " << text(r["map_version"]) << "; moves: " << r["moves_by_state"].dump()
              << ", " << text(r["moves_unfinished"]) << " unfinished\n";
    std::vector<std::vector<std::string>> rows;
    for (const json& m : r["moves"]) {
      if (m["state"] == "done" || m["state"] == "cancelled") continue;
      rows.push_back({text(m["id"]), text(m["shard"]), text(m["from"]), text(m["to"]), text(m["state"])});
    }
    if (!rows.empty()) print_table({"MOVE", "SHARD", "FROM", "TO", "STATE"}, rows);
    if (members) print_members(members->body["members"]);
  });
}

}  // namespace grape::cli
