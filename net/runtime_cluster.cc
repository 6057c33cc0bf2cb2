// The runtime's cluster shape: the parameters fixed at the cluster's creation (the data dir's
// "cluster" file), the replicas a node bootstraps and starts, and the peer addresses it learns.
//
//   a new cluster's member   the flags -> the file; bootstraps the replicas the first layout
//                            gives it (each from a snapshot at index 1 with its configuration)
//   a node that joins        a peer's parameters (kClusterQuery) -> the file; holds nothing
//                            until moves bring it replicas
//   a restart                the file; the replicas it holds (shard::initial_layout's, those
//                            moves brought, less those dropped)

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/storage/codec.h"
#include "net/log.h"
#include "net/runtime_impl.h"

namespace grape::net {

namespace {

std::string params_path(const RuntimeConfig& config) { return config.data_dir + "/cluster"; }

// The file, for people too:
//   shards 1024
//   replication 3
//   nodes n1:1,n2:1,n3:1        (id:weight of the cluster's first nodes; "-": none recorded)
std::string params_text(const ClusterParams& params) {
  std::ostringstream out;
  out << "shards " << params.shards << "\nreplication " << params.replication << "\nnodes ";
  if (params.initial_nodes.empty()) out << "-";
  for (size_t i = 0; i < params.initial_nodes.size(); ++i) {
    out << (i ? "," : "") << node_name(params.initial_nodes[i].id) << ":"
        << params.initial_nodes[i].weight;
  }
  out << "\n";
  return out.str();
}

Expected<ClusterParams, std::string> read_params(const std::string& path) {
  std::ifstream in(path);
  ClusterParams params;
  std::string line;
  int number = 0;
  int seen = 0;
  while (std::getline(in, line)) {
    ++number;
    const auto bad = [&](const std::string& what) {
      return Unexpected(path + ":" + std::to_string(number) + ": " + what);
    };
    std::istringstream words(line);
    std::string key, value;
    if (!(words >> key >> value)) return bad("expected '<key> <value>'");
    try {
      if (key == "shards") {
        params.shards = static_cast<uint32_t>(std::stoul(value));
      } else if (key == "replication") {
        params.replication = static_cast<uint32_t>(std::stoul(value));
      } else if (key == "nodes") {
        std::istringstream list(value == "-" ? std::string() : value);
        std::string item;
        while (std::getline(list, item, ',')) {
          const size_t colon = item.find(':');
          auto id = parse_node_name(item.substr(0, colon));
          if (!id || colon == std::string::npos) return bad("'" + item + "' is not nX:weight");
          params.initial_nodes.push_back({*id, static_cast<uint32_t>(std::stoul(item.substr(colon + 1)))});
        }
      } else {
        return bad("unknown key '" + key + "'");
      }
    } catch (const std::exception&) {
      return bad("'" + value + "' is not a number");
    }
    ++seen;
  }
  if (seen != 3) return Unexpected(path + ": needs the keys shards, replication and nodes");
  return params;
}

// Written to a temporary file, synced, renamed into place and the directory synced: a crash
// leaves the old file or the new one, never half of one.
Status<std::string> write_params(const std::string& path, const ClusterParams& params) {
  const std::string tmp = path + ".tmp";
  const std::string text = params_text(params);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Unexpected("cannot write " + tmp + ": " + std::strerror(errno));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Unexpected("cannot write " + path + ": " + std::strerror(errno));
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status<std::string>::ok();
}

kv::Command put_address(NodeId id, const std::string& address) {
  return kv::Command{kv::Op::kPut, kPeerAddressPrefix + node_name(id), address, {}};
}

// Group 1's first snapshot: index 1, term 1, its voters, and the first nodes' peer addresses.
// Identical on every member (the same --initial-cluster), so the group's history starts the same
// everywhere; a node that joins later starts empty and receives it (or a later one) from the
// leader.
std::shared_ptr<const raft::Snapshot> group1_snapshot(const RuntimeConfig& config,
                                                      const std::vector<NodeId>& voters) {
  kv::KvStore store;
  for (const auto& [id, address] : config.initial_cluster) store.apply(put_address(id, address));
  auto snapshot = std::make_shared<raft::Snapshot>();
  snapshot->meta.conf_state.voters = voters;
  snapshot->meta.index = LogIndex(1);
  snapshot->meta.term = Term(1);
  snapshot->data = store.encode_snapshot();
  return snapshot;
}

// A shard group's first snapshot: empty, with its first replicas as voters.
std::shared_ptr<const raft::Snapshot> shard_snapshot(const std::vector<NodeId>& voters) {
  auto snapshot = std::make_shared<raft::Snapshot>();
  snapshot->meta.conf_state.voters = voters;
  snapshot->meta.index = LogIndex(1);
  snapshot->meta.term = Term(1);
  snapshot->data = kv::KvStore().encode_snapshot();
  return snapshot;
}

}  // namespace

Status<std::string> Runtime::settle_params(bool fresh) {
  const std::string path = params_path(config_);
  if (std::filesystem::exists(path)) {
    auto read = read_params(path);
    if (!read) return Unexpected(read.error());
    params_ = std::move(*read);
    if (config_.shards != 0 && config_.shards != params_.shards) {
      log::warn("--shards {} ignored: this cluster was created with {} shards", config_.shards,
                params_.shards);
    }
  } else if (fresh && config_.join) {
    if (auto asked = ask_params(); !asked) return asked;
  } else if (fresh) {
    params_.shards = config_.shards;
    params_.replication = config_.replication;
    for (const auto& [id, address] : config_.initial_cluster) params_.initial_nodes.push_back({id, 1});
  }
  // else: a data dir from before sharding: one group, as it was.
  if (sharded()) {
    shard::PlacementOptions options;
    options.shards = params_.shards;
    options.replication = params_.replication;
    auto layout = shard::initial_layout(params_.initial_nodes, options);
    if (!layout) return Unexpected("the cluster's parameters (" + path + "): " + layout.error().message);
    layout_ = std::move(*layout);
  }
  if (!std::filesystem::exists(path)) return write_params(path, params_);
  return Status<std::string>::ok();
}

// A node joining: any peer of --initial-cluster that runs tells it the cluster's parameters.
Status<std::string> Runtime::ask_params() {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline && !stopped_ && !params_answer_) {
    for (const auto& [id, address] : config_.initial_cluster) {
      if (id != config_.id) peers_->send(id, encode_frame(FrameKind::kClusterQuery, Bytes{}));
    }
    io_.restart();
    io_.run_for(std::chrono::milliseconds(200));
  }
  io_.restart();
  if (!params_answer_) {
    return Unexpected(std::string("no member of --initial-cluster answered within 5 s: cannot "
                                  "join (is the cluster running, and the token right?)"));
  }
  params_ = *params_answer_;
  addresses_ = params_.addresses;
  params_.addresses.clear();
  log::info("joining a cluster of {}", sharded() ? std::to_string(params_.shards) + " shards"
                                                 : std::string("one group"));
  return Status<std::string>::ok();
}

Status<std::string> Runtime::bootstrap_groups() {
  if (!sharded()) {
    if (!storage_->empty() || config_.join) return Status<std::string>::ok();
    std::vector<NodeId> voters;
    for (const auto& [id, address] : config_.initial_cluster) voters.push_back(id);
    if (auto booted = storage_->bootstrap(group1_snapshot(config_, voters)); !booted) {
      return Unexpected("cannot write the bootstrap snapshot: " + booted.error());
    }
    log::info("bootstrapped a new cluster of {} members", voters.size());
    return Status<std::string>::ok();
  }
  // A node that joins (or rejoins after losing its data dir) holds nothing until moves bring it
  // replicas: bootstrapping its first ones again would forget the votes and entries it had.
  if (config_.join) return Status<std::string>::ok();
  std::set<GroupId> dropped_or_created;
  for (const node::ReplicaHistory& history : storage_->histories()) {
    dropped_or_created.insert(history.group);
  }
  // Every first replica of this node that holds nothing and never moved: at the first start all
  // of them, after a crash in the middle of this, the rest.
  size_t booted = 0;
  auto boot = [&](GroupId group, std::shared_ptr<const raft::Snapshot> snapshot) -> Status<std::string> {
    if (dropped_or_created.count(group)) return Status<std::string>::ok();
    if (auto opened = storage_->open_group(group); !opened) return Unexpected(opened.error().message);
    if (!storage_->group_empty(group)) return Status<std::string>::ok();
    if (auto done = storage_->bootstrap(group, std::move(snapshot), false); !done) {
      return Unexpected("cannot bootstrap group " + std::to_string(group.value) + ": " + done.error());
    }
    ++booted;
    return Status<std::string>::ok();
  };
  const auto& meta_voters = layout_->meta_voters;
  if (std::count(meta_voters.begin(), meta_voters.end(), config_.id)) {
    if (auto done = boot(shard::kMetaGroup, group1_snapshot(config_, meta_voters)); !done) return done;
  }
  for (const auto& [shard, voters] : layout_->voters) {
    if (!std::count(voters.begin(), voters.end(), config_.id)) continue;
    if (auto done = boot(shard::group_of(shard), shard_snapshot(voters)); !done) return done;
  }
  if (booted > 0) {
    if (auto synced = storage_->wal().sync(); !synced) {
      return Unexpected("cannot sync the bootstrap: " + synced.error().detail);
    }
    log::info("bootstrapped {} replicas of a new cluster of {} shards on {} nodes", booted,
              params_.shards, params_.initial_nodes.size());
  }
  return Status<std::string>::ok();
}

int Runtime::ticks_in(int64_t ms) const {
  return static_cast<int>(std::max<int64_t>(1, ms / config_.tick_ms));
}

node::NodeConfig Runtime::group_config(std::vector<NodeId> voters) const {
  node::NodeConfig node_config;
  raft::Config& raft = node_config.raft;
  raft.id = config_.id;
  raft.voters = std::move(voters);
  raft.heartbeat_ticks = ticks_in(config_.heartbeat_ms);
  raft.election_ticks = std::max(ticks_in(config_.election_timeout_ms), raft.heartbeat_ticks + 1);
  raft.election_ticks_max = 2 * raft.election_ticks;
  node_config.snapshot_every = config_.snapshot_every;
  return node_config;
}

Status<std::string> Runtime::start_group(GroupId group, std::vector<NodeId> voters) {
  if (auto opened = storage_->open_group(group); !opened) {
    return Unexpected("cannot open the " + opened.error().what + " of group " +
                      std::to_string(group.value) + ": " + opened.error().message);
  }
  node::NodeConfig node_config = group_config(std::move(voters));
  node_config.raft.snapshot = storage_->snapshot(group);
  if (auto added = host_->add_group(group, node_config, storage_->log(group), Rng(random_seed()));
      !added) {
    return Unexpected("cannot start group " + std::to_string(group.value) + ": " + added.error().detail);
  }
  return Status<std::string>::ok();
}

Status<std::string> Runtime::start_host() {
  host_ = std::make_unique<node::Host>(config_.id, group_config({config_.id}).raft.heartbeat_ticks);
  if (config_.snapshot_rate_mib > 0) {
    // Per tick on average; up to a quarter second's worth at once.
    const uint64_t per_second = config_.snapshot_rate_mib << 20;
    const uint64_t tick_ms = static_cast<uint64_t>(std::max<int64_t>(1, config_.tick_ms));
    host_->limit_snapshot_rate(per_second * tick_ms / 1000, per_second / 4,
                               group_config({config_.id}).raft.snapshot_chunk_bytes);
  }
  if (!sharded()) {
    std::vector<NodeId> voters;
    for (const auto& [id, address] : config_.initial_cluster) {
      if (id != config_.id || !config_.join) voters.push_back(id);
    }
    if (auto started = start_group(shard::kMetaGroup, voters); !started) return started;
  } else {
    // A new cluster's member starts the replicas the first layout gives it; a node that joined
    // only those its storage holds (moves brought them).
    std::vector<GroupId> first;
    const auto& meta_voters = layout_->meta_voters;
    if (!config_.join) {
      if (std::count(meta_voters.begin(), meta_voters.end(), config_.id)) first.push_back(shard::kMetaGroup);
      for (const auto& [shard, voters] : layout_->voters) {
        if (std::count(voters.begin(), voters.end(), config_.id)) first.push_back(shard::group_of(shard));
      }
    }
    for (const node::ReplicaHistory& history : storage_->histories()) {
      host_->restore_replica_history(history);
    }
    // A replica a move brought here starts from the leader's snapshot (every group's log starts
    // at index 2), whose configuration replaces this one.
    for (GroupId group : storage_->replicas_at_start(first)) {
      const std::vector<NodeId>& voters =
          group == shard::kMetaGroup ? meta_voters : layout_->voters.at(shard::shard_of_group(group));
      if (auto started = start_group(group, voters); !started) return started;
    }
    host_->enable_placement(placement_options());
    for (uint32_t shard = 0; shard < params_.shards; ++shard) {
      host_->set_route(shard::route_of(layout_->map, shard));
    }
  }
  if (node::Node* group1 = meta()) {
    last_term_ = group1->raft().term();
    log::set_term(last_term_.value);
  }
  return Status<std::string>::ok();
}

node::PlacementHostOptions Runtime::placement_options() const {
  node::PlacementHostOptions options;
  options.executor.placement.shards = params_.shards;
  options.executor.placement.replication = params_.replication;
  options.executor.initial_nodes = params_.initial_nodes;
  options.executor.initial_voters = layout_->voters;
  options.executor.move_timeout_ticks = ticks_in(10'000);
  options.executor.full_routes_ticks = ticks_in(5'000);
  options.executor.resend_ticks = ticks_in(300);
  options.interval_ticks = ticks_in(config_.heartbeat_ms);
  options.transfer_backoff_ticks = 8 * ticks_in(config_.election_timeout_ms);
  options.meta_voters = layout_->meta_voters;
  options.load_report_ticks = ticks_in(1'000);
  options.executor.load_check_ticks = 3 * options.load_report_ticks;
  return options;
}

GroupId Runtime::group_of_key(const std::string& key) const {
  if (!sharded() || key.empty() || key[0] == '\0') return shard::kMetaGroup;
  return shard::group_of(shard::shard_of(key, params_.shards));
}

// Where to send a request for `group` that this host does not serve: the shard's leader as the
// routes know it, else a replica; for the metadata group, one of its members.
NodeId Runtime::guess_server(GroupId group) const {
  if (host_->hosts(group)) return config_.id;
  if (!sharded()) return kNoNode;
  if (group == shard::kMetaGroup) {
    for (NodeId id : layout_->meta_voters) {
      if (id != config_.id) return id;
    }
    return kNoNode;
  }
  const shard::RouteEntry* route = host_->route(shard::shard_of_group(group));
  if (route == nullptr) return kNoNode;
  if (route->leader != kNoNode && route->leader != config_.id) return route->leader;
  for (NodeId id : route->replicas) {
    if (id != config_.id) return id;
  }
  return kNoNode;
}

ClusterParams Runtime::params_with_addresses() const {
  ClusterParams params = params_;
  params.addresses = addresses_;
  for (const auto& [id, address] : config_.initial_cluster) params.addresses.emplace(id, address);
  if (host_) {
    if (const node::Node* group1 = host_->group(shard::kMetaGroup)) {
      const auto& data = group1->kv().data();
      for (auto it = data.lower_bound(kPeerAddressPrefix);
           it != data.end() && it->first.starts_with(kPeerAddressPrefix); ++it) {
        if (auto id = parse_node_name(it->first.substr(kPeerAddressPrefix.size()))) {
          params.addresses[*id] = it->second;
        }
      }
    }
  }
  return params;
}

// The metadata group's leader tells every node the addresses it knows (nodes that hold no
// metadata replica learn of nodes that joined after them this way).
void Runtime::share_addresses() {
  node::Node* group1 = meta();
  if (!sharded() || group1 == nullptr || group1->raft().role() != raft::Role::kLeader) return;
  const ClusterParams params = params_with_addresses();
  const Bytes frame = encode_frame(FrameKind::kClusterAnswer, encode_cluster_params(params));
  for (const auto& [id, address] : params.addresses) {
    if (id != config_.id) peers_->send(id, frame);
  }
}

}  // namespace grape::net
