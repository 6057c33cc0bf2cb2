#include "net/batch_wire.h"

#include "core/storage/codec.h"
#include "net/wire.h"

namespace grape::net {
namespace {

using storage::put;

// Decoding helpers: every count is checked against what is left, so that a forged count never
// makes us allocate more than the payload holds.
class In {
 public:
  explicit In(std::span<const std::byte> payload) : payload_(payload), r_(payload) {}
  template <class T>
  bool get(T& value) {
    return ok_ = ok_ && r_.get(value);
  }
  bool count(uint32_t& n, size_t min_element_bytes) {
    if (!get(n)) return false;
    return ok_ = left() / min_element_bytes >= n;
  }
  std::span<const std::byte> take(size_t n) {
    if (!ok_ || left() < n) {
      ok_ = false;
      return {};
    }
    auto out = payload_.subspan(r_.pos(), n);
    Bytes skipped;
    r_.get_bytes(n, skipped);
    return out;
  }
  size_t left() const { return payload_.size() - r_.pos(); }
  bool ok() const { return ok_; }
  bool done() const { return ok_ && r_.done(); }

 private:
  std::span<const std::byte> payload_;
  storage::Reader r_;
  bool ok_ = true;
};

void put_ids(Bytes& out, const std::vector<NodeId>& ids) {
  put<uint32_t>(out, static_cast<uint32_t>(ids.size()));
  for (NodeId id : ids) put<uint64_t>(out, id.value);
}

bool get_ids(In& in, std::vector<NodeId>& ids) {
  uint32_t n = 0;
  if (!in.count(n, 8)) return false;
  ids.resize(n);
  for (NodeId& id : ids) in.get(id.value);
  return in.ok();
}

bool get_route(In& in, shard::RouteEntry& route) {
  return in.get(route.shard) && in.get(route.epoch.value) && in.get(route.leader.value) &&
         get_ids(in, route.replicas);
}

void put_control(Bytes& out, const shard::Control& c) {
  put<uint8_t>(out, static_cast<uint8_t>(c.kind));
  put<uint64_t>(out, c.move_id);
  put<uint32_t>(out, c.shard);
  put<uint64_t>(out, c.from.value);
  put<uint64_t>(out, c.to.value);
  put<uint8_t>(out, c.cancel ? 1 : 0);
  put_ids(out, c.initial_voters);
  put<uint32_t>(out, static_cast<uint32_t>(c.routes.size()));
  for (const shard::RouteEntry& route : c.routes) put_route(out, route);
  put<uint32_t>(out, static_cast<uint32_t>(c.loads.size()));
  for (const shard::ShardServed& served : c.loads) {
    put<uint32_t>(out, served.shard);
    put<uint64_t>(out, served.as_leader);
    put<uint64_t>(out, served.as_follower);
    put<uint8_t>(out, served.has_bytes ? 1 : 0);
    put<uint64_t>(out, served.bytes);
  }
}

bool get_control(In& in, shard::Control& c) {
  uint8_t kind = 0, cancel = 0;
  if (!in.get(kind) || kind > static_cast<uint8_t>(shard::ControlKind::kDropDone)) return false;
  c.kind = static_cast<shard::ControlKind>(kind);
  if (!in.get(c.move_id) || !in.get(c.shard) || !in.get(c.from.value) || !in.get(c.to.value) ||
      !in.get(cancel) || cancel > 1 || !get_ids(in, c.initial_voters)) {
    return false;
  }
  c.cancel = cancel == 1;
  uint32_t n = 0;
  if (!in.count(n, 24)) return false;
  c.routes.resize(n);
  for (shard::RouteEntry& route : c.routes) {
    if (!get_route(in, route)) return false;
  }
  if (!in.count(n, 29)) return false;
  c.loads.resize(n);
  for (shard::ShardServed& served : c.loads) {
    uint8_t has_bytes = 0;
    if (!in.get(served.shard) || !in.get(served.as_leader) || !in.get(served.as_follower) ||
        !in.get(has_bytes) || has_bytes > 1 || !in.get(served.bytes)) {
      return false;
    }
    served.has_bytes = has_bytes == 1;
  }
  return true;
}

}  // namespace

void put_route(Bytes& out, const shard::RouteEntry& route) {
  put<uint32_t>(out, route.shard);
  put<uint64_t>(out, route.epoch.value);
  put<uint64_t>(out, route.leader.value);
  put_ids(out, route.replicas);
}

Expected<shard::RouteEntry, std::string> get_route(std::span<const std::byte> payload) {
  In in(payload);
  shard::RouteEntry route;
  if (!get_route(in, route) || !in.done()) return Unexpected(std::string("route does not decode"));
  return route;
}

Bytes encode_batch(const node::PeerBatch& batch) {
  Bytes out;
  std::vector<const raft::Message*> raft_messages;
  size_t controls = 0;
  for (const node::GroupMessage& m : batch.messages) {
    if (m.control) {
      ++controls;
    } else {
      raft_messages.push_back(&m.message);
    }
  }
  put<uint32_t>(out, static_cast<uint32_t>(raft_messages.size()));
  for (const node::GroupMessage& m : batch.messages) {
    if (!m.control) put<uint64_t>(out, m.group.value);
  }
  const Bytes encoded = encode_messages(raft_messages);
  put<uint32_t>(out, static_cast<uint32_t>(encoded.size()));
  out.insert(out.end(), encoded.begin(), encoded.end());
  put<uint32_t>(out, static_cast<uint32_t>(controls));
  for (const node::GroupMessage& m : batch.messages) {
    if (!m.control) continue;
    put<uint64_t>(out, m.group.value);
    put<uint64_t>(out, m.message.from.value);
    put<uint64_t>(out, m.message.to.value);
    put_control(out, *m.control);
  }
  return out;
}

Expected<node::PeerBatch, std::string> decode_batch(std::span<const std::byte> payload, NodeId from,
                                                    NodeId to) {
  In in(payload);
  node::PeerBatch batch{from, to, {}};
  uint32_t count = 0;
  if (!in.count(count, 8)) return Unexpected(std::string("batch: bad message count"));
  std::vector<GroupId> groups(count);
  for (GroupId& group : groups) in.get(group.value);
  uint32_t size = 0;
  if (!in.get(size)) return Unexpected(std::string("batch: truncated"));
  const auto bytes = in.take(size);
  if (!in.ok()) return Unexpected(std::string("batch: its messages are truncated"));
  auto messages = decode_messages(bytes);
  if (!messages) return Unexpected("batch: " + messages.error());
  if (messages->size() != count) return Unexpected(std::string("batch: message count mismatch"));
  uint32_t controls = 0;
  if (!in.count(controls, 57)) return Unexpected(std::string("batch: bad control count"));
  batch.messages.reserve(count + controls);
  for (uint32_t i = 0; i < count; ++i) {
    batch.messages.push_back(node::GroupMessage{groups[i], std::move((*messages)[i]), {}});
  }
  for (uint32_t i = 0; i < controls; ++i) {
    node::GroupMessage m;
    shard::Control control;
    if (!in.get(m.group.value) || !in.get(m.message.from.value) || !in.get(m.message.to.value) ||
        !get_control(in, control)) {
      return Unexpected("batch: control " + std::to_string(i) + " does not decode");
    }
    m.control = std::move(control);
    batch.messages.push_back(std::move(m));
  }
  if (!in.done()) return Unexpected(std::string("batch: bytes after the last message"));
  for (const node::GroupMessage& m : batch.messages) {
    if (m.message.from != from || m.message.to != to) {
      return Unexpected("batch: a message claims to be from n" + std::to_string(m.message.from.value) +
                        " to n" + std::to_string(m.message.to.value));
    }
  }
  return batch;
}

Bytes encode_cluster_params(const ClusterParams& params) {
  Bytes out;
  put<uint32_t>(out, params.shards);
  put<uint32_t>(out, params.replication);
  put<uint32_t>(out, static_cast<uint32_t>(params.initial_nodes.size()));
  for (const shard::NodeSpec& node : params.initial_nodes) {
    put<uint64_t>(out, node.id.value);
    put<uint32_t>(out, node.weight);
  }
  put<uint32_t>(out, static_cast<uint32_t>(params.addresses.size()));
  for (const auto& [id, address] : params.addresses) {
    put<uint64_t>(out, id.value);
    put<uint32_t>(out, static_cast<uint32_t>(address.size()));
    const auto* p = reinterpret_cast<const std::byte*>(address.data());
    out.insert(out.end(), p, p + address.size());
  }
  return out;
}

Expected<ClusterParams, std::string> decode_cluster_params(std::span<const std::byte> payload) {
  In in(payload);
  ClusterParams params;
  uint32_t n = 0;
  if (!in.get(params.shards) || !in.get(params.replication) || !in.count(n, 12)) {
    return Unexpected(std::string("cluster parameters do not decode"));
  }
  params.initial_nodes.resize(n);
  for (shard::NodeSpec& node : params.initial_nodes) {
    in.get(node.id.value);
    in.get(node.weight);
  }
  if (!in.count(n, 12)) return Unexpected(std::string("cluster parameters do not decode"));
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t id = 0;
    uint32_t size = 0;
    if (!in.get(id) || !in.get(size)) break;
    const auto bytes = in.take(size);
    if (!in.ok()) break;
    params.addresses[NodeId(id)] = std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  if (!in.done()) return Unexpected(std::string("cluster parameters do not decode"));
  return params;
}

}  // namespace grape::net
