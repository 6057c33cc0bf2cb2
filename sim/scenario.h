#pragma once
// Scenario: one YAML scenario file (docs/scenario-format.md, the contract) as plain values, one
// struct per YAML mapping. load_scenario() reads and checks a file; to_yaml() writes a Scenario
// back out (the shrinker saves minimized scenarios with it) so that parse(to_yaml(s)) == s.
//
// Everything the file says is checked here, before a run starts: unknown and duplicate keys,
// missing required keys, wrong types, bad durations and ranges, probabilities outside [0, 1],
// and nodes that do not exist (n1..nN plus the nodes that earlier add_node faults bring in, in
// timeline order). Selectors (`leader`, `random_minority`, ...) are kept symbolic: the simulator
// resolves them when a fault fires. A loaded Scenario is therefore valid input for build_world.
//
// Choices the contract leaves open, and what the loader does:
// - Durations: a non-negative number and a unit, no space: ns, us, ms, s, m (`250ms`, `2s`, `1m`,
//   also decimals that come to whole nanoseconds: `1.5s`). Negative values, no unit or other
//   units are errors.
// - Ranges: `[min, max]`; a single duration `v` where a range is accepted means `[v, v]`.
// - Rates: `COUNT/UNIT` or `COUNT/DURATION` with COUNT a positive integer: `200/s`, `5/ms`,
//   `30/m`, `1/2s` (one every two seconds). Kept as count per period, so nothing is rounded.
// - Numbers and booleans must be plain YAML scalars (`nodes: "5"` is a string, so an error);
//   booleans are `true` / `false` only.
// - Node fields take one node, one selector or a list of them (their union). `leader_of: S`
//   names shard S, 0-based; when the cluster is sharded, S must be below `shards`.
//   `transfer_leader` takes one node or selector (not a list); `add_node` takes exactly the next
//   new node name; `expect.leader_at_end` takes a node name, not a selector.
// - `for` is required for `pause` and for `disk` faults `full` and `eio`, and not allowed for the
//   other disk faults; `latency`, `drop`, `duplicate` and `drift` without `for` last until the run
//   stops. `from` and `to` are required for `cut`, `latency`, `drop` and `duplicate`.
//   `heal` takes `all`; `rebalance` takes `true`. `messages` must name at least one kind.
// - workload: a given `mix` lists only the kinds wanted (absent kinds are 0); its values must sum
//   to 1. `until` absent: until the run stops. `replication` absent in a sharded cluster:
//   min(3, nodes). nemesis: `kinds` defaults to all nine, `interval` to [500ms, 2s].
// - A fault after `run_until` is accepted; it never fires.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/base/expected.h"
#include "core/base/ids.h"
#include "sim/network.h"
#include "sim/time.h"

namespace grape::sim {

inline constexpr uint32_t kScenarioNodesMax = 64;
inline constexpr uint32_t kScenarioShardsMax = 65'536;
inline constexpr uint32_t kScenarioClientsMax = 10'000;
inline constexpr size_t kScenarioFileBytesMax = 4u << 20;  // a larger file is refused

// A uniform range [min, max]; min <= max.
struct DurationRange {
  Duration min;
  Duration max;
  bool operator==(const DurationRange&) const = default;
};

// `count` operations every `per` (`200/s` is {200, 1s}).
struct Rate {
  uint64_t count = 1;
  Duration per = seconds(1);
  bool operator==(const Rate&) const = default;
};

// The message kinds a link fault can be narrowed to (`messages: [append, vote]`).
enum class MessageKind : uint8_t {
  kAppend,
  kAppendResponse,
  kVote,
  kVoteResponse,
  kPreVote,
  kPreVoteResponse,
  kSnapshot,
  kHeartbeat,
  kHeartbeatResponse,
  kTimeoutNow,
};
inline constexpr size_t kMessageKindCount = 10;
std::string_view to_string(MessageKind kind);  // the YAML name: "append_response"

// A set of message kinds as a bitmask; by default every kind.
struct MessageSet {
  static constexpr uint16_t kAll = (1u << kMessageKindCount) - 1;
  uint16_t bits = kAll;

  static constexpr uint16_t bit(MessageKind kind) {
    return static_cast<uint16_t>(1u << static_cast<unsigned>(kind));
  }
  constexpr bool contains(MessageKind kind) const { return (bits & bit(kind)) != 0; }
  constexpr bool is_all() const { return bits == kAll; }
  bool operator==(const MessageSet&) const = default;
};

enum class SelectorKind : uint8_t {
  kNode,            // one named node
  kLeader,          // the leader with the highest term (sharded: of the metadata group)
  kLeaderOf,        // the leader of one shard
  kFollowers,       // every node but that leader
  kOthers,          // every node not named elsewhere in the same fault
  kRandom,          // one node
  kRandomMinority,  // a random minority
  kRandomMajority,  // a random majority
  kAll,             // every node
};
std::string_view to_string(SelectorKind kind);  // the YAML word: "random_minority", "n" for kNode

// A node by name, or a selector resolved when the fault fires.
struct NodeSelector {
  SelectorKind kind = SelectorKind::kNode;
  NodeId node;    // kNode only: 1-based, as in `n3`
  ShardId shard;  // kLeaderOf only: 0-based

  static NodeSelector named(NodeId node) { return {SelectorKind::kNode, node, ShardId{}}; }
  static NodeSelector of(SelectorKind kind) { return {kind, NodeId{}, ShardId{}}; }
  static NodeSelector leader_of(ShardId shard) {
    return {SelectorKind::kLeaderOf, NodeId{}, shard};
  }
  bool operator==(const NodeSelector&) const = default;
};

// The union of its items; never empty in a loaded scenario.
using NodeSet = std::vector<NodeSelector>;

struct ClusterSpec {
  uint32_t nodes = 0;        // required, 1..64
  uint32_t shards = 0;       // 0: one Raft group over all nodes
  uint32_t replication = 3;  // sharded only: replicas per shard, <= nodes
  DurationRange election_timeout{milliseconds(150), milliseconds(300)};
  Duration heartbeat = milliseconds(50);
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t snapshot_every = 1000;  // entries applied between snapshots; 0 = never
  bool operator==(const ClusterSpec&) const = default;
};

// Defaults for every link.
struct NetworkSpec {
  DurationRange latency{milliseconds(1), milliseconds(10)};
  double drop = 0.0;
  double duplicate = 0.0;
  bool reorder = true;

  LinkSpec link_spec() const { return {latency.min, latency.max, drop, duplicate, reorder}; }
  bool operator==(const NetworkSpec&) const = default;
};

struct DiskSpec {
  DurationRange sync_latency{milliseconds(0), milliseconds(1)};
  bool operator==(const DiskSpec&) const = default;
};

// Probabilities of each client operation; they sum to 1.
struct OperationMix {
  double put = 0.5;
  double get = 0.4;
  double cas = 0.05;
  double del = 0.05;  // `delete` in YAML
  bool operator==(const OperationMix&) const = default;
};

struct WorkloadSpec {
  uint32_t clients = 3;
  uint32_t keys = 8;
  OperationMix mix;
  Rate rate{200, seconds(1)};  // in total, spread over the clients
  Duration from = seconds(0);
  std::optional<Duration> until;  // none: until the run stops
  Duration timeout = seconds(1);  // an op without an answer by then is indeterminate
  bool zipf = false;     // distribution: zipf (else uniform): key i drawn with weight 1/(i+1)^s
  double zipf_s = 0.99;  // the exponent
  bool operator==(const WorkloadSpec&) const = default;
};

// --- timeline actions: one struct per action key of a fault ---

struct PartitionFault {
  std::vector<NodeSet> groups;  // unlisted nodes form one more group
  bool operator==(const PartitionFault&) const = default;
};
struct CutFault {  // one-way
  NodeSet from;
  NodeSet to;
  MessageSet messages;
  bool operator==(const CutFault&) const = default;
};
struct HealFault {  // `heal: all`
  bool operator==(const HealFault&) const = default;
};
struct CrashFault {
  NodeSet nodes;
  bool operator==(const CrashFault&) const = default;
};
struct RestartFault {
  NodeSet nodes;
  bool operator==(const RestartFault&) const = default;
};
struct PauseFault {
  NodeSet nodes;      // YAML `node`
  Duration duration;  // YAML `for`
  bool operator==(const PauseFault&) const = default;
};
struct LatencyFault {
  NodeSet from;
  NodeSet to;
  DurationRange value;
  std::optional<Duration> duration;  // YAML `for`; none: until the run stops
  MessageSet messages;
  bool operator==(const LatencyFault&) const = default;
};
struct DropFault {
  NodeSet from;
  NodeSet to;
  double rate = 0.0;  // probability
  std::optional<Duration> duration;
  MessageSet messages;
  bool operator==(const DropFault&) const = default;
};
struct DuplicateFault {
  NodeSet from;
  NodeSet to;
  double rate = 0.0;  // probability
  std::optional<Duration> duration;
  MessageSet messages;
  bool operator==(const DuplicateFault&) const = default;
};
enum class DiskFaultKind : uint8_t {
  kTornWrite,     // applied at the node's next crash
  kCorrupt,       // applied at the node's next crash
  kLoseUnsynced,  // applied at the node's next crash
  kFull,          // writes fail now, for `duration`
  kEio,           // reads and writes fail now, for `duration`
};
std::string_view to_string(DiskFaultKind kind);  // "torn_write"
struct DiskFault {
  NodeSet nodes;  // YAML `node`
  DiskFaultKind fault = DiskFaultKind::kTornWrite;
  std::optional<Duration> duration;  // set exactly for kFull and kEio
  bool operator==(const DiskFault&) const = default;
};
struct DriftFault {
  NodeSet nodes;      // YAML `node`
  double rate = 1.0;  // > 0: the node's ticks run this many times as fast
  std::optional<Duration> duration;
  bool operator==(const DriftFault&) const = default;
};
struct CampaignFault {
  NodeSet nodes;
  bool operator==(const CampaignFault&) const = default;
};
struct TransferLeaderFault {
  NodeSelector target;
  bool operator==(const TransferLeaderFault&) const = default;
};
struct PutFault {  // one scripted client call
  std::string key;
  std::string value;
  bool operator==(const PutFault&) const = default;
};
struct AddNodeFault {
  NodeId node;  // the next new node: n(N+1), then n(N+2), ...
  bool operator==(const AddNodeFault&) const = default;
};
struct RemoveNodeFault {
  NodeSet nodes;
  bool operator==(const RemoveNodeFault&) const = default;
};
struct RebalanceFault {  // `rebalance: true`
  bool operator==(const RebalanceFault&) const = default;
};

using FaultAction =
    std::variant<PartitionFault, CutFault, HealFault, CrashFault, RestartFault, PauseFault,
                 LatencyFault, DropFault, DuplicateFault, DiskFault, DriftFault, CampaignFault,
                 TransferLeaderFault, PutFault, AddNodeFault, RemoveNodeFault, RebalanceFault>;
std::string_view action_name(const FaultAction& action);  // its YAML key: "transfer_leader"

struct FaultStep {
  Duration at;  // virtual time since the start of the run
  FaultAction action;
  bool operator==(const FaultStep&) const = default;
};

enum class NemesisKind : uint8_t {
  kPartition,
  kCut,
  kCrash,
  kPause,
  kLatency,
  kDrop,
  kDuplicate,
  kDisk,
  kDrift,
};
std::string_view to_string(NemesisKind kind);

struct NemesisSpec {
  std::vector<NemesisKind> kinds{
      NemesisKind::kPartition, NemesisKind::kCut,  NemesisKind::kCrash,     NemesisKind::kPause,
      NemesisKind::kLatency,   NemesisKind::kDrop, NemesisKind::kDuplicate, NemesisKind::kDisk,
      NemesisKind::kDrift};  // in file order, no repeats
  DurationRange interval{milliseconds(500), seconds(2)};
  Duration from = seconds(0);
  std::optional<Duration> until;  // none: until the run stops; everything is healed then
  bool operator==(const NemesisSpec&) const = default;
};

// What must hold besides the Raft safety properties (always checked). Absent: not checked.
struct ExpectSpec {
  std::optional<bool> linearizable;
  std::optional<bool> no_lost_writes;
  std::optional<Duration> recovers_within;
  std::optional<uint64_t> min_committed;
  std::optional<uint64_t> max_term;
  std::optional<NodeId> leader_at_end;
  std::optional<double> max_load_stddev_pct;  // >= 0
  std::optional<bool> converged;
  std::optional<double> max_served_stddev_pct;  // >= 0
  bool operator==(const ExpectSpec&) const = default;
};

struct Scenario {
  std::string name;  // required, not empty
  std::string description;
  std::optional<uint64_t> seed;  // the default seed; --seed overrides
  ClusterSpec cluster;
  NetworkSpec network;
  DiskSpec disk;
  std::optional<WorkloadSpec> workload;  // none: no client traffic
  std::vector<FaultStep> faults;         // sorted by `at`; file order among equal times
  std::optional<NemesisSpec> nemesis;
  Duration run_until;  // required, > 0
  ExpectSpec expect;
  bool operator==(const Scenario&) const = default;
};

// Bad input: where it is and what is wrong. line and column are 1-based; 0 when the problem has
// no position (an unreadable file).
struct InputError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;  // one line

  // `scenarios/x.yaml:12:5: unknown key 'latncy' in network (did you mean 'latency'?)`
  std::string to_string() const;
  bool operator==(const InputError&) const = default;
};

// Reads and checks one scenario file. Never throws.
[[nodiscard]] Expected<Scenario, InputError> load_scenario(const std::string& path);
// The same for text already in memory; `file_name_for_messages` prefixes every error.
[[nodiscard]] Expected<Scenario, InputError> parse_scenario(
    const std::string& yaml_text, const std::string& file_name_for_messages);

// The scenario as YAML that parse_scenario accepts and reads back equal to `scenario`, provided
// `scenario` itself is valid (as every loaded one is). Every field is written, defaults included.
std::string to_yaml(const Scenario& scenario);

// `250ms` -> 250 ms; none when the text is not a valid duration (see the header comment).
std::optional<Duration> parse_duration(std::string_view text);
// The shortest exact form in the largest unit that divides it: `1500ms`, `2s`, `1m`, `0s`.
std::string format_duration(Duration duration);

}  // namespace grape::sim
