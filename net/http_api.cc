// The HTTP API of a node (docs/http-api.md): key-value requests, cluster status, membership,
// leadership transfer, health, readiness and metrics. JSON through nlohmann-json.

#include <openssl/crypto.h>

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "core/raft/conf_change.h"
#include "core/shard/meta.h"
#include "net/log.h"
#include "net/http_json.h"
#include "net/runtime_impl.h"

namespace grape::net {

namespace {

// The answer to a key-value request, with who served it and at what index.
HttpResponse kv_response(const kv::Command& command,
                         const Runtime::Outcome& outcome) {
  const bool write = command.op != kv::Op::kGet;
  json body{{"key", command.key}, {"node", node_name(outcome.served_by)}};
  if (outcome.timed_out) {
    return error_response(write ? 504 : 503,
                          write ? "timed out: the write may or may not have been applied"
                                : "timed out: retry the read",
                          body);
  }
  switch (outcome.status) {
    case node::ReplyStatus::kOk:
      break;
    case node::ReplyStatus::kRedirect:
      return error_response(503, "no leader: retry", body);
    case node::ReplyStatus::kRejected:
      return error_response(503, "refused (leadership changing, disk failing or overloaded): retry",
                            body);
    case node::ReplyStatus::kDropped:
      return error_response(503, "not applied: a new leader replaced the entry; retry", body);
    case node::ReplyStatus::kStaleEpoch:
      return error_response(503, "the shard moved: retry", body);
    case node::ReplyStatus::kUnknown:
      return error_response(504, "outcome unknown: the leader changed before the write was applied",
                            body);
  }
  body["index"] = outcome.index.value;
  switch (command.op) {
    case kv::Op::kGet:
      if (!outcome.result.value) return error_response(404, "key not found", body);
      body["value"] = *outcome.result.value;
      return json_response(200, body);
    case kv::Op::kPut:
    case kv::Op::kDelete:
      return json_response(200, body);
    case kv::Op::kCas:
      body["succeeded"] = outcome.result.ok;
      body["value"] = outcome.result.value ? json(*outcome.result.value) : json(nullptr);
      return json_response(outcome.result.ok ? 200 : 409, body);
  }
  return error_response(500, "unreachable");
}

// One member as the API shows it: the leader knows everyone's match index; others do not.
json member_json(Runtime& runtime, NodeId id) {
  const raft::Raft& raft = runtime.meta()->raft();
  const raft::ConfState& conf = raft.conf_state();
  const bool voter = raft::is_voter(conf, id);
  json m{{"id", node_name(id)},
         {"voter", voter},
         {"peer_address", runtime.peer_address(id) ? json(*runtime.peer_address(id)) : json(nullptr)}};
  m["role"] = id == raft.leader() ? "leader" : voter ? "follower" : "learner";
  if (raft.role() == raft::Role::kLeader) {
    const LogIndex last = raft.log().last_index();
    const LogIndex match = id == raft.id() ? last : raft.progress(id) ? raft.progress(id)->match : LogIndex(0);
    m["match_index"] = match.value;
    m["lag"] = last.value - std::min(last.value, match.value);
  } else {
    m["match_index"] = nullptr;
    m["lag"] = nullptr;
  }
  return m;
}

// A node with no replica of group 1 (sharded): the replicas it holds.
json host_json(Runtime& runtime) {
  node::Host& host = runtime.host();
  size_t leaders = 0;
  for (GroupId group : host.group_ids()) {
    const node::Node* replica = host.group(group);
    leaders += replica->raft().role() == raft::Role::kLeader ? 1 : 0;
  }
  json out{{"shards", runtime.params().shards},
           {"replication", runtime.params().replication},
           {"replicas", host.group_count()},
           {"leaders", leaders}};
  // On a metadata replica: the map and the moves as this replica has applied them.
  if (const auto meta = host.meta_state(); meta && meta->initialized()) {
    size_t done = 0, cancelled = 0;
    for (const auto& [move_id, record] : meta->moves) {
      done += record.state == shard::MoveState::kDone ? 1 : 0;
      cancelled += record.state == shard::MoveState::kCancelled ? 1 : 0;
    }
    out["map_version"] = meta->map.version;
    out["moves_unfinished"] = meta->moves_unfinished();
    out["moves_done"] = done;
    out["moves_cancelled"] = cancelled;
    out["drops_unacked"] = meta->drops_unacked();
  }
  return out;
}

json cluster_json(Runtime& runtime) {
  node::Node* group1 = runtime.meta();
  if (group1 == nullptr) {
    return json{{"node", node_name(runtime.config().id)},
                {"cluster_id", runtime.config().cluster_id},
                {"sharding", host_json(runtime)}};
  }
  const raft::Raft& raft = group1->raft();
  json members = json::array();
  for (NodeId id : raft::members(raft.conf_state())) members.push_back(member_json(runtime, id));
  json out{{"node", node_name(raft.id())},
           {"cluster_id", runtime.config().cluster_id},
           {"role", role_name(raft.role())},
           {"leader", node_or_null(raft.leader())},
           {"term", raft.term().value},
           {"commit_index", raft.log().committed().value},
           {"applied_index", raft.log().applied().value},
           {"last_index", raft.log().last_index().value},
           {"joint", !raft.conf_state().voters_outgoing.empty()},
           {"members", members}};
  if (runtime.sharded()) out["sharding"] = host_json(runtime);
  return out;
}

std::string propose_error_text(const raft::ProposeError& error) {
  switch (error.code) {
    case raft::ProposeErrorCode::kNotLeader: return "not the leader";
    case raft::ProposeErrorCode::kConfChangeInvalid:
      return "it cannot apply to the current configuration (a joint configuration must be left first, "
             "and a configuration needs a voter)";
    default: return "another membership change is in progress, or leadership is being transferred";
  }
}


}  // namespace

// ---------------------------------------------------------------------------------------------

namespace {

void handle_kv(Runtime& runtime, const HttpRequest& request, const std::string& rest, Respond respond) {
  std::string key = rest;
  kv::Command command;
  if (request.method == "POST" && key.size() > 4 && key.ends_with("/cas")) {
    key.resize(key.size() - 4);
    auto body = parse_json(request.body);
    if (!body || !body->is_object() || !body->contains("value") || !(*body)["value"].is_string() ||
        (body->contains("expected") && !(*body)["expected"].is_string() && !(*body)["expected"].is_null())) {
      return respond(error_response(400, "cas needs a JSON body {\"expected\": string or null, \"value\": string}"));
    }
    command.op = kv::Op::kCas;
    command.value = (*body)["value"].get<std::string>();
    if (body->contains("expected") && (*body)["expected"].is_string()) {
      command.expected = (*body)["expected"].get<std::string>();
    }
  } else if (request.method == "PUT") {
    command.op = kv::Op::kPut;
    command.value = request.body;
  } else if (request.method == "GET") {
    command.op = kv::Op::kGet;
  } else if (request.method == "DELETE") {
    command.op = kv::Op::kDelete;
  } else {
    return respond(error_response(405, "method " + request.method + " not allowed on /v1/kv/{key}"));
  }
  if (key.empty()) return respond(error_response(400, "empty key"));
  if (key[0] == '\0') return respond(error_response(400, "keys may not start with a NUL byte"));
  command.key = key;
  if (command.op == kv::Op::kGet) {
    auto consistency = request.query.find("consistency");
    if (consistency != request.query.end() && consistency->second != "linearizable") {
      if (consistency->second != "stale") {
        return respond(error_response(400, "consistency must be linearizable or stale"));
      }
      // A stale read: this node's state as it is, without asking the leader (sharded: when it
      // holds a replica of the key's shard; else the read goes to one that does).
      if (const node::Node* replica = runtime.host().group(runtime.group_of_key(key))) {
        Runtime::Outcome outcome;
        outcome.result.value = replica->kv().get(key);
        outcome.index = replica->raft().log().applied();
        outcome.served_by = runtime.config().id;
        return respond(kv_response(command, outcome));
      }
    }
  }
  runtime.submit(command, [&runtime, command, respond = std::move(respond)](Runtime::Outcome outcome) {
    if (command.op != kv::Op::kGet) {
      if (!outcome.timed_out && outcome.status == node::ReplyStatus::kOk) {
        ++runtime.metrics().proposals_committed;
      } else {
        ++runtime.metrics().proposals_failed;
      }
    }
    respond(kv_response(command, outcome));
  });
}

// Sharded: members are the nodes of the metadata state (each holds shard replicas); adding one
// makes the executor move replicas to it, removing one moves them away. The metadata group's
// own voters stay as the cluster was created.
json shard_members_json(Runtime& runtime) {
  json members = json::array();
  const auto meta = runtime.host().meta_state();
  if (!meta) return members;
  std::map<NodeId, std::pair<size_t, size_t>> counts;  // replicas, preferred leaderships
  for (const shard::ShardPlacement& placement : meta->map.shards) {
    for (NodeId id : placement.replicas) ++counts[id].first;
    ++counts[placement.leader].second;
  }
  for (const shard::MetaNode& node : meta->nodes) {
    const auto address = runtime.peer_address(node.id);
    members.push_back(json{{"id", node_name(node.id)},
                           {"state", node.state == shard::NodeState::kActive ? "active" : "leaving"},
                           {"weight", node.weight},
                           {"replicas", counts[node.id].first},
                           {"leaders", counts[node.id].second},
                           {"peer_address", address ? json(*address) : json(nullptr)}});
  }
  return members;
}

void handle_shard_members(Runtime& runtime, const HttpRequest& request, const std::string& rest,
                          Respond respond) {
  node::Node& group1 = *runtime.meta();
  const raft::Raft& raft = group1.raft();
  if (request.method == "GET" && rest.empty()) {
    return respond(json_response(200, json{{"members", shard_members_json(runtime)},
                                           {"leader", node_or_null(raft.leader())},
                                           {"node", node_name(raft.id())}}));
  }
  if (auto refused = refuse_admin(runtime, request, raft)) return respond(std::move(*refused));
  const auto meta = runtime.host().meta_state();
  if (!meta || !meta->initialized()) {
    return respond(error_response(503, "the shard map is not written yet: retry"));
  }
  NodeId id;
  std::optional<std::string> address;
  shard::NodeState state = shard::NodeState::kActive;
  if (request.method == "POST" && rest.empty()) {
    auto body = parse_json(request.body);
    if (!body || !body->is_object() || !body->contains("id") || !(*body)["id"].is_string() ||
        !body->contains("peer_address") || !(*body)["peer_address"].is_string()) {
      return respond(error_response(400, "needs a JSON body {\"id\": \"n4\", \"peer_address\": \"host:port\"}"));
    }
    auto parsed = parse_node_name((*body)["id"].get<std::string>());
    if (!parsed) return respond(error_response(400, "id must look like n4"));
    address = (*body)["peer_address"].get<std::string>();
    if (!split_host_port(*address)) return respond(error_response(400, "peer_address must be host:port"));
    id = *parsed;
    const shard::MetaNode* known = meta->node(id);
    if (known && known->state == shard::NodeState::kActive) {
      return respond(error_response(409, node_name(id) + " is already a member"));
    }
  } else if (request.method == "DELETE" && !rest.empty()) {
    auto parsed = parse_node_name(rest);
    if (!parsed) return respond(error_response(400, "member id must look like n4"));
    id = *parsed;
    const shard::MetaNode* known = meta->node(id);
    if (!known) return respond(error_response(404, node_name(id) + " is not a member"));
    if (known->state == shard::NodeState::kLeaving) {
      return respond(error_response(409, node_name(id) + " is leaving already"));
    }
    const auto meta_voters = raft::members(group1.raft().conf_state());
    if (std::count(meta_voters.begin(), meta_voters.end(), id)) {
      return respond(error_response(409, node_name(id) + " holds the metadata group, whose members are fixed "
                                         "at the cluster's creation: it cannot be removed"));
    }
    if (meta->active_nodes().size() <= runtime.params().replication) {
      return respond(error_response(409, "removing " + node_name(id) + " would leave fewer nodes than replicas per shard"));
    }
    state = shard::NodeState::kLeaving;
  } else {
    return respond(error_response(405, request.method + " /v1/members" + (rest.empty() ? "" : "/" + rest) + " is not a route"));
  }
  // Its address first, in the log before the node record: every node can dial it once the
  // executor gives it replicas.
  if (address &&
      !runtime.host().propose_meta(kv::Command{kv::Op::kPut, kPeerAddressPrefix + node_name(id), *address, {}})) {
    return respond(error_response(409, "not the leader any more: retry"));
  }
  const kv::Command record = shard::put_node({id, 1, state});
  if (!runtime.host().propose_meta(record)) {
    return respond(error_response(409, "not the leader any more: retry"));
  }
  runtime.request_drain();
  log::info("{} {}: the executor plans its moves", state == shard::NodeState::kActive ? "adding" : "removing",
            node_name(id));
  runtime.wait_until(
      [&runtime, record] {
        return runtime.meta() && runtime.meta()->kv().get(record.key) == record.value;
      },
      [&runtime, id, state, respond = std::move(respond)](bool applied) {
        if (!applied) {
          return respond(error_response(504, "the change was proposed but not applied in time; check GET /v1/members"));
        }
        runtime.share_addresses();
        respond(json_response(200, json{{"id", node_name(id)},
                                        {"state", state == shard::NodeState::kActive ? "active" : "leaving"},
                                        {"members", shard_members_json(runtime)}}));
      });
}

void handle_members(Runtime& runtime, const HttpRequest& request, const std::string& rest, Respond respond) {
  if (runtime.meta() == nullptr) return respond(no_meta_response(runtime));
  if (runtime.sharded()) return handle_shard_members(runtime, request, rest, std::move(respond));
  node::Node& node = *runtime.meta();
  const raft::Raft& raft = node.raft();
  if (request.method == "GET" && rest.empty()) {
    json members = json::array();
    for (NodeId id : raft::members(raft.conf_state())) members.push_back(member_json(runtime, id));
    return respond(json_response(200, json{{"members", members},
                                           {"leader", node_or_null(raft.leader())},
                                           {"node", node_name(raft.id())}}));
  }
  if (auto refused = refuse_admin(runtime, request, raft)) return respond(std::move(*refused));
  raft::ConfChange change;
  NodeId id;
  if (request.method == "POST" && rest.empty()) {
    auto body = parse_json(request.body);
    if (!body || !body->is_object() || !body->contains("id") || !(*body)["id"].is_string() ||
        !body->contains("peer_address") || !(*body)["peer_address"].is_string()) {
      return respond(error_response(400, "needs a JSON body {\"id\": \"n4\", \"peer_address\": \"host:port\", \"learner\": false}"));
    }
    auto parsed = parse_node_name((*body)["id"].get<std::string>());
    const std::string address = (*body)["peer_address"].get<std::string>();
    if (!parsed) return respond(error_response(400, "id must look like n4"));
    if (!split_host_port(address)) return respond(error_response(400, "peer_address must be host:port"));
    id = *parsed;
    if (raft::is_member(raft.conf_state(), id)) {
      return respond(error_response(409, node_name(id) + " is already a member"));
    }
    const bool learner = body->contains("learner") && (*body)["learner"].is_boolean() && (*body)["learner"].get<bool>();
    change.changes.push_back(raft::ConfChangeItem{
        learner ? raft::ConfChangeType::kAddLearner : raft::ConfChangeType::kAddVoter, id});
    // Its address first, in the log before the change: every member can dial it once it joins.
    node.on_client_request(node::ClientRequest{
        kInternalClient, 0, kv::Command{kv::Op::kPut, kPeerAddressPrefix + node_name(id), address, {}}});
  } else if ((request.method == "DELETE" && !rest.empty()) ||
             (request.method == "POST" && rest.ends_with("/promote"))) {
    const bool promote = request.method == "POST";
    auto parsed = parse_node_name(promote ? rest.substr(0, rest.size() - 8) : rest);
    if (!parsed) return respond(error_response(400, "member id must look like n4"));
    id = *parsed;
    if (!raft::is_member(raft.conf_state(), id)) {
      return respond(error_response(404, node_name(id) + " is not a member"));
    }
    change.changes.push_back(raft::ConfChangeItem{
        promote ? raft::ConfChangeType::kAddVoter : raft::ConfChangeType::kRemoveNode, id});
  } else {
    return respond(error_response(405, request.method + " /v1/members" + (rest.empty() ? "" : "/" + rest) + " is not a route"));
  }
  auto index = node.propose_conf_change(change);
  if (!index) {
    return respond(error_response(409, "membership change refused: " + propose_error_text(index.error())));
  }
  runtime.request_drain();
  const LogIndex at = *index;
  log::info("proposed membership change at index {}: {}", at.value, node_name(id));
  runtime.wait_until([&runtime, at] { return runtime.meta()->raft().log().applied() >= at; },
                     [&runtime, at, id, respond = std::move(respond)](bool applied) {
                       if (!applied) {
                         return respond(error_response(504, "the change was proposed but not applied in time; check GET /v1/members"));
                       }
                       json members = json::array();
                       for (NodeId m : raft::members(runtime.meta()->raft().conf_state())) {
                         members.push_back(member_json(runtime, m));
                       }
                       respond(json_response(200, json{{"id", node_name(id)}, {"index", at.value}, {"members", members}}));
                     });
}

void handle_transfer(Runtime& runtime, const HttpRequest& request, Respond respond) {
  if (runtime.meta() == nullptr) return respond(no_meta_response(runtime));
  node::Node& node = *runtime.meta();
  const raft::Raft& raft = node.raft();
  if (auto refused = refuse_admin(runtime, request, raft)) return respond(std::move(*refused));
  auto body = parse_json(request.body.empty() ? "{}" : request.body);
  if (!body || !body->is_object() || (body->contains("to") && !(*body)["to"].is_string())) {
    return respond(error_response(400, "needs a JSON body {\"to\": \"n2\"}"));
  }
  NodeId to;
  if (body->contains("to")) {
    auto parsed = parse_node_name((*body)["to"].get<std::string>());
    if (!parsed) return respond(error_response(400, "to must look like n2"));
    to = *parsed;
  } else {
    // The most caught-up other voter.
    LogIndex best;
    for (NodeId v : raft.voters()) {
      if (v == raft.id() || !raft.progress(v)) continue;
      if (to == kNoNode || raft.progress(v)->match > best) {
        to = v;
        best = raft.progress(v)->match;
      }
    }
    if (to == kNoNode) return respond(error_response(409, "no other voter to transfer to"));
  }
  if (to == raft.id()) return respond(json_response(200, json{{"leader", node_name(to)}}));
  if (auto started = node.transfer_leadership(to); !started) {
    return respond(error_response(409, std::string("transfer refused: ") +
                                  (started.error().code == raft::TransferErrorCode::kNotLeader
                                       ? "not the leader"
                                       : node_name(to) + " is not a voter")));
  }
  runtime.request_drain();
  runtime.wait_until([&runtime, to] { return runtime.meta() && runtime.meta()->raft().leader() == to; },
                     [to, respond = std::move(respond)](bool done) {
                       if (!done) return respond(error_response(504, "leadership did not move in time"));
                       respond(json_response(200, json{{"leader", node_name(to)}}));
                     });
}

ShardGauges shard_gauges(Runtime& runtime) {
  ShardGauges s;
  node::Host& host = runtime.host();
  for (GroupId group : host.group_ids()) {
    if (!shard::is_shard_group(group)) continue;
    const raft::Raft& raft = host.group(group)->raft();
    ++s.replicas;
    s.leaders += raft.role() == raft::Role::kLeader ? 1 : 0;
    s.leaderless += raft.leader() == kNoNode ? 1 : 0;
  }
  const auto meta = host.meta_state();
  if (!meta || !meta->initialized()) return s;
  s.has_map = true;
  s.map_version = meta->map.version;
  s.drops_unacked = meta->drops_unacked();
  for (shard::MoveState state : {shard::MoveState::kPending, shard::MoveState::kRunning,
                                 shard::MoveState::kDone, shard::MoveState::kCancelled}) {
    s.moves_by_state[shard::to_string(state)] = 0;
  }
  for (const auto& [id, record] : meta->moves) ++s.moves_by_state[shard::to_string(record.state)];
  for (const shard::MetaNode& node : meta->nodes) {
    s.node_replicas[node_name(node.id)] = 0;
    s.node_leaders[node_name(node.id)] = 0;
  }
  for (const shard::ShardPlacement& placement : meta->map.shards) {
    for (NodeId id : placement.replicas) ++s.node_replicas[node_name(id)];
    ++s.node_leaders[node_name(placement.leader)];
  }
  return s;
}

MetricsGauges gauges(Runtime& runtime) {
  MetricsGauges g;
  g.snapshot_chunks_held = runtime.host().snapshot_budget().held;
  if (const node::Node* group1 = runtime.meta()) {
    const raft::Raft& raft = group1->raft();
    g.term = raft.term().value;
    g.is_leader = raft.role() == raft::Role::kLeader;
    g.commit_index = raft.log().committed().value;
    g.applied_index = raft.log().applied().value;
    g.apply_lag = g.commit_index - std::min(g.commit_index, g.applied_index);
  }
  if (runtime.sharded()) g.shards = shard_gauges(runtime);
  for (const auto& [peer, stats] : runtime.peers().stats()) {
    g.peer_send_queue_frames[node_name(peer)] = stats.queued_frames;
    g.peer_send_queue_bytes[node_name(peer)] = stats.queued_bytes;
  }
  return g;
}

// The route's name in the metrics.
std::string route_of(const HttpRequest& request) {
  const std::string& path = request.path;
  if (path == "/health") return "health";
  if (path == "/ready") return "ready";
  if (path == "/metrics") return "metrics";
  if (path.starts_with("/v1/kv/")) {
    if (request.method == "GET") return "kv_get";
    if (request.method == "PUT") return "kv_put";
    if (request.method == "DELETE") return "kv_delete";
    return "kv_cas";
  }
  if (path == "/v1/cluster") return "cluster";
  if (path == "/v1/members" || path.starts_with("/v1/members/")) return "members";
  if (path == "/v1/leader/transfer") return "leader_transfer";
  if (path == "/v1/shards" || path.starts_with("/v1/shards/")) return "shards";
  if (path == "/v1/route") return "route";
  if (path == "/v1/rebalance") return "rebalance";
  return "unknown";
}

}  // namespace

void Runtime::handle_http(HttpRequest request, Respond respond) {
  const auto started = Clock::now();
  const std::string route = route_of(request);
  const std::string& path = request.path;
  // Every answer (now or later) is timed by route for the metrics.
  auto timed = [this, started, route, respond = std::move(respond)](HttpResponse response) {
    response.headers.emplace_back("X-Grape-Node", node_name(config_.id));
    metrics_.observe_http(route, std::chrono::duration<double>(Clock::now() - started).count());
    respond(std::move(response));
  };
  if (route == "health") {
    return timed(json_response(200, json{{"status", "ok"}, {"node", node_name(config_.id)}}));
  }
  if (route == "ready") {
    // Every replica here knows its group's leader and has applied what it knows committed.
    bool ready = true;
    for (GroupId group : host_->group_ids()) {
      const raft::Raft& raft = host_->group(group)->raft();
      ready &= raft.leader() != kNoNode && raft.log().applied() >= raft.log().committed();
    }
    const node::Node* group1 = meta();
    return timed(json_response(
        ready ? 200 : 503,
        json{{"ready", ready},
             {"leader", group1 ? node_or_null(group1->raft().leader()) : json(nullptr)},
             {"node", node_name(config_.id)}}));
  }
  if (route == "metrics") {
    metrics_.peer_frames_dropped = peers_->frames_dropped();
    metrics_.peer_connections_refused = peers_->connections_refused();
    return timed(HttpResponse{200, "text/plain; version=0.0.4",
                              render_prometheus(node_name(config_.id), metrics_, gauges(*this)), {}});
  }
  if (route.starts_with("kv_")) return handle_kv(*this, request, path.substr(7), std::move(timed));
  if (route == "cluster" && request.method == "GET") {
    return timed(json_response(200, cluster_json(*this)));
  }
  if (route == "members") {
    return handle_members(*this, request, path.size() > 12 ? path.substr(12) : "", std::move(timed));
  }
  if (route == "leader_transfer" && request.method == "POST") {
    return handle_transfer(*this, request, std::move(timed));
  }
  if (route == "shards" || route == "route" || route == "rebalance") {
    return handle_shard_api(*this, request, std::move(timed));
  }
  timed(error_response(404, "no route " + request.method + " " + path));
}

}  // namespace grape::net
