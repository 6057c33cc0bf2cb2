#pragma once
// The shard map as JSON: what `grape shard plan` prints and reads back (`--from`), and what the
// HTTP API serves (docs/http-api.md). Nodes are written by name (n1, n2, ...).
//
//   {"version": 2, "replication": 3,
//    "shards": [{"id": 0, "replicas": ["n1", "n2", "n3"], "leader": "n2", "epoch": 1}, ...],
//    "nodes": [{"id": "n1", "weight": 1, "replicas": 768, "leaders": 256}, ...],
//    "moves": [{"shard": 5, "from": "n3", "to": "n4"}, ...],          (a plan only)
//    "transfers": [{"shard": 9, "from": "n1", "to": "n4"}, ...]}      (a plan only)

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/base/expected.h"
#include "core/shard/placement.h"

namespace grape::net {

nlohmann::json shard_to_json(uint32_t shard, const shard::ShardPlacement& placement);
// `weight_divisor`: nodes' weights are printed divided by it (the CLI counts thousandths).
nlohmann::json map_to_json(const shard::ShardMap& map, const std::vector<shard::NodeSpec>& nodes,
                           double weight_divisor = 1);
void add_plan_to_json(const shard::Plan& plan, nlohmann::json& out);

// Reads `shards` (each with `id`, `replicas` and `leader`; `epoch` optional), `version` and
// `replication` (both optional). Errors name the shard and the field.
Expected<shard::ShardMap, std::string> map_from_json(const nlohmann::json& in);

}  // namespace grape::net
