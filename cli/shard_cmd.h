#pragma once
// `grape shard plan`: the offline planner (core/shard/placement.h) for operators and scripts.
// Places S shards with R replicas on nodes n1..nN (weighted, less any removed), or, with
// `--from OLD.json`, plans the moves from an existing placement. Prints a table, or with
// `--format json` the map as net/shard_json.h writes it. Exit 0, or 2 on bad input.

#include <cstdint>
#include <string>
#include <vector>

#include "cli/common.h"

namespace grape::cli {

struct ShardPlanArgs {
  uint32_t nodes = 3;
  std::vector<std::string> weights;  // one per node, positive numbers; default all 1
  std::vector<std::string> remove;   // node names dropped from n1..nN
  uint32_t shards = 1024;
  uint32_t replication = 3;
  bool shards_given = false;  // with --from: must then match the file
  bool replication_given = false;
  double epsilon = 0.05;
  uint32_t virtual_nodes = 256;
  std::string from;  // a placement in JSON: plan the moves from it
  Format format = Format::kText;
};
int shard_plan(const ShardPlanArgs& args);

}  // namespace grape::cli
