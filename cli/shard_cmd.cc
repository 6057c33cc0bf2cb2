#include "cli/shard_cmd.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/shard/placement.h"
#include "net/runtime.h"
#include "net/shard_json.h"

namespace grape::cli {

namespace {

using nlohmann::json;

// Weights are capacities; the planner wants integers, so they count thousandths.
constexpr double kWeightScale = 1000.0;

int bad_input(const std::string& message) {
  std::cerr << "grape: " << message << "\n";
  return kExitBadInput;
}

bool parse_weight(const std::string& text, uint32_t& out) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || ptr != end || !std::isfinite(value) || value <= 0 ||
      value * kWeightScale > 4e9 || std::lround(value * kWeightScale) == 0) {
    return false;
  }
  out = static_cast<uint32_t>(std::lround(value * kWeightScale));
  return true;
}

// n1..nN with their weights, less the removed ones.
bool build_nodes(const ShardPlanArgs& args, std::vector<shard::NodeSpec>& nodes,
                 std::string& error) {
  if (!args.weights.empty() && args.weights.size() != args.nodes) {
    error = "--weights: " + std::to_string(args.weights.size()) + " weights for " +
            std::to_string(args.nodes) + " nodes";
    return false;
  }
  for (uint32_t i = 0; i < args.nodes; ++i) {
    uint32_t weight = static_cast<uint32_t>(kWeightScale);
    if (!args.weights.empty() && !parse_weight(args.weights[i], weight)) {
      error = "--weights: '" + args.weights[i] + "' is not a positive number";
      return false;
    }
    nodes.push_back({NodeId(i + 1), weight});
  }
  for (const std::string& name : args.remove) {
    const auto node = net::parse_node_name(name);
    if (!node) {
      error = "--remove: '" + name + "' is not a node name (n1, n2, ...)";
      return false;
    }
    auto it = std::find_if(nodes.begin(), nodes.end(),
                           [&](const shard::NodeSpec& spec) { return spec.id == *node; });
    if (it == nodes.end()) {
      error = "--remove: " + name + " is not one of n1..n" + std::to_string(args.nodes);
      return false;
    }
    nodes.erase(it);
  }
  return true;
}

bool read_map(const std::string& file, shard::ShardMap& map, std::string& error) {
  std::ifstream in(file);
  if (!in) {
    error = file + ": cannot be read";
    return false;
  }
  json parsed;
  try {
    parsed = json::parse(in);
  } catch (const json::parse_error& e) {
    error = file + ": not JSON: " + e.what();
    return false;
  }
  auto result = net::map_from_json(parsed);
  if (!result) {
    error = file + ": " + result.error();
    return false;
  }
  map = std::move(*result);
  return true;
}

std::string weight_text(uint32_t weight) {
  std::ostringstream out;
  out << static_cast<double>(weight) / kWeightScale;
  return out.str();
}

void print_table(const shard::ShardMap& map, const std::vector<shard::NodeSpec>& nodes,
                 const shard::PlacementOptions& options) {
  const auto quota = shard::quotas(nodes, uint64_t{options.shards} * options.replication,
                                   options.shards, options.epsilon_permille);
  std::cout << "placement version " << map.version << ": " << map.shard_count() << " shards, "
            << map.replication << " replicas each, on " << nodes.size() << " nodes\n\n";
  std::cout << std::left << std::setw(8) << "node" << std::setw(9) << "weight" << std::setw(10)
            << "replicas" << std::setw(9) << "leaders" << "share of replicas\n";
  size_t q = 0;
  for (const shard::NodeCounts& count : shard::count_by_node(map, nodes)) {
    while (q < quota.size() && quota[q].node < count.node) ++q;
    const bool listed = q < quota.size() && quota[q].node == count.node;
    std::ostringstream share;
    if (listed) {
      share << std::fixed << std::setprecision(1)
            << static_cast<double>(quota[q].share_numerator) /
                   static_cast<double>(quota[q].share_denominator);
    } else {
      share << "leaving";
    }
    std::cout << std::setw(8) << shard::node_name(count.node) << std::setw(9)
              << (listed ? weight_text(nodes[q].weight) : "-") << std::setw(10) << count.replicas
              << std::setw(9) << count.leaders << share.str() << "\n";
  }
}

void print_plan(const shard::Plan& plan, uint64_t minimum) {
  std::cout << "\n" << plan.moves.size() << " replica moves (at least " << minimum
            << " are needed), then " << plan.transfers.size() << " leader transfers\n";
  const size_t shown = std::min<size_t>(plan.moves.size(), 10);
  for (size_t i = 0; i < shown; ++i) {
    const shard::Move& move = plan.moves[i];
    std::cout << "  shard " << move.shard << ": " << shard::node_name(move.from) << " -> "
              << shard::node_name(move.to) << "\n";
  }
  if (shown < plan.moves.size()) {
    std::cout << "  ... " << plan.moves.size() - shown << " more (--format json lists all)\n";
  }
}

}  // namespace

int shard_plan(const ShardPlanArgs& args) {
  std::vector<shard::NodeSpec> nodes;
  std::string error;
  if (!build_nodes(args, nodes, error)) return bad_input(error);
  shard::PlacementOptions options;
  options.shards = args.shards;
  options.replication = args.replication;
  options.virtual_nodes = args.virtual_nodes;
  options.epsilon_permille = static_cast<uint32_t>(std::lround(args.epsilon * 1000));

  if (args.from.empty()) {
    auto map = shard::initial_placement(nodes, options);
    if (!map) return bad_input(map.error().message);
    if (args.format == Format::kJson) {
      std::cout << net::map_to_json(*map, nodes, kWeightScale).dump() << "\n";
    } else {
      print_table(*map, nodes, options);
    }
    return kExitOk;
  }

  shard::ShardMap current;
  if (!read_map(args.from, current, error)) return bad_input(error);
  // The file says what it is; flags given anyway must agree with it.
  if (args.shards_given && current.shard_count() != args.shards) {
    return bad_input("--shards " + std::to_string(args.shards) + ", but " + args.from + " has " +
                     std::to_string(current.shard_count()) + " shards");
  }
  if (args.replication_given && current.replication != args.replication) {
    return bad_input("--replication " + std::to_string(args.replication) + ", but " + args.from +
                     " has " + std::to_string(current.replication) + " replicas per shard");
  }
  options.shards = current.shard_count();
  options.replication = current.replication;
  auto plan = shard::plan(current, nodes, options);
  if (!plan) return bad_input(args.from + ": " + plan.error().message);
  const uint64_t minimum = shard::minimum_moves(current, nodes, options);
  if (args.format == Format::kJson) {
    json out = net::map_to_json(plan->target, nodes, kWeightScale);
    net::add_plan_to_json(*plan, out);
    out["minimum_moves"] = minimum;
    std::cout << out.dump() << "\n";
  } else {
    print_table(plan->target, nodes, options);
    print_plan(*plan, minimum);
  }
  return kExitOk;
}

}  // namespace grape::cli
