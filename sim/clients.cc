#include "sim/clients.h"

#include <algorithm>
#include <cmath>

#include "core/base/assert.h"
#include "sim/world.h"

namespace grape::sim {

namespace {
constexpr const char* kProbeKey = "__probe__";
// Between a refusal (redirect, rejected, dropped) and the retry: long enough not to spin while
// no leader is known.
constexpr Duration kRedirectBackoff = milliseconds(5);

// x^s for x >= 1 from basic IEEE operations only (+, -, *, /, exact scaling), so that the Zipf
// weights, hence the keys drawn, are the same on every machine (libm's pow need not be).
double deterministic_pow(double x, double s) {
  int exponent = 0;
  double mantissa = std::frexp(x, &exponent);  // x = mantissa * 2^exponent, mantissa in [0.5, 1)
  // ln(mantissa) = 2 atanh(z), z = (m - 1) / (m + 1), |z| <= 1/3
  const double z = (mantissa - 1) / (mantissa + 1);
  double term = z;
  double series = 0;
  for (int k = 1; k < 60; k += 2) {
    series += term / k;
    term *= z * z;
  }
  constexpr double kLn2 = 0.693147180559945309417232121458176568;
  const double ln_x = 2 * series + exponent * kLn2;
  // exp(y) = 2^n * exp(r), r = y - n ln 2 in [-ln2/2, ln2/2]
  const double y = s * ln_x;
  const double n = std::floor(y / kLn2 + 0.5);
  const double r = y - n * kLn2;
  double e = 1;
  double power = 1;
  for (int k = 1; k < 30; ++k) {
    power *= r / k;
    e += power;
  }
  return std::ldexp(e, static_cast<int>(n));
}

kv::Op to_kv(OpKind kind) {
  switch (kind) {
    case OpKind::kPut:
      return kv::Op::kPut;
    case OpKind::kGet:
      return kv::Op::kGet;
    case OpKind::kDelete:
      return kv::Op::kDelete;
    case OpKind::kCas:
      return kv::Op::kCas;
  }
  return kv::Op::kGet;
}
}  // namespace

Clients::Clients(World& world, Rng rng, Duration timeout)
    : world_(world), rng_(rng), timeout_(timeout), shards_(world.options().shards) {
  world_.set_client_reply_handler(
      [this](World&, const node::ClientReply& reply) { on_reply(reply); });
}

std::vector<std::string> Clients::keys() const {
  std::vector<std::string> keys;
  for (size_t i = 0; i < workload_.keys; ++i) keys.push_back("k" + std::to_string(i));
  return keys;
}

NodeId Clients::next_node(NodeId after) {
  // Skip decommissioned nodes: an operator's client config no longer lists them.
  NodeId next = after;
  for (size_t i = 0; i < world_.node_count(); ++i) {
    next = NodeId(next.value % world_.node_count() + 1);
    if (world_.refused_start(next).empty()) return next;
  }
  return NodeId(after.value % world_.node_count() + 1);
}

void Clients::start_workload(const WorkloadOptions& options) {
  GRAPE_ASSERT(options.clients > 0 && options.keys > 0 && options.rate_per_s > 0,
               "a workload needs clients, keys and a rate");
  workload_ = options;
  if (options.zipf) {
    // Integer weights (2^40 / (i+1)^s, rounded): draws are integer from here on.
    uint64_t total = 0;
    zipf_cdf_.clear();
    for (size_t i = 0; i < options.keys; ++i) {
      const double weight = std::ldexp(1.0, 40) / deterministic_pow(static_cast<double>(i + 1), options.zipf_s);
      total += std::max<uint64_t>(1, static_cast<uint64_t>(weight + 0.5));
      zipf_cdf_.push_back(total);
    }
  }
  // Each client calls at rate/clients; a call still running when its next turn comes skips it.
  const Duration period{
      static_cast<int64_t>(1e9 * static_cast<double>(options.clients) / options.rate_per_s)};
  for (size_t i = 0; i < options.clients; ++i) {
    clients_.push_back(Client{next_process_++, std::nullopt,
                              NodeId(1 + rng_.below(world_.node_count())), false, false});
    const size_t client = clients_.size() - 1;
    clients_[client].read_target = NodeId(1 + rng_.below(world_.node_count()));
    const VirtualTime first =
        std::max(options.from, world_.now()) + Duration{rng_.between(0, period.ns - 1)};
    world_.schedule(first, [this, client, period](World&) { schedule_next_call(client, period); });
  }
}

size_t Clients::pick_key() {
  if (zipf_cdf_.empty()) return rng_.below(workload_.keys);
  const uint64_t x = rng_.below(zipf_cdf_.back());
  return static_cast<size_t>(std::upper_bound(zipf_cdf_.begin(), zipf_cdf_.end(), x) -
                             zipf_cdf_.begin());
}

std::map<NodeId, uint64_t> Clients::served_between(VirtualTime from, VirtualTime to) const {
  std::map<NodeId, uint64_t> out;
  for (const auto& [at, node] : served_) {
    if (at >= from && at <= to) ++out[node];
  }
  return out;
}

OpKind Clients::pick_kind() {
  const double total = workload_.put + workload_.get + workload_.cas + workload_.del;
  // Integer draw on a fine grid: deterministic on every machine.
  const double x = static_cast<double>(rng_.below(1'000'000)) / 1e6 * total;
  if (x < workload_.put) return OpKind::kPut;
  if (x < workload_.put + workload_.get) return OpKind::kGet;
  if (x < workload_.put + workload_.get + workload_.cas) return OpKind::kCas;
  return OpKind::kDelete;
}

void Clients::schedule_next_call(size_t client, Duration period) {
  if (world_.now() > workload_.until) return;
  if (!clients_[client].op) {
    const OpKind kind = pick_kind();
    std::string key = "k" + std::to_string(pick_key());
    std::optional<std::string> value;
    std::optional<std::string> expected;
    if (kind == OpKind::kPut || kind == OpKind::kCas) {
      value = "v" + std::to_string(history_.ops.size());
    }
    if (kind == OpKind::kCas) expected = last_seen_[key];
    begin(client, kind, std::move(key), std::move(value), std::move(expected));
  }
  world_.schedule(world_.now() + period,
                  [this, client, period](World&) { schedule_next_call(client, period); });
}

void Clients::call(OpKind kind, std::string key, std::optional<std::string> value,
                   std::optional<std::string> expected) {
  clients_.push_back(Client{next_process_++, std::nullopt,
                            NodeId(1 + rng_.below(world_.node_count())), false, true});
  begin(clients_.size() - 1, kind, std::move(key), std::move(value), std::move(expected));
}

void Clients::start_probe(VirtualTime at) {
  probe_committed_at_.reset();
  clients_.push_back(Client{0, std::nullopt, next_node(NodeId(world_.node_count())), true, false});
  const size_t client = clients_.size() - 1;
  world_.schedule(std::max(at, world_.now()), [this, client](World&) {
    begin(client, OpKind::kPut, kProbeKey, "p" + std::to_string(probe_sequence_++), std::nullopt);
  });
}

void Clients::begin(size_t client, OpKind kind, std::string key, std::optional<std::string> value,
                    std::optional<std::string> expected) {
  Client& c = clients_[client];
  History& history = history_of(c);
  Operation op;
  op.id = history.ops.size();
  op.process = c.process;
  op.kind = kind;
  op.key = std::move(key);
  op.value = std::move(value);
  op.expected = std::move(expected);
  op.invoked = world_.now();
  history.ops.push_back(std::move(op));
  c.op = history.ops.size() - 1;
  if (!c.is_probe) ++stats_.ops;
  const uint64_t op_id = *c.op;
  world_.schedule(world_.now() + timeout_,
                  [this, client, op_id](World&) { on_timeout(client, op_id); });
  send(client);
}

void Clients::send(size_t client) {
  Client& c = clients_[client];
  const Operation& op = history_of(c).ops[*c.op];
  node::ClientRequest request;
  request.client = client;
  request.request = op.id;
  request.command.op = to_kv(op.kind);
  request.command.key = op.key;
  request.command.value = op.value.value_or("");
  request.command.expected = op.expected;
  const bool read_elsewhere = op.kind == OpKind::kGet && c.read_target != kNoNode;
  if (shards_ > 0) {
    const uint32_t shard = shard::shard_of(op.key, shards_);
    request.group = shard::group_of(shard);
    const shard::RouteEntry* entry = routes_.find(shard);
    request.epoch = entry ? entry->epoch : Epoch(0);
    c.sent_to = shard_target(shard, op.kind == OpKind::kGet, read_elsewhere);
  } else {
    c.sent_to = read_elsewhere ? c.read_target : c.target;
  }
  world_.send_client_request(c.sent_to, std::move(request));
}

NodeId Clients::shard_target(uint32_t shard, bool read, bool read_elsewhere) {
  const shard::RouteEntry* entry = routes_.find(shard);
  if (entry == nullptr || entry->replicas.empty()) {
    return NodeId(1 + rng_.below(world_.node_count()));  // its answer tells the route
  }
  if (read && read_elsewhere) {  // any replica serves a read (ReadIndex)
    return entry->replicas[rng_.below(entry->replicas.size())];
  }
  if (entry->leader != kNoNode) return entry->leader;
  return entry->replicas[rng_.below(entry->replicas.size())];
}

void Clients::learn_route(uint32_t shard, const node::ClientReply* reply, NodeId failed) {
  if (reply != nullptr && reply->route) routes_.update(*reply->route);
  if (reply != nullptr && reply->leader_hint != kNoNode && reply->leader_hint != failed) {
    routes_.set_leader(shard, reply->leader_hint);
    return;
  }
  // No better hint: the replica after the one that failed.
  const shard::RouteEntry* entry = routes_.find(shard);
  if (entry == nullptr || entry->replicas.empty()) return;
  const auto& replicas = entry->replicas;
  auto it = std::find(replicas.begin(), replicas.end(), failed);
  const size_t next = it == replicas.end() ? 0 : static_cast<size_t>(it - replicas.begin() + 1);
  routes_.set_leader(shard, replicas[next % replicas.size()]);
}

void Clients::on_reply(const node::ClientReply& reply) {
  if (reply.client >= clients_.size()) return;
  const size_t client = reply.client;
  Client& c = clients_[client];
  if (!c.op || *c.op != reply.request) return;  // an answer to a call already given up on
  switch (reply.status) {
    case node::ReplyStatus::kOk: {
      const Operation& op = history_of(c).ops[*c.op];
      if (op.kind == OpKind::kCas && !reply.result.ok) {
        last_seen_[op.key] = reply.result.value;
        complete(client, OpOutcome::kFail, std::nullopt);
      } else {
        complete(client, OpOutcome::kOk, reply.result.value);
      }
      break;
    }
    case node::ReplyStatus::kRedirect:
    case node::ReplyStatus::kRejected:
    case node::ReplyStatus::kDropped:
    case node::ReplyStatus::kStaleEpoch:
      // Each of these says the call certainly did not take effect, so it is safe to send it
      // again (a real client does): to the leader hint, else the next node, until the timeout.
      // A definite `fail` is kept for a cas whose expectation did not hold: the checker reads
      // it as an observation of the register. Sharded: the answer's route refreshes the cache.
      if (shards_ > 0) {
        learn_route(shard::shard_of(history_of(c).ops[*c.op].key, shards_), &reply, c.sent_to);
      } else {
        c.target = reply.leader_hint != kNoNode && reply.leader_hint != c.target
                       ? reply.leader_hint
                       : next_node(c.target);
      }
      world_.schedule(world_.now() + kRedirectBackoff,
                      [this, client, request = reply.request](World&) {
                        if (clients_[client].op == request) send(client);
                      });
      break;
    case node::ReplyStatus::kUnknown:
      // The node lost its leadership with the call in flight: it may still take effect, exactly
      // as after a timeout, but the client learns it now and moves on to the leader it names.
      if (shards_ > 0) {
        learn_route(shard::shard_of(history_of(c).ops[*c.op].key, shards_), &reply, c.sent_to);
      }
      give_up(client, reply.leader_hint != kNoNode ? reply.leader_hint : next_node(c.target));
      break;
  }
}

void Clients::complete(size_t client, OpOutcome outcome, std::optional<std::string> read_value) {
  Client& c = clients_[client];
  Operation& op = history_of(c).ops[*c.op];
  op.outcome = outcome;
  op.completed = world_.now();
  c.op.reset();
  if (c.is_probe) {
    if (outcome == OpOutcome::kOk) {
      if (!probe_committed_at_) probe_committed_at_ = world_.now();
    } else {
      begin(client, OpKind::kPut, kProbeKey, "p" + std::to_string(probe_sequence_++), std::nullopt);
    }
    return;
  }
  if (outcome == OpOutcome::kOk) {
    ++stats_.ok;
    served_.emplace_back(world_.now(), c.sent_to);
    if (op.kind == OpKind::kGet) {
      op.value = std::move(read_value);
      last_seen_[op.key] = op.value;
    } else {
      ++stats_.writes_acknowledged;
      last_seen_[op.key] = op.kind == OpKind::kDelete ? std::nullopt : op.value;
    }
  } else {
    ++stats_.failed;
  }
}

void Clients::on_timeout(size_t client, uint64_t op_id) {
  Client& c = clients_[client];
  if (!c.op || *c.op != op_id) return;
  if (shards_ > 0) {
    learn_route(shard::shard_of(history_of(c).ops[*c.op].key, shards_), nullptr, c.sent_to);
  }
  give_up(client, next_node(c.target));  // silence: that node may be down, try the next one
}

void Clients::give_up(size_t client, NodeId next_target) {
  Client& c = clients_[client];
  c.read_target = kNoNode;  // that node may be down: read where it writes from now on
  Operation& op = history_of(c).ops[*c.op];
  op.outcome = OpOutcome::kInfo;
  op.completed = world_.now();  // when the client gave up (the op itself never completes)
  c.op.reset();
  c.target = next_target;
  if (c.is_probe) {
    begin(client, OpKind::kPut, kProbeKey, "p" + std::to_string(probe_sequence_++), std::nullopt);
    return;
  }
  ++stats_.indeterminate;
  // The call may still take effect: this process can never call again (one call at a time).
  c.process = next_process_++;
}

void Clients::finish() {
  for (Client& c : clients_) {
    if (!c.op) continue;
    Operation& op = history_of(c).ops[*c.op];
    op.outcome = OpOutcome::kInfo;
    op.completed = world_.now();
    if (!c.is_probe) ++stats_.indeterminate;
    c.op.reset();
  }
}

}  // namespace grape::sim
