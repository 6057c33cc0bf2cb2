#include "core/node/host.h"

#include <algorithm>
#include <sstream>

namespace grape::node {

size_t HostReady::message_count() const {
  size_t count = 0;
  for (const PeerBatch& batch : batches) count += batch.messages.size();
  for (const PeerBatch& batch : batches_after_persist) count += batch.messages.size();
  return count;
}

Host::Host(NodeId id, int heartbeat_ticks) : id_(id), heartbeat_ticks_(std::max(1, heartbeat_ticks)) {}

Status<HostError> Host::add_group(GroupId group, const NodeConfig& config,
                                  const raft::LogStore& store, Rng rng) {
  if (groups_.count(group)) return Unexpected(HostError{HostErrorCode::kGroupExists, group, ""});
  if (config.raft.id != id_) {
    std::ostringstream detail;
    detail << "its config is for node " << config.raft.id << ", this host is " << id_;
    return Unexpected(HostError{HostErrorCode::kWrongNode, group, detail.str()});
  }
  Replica replica;
  replica.node = std::make_unique<Node>(config, store, rng);
  groups_.emplace(group, std::move(replica));
  dirty_.insert(group);
  return Status<HostError>::ok();
}

void Host::remove_group(GroupId group) {
  groups_.erase(group);
  dirty_.erase(group);
}

std::vector<GroupId> Host::group_ids() const {
  std::vector<GroupId> ids;
  ids.reserve(groups_.size());
  for (const auto& [id, replica] : groups_) ids.push_back(id);
  return ids;
}

Node* Host::group(GroupId group) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return nullptr;
  dirty_.insert(group);
  return it->second.node.get();
}

const Node* Host::group(GroupId group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? nullptr : it->second.node.get();
}

void Host::tick() {
  ++ticks_;
  for (auto& [id, replica] : groups_) {
    replica.node->tick();
    if (replica.node->has_ready()) dirty_.insert(id);
  }
}

void Host::report_peer_down(NodeId peer) {
  for (auto& [id, replica] : groups_) {
    replica.node->report_peer_down(peer);
    dirty_.insert(id);
  }
}

void Host::set_disk_failing(bool failing) {
  for (auto& [id, replica] : groups_) {
    replica.node->set_disk_failing(failing);
    dirty_.insert(id);
  }
}

Status<HostError> Host::step(const GroupMessage& message) {
  Node* node = group(message.group);
  if (node == nullptr) {
    return Unexpected(HostError{HostErrorCode::kUnknownGroup, message.group, ""});
  }
  if (message.message.to != id_) {
    return Unexpected(HostError{HostErrorCode::kWrongNode, message.group, "not addressed here"});
  }
  dirty_.insert(message.group);
  if (auto stepped = node->step(message.message); !stepped) {
    std::ostringstream detail;
    detail << "raft refused it (" << static_cast<int>(stepped.error().code) << ")";
    return Unexpected(
        HostError{HostErrorCode::kRaft, message.group, detail.str(), stepped.error().code});
  }
  return Status<HostError>::ok();
}

std::vector<HostError> Host::step(const PeerBatch& batch) {
  std::vector<HostError> errors;
  for (const GroupMessage& message : batch.messages) {
    if (auto stepped = step(message); !stepped) errors.push_back(stepped.error());
  }
  return errors;
}

std::optional<shard::RouteEntry> Host::current_route(GroupId group) const {
  if (!shard::is_shard_group(group)) return std::nullopt;
  const shard::RouteEntry* known = routes_.find(shard::shard_of_group(group));
  if (known == nullptr) return std::nullopt;
  shard::RouteEntry entry = *known;
  if (const Node* replica = this->group(group)) {
    if (replica->raft().leader() != kNoNode) entry.leader = replica->raft().leader();
  }
  return entry;
}

void Host::refuse(const ClientRequest& request, ReplyStatus status) {
  ClientReply reply;
  reply.client = request.client;
  reply.request = request.request;
  reply.status = status;
  reply.group = request.group;
  reply.route = current_route(request.group);
  if (reply.route) reply.leader_hint = reply.route->leader;
  refused_.push_back(std::move(reply));
}

void Host::on_client_request(const ClientRequest& request) {
  Node* node = group(request.group);
  const bool routed = routes_.size() > 0 && shard::is_shard_group(request.group);
  if (routed) {
    const shard::RouteEntry* entry = routes_.find(shard::shard_of_group(request.group));
    if (entry == nullptr || node == nullptr) {
      refuse(request, ReplyStatus::kRedirect);
      return;
    }
    if (request.epoch < entry->epoch) {  // the client's entry is old (or it has none)
      refuse(request, ReplyStatus::kStaleEpoch);
      return;
    }
    if (request.epoch > entry->epoch) {  // this host is behind: ask where it is current
      refuse(request, ReplyStatus::kRedirect);
      return;
    }
  }
  if (node == nullptr) {
    refuse(request, ReplyStatus::kRedirect);
    return;
  }
  node->on_client_request(request);
}

bool Host::has_ready() const {
  if (!refused_.empty()) return true;
  for (auto it = dirty_.begin(); it != dirty_.end();) {
    auto found = groups_.find(*it);
    if (found != groups_.end() && found->second.node->has_ready()) return true;
    it = dirty_.erase(it);  // nothing there: look again when it is touched
  }
  return false;
}

void Host::route(GroupId group, std::vector<raft::Message>& messages,
                 std::vector<PeerBatch>& into) {
  // Many groups: one batch per peer. One group: consecutive messages to a peer share a batch and
  // the order is Raft's own (there is nothing to coalesce with, and the order then stays exactly
  // that of a single-group node).
  const bool per_peer = groups_.size() > 1;
  for (raft::Message& message : messages) {
    auto it = into.end();
    if (per_peer) {
      it = std::find_if(into.begin(), into.end(),
                        [&](const PeerBatch& batch) { return batch.to == message.to; });
    } else if (!into.empty() && into.back().to == message.to) {
      it = into.end() - 1;
    }
    if (it == into.end()) {
      into.push_back(PeerBatch{id_, message.to, {}});
      it = into.end() - 1;
    }
    it->messages.push_back(GroupMessage{group, std::move(message)});
  }
  messages.clear();
}

// A group that has just started leading beats with the others from now on: its heartbeat clock
// is set to the host's phase, so its next round comes when every other leader's does. A single
// group has nothing to beat with, and keeps Raft's own clock.
void Host::align_new_leaders() {
  if (groups_.size() < 2) return;
  for (GroupId id : dirty_) {
    auto found = groups_.find(id);
    if (found == groups_.end()) continue;
    Replica& replica = found->second;
    const raft::Raft& raft = replica.node->raft();
    if (raft.role() == raft::Role::kLeader && raft.term() != replica.aligned_term) {
      replica.node->align_heartbeat(static_cast<int>(ticks_ % heartbeat_ticks_));
      replica.aligned_term = raft.term();
    }
  }
}

HostReady Host::take_ready() {
  align_new_leaders();
  HostReady ready;
  taken_.clear();
  for (GroupId id : dirty_) {
    auto found = groups_.find(id);
    if (found == groups_.end() || !found->second.node->has_ready()) continue;
    GroupReady group{id, found->second.node->take_ready()};
    route(id, group.ready.raft.messages, ready.batches);
    route(id, group.ready.raft.messages_after_persist, ready.batches_after_persist);
    for (ClientReply& reply : group.ready.replies) {
      reply.group = id;
      if (reply.status == ReplyStatus::kRedirect) reply.route = current_route(id);
    }
    taken_.push_back(id);
    ready.groups.push_back(std::move(group));
  }
  ready.refused = std::move(refused_);
  refused_.clear();
  if (groups_.size() > 1) {
    // Peers in id order: what leaves does not depend on which group spoke first.
    auto by_peer = [](const PeerBatch& a, const PeerBatch& b) { return a.to < b.to; };
    std::sort(ready.batches.begin(), ready.batches.end(), by_peer);
    std::sort(ready.batches_after_persist.begin(), ready.batches_after_persist.end(), by_peer);
  }
  return ready;
}

void Host::advance() {
  for (GroupId id : taken_) {
    if (Node* node = group(id)) node->advance();  // marks it: applying may bring a Ready
  }
  taken_.clear();
}

}  // namespace grape::node
