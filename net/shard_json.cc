#include "net/shard_json.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "net/runtime.h"

namespace grape::net {

using nlohmann::json;

json shard_to_json(uint32_t shard, const shard::ShardPlacement& placement) {
  json replicas = json::array();
  for (NodeId node : placement.replicas) replicas.push_back(shard::node_name(node));
  return {{"id", shard},
          {"replicas", std::move(replicas)},
          {"leader", shard::node_name(placement.leader)},
          {"epoch", placement.epoch.value}};
}

json map_to_json(const shard::ShardMap& map, const std::vector<shard::NodeSpec>& nodes,
                 double weight_divisor) {
  json shards = json::array();
  for (uint32_t shard = 0; shard < map.shard_count(); ++shard) {
    shards.push_back(shard_to_json(shard, map.shards[shard]));
  }
  json per_node = json::array();
  for (const shard::NodeCounts& count : shard::count_by_node(map, nodes)) {
    json entry = {{"id", shard::node_name(count.node)},
                  {"replicas", count.replicas},
                  {"leaders", count.leaders}};
    auto spec = std::find_if(nodes.begin(), nodes.end(),
                             [&](const shard::NodeSpec& node) { return node.id == count.node; });
    entry["weight"] = spec == nodes.end() ? 0.0 : spec->weight / weight_divisor;
    per_node.push_back(std::move(entry));
  }
  return {{"version", map.version},
          {"replication", map.replication},
          {"shards", std::move(shards)},
          {"nodes", std::move(per_node)}};
}

void add_plan_to_json(const shard::Plan& plan, json& out) {
  json moves = json::array();
  for (const shard::Move& move : plan.moves) {
    moves.push_back({{"shard", move.shard},
                     {"from", shard::node_name(move.from)},
                     {"to", shard::node_name(move.to)}});
  }
  json transfers = json::array();
  for (const shard::LeaderTransfer& transfer : plan.transfers) {
    transfers.push_back({{"shard", transfer.shard},
                         {"from", shard::node_name(transfer.from)},
                         {"to", shard::node_name(transfer.to)}});
  }
  out["moves"] = std::move(moves);
  out["transfers"] = std::move(transfers);
}

namespace {

Expected<NodeId, std::string> node_field(const json& entry, const char* field,
                                         const std::string& where) {
  if (!entry.contains(field) || !entry[field].is_string()) {
    return Unexpected(where + ": `" + field + "` must be a node name");
  }
  const std::string name = entry[field].get<std::string>();
  const auto node = parse_node_name(name);
  if (!node) return Unexpected(where + ": `" + field + "`: '" + name + "' is not a node name");
  return *node;
}

}  // namespace

Expected<shard::ShardMap, std::string> map_from_json(const json& in) {
  if (!in.is_object() || !in.contains("shards") || !in["shards"].is_array()) {
    return Unexpected(std::string("expected an object with a `shards` array"));
  }
  const json& shards = in["shards"];
  shard::ShardMap map;
  map.shards.resize(shards.size());
  std::vector<bool> seen(shards.size(), false);
  for (size_t i = 0; i < shards.size(); ++i) {
    const json& entry = shards[i];
    std::string where = "shards[" + std::to_string(i) + "]";
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_unsigned()) {
      return Unexpected(where + ": `id` must be a shard number");
    }
    const auto id = entry["id"].get<uint64_t>();
    if (id >= shards.size() || seen[id]) {
      return Unexpected(where + ": shard " + std::to_string(id) +
                        (id >= shards.size() ? " is out of range: ids are 0.." +
                                                   std::to_string(shards.size() - 1)
                                             : " is listed twice"));
    }
    seen[id] = true;
    where = "shard " + std::to_string(id);
    shard::ShardPlacement& placement = map.shards[id];
    if (!entry.contains("replicas") || !entry["replicas"].is_array() ||
        entry["replicas"].empty()) {
      return Unexpected(where + ": `replicas` must be a list of node names");
    }
    for (const json& replica : entry["replicas"]) {
      if (!replica.is_string()) return Unexpected(where + ": `replicas` must hold node names");
      const auto node = parse_node_name(replica.get<std::string>());
      if (!node) {
        return Unexpected(where + ": '" + replica.get<std::string>() + "' is not a node name");
      }
      placement.replicas.push_back(*node);
    }
    auto leader = node_field(entry, "leader", where);
    if (!leader) return Unexpected(leader.error());
    placement.leader = *leader;
    if (entry.contains("epoch")) {
      if (!entry["epoch"].is_number_unsigned() || entry["epoch"].get<uint64_t>() == 0) {
        return Unexpected(where + ": `epoch` must be a positive number");
      }
      placement.epoch = Epoch(entry["epoch"].get<uint64_t>());
    }
  }
  map.replication = shards.empty() ? 0 : static_cast<uint32_t>(map.shards[0].replicas.size());
  if (in.contains("replication")) {
    if (!in["replication"].is_number_unsigned()) {
      return Unexpected(std::string("`replication` must be a number"));
    }
    map.replication = in["replication"].get<uint32_t>();
  }
  if (in.contains("version")) {
    if (!in["version"].is_number_unsigned()) {
      return Unexpected(std::string("`version` must be a number"));
    }
    map.version = in["version"].get<uint64_t>();
  }
  return map;
}

}  // namespace grape::net
