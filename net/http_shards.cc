// The sharding routes of the HTTP API (docs/http-api.md):
//
//   GET  /v1/shards           the map: every shard's epoch, replicas, preferred and current leader
//   GET  /v1/shards/{id}      one shard, with its Raft state where this node holds a replica
//   GET  /v1/route?key=K      the shard and route entry a key goes to (any node)
//   GET  /v1/rebalance        the plan: every move and its state, and what is left
//   POST /v1/rebalance        (admin) plan again now; {"dry_run": true} only shows the plan
//
// The map and the plan live in the metadata group: those calls are answered by its replicas
// (its leader for POST), from the state they have applied.

#include "core/raft/conf_change.h"
#include "core/shard/meta.h"
#include "net/http_json.h"
#include "net/shard_json.h"

namespace grape::net {

namespace {

json route_json(const shard::RouteEntry& route) {
  json replicas = json::array();
  for (NodeId id : route.replicas) replicas.push_back(node_name(id));
  return json{{"shard", route.shard},
              {"group", shard::group_of(route.shard).value},
              {"epoch", route.epoch.value},
              {"replicas", replicas},
              {"leader", node_or_null(route.leader)}};
}

// The window the metadata members count each shard's requests over, in seconds.
double traffic_window_seconds(Runtime& runtime) {
  return static_cast<double>(runtime.host().traffic_window_ticks()) *
         static_cast<double>(runtime.config().tick_ms) / 1000.0;
}

// A shard as the map has it, with the leader this node last heard of and, where it holds a
// replica, that replica's state (the leader's knows each follower's lag).
json shard_json(Runtime& runtime, uint32_t shard, const shard::ShardPlacement& placement,
                bool detail) {
  json out = shard_to_json(shard, placement);
  out["epoch"] = placement.epoch.value;
  const shard::RouteEntry* route = runtime.host().route(shard);
  out["leader_now"] = route ? node_or_null(route->leader) : json(nullptr);
  // Traffic as the metadata group hears it (every node's load reports): requests/s over the last
  // window, and the data's size from the shard's leader (null until it reports).
  const auto& traffic = runtime.host().shard_traffic();
  const auto heard = traffic.find(shard);
  const double window_s = traffic_window_seconds(runtime);
  out["requests_per_sec"] =
      heard == traffic.end() || window_s <= 0 ? 0.0 : static_cast<double>(heard->second.requests) / window_s;
  out["bytes"] = heard != traffic.end() && heard->second.has_bytes ? json(heard->second.bytes) : json(nullptr);
  const node::Node* replica = runtime.host().group(shard::group_of(shard));
  if (replica == nullptr) return out;
  const raft::Raft& raft = replica->raft();
  out["leader_now"] = node_or_null(raft.leader());
  out["healthy"] = raft.leader() != kNoNode;
  if (!detail) return out;
  json local{{"node", node_name(raft.id())},
             {"role", role_name(raft.role())},
             {"term", raft.term().value},
             {"commit_index", raft.log().committed().value},
             {"applied_index", raft.log().applied().value},
             {"keys", replica->kv().size()}};
  if (raft.role() == raft::Role::kLeader) {
    json lag = json::object();
    const LogIndex last = raft.log().last_index();
    for (NodeId id : raft::members(raft.conf_state())) {
      if (id == raft.id()) continue;
      const raft::Progress* pr = raft.progress(id);
      lag[node_name(id)] = pr ? last.value - std::min(last.value, pr->match.value) : last.value;
    }
    local["lag"] = lag;
  }
  out["replica"] = local;
  return out;
}

json move_json(const shard::MoveRecord& record) {
  return json{{"id", record.id},
              {"shard", record.move.shard},
              {"from", node_name(record.move.from)},
              {"to", node_name(record.move.to)},
              {"state", shard::to_string(record.state)},
              {"drop_acked", record.drop_acked}};
}

json rebalance_json(const shard::MetaState& meta) {
  json moves = json::array();
  std::map<std::string, size_t> by_state;
  for (const auto& [id, record] : meta.moves) {
    moves.push_back(move_json(record));
    ++by_state[shard::to_string(record.state)];
  }
  return json{{"map_version", meta.map.version},
              {"rebalances_asked", meta.rebalances},
              {"moves_unfinished", meta.moves_unfinished()},
              {"moves_by_state", by_state},
              {"drops_unacked", meta.drops_unacked()},
              {"moves", moves}};
}

// Each node's requests/s as the planner counts them (shard::served_by_node: followers' reads
// shared by every replica, the rest at the shard's preferred leader), over the last load window.
void add_node_load(Runtime& runtime, const shard::MetaState& meta, json& nodes) {
  const auto& traffic = runtime.host().shard_traffic();
  std::vector<shard::ShardLoad> load(meta.map.shard_count());
  for (const auto& [shard, heard] : traffic) {
    if (shard >= load.size()) continue;
    load[shard].requests = heard.requests - heard.follower_requests;
    load[shard].follower_requests = heard.follower_requests;
  }
  const std::vector<shard::NodeSpec> active = meta.active_nodes();
  const uint32_t replication = std::max<uint32_t>(1, meta.map.replication);
  const std::vector<uint64_t> served = shard::served_by_node(meta.map, active, load, replication);
  const double unit = replication > 1 ? static_cast<double>(replication - 1) : 1.0;
  const double window_s = traffic_window_seconds(runtime);
  for (json& node : nodes) {
    for (size_t i = 0; i < active.size() && i < served.size(); ++i) {
      if (node.value("id", "") != node_name(active[i].id)) continue;
      node["requests_per_sec"] = window_s > 0 ? static_cast<double>(served[i]) / unit / window_s : 0.0;
    }
  }
}

void get_shards(Runtime& runtime, const shard::MetaState& meta, const std::string& rest,
                Respond respond) {
  if (rest.empty()) {
    json shards = json::array();
    size_t unhealthy = 0;
    for (uint32_t s = 0; s < meta.map.shard_count(); ++s) {
      json one = shard_json(runtime, s, meta.map.shards[s], false);
      unhealthy += one.value("healthy", true) ? 0 : 1;
      shards.push_back(std::move(one));
    }
    json nodes = map_to_json(meta.map, meta.active_nodes(), {})["nodes"];
    add_node_load(runtime, meta, nodes);
    return respond(json_response(200, json{{"map_version", meta.map.version},
                                           {"shards", shards},
                                           {"nodes", nodes},
                                           {"unhealthy_seen", unhealthy},
                                           {"moves_unfinished", meta.moves_unfinished()},
                                           {"node", node_name(runtime.config().id)}}));
  }
  char* end = nullptr;
  const unsigned long id = std::strtoul(rest.c_str(), &end, 10);
  if (rest.empty() || *end != '\0' || id >= meta.map.shard_count()) {
    return respond(error_response(404, "no shard '" + rest + "' (shards are 0.." +
                                           std::to_string(meta.map.shard_count() - 1) + ")"));
  }
  const auto shard = static_cast<uint32_t>(id);
  json out = shard_json(runtime, shard, meta.map.shards[shard], true);
  json moves = json::array();
  for (const auto& [move_id, record] : meta.moves) {
    if (record.move.shard == shard) moves.push_back(move_json(record));
  }
  out["moves"] = moves;
  respond(json_response(200, out));
}

void post_rebalance(Runtime& runtime, const HttpRequest& request, const shard::MetaState& meta,
                    Respond respond) {
  if (auto refused = refuse_admin(runtime, request, runtime.meta()->raft())) {
    return respond(std::move(*refused));
  }
  auto body = parse_json(request.body.empty() ? "{}" : request.body);
  if (!body || !body->is_object() || (body->contains("dry_run") && !(*body)["dry_run"].is_boolean())) {
    return respond(error_response(400, "needs a JSON body {\"dry_run\": true|false}"));
  }
  const bool dry_run = body->value("dry_run", false);
  shard::PlacementOptions options;
  options.shards = runtime.params().shards;
  options.replication = runtime.params().replication;
  auto plan = shard::plan(meta.map, meta.active_nodes(), options);
  if (!plan) return respond(error_response(409, "cannot plan: " + plan.error().message));
  json moves = json::array();
  for (const shard::Move& m : plan->moves) {
    moves.push_back(json{{"shard", m.shard}, {"from", node_name(m.from)}, {"to", node_name(m.to)}});
  }
  json out{{"dry_run", dry_run},
           {"moves", moves},
           {"transfers", plan->transfers.size()},
           {"moves_unfinished", meta.moves_unfinished()}};
  if (dry_run) return respond(json_response(200, out));
  if (!runtime.host().propose_meta(shard::put_rebalances(meta.rebalances + 1))) {
    return respond(error_response(409, "not the leader any more: retry"));
  }
  runtime.request_drain();
  out["rebalances_asked"] = meta.rebalances + 1;
  respond(json_response(202, out));
}

}  // namespace

HttpResponse no_meta_response(Runtime& runtime) {
  std::vector<NodeId> first;
  for (const shard::NodeSpec& node : runtime.params().initial_nodes) first.push_back(node.id);
  json holders = json::array();
  std::string names;
  for (NodeId id : shard::meta_voters_of(first)) {
    holders.push_back(node_name(id));
    names += (names.empty() ? "" : ", ") + node_name(id);
  }
  return error_response(503, node_name(runtime.config().id) +
                                 " holds no replica of the metadata group: ask " + names,
                        json{{"metadata_members", holders}, {"leader", nullptr}});
}

void handle_shard_api(Runtime& runtime, const HttpRequest& request, Respond respond) {
  if (!runtime.sharded()) {
    return respond(error_response(404, "this cluster has no shards (started without --shards)"));
  }
  const std::string& path = request.path;
  if (path == "/v1/route") {
    if (request.method != "GET") return respond(error_response(405, "GET /v1/route?key=K"));
    auto key = request.query.find("key");
    if (key == request.query.end() || key->second.empty()) {
      return respond(error_response(400, "needs ?key=K"));
    }
    const uint32_t shard = shard::shard_of(key->second, runtime.params().shards);
    const shard::RouteEntry* route = runtime.host().route(shard);
    json out = route ? route_json(*route) : json{{"shard", shard}};
    out["key"] = key->second;
    out["node"] = node_name(runtime.config().id);
    return respond(json_response(200, out));
  }
  if (runtime.meta() == nullptr) return respond(no_meta_response(runtime));
  const auto meta = runtime.host().meta_state();
  if (!meta || !meta->initialized()) {
    return respond(error_response(503, "the shard map is not written yet: retry"));
  }
  if (path == "/v1/rebalance") {
    if (request.method == "GET") return respond(json_response(200, rebalance_json(*meta)));
    if (request.method == "POST") return post_rebalance(runtime, request, *meta, std::move(respond));
    return respond(error_response(405, "GET or POST /v1/rebalance"));
  }
  if (request.method != "GET") return respond(error_response(405, "GET " + path));
  get_shards(runtime, *meta, path.size() > 11 ? path.substr(11) : "", std::move(respond));
}

}  // namespace grape::net
