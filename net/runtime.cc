#include "net/runtime.h"

#include <openssl/rand.h>

#include <algorithm>
#include <csignal>
#include <filesystem>

#include "core/base/assert.h"
#include "core/raft/conf_change.h"
#include "core/storage/codec.h"
#include "net/log.h"
#include "net/runtime_impl.h"

namespace grape::net {

namespace asio = boost::asio;

std::optional<NodeId> parse_node_name(const std::string& name) {
  if (name.size() < 2 || name.size() > 12 || name[0] != 'n') return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  if (v == 0) return std::nullopt;
  return NodeId(v);
}

std::string node_name(NodeId id) { return "n" + std::to_string(id.value); }

Expected<std::map<NodeId, std::string>, std::string> parse_initial_cluster(const std::string& text) {
  std::map<NodeId, std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t eq = part.find('=');
    if (eq == std::string::npos) return Unexpected("'" + part + "' is not id=host:port");
    const auto id = parse_node_name(part.substr(0, eq));
    if (!id) return Unexpected("'" + part.substr(0, eq) + "' is not a node id (n1, n2, ...)");
    const std::string address = part.substr(eq + 1);
    if (!split_host_port(address)) return Unexpected("'" + address + "' is not host:port");
    if (!out.emplace(*id, address).second) return Unexpected(part.substr(0, eq) + " appears twice");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

uint64_t random_seed() {
  uint64_t seed = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1) {
    seed = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  }
  return seed;
}

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

Runtime::Runtime(RuntimeConfig config)
    : config_(std::move(config)),
      tick_timer_(io_),
      retry_timer_(io_),
      signals_(io_, SIGINT, SIGTERM) {}

Status<std::string> Runtime::start() {
  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec) return Unexpected("cannot create data dir " + config_.data_dir + ": " + ec.message());
  node::NodeStorageOptions storage_options;
  storage_options.wal_dir = config_.data_dir + "/wal";
  storage_options.snapshot_dir = config_.data_dir + "/snap";
  // Zeros written ahead instead of fallocate: on ext4 a sync into fallocate'd (unwritten) extents
  // or one that grows the file also commits the journal; one that overwrites written blocks only
  // flushes data (docs/benchmarks.md).
  storage_options.wal.preallocate = false;
  storage_options.wal.zero_fill_bytes = 1u << 20;
  auto opened = node::NodeStorage::open(disk_, storage_options);
  if (!opened) {
    return Unexpected("cannot open the " + opened.error().what + ": " + opened.error().message);
  }
  storage_ = std::move(*opened);
  if (const auto& repaired = storage_->repaired()) {
    log::warn("recovery cut a torn tail off {} at offset {} ({} bytes: {}): a write that was never "
              "acknowledged", repaired->file, repaired->offset, repaired->bytes, repaired->reason);
  }
  PeerNetworkOptions peer_options;
  peer_options.self = config_.id;
  peer_options.cluster = config_.cluster_id;
  peer_options.token = config_.token;
  peer_options.listen = config_.listen_peer;
  peers_ = std::make_unique<PeerNetwork>(
      io_, peer_options, [this](NodeId id) { return peer_address(id); },
      [this](NodeId from, Frame frame) { on_frame(from, std::move(frame)); },
      [this](NodeId peer) {
        if (stopped_ || !host_) return;
        node::Node* group1 = meta();
        const bool was_leader = group1 && group1->raft().leader() == peer;
        host_->report_peer_down(peer);
        if (was_leader && group1->raft().leader() == kNoNode) {
          log::info("connection from leader n{} closed: campaigning early", peer.value);
        }
        request_drain();
      });
  if (auto started = peers_->start(); !started) return started;
  // A first start: no cluster file (written before anything else) and nothing stored.
  const bool fresh = !std::filesystem::exists(config_.data_dir + "/cluster") && storage_->empty();
  if (fresh && !config_.join) {
    if (auto checked = check_never_started(); !checked) return checked;
  }
  if (auto settled = settle_params(fresh); !settled) return settled;
  if (config_.tick_ms == 0) {
    config_.tick_ms = sharded() ? std::max<int64_t>(1, std::min<int64_t>(50, config_.heartbeat_ms / 2)) : 10;
  }
  if (auto booted = bootstrap_groups(); !booted) return booted;
  if (auto started = start_host(); !started) return started;
  // Ids from a random point in a 2^62 space (no collision with an earlier incarnation's in flight).
  next_request_ = 1 + (random_seed() >> 2);

  http_ = std::make_unique<HttpServer>(io_, config_.listen_http,
                                       [this](HttpRequest request, Respond respond) {
                                         handle_http(std::move(request), std::move(respond));
                                       });
  if (auto started = http_->start(); !started) return started;

  signals_.async_wait([this](const boost::system::error_code& e, int signal) {
    if (e) return;
    log::info("received {}: stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    stop();
  });
  if (node::Node* group1 = meta()) {
    const raft::RaftLog& raft_log = group1->raft().log();
    log::info("started: peers on {}, HTTP on {}, data in {}; log {}..{}, commit {}, {} members{}",
              config_.listen_peer, config_.listen_http, config_.data_dir,
              raft_log.first_index().value, raft_log.last_index().value, raft_log.committed().value,
              raft::members(group1->raft().conf_state()).size(),
              sharded() ? "; " + std::to_string(host_->group_count()) + " replicas" : std::string());
  } else {
    log::info("started: peers on {}, HTTP on {}, data in {}; {} shard replicas", config_.listen_peer,
              config_.listen_http, config_.data_dir, host_->group_count());
  }
  next_tick_ = Clock::now();
  schedule_tick();
  return Status<std::string>::ok();
}

void Runtime::run() { io_.run(); }

// etcd's isMemberBootstrapped: before bootstrapping from an empty data dir, ask the peers whether
// this node has run with them before. If one says so, its state (votes included) is lost: starting
// afresh could vote twice in a term. Peers that cannot be reached within two seconds are taken to
// be new too (a cluster whose members all start now).
Status<std::string> Runtime::check_never_started() {
  Bytes query;
  storage::put<uint64_t>(query, config_.id.value);
  for (const auto& [id, address] : config_.initial_cluster) {
    if (id != config_.id) peers_->send(id, encode_frame(FrameKind::kMemberQuery, query));
  }
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (Clock::now() < deadline && !stopped_) {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(100));
    bool said_started = false;
    for (const auto& [peer, started] : member_answers_) said_started |= started;
    if (said_started || member_answers_.size() + 1 >= config_.initial_cluster.size()) break;
    // Queries to peers not yet listening were dropped with their link: ask again.
    for (const auto& [id, address] : config_.initial_cluster) {
      if (id != config_.id && !member_answers_.count(id)) {
        peers_->send(id, encode_frame(FrameKind::kMemberQuery, query));
      }
    }
  }
  io_.restart();
  for (const auto& [peer, started] : member_answers_) {
    if (started) {
      return Unexpected(node_name(config_.id) + " has run in this cluster before (" +
                        node_name(peer) + " says so) but its data dir " + config_.data_dir +
                        " is empty: its state, votes included, is lost. Remove it (grape member "
                        "remove " + node_name(config_.id) + "), add it again (grape member add) "
                        "and start it with --initial-cluster-state existing");
    }
  }
  return Status<std::string>::ok();
}

// Once this node has a leader, it records that it has run with this cluster (once): a node that
// later finds its data dir empty asks first (check_never_started). Sharded, every node that holds
// replicas records it, through the metadata group (forwarded there when it holds none of it).
void Runtime::maybe_mark_started() {
  if (marking_started_ || marked_started_) return;
  const std::string key = kStartedPrefix + node_name(config_.id);
  node::Node* group1 = meta();
  if (group1 != nullptr) {
    if (group1->kv().get(key)) {
      marked_started_ = true;
      return;
    }
    if (group1->raft().leader() == kNoNode || !raft::is_member(group1->raft().conf_state(), config_.id)) {
      return;
    }
  } else if (!sharded() || host_->group_count() == 0) {
    return;
  }
  marking_started_ = true;
  submit_to(shard::kMetaGroup, kv::Command{kv::Op::kPut, key, "1", {}}, [this](Outcome outcome) {
    marking_started_ = false;
    marked_started_ = !outcome.timed_out && outcome.status == node::ReplyStatus::kOk;
    if (marked_started_) {
      log::info("the metadata group records that this node has run (a wiped data dir is refused)");
    }
  });
}

// Until the metadata group records that this node has run, its shard replicas answer nobody: a
// node whose data dir is lost before that record starts afresh (its peers cannot know it ran),
// and must then have acknowledged nothing, no vote, no entry (etcd refuses a member whose data
// is lost only once it has published itself; this closes the window before). Raft takes the
// silence as lost messages; the record commits within an election or so of the first start.
bool Runtime::withholds(const node::GroupMessage& message) const {
  return sharded() && !marked_started_ && !message.control && message.group != shard::kMetaGroup;
}

void Runtime::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [id, pending] : pending_) {
    Outcome outcome;
    outcome.status = node::ReplyStatus::kRejected;
    outcome.served_by = config_.id;
    pending.done(outcome);
  }
  pending_.clear();
  for (Waiter& waiter : waiters_) waiter.done(false);
  waiters_.clear();
  tick_timer_.cancel();
  retry_timer_.cancel();
  signals_.cancel();
  peers_->stop();
  http_->stop();
  // Answers just given get a moment to be written; then the loop ends regardless.
  auto grace = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(200));
  grace->async_wait([this, grace](const boost::system::error_code&) {
    http_->close_connections();
    io_.stop();
  });
}

std::optional<std::string> Runtime::peer_address(NodeId id) const {
  if (host_) {
    if (const node::Node* group1 = host_->group(shard::kMetaGroup)) {
      if (auto address = group1->kv().get(kPeerAddressPrefix + node_name(id))) return address;
    }
  }
  if (auto it = addresses_.find(id); it != addresses_.end()) return it->second;
  auto it = config_.initial_cluster.find(id);
  if (it == config_.initial_cluster.end()) return std::nullopt;
  return it->second;
}

// ---------------------------------------------------------------------------------------------
// Events in: ticks, peer frames, client requests

void Runtime::schedule_tick() {
  next_tick_ += std::chrono::milliseconds(config_.tick_ms);
  // After a stall (a long sync, a paused process) tick once, not in a burst that would time out
  // elections the peers never saw coming.
  if (next_tick_ < Clock::now()) next_tick_ = Clock::now();
  tick_timer_.expires_at(next_tick_);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) on_tick();
  });
}

void Runtime::on_tick() {
  ++ticks_;
  host_->tick();
  expire_requests();
  maybe_mark_started();
  // Every 5 s the metadata leader shares the peer addresses it knows.
  const auto share_ticks = static_cast<uint64_t>(ticks_in(5'000));
  if (sharded() && ticks_ % share_ticks == 0) share_addresses();
  // Requests that found no leader try again now (an election may have ended, a route arrived).
  for (auto& [id, pending] : pending_) {
    if (!pending.waiting_for_leader) continue;
    pending.waiting_for_leader = false;
    pending.forwards = 0;
    dispatch(id, guess_server(pending.group));
  }
  request_drain();
  schedule_tick();
}

// Frames exchanged before the host starts: whether this node ran here before (a new cluster's
// members ask each other), and the cluster's parameters (a node joining asks). True: handled.
bool Runtime::on_startup_frame(NodeId from, const Frame& frame) {
  switch (frame.kind) {
    case FrameKind::kMemberAnswer: {
      storage::Reader r(frame.payload);
      uint64_t asked = 0;
      uint8_t started = 0;
      if (!host_ && r.get(asked) && r.get(started) && asked == config_.id.value) {
        member_answers_[from] = started != 0;
        if (started != 0 || member_answers_.size() + 1 >= config_.initial_cluster.size()) io_.stop();
      }
      return true;
    }
    case FrameKind::kMemberQuery: {
      // Nodes still deciding whether to bootstrap (empty, so they know of no one) answer too: a
      // new cluster's members all ask each other at once.
      storage::Reader r(frame.payload);
      uint64_t asked = 0;
      if (!r.get(asked)) return true;
      node::Node* group1 = meta();
      // A sharded node without a metadata replica cannot know: it stays silent, and the asker
      // waits for the metadata members' answers.
      if (host_ && sharded() && group1 == nullptr) return true;
      const bool started = group1 && group1->kv().get(kStartedPrefix + node_name(NodeId(asked)));
      Bytes answer;
      storage::put<uint64_t>(answer, asked);
      storage::put<uint8_t>(answer, started ? 1 : 0);
      peers_->send(from, encode_frame(FrameKind::kMemberAnswer, answer));
      return true;
    }
    case FrameKind::kClusterQuery:
      if (host_) {
        peers_->send(from, encode_frame(FrameKind::kClusterAnswer,
                                        encode_cluster_params(params_with_addresses())));
      }
      return true;
    case FrameKind::kClusterAnswer: {
      auto params = decode_cluster_params(frame.payload);
      if (!params) {
        log::warn("dropping cluster parameters from n{}: {}", from.value, params.error());
      } else if (!host_) {
        params_answer_ = std::move(*params);
        io_.stop();
      } else {
        for (const auto& [id, address] : params->addresses) {
          if (id != config_.id) addresses_[id] = address;
        }
      }
      return true;
    }
    default:
      return false;
  }
}

void Runtime::on_frame(NodeId from, Frame frame) {
  if (stopped_ || on_startup_frame(from, frame)) return;
  if (!host_) return;  // still deciding whether to bootstrap: peers will resend
  switch (frame.kind) {
    case FrameKind::kBatch: {
      auto batch = decode_batch(frame.payload, from, config_.id);
      if (!batch) {
        log::warn("dropping a batch from n{}: {}", from.value, batch.error());
        return;
      }
      for (const node::HostError& error : host_->step(*batch)) {
        log::debug("message from n{} for group {} not stepped: {}", from.value, error.group.value,
                   error.detail);
      }
      break;
    }
    case FrameKind::kRaft: {  // a single group-1 message
      auto message = decode_message(frame.payload);
      if (!message) {
        log::warn("dropping a message from n{}: {}", from.value, message.error());
        return;
      }
      if (message->from != from) {
        log::warn("dropping a message from n{} that claims to come from n{}", from.value,
                  message->from.value);
        return;
      }
      if (auto stepped = host_->step(node::GroupMessage{shard::kMetaGroup, *message, {}}); !stepped) {
        log::debug("message from n{} not stepped: {}", from.value, stepped.error().detail);
      }
      break;
    }
    case FrameKind::kForward: {
      auto request = decode_forwarded_request(frame.payload);
      if (!request) {
        log::warn("dropping a forwarded request from n{}: {}", from.value, request.error());
        return;
      }
      host_->on_client_request(node::ClientRequest{from.value, request->id, std::move(request->command),
                                                   request->group, request->epoch});
      break;
    }
    case FrameKind::kForwardReply: {
      auto reply = decode_forwarded_reply(frame.payload);
      if (!reply) {
        log::warn("dropping a forwarded reply from n{}: {}", from.value, reply.error());
        return;
      }
      on_reply(node::ClientReply{0, reply->id, reply->status, reply->leader_hint,
                                 std::move(reply->result), reply->index, reply->group,
                                 std::move(reply->route)},
               from);
      break;
    }
    default:
      break;  // handled above; PeerNetwork never hands handshakes on
  }
  request_drain();
}

void Runtime::submit(kv::Command command, std::function<void(Outcome)> done) {
  const GroupId group = group_of_key(command.key);
  submit_to(group, std::move(command), std::move(done));
}

void Runtime::submit_to(GroupId group, kv::Command command, std::function<void(Outcome)> done) {
  const uint64_t id = next_request_++;
  PendingRequest& pending = pending_[id];
  pending.command = std::move(command);
  pending.group = group;
  pending.done = std::move(done);
  pending.deadline = Clock::now() + std::chrono::milliseconds(config_.request_timeout_ms);
  dispatch(id, guess_server(group));
}

// Sends the request to `to` (this host or a peer) with the epoch of the route this node holds
// for its shard; with nowhere to send it, it waits for the next tick.
void Runtime::dispatch(uint64_t id, NodeId to) {
  PendingRequest& pending = pending_.at(id);
  if (to == kNoNode) {
    pending.waiting_for_leader = true;
    return;
  }
  Epoch epoch;
  if (sharded() && shard::is_shard_group(pending.group)) {
    if (const shard::RouteEntry* route = host_->route(shard::shard_of_group(pending.group))) {
      epoch = route->epoch;
    }
  }
  pending.forwarded_to = to == config_.id ? kNoNode : to;
  if (to == config_.id) {
    host_->on_client_request(node::ClientRequest{0, id, pending.command, pending.group, epoch});
    request_drain();
  } else {
    peers_->send(to, encode_frame(FrameKind::kForward,
                                  encode_forwarded_request({id, pending.command, pending.group, epoch})));
  }
}

void Runtime::wait_until(std::function<bool()> ready, std::function<void(bool)> done) {
  if (ready()) {
    done(true);
    return;
  }
  waiters_.push_back(Waiter{std::move(ready), std::move(done),
                            Clock::now() + std::chrono::milliseconds(config_.request_timeout_ms)});
}

void Runtime::expire_requests() {
  const auto now = Clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    Outcome outcome;
    outcome.timed_out = true;
    outcome.served_by = config_.id;
    auto done = std::move(it->second.done);
    it = pending_.erase(it);
    done(outcome);
  }
  finish_waiters([now](const Waiter& w) { return w.deadline <= now; }, false);
}

void Runtime::check_waiters() {
  finish_waiters([](const Waiter& w) { return w.ready(); }, true);
}

// Answers, with `outcome`, every waiter for which `due` holds (the answer may add waiters).
void Runtime::finish_waiters(const std::function<bool(const Waiter&)>& due, bool outcome) {
  std::vector<Waiter> finished;
  for (size_t i = 0; i < waiters_.size();) {
    if (!due(waiters_[i])) {
      ++i;
      continue;
    }
    finished.push_back(std::move(waiters_[i]));
    waiters_.erase(waiters_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  for (Waiter& w : finished) w.done(outcome);
}

// An answer for a request: ours (client 0) goes to its HTTP caller, after following a redirect
// to the leader (or a newer route) if need be; a peer's forwarded request goes back to that peer.
void Runtime::on_reply(const node::ClientReply& reply, NodeId served_by) {
  if (reply.client == kInternalClient) return;
  if (reply.client != 0) {
    ForwardedReply forwarded{reply.request, reply.status, reply.leader_hint, reply.index,
                             reply.result, reply.group, reply.route};
    peers_->send(NodeId(reply.client),
                 encode_frame(FrameKind::kForwardReply, encode_forwarded_reply(forwarded)));
    return;
  }
  auto it = pending_.find(reply.request);
  if (it == pending_.end()) return;  // timed out already
  PendingRequest& pending = it->second;
  // Only the node we last sent it to answers for it (a stale answer from an earlier hop, or a
  // forged one, must not complete it).
  const NodeId expected = pending.forwarded_to == kNoNode ? config_.id : pending.forwarded_to;
  if (served_by != expected) return;
  if (reply.status == node::ReplyStatus::kRedirect || reply.status == node::ReplyStatus::kStaleEpoch) {
    // Nothing was proposed: send it on to the leader, or with the newer route (a few hops at
    // most, in case hints are stale), or wait for a leader to be elected.
    if (reply.route) host_->set_route(*reply.route);
    NodeId next = reply.leader_hint;
    if (next == kNoNode && (reply.route || reply.status == node::ReplyStatus::kStaleEpoch)) {
      next = guess_server(pending.group);
    }
    if (next != kNoNode && pending.forwards < 4) {
      ++pending.forwards;
      dispatch(reply.request, next == config_.id && !host_->hosts(pending.group)
                                  ? guess_server(pending.group)
                                  : next);
      return;
    }
    pending.waiting_for_leader = true;
    return;
  }
  Outcome outcome{reply.status, reply.result, reply.index, served_by, false};
  auto done = std::move(pending.done);
  pending_.erase(it);
  done(outcome);
}

// ---------------------------------------------------------------------------------------------
// The Ready loop: the same steps as the simulator's (sim/world.cc), on the real disk

void Runtime::request_drain() {
  if (drain_posted_ || stopped_) return;
  drain_posted_ = true;
  // After the events already queued, so that one drain (one write, one sync) covers them all.
  asio::post(io_, [this] { drain(); });
}

// At most one Ready that needs a sync per turn of the loop: the events that arrive meanwhile
// (acknowledgements, requests) are stepped before the next one, so it carries them all (one
// write, one sync, for every group). Readies that need no sync (answers, applies, commit-index
// moves) are handled at once, so that an answer leaves as soon as its entry applies.
void Runtime::drain() {
  drain_posted_ = false;
  bool synced = false;
  while (!stopped_ && !persisting_ && host_->has_ready()) {
    if (synced) {
      request_drain();  // the next sync waits for the events queued meanwhile
      break;
    }
    node::HostReady ready = host_->take_ready();
    synced = storage_->needs_sync(ready.groups);
    handle_ready(std::move(ready));
  }
  observe_state();
  check_waiters();
}

void Runtime::handle_ready(node::HostReady ready) {
  // Replica histories ride on this Ready's sync (a history that misses one is redone from the
  // next command at worst).
  for (const node::ReplicaHistory& history : ready.history) storage_->keep_history(history);
  send_batches(ready.batches);
  // Answers report what was applied (or refused) before this Ready: they need not wait.
  for (node::GroupReady& g : ready.groups) {
    for (const node::ClientReply& reply : g.ready.replies) on_reply(reply, config_.id);
    g.ready.replies.clear();
  }
  for (const node::ClientReply& reply : ready.refused) on_reply(reply, config_.id);
  ready.refused.clear();
  node::Node* group1 = meta();
  if (group1 && group1->raft().role() == raft::Role::kLeader) {
    const auto now = Clock::now();
    for (const node::GroupReady& g : ready.groups) {
      if (g.group != shard::kMetaGroup) continue;
      for (const raft::Entry& e : g.ready.raft.entries_to_persist) {
        while (!proposed_at_.empty() && proposed_at_.back().first >= e.index) proposed_at_.pop_back();
        proposed_at_.emplace_back(e.index, now);
      }
    }
  }
  apply_placement(ready);
  if (persist(ready)) {
    finish(std::move(ready));
  } else {
    persisting_ = std::move(ready);
    retry_persist();
  }
}

// Replicas a move dropped here (their logs are closed) or asks this node to create (empty, to
// receive the leader's snapshot).
void Runtime::apply_placement(node::HostReady& ready) {
  storage_->close_groups(ready.dropped);  // one sync for them all
  for (const GroupId group : ready.dropped) {
    ++metrics_.replicas_dropped;
    log::info("dropped its replica of group {} (moved away)", group.value);
  }
  for (const node::GroupToCreate& create : ready.create) {
    if (host_->hosts(create.group)) continue;
    if (auto started = start_group(create.group, create.initial_voters); !started) {
      log::error("cannot create a replica for a move: {}", started.error());
    } else {
      ++metrics_.replicas_created;
      log::info("created an empty replica of group {} for a move", create.group.value);
    }
  }
}

// A disk that refuses a write (full, I/O error) holds the Ready back and refuses client writes
// (host.set_disk_failing) until a retry succeeds; nothing staged is lost meanwhile.
void Runtime::retry_persist() {
  retry_timer_.expires_after(std::chrono::milliseconds(10));
  retry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_ || !persisting_) return;
    if (!persist(*persisting_)) {
      retry_persist();
      return;
    }
    node::HostReady ready = std::move(*persisting_);
    persisting_.reset();
    finish(std::move(ready));
    request_drain();
  });
}

bool Runtime::persist(node::HostReady& ready) {
  if (!storage_->needs_sync(ready.groups)) {
    (void)storage_->persist(ready.groups);  // staged only: durable with the next sync
    return true;
  }
  const auto started = Clock::now();
  if (auto persisted = storage_->persist(ready.groups); !persisted) {
    if (!disk_refusing_) {
      log::error("the disk refused a write: {} (client writes refused until it recovers)",
                 persisted.error());
    }
    disk_refusing_ = true;
    host_->set_disk_failing(true);
    return false;
  }
  if (disk_refusing_) log::info("the disk accepts writes again");
  disk_refusing_ = false;
  host_->set_disk_failing(false);
  ++metrics_.wal_syncs;
  metrics_.wal_sync_latency.observe(seconds_since(started));
  return true;
}

void Runtime::finish(node::HostReady ready) {
  send_batches(ready.batches_after_persist);
  bool applies = false;
  for (const node::GroupReady& g : ready.groups) {
    if (g.ready.raft.snapshot) {
      ++metrics_.snapshots_installed;
      metrics_.snapshot_bytes_installed += g.ready.raft.snapshot->data.size();
      log::info("group {}: installed a snapshot from the leader up to index {}", g.group.value,
                g.ready.raft.snapshot->meta.index.value);
    }
    if (g.ready.snapshot_to_save) ++metrics_.snapshots_saved;
    applies |= !g.ready.raft.entries_to_apply.empty();
  }
  const auto started = Clock::now();
  host_->advance();
  if (applies) metrics_.apply_latency.observe(seconds_since(started));
}

// One frame per peer. Placement controls a host sends itself (the executor to a shard it leads)
// are stepped after this Ready, as if they had come back over the network.
void Runtime::send_batches(const std::vector<node::PeerBatch>& batches) {
  for (const node::PeerBatch& batch : batches) {
    if (batch.messages.empty()) continue;
    if (batch.to == config_.id) {
      asio::post(io_, [this, batch] {
        if (stopped_) return;
        (void)host_->step(batch);
        request_drain();
      });
      continue;
    }
    if (!marked_started_ && sharded()) {
      node::PeerBatch sent{batch.from, batch.to, {}};
      for (const node::GroupMessage& m : batch.messages) {
        if (!withholds(m)) sent.messages.push_back(m);
      }
      if (!sent.messages.empty()) peers_->send(batch.to, encode_frame(FrameKind::kBatch, encode_batch(sent)));
      continue;
    }
    peers_->send(batch.to, encode_frame(FrameKind::kBatch, encode_batch(batch)));
  }
}

void Runtime::observe_state() {
  node::Node* group1 = meta();
  if (group1 == nullptr) return;
  const raft::Raft& raft = group1->raft();
  if (raft.term() != last_term_) {
    last_term_ = raft.term();
    log::set_term(last_term_.value);
  }
  if (raft.role() != last_role_ || raft.leader() != last_leader_) {
    if (raft.leader() != last_leader_) ++metrics_.leader_changes;
    const char* what = sharded() ? " of the metadata group" : "";
    if (raft.role() == raft::Role::kLeader) {
      log::info("became leader{}", what);
    } else if (raft.leader() != kNoNode) {
      log::info("following leader n{}{}", raft.leader().value, what);
    } else if (last_leader_ != kNoNode) {
      log::info("lost leader n{}{}", last_leader_.value, what);
    }
    if (raft.role() != raft::Role::kLeader) proposed_at_.clear();
    last_role_ = raft.role();
    last_leader_ = raft.leader();
  }
  const LogIndex committed = raft.log().committed();
  const auto now = Clock::now();
  while (!proposed_at_.empty() && proposed_at_.front().first <= committed) {
    metrics_.replication_latency.observe(
        std::chrono::duration<double>(now - proposed_at_.front().second).count());
    proposed_at_.pop_front();
  }
}

int run_node(const RuntimeConfig& config) {
  if (!log::init(node_name(config.id), config.log_level)) {
    std::fprintf(stderr, "error: --log-level: '%s' is not one of debug, info, warn, error\n",
                 config.log_level.c_str());
    return 2;
  }
  Runtime runtime(config);
  if (auto started = runtime.start(); !started) {
    log::error("cannot start: {}", started.error());
    return 1;
  }
  runtime.run();
  log::info("stopped");
  return 0;
}

}  // namespace grape::net
