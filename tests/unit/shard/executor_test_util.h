#pragma once
// What the executor's tests share: nodes n1..nN of weight 1, the metadata group's state machine
// (it applies what the executor proposes), and a small executor configuration.

#include <cstdint>
#include <vector>

#include "core/kv/kv.h"
#include "core/shard/executor.h"
#include "core/shard/meta.h"

namespace grape::shard::test {

inline std::vector<NodeSpec> nodes(uint64_t count) {
  std::vector<NodeSpec> out;
  for (uint64_t id = 1; id <= count; ++id) out.push_back({NodeId(id), 1});
  return out;
}

struct MetaGroup {
  kv::KvStore store;
  void apply(const std::vector<kv::Command>& commands) {
    for (const kv::Command& command : commands) store.apply(command);
  }
  MetaState state() const { return decode_meta(store); }
};

// `shards` shards of 3 replicas on n1..n3, at most 2 moves at once, commands sent again every
// 20 ticks.
inline ExecutorOptions options(uint32_t shards) {
  ExecutorOptions o;
  o.placement.shards = shards;
  o.placement.replication = 3;
  o.initial_nodes = nodes(3);
  o.moves_in_flight_max = 2;
  o.resend_ticks = 20;
  return o;
}

}  // namespace grape::shard::test
