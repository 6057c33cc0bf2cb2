#include "core/shard/meta.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <sstream>

namespace grape::shard {

namespace {

constexpr char kPrefix = '\x01';
const std::string kNodePrefix = std::string(1, kPrefix) + "node/";
const std::string kShardPrefix = std::string(1, kPrefix) + "shard/";
const std::string kMovePrefix = std::string(1, kPrefix) + "move/";
const std::string kVersionKey = std::string(1, kPrefix) + "version";
const std::string kRebalanceKey = std::string(1, kPrefix) + "rebalance";

std::string padded(uint64_t value, int width) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%0*llu", width, static_cast<unsigned long long>(value));
  return buffer;
}

bool parse_u64(std::string_view text, uint64_t& out) {
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, out);
  return error == std::errc() && ptr == end;
}

std::vector<std::string_view> fields(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t space = text.find(' ', start);
    if (space == std::string_view::npos) space = text.size();
    if (space > start) out.push_back(text.substr(start, space - start));
    start = space + 1;
  }
  return out;
}

bool parse_nodes(std::string_view text, std::vector<NodeId>& out) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    uint64_t id = 0;
    if (!parse_u64(text.substr(start, comma - start), id) || id == 0) return false;
    out.push_back(NodeId(id));
    start = comma + 1;
  }
  return !out.empty();
}

std::optional<ShardPlacement> parse_shard(std::string_view text) {
  ShardPlacement placement;
  uint64_t value = 0;
  for (std::string_view field : fields(text)) {
    if (field.size() < 2) return std::nullopt;
    const std::string_view rest = field.substr(1);
    switch (field[0]) {
      case 'e':
        if (!parse_u64(rest, value)) return std::nullopt;
        placement.epoch = Epoch(value);
        break;
      case 'r':
        if (!parse_nodes(rest, placement.replicas)) return std::nullopt;
        break;
      case 'l':
        if (!parse_u64(rest, value)) return std::nullopt;
        placement.leader = NodeId(value);
        break;
      default:
        return std::nullopt;
    }
  }
  return placement;
}

}  // namespace

std::string to_string(MoveState state) {
  switch (state) {
    case MoveState::kPending:
      return "pending";
    case MoveState::kRunning:
      return "running";
    case MoveState::kDone:
      return "done";
    case MoveState::kCancelled:
      return "cancelled";
  }
  return "pending";
}

std::vector<NodeSpec> MetaState::active_nodes() const {
  std::vector<NodeSpec> out;
  for (const MetaNode& node : nodes) {
    if (node.state == NodeState::kActive) out.push_back({node.id, node.weight});
  }
  return out;
}

const MetaNode* MetaState::node(NodeId id) const {
  auto it = std::find_if(nodes.begin(), nodes.end(), [&](const MetaNode& n) { return n.id == id; });
  return it == nodes.end() ? nullptr : &*it;
}

size_t MetaState::moves_unfinished() const {
  return static_cast<size_t>(std::count_if(moves.begin(), moves.end(), [](const auto& entry) {
    return entry.second.state == MoveState::kPending || entry.second.state == MoveState::kRunning;
  }));
}

size_t MetaState::drops_unacked() const {
  return static_cast<size_t>(std::count_if(moves.begin(), moves.end(), [](const auto& entry) {
    const MoveRecord& r = entry.second;
    return (r.state == MoveState::kDone || r.state == MoveState::kCancelled) && !r.drop_acked;
  }));
}

bool is_meta_key(const std::string& key) { return !key.empty() && key[0] == kPrefix; }

MetaState decode_meta(const kv::KvStore& store) {
  MetaState state;
  const auto& data = store.data();
  for (auto it = data.lower_bound(std::string(1, kPrefix));
       it != data.end() && is_meta_key(it->first); ++it) {
    const std::string& key = it->first;
    const std::string& value = it->second;
    uint64_t number = 0;
    if (key.rfind(kNodePrefix, 0) == 0) {
      if (!parse_u64(std::string_view(key).substr(kNodePrefix.size()), number)) continue;
      MetaNode node{NodeId(number), 1, NodeState::kActive};
      const auto parts = fields(value);
      uint64_t weight = 0;
      if (parts.size() != 2 || parts[0].size() < 2 || !parse_u64(parts[0].substr(1), weight)) continue;
      node.weight = static_cast<uint32_t>(weight);
      node.state = parts[1] == "leaving" ? NodeState::kLeaving : NodeState::kActive;
      state.nodes.push_back(node);
    } else if (key.rfind(kShardPrefix, 0) == 0) {
      if (!parse_u64(std::string_view(key).substr(kShardPrefix.size()), number)) continue;
      auto placement = parse_shard(value);
      if (!placement) continue;
      if (state.map.shards.size() <= number) state.map.shards.resize(number + 1);
      state.map.shards[number] = std::move(*placement);
    } else if (key.rfind(kMovePrefix, 0) == 0) {
      if (!parse_u64(std::string_view(key).substr(kMovePrefix.size()), number)) continue;
      MoveRecord record;
      record.id = number;
      const auto parts = fields(value);
      uint64_t shard = 0, from = 0, to = 0;
      if (parts.size() < 4 || parts.size() > 5 || !parse_u64(parts[0].substr(1), shard) ||
          !parse_u64(parts[1].substr(1), from) || !parse_u64(parts[2].substr(1), to)) {
        continue;
      }
      record.move = Move{static_cast<uint32_t>(shard), NodeId(from), NodeId(to)};
      record.state = parts[3] == "done"        ? MoveState::kDone
                     : parts[3] == "cancelled" ? MoveState::kCancelled
                     : parts[3] == "running"   ? MoveState::kRunning
                                               : MoveState::kPending;
      record.drop_acked = parts.size() == 5 && parts[4] == "dropped";
      state.moves[number] = record;
    } else if (key == kVersionKey) {
      if (parse_u64(value, number)) {
        state.map.version = number;
        state.version_written = true;
      }
    } else if (key == kRebalanceKey) {
      if (parse_u64(value, number)) state.rebalances = number;
    }
  }
  if (!state.map.shards.empty()) {
    state.map.replication = static_cast<uint32_t>(state.map.shards.front().replicas.size());
  }
  return state;
}

namespace {
kv::Command put(std::string key, std::string value) {
  kv::Command command;
  command.op = kv::Op::kPut;
  command.key = std::move(key);
  command.value = std::move(value);
  return command;
}
}  // namespace

kv::Command put_node(const MetaNode& node) {
  return put(kNodePrefix + padded(node.id.value, 5),
             "w" + std::to_string(node.weight) +
                 (node.state == NodeState::kLeaving ? " leaving" : " active"));
}

kv::Command put_shard(uint32_t shard, const ShardPlacement& placement) {
  std::string replicas;
  for (NodeId node : placement.replicas) {
    replicas += (replicas.empty() ? "" : ",") + std::to_string(node.value);
  }
  return put(kShardPrefix + padded(shard, 5), "e" + std::to_string(placement.epoch.value) + " r" +
                                                  replicas + " l" +
                                                  std::to_string(placement.leader.value));
}

kv::Command put_move(const MoveRecord& record) {
  return put(kMovePrefix + padded(record.id, 8),
             "s" + std::to_string(record.move.shard) + " f" +
                 std::to_string(record.move.from.value) + " t" +
                 std::to_string(record.move.to.value) + " " + to_string(record.state) +
                 (record.drop_acked ? " dropped" : ""));
}

kv::Command put_version(uint64_t version) { return put(kVersionKey, std::to_string(version)); }
kv::Command put_rebalances(uint64_t count) { return put(kRebalanceKey, std::to_string(count)); }

}  // namespace grape::shard
