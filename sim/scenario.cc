#include "sim/scenario.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <numeric>
#include <sstream>
#include <utility>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace grape::sim {
namespace {

// --- the words of the format -------------------------------------------------------------------

constexpr std::array<std::string_view, kMessageKindCount> kMessageKindNames{
    "append",        "append_response", "vote",
    "vote_response", "pre_vote",        "pre_vote_response",
    "snapshot",      "heartbeat",       "heartbeat_response",
    "timeout_now"};

// Indexed by SelectorKind; kNode has no word of its own.
constexpr std::array<std::string_view, 9> kSelectorNames{
    "n",      "leader",          "leader_of",       "followers", "others",
    "random", "random_minority", "random_majority", "all"};

constexpr std::array<std::string_view, 5> kDiskFaultNames{"torn_write", "corrupt", "lose_unsynced",
                                                          "full", "eio"};

constexpr std::array<std::string_view, 9> kNemesisNames{
    "partition", "cut", "crash", "pause", "latency", "drop", "duplicate", "disk", "drift"};

// Indexed by FaultAction's alternative.
constexpr std::array<std::string_view, 17> kActionNames{
    "partition",       "cut",  "heal",      "crash",       "restart",  "pause",
    "latency",         "drop", "duplicate", "disk",        "drift",    "campaign",
    "transfer_leader", "put",  "add_node",  "remove_node", "rebalance"};
static_assert(kActionNames.size() == std::variant_size_v<FaultAction>);

struct Unit {
  std::string_view name;
  int64_t ns;
};
constexpr std::array<Unit, 5> kUnits{
    {{"ns", 1}, {"us", 1'000}, {"ms", 1'000'000}, {"s", 1'000'000'000}, {"m", 60'000'000'000}}};

constexpr size_t kQuotedCharsMax = 40;  // values echoed in messages are cut after this many

// --- small text helpers ------------------------------------------------------------------------

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_digit);
}

// A value echoed in a message: quoted, on one line, not too long.
std::string quote(std::string_view text) {
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kQuotedCharsMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kQuotedCharsMax) out += "...";
  return out + "'";
}

std::string join(std::string_view separator, auto begin, auto end) {
  std::string out;
  for (auto it = begin; it != end; ++it) {
    if (!out.empty()) out += separator;
    out += *it;
  }
  return out;
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), ignoring case.
size_t edit_distance(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The candidate closest to `word`, when it is close enough to be what was meant: one edit for
// words of up to 3 letters, two up to 7, three beyond. Ties go to the earlier candidate.
std::optional<std::string_view> closest(std::string_view word, auto begin, auto end) {
  if (word.size() > 64) return std::nullopt;  // not a typo of any key; spare the table
  const size_t allowed = word.size() <= 3 ? 1 : word.size() <= 7 ? 2 : 3;
  std::optional<std::string_view> best;
  size_t best_distance = allowed + 1;
  for (auto it = begin; it != end; ++it) {
    const std::string_view candidate = *it;
    if (candidate == "n") continue;  // kNode's placeholder in kSelectorNames
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

template <class Names>
std::string did_you_mean(std::string_view word, const Names& names) {
  const auto best = closest(word, std::begin(names), std::end(names));
  return best ? " (did you mean '" + std::string(*best) + "'?)" : "";
}

// `n3` -> 3; none unless `n` and a number without leading zeros (`n0` gives 0: no such node).
std::optional<uint64_t> parse_node_name(std::string_view text) {
  if (text.size() < 2 || text.size() > 8 || text[0] != 'n') return std::nullopt;
  const std::string_view digits = text.substr(1);
  if (!all_digits(digits) || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  uint64_t id = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), id);
  return id;
}

std::string node_name(uint64_t id) { return "n" + std::to_string(id); }

// Parses a duration; on failure says why in `why` (for the error message).
std::optional<Duration> parse_duration_why(std::string_view text, std::string* why) {
  const auto fail = [&](std::string reason) -> std::optional<Duration> {
    if (why != nullptr) *why = std::move(reason);
    return std::nullopt;
  };
  const std::string usage = "expected a number and a unit: ns, us, ms, s or m, like 250ms";
  if (!text.empty() && text[0] == '-') return fail("durations cannot be negative");
  const size_t number_end = text.find_first_not_of("0123456789.");
  const std::string_view number = text.substr(0, number_end);
  const std::string_view unit_name =
      number_end == std::string_view::npos ? std::string_view() : text.substr(number_end);
  const size_t dot = number.find('.');
  const std::string_view whole = number.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : number.substr(dot + 1);
  if (!all_digits(whole) || (dot != std::string_view::npos && !all_digits(fraction))) {
    return fail(usage);
  }
  if (unit_name.empty()) return fail("no unit; use ns, us, ms, s or m");
  const auto unit = std::find_if(kUnits.begin(), kUnits.end(),
                                 [&](const Unit& u) { return u.name == unit_name; });
  if (unit == kUnits.end()) return fail(usage);
  if (whole.size() > 18 || fraction.size() > 9) return fail("out of range");

  int64_t whole_value = 0;
  std::from_chars(whole.data(), whole.data() + whole.size(), whole_value);
  int64_t ns = 0;
  if (__builtin_mul_overflow(whole_value, unit->ns, &ns)) return fail("out of range");
  if (!fraction.empty()) {
    int64_t fraction_value = 0;
    std::from_chars(fraction.data(), fraction.data() + fraction.size(), fraction_value);
    int64_t scale = 1;
    for (size_t i = 0; i < fraction.size(); ++i) scale *= 10;
    // fraction_value / scale of a unit is whole nanoseconds iff it divides out exactly.
    const int64_t common = std::gcd(scale, unit->ns);
    if (fraction_value % (scale / common) != 0) return fail("finer than a nanosecond");
    const int64_t extra = fraction_value / (scale / common) * (unit->ns / common);
    if (__builtin_add_overflow(ns, extra, &ns)) return fail("out of range");
  }
  return Duration{ns};
}

std::optional<Rate> parse_rate(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view count = text.substr(0, slash);
  std::string period(text.substr(slash + 1));
  if (!all_digits(count) || count.size() > 18 || period.empty()) return std::nullopt;
  if (!is_digit(period[0])) period = "1" + period;  // `200/s` is 200 per 1s
  const auto per = parse_duration_why(period, nullptr);
  Rate rate;
  std::from_chars(count.data(), count.data() + count.size(), rate.count);
  if (!per || per->ns <= 0 || rate.count == 0) return std::nullopt;
  rate.per = *per;
  return rate;
}

// --- the loader ---------------------------------------------------------------------------------

// Thrown inside the loader only, so that each check is one line; parse_scenario catches it and
// returns the error as a value.
struct Failure {
  InputError error;
};

// One value in the file: the node, where to point at it, and its dotted name for messages.
struct Value {
  YAML::Node node;
  YAML::Mark mark;
  std::string field;
};

// A node named in a fault, checked once the timeline is in order.
struct NodeRef {
  uint64_t id = 0;
  YAML::Mark mark;
  std::string field;
};

struct ParsedFault {
  FaultStep step;
  std::vector<NodeRef> refs;
  std::optional<NodeRef> added;  // add_node
};

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return quote(node.Scalar());
    default:
      return "an empty value";
  }
}

class Loader;

// The keys of one mapping, checked: each is a known key and appears once.
class Fields {
 public:
  Fields(const Loader& loader, const Value& value, std::initializer_list<std::string_view> allowed);

  // The value of `key`, if present.
  std::optional<Value> find(std::string_view key) const;
  // The value of `key`; an error when it is absent.
  Value require(std::string_view key) const;
  const YAML::Mark& mark() const { return mark_; }
  const std::string& path() const { return path_; }

  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    YAML::Node value;
  };
  const std::vector<Entry>& entries() const { return entries_; }
  Value value_of(const Entry& entry) const;

 private:
  const Loader& loader_;
  YAML::Mark mark_;
  std::string path_;
  std::vector<Entry> entries_;
};

class Loader {
 public:
  explicit Loader(std::string file) : file_(std::move(file)) {}

  Scenario load(const YAML::Node& root);

  [[noreturn]] void fail(const YAML::Mark& mark, std::string message) const {
    throw Failure{InputError{file_, mark.is_null() ? 0 : mark.line + 1,
                             mark.is_null() ? 0 : mark.column + 1, std::move(message)}};
  }
  [[noreturn]] void fail(const Value& value, const std::string& problem) const {
    fail(value.mark, (value.field.empty() ? "top level" : value.field) + ": " + problem);
  }

  // Where a place is named in unknown- and missing-key messages.
  static std::string where(const std::string& path) {
    return path.empty() ? "at top level" : "in " + path;
  }

 private:
  // Scalars.
  std::string read_string(const Value& value) const;
  std::string plain_scalar(const Value& value, std::string_view expected) const;
  uint64_t read_uint(const Value& value, uint64_t min, uint64_t max) const;
  bool read_bool(const Value& value) const;
  double read_number(const Value& value) const;
  double read_probability(const Value& value) const;
  Duration read_duration(const Value& value) const;
  DurationRange read_range(const Value& value) const;
  Rate read_rate(const Value& value) const;
  template <class Names>
  size_t read_word(const Value& value, const Names& names, std::string_view what,
                   std::string_view separator) const;
  MessageSet read_messages(const Value& value) const;
  NodeSelector read_selector(const Value& value);
  NodeSet read_node_set(const Value& value);
  NodeId read_node_name(const Value& value) const;

  // Sections.
  ClusterSpec read_cluster(const Value& value) const;
  NetworkSpec read_network(const Value& value) const;
  DiskSpec read_disk(const Value& value) const;
  WorkloadSpec read_workload(const Value& value) const;
  OperationMix read_mix(const Value& value) const;
  NemesisSpec read_nemesis(const Value& value) const;
  ExpectSpec read_expect(const Value& value, std::optional<NodeRef>& leader_ref) const;
  ParsedFault read_fault(const Value& value);
  FaultAction read_action(const std::string& name, const Value& value);
  PartitionFault read_partition(const Value& value);
  DiskFault read_disk_fault(const Value& value);
  void check_nodes(const std::vector<ParsedFault>& faults,
                   const std::optional<NodeRef>& leader_ref) const;

  std::string file_;
  uint32_t nodes_ = 0;
  uint32_t shards_ = 0;
  std::vector<NodeRef>* refs_ = nullptr;  // where read_selector records named nodes
};

Fields::Fields(const Loader& loader, const Value& value,
               std::initializer_list<std::string_view> allowed)
    : loader_(loader), mark_(value.mark), path_(value.field) {
  if (!value.node.IsMap()) {
    loader_.fail(value, "expected a mapping, got " + describe(value.node));
  }
  for (const auto& pair : value.node) {
    const YAML::Mark key_mark = pair.first.Mark();
    if (!pair.first.IsScalar()) {
      loader_.fail(key_mark,
                   "keys must be words, got " + describe(pair.first) + " " + Loader::where(path_));
    }
    const std::string& key = pair.first.Scalar();
    for (const Entry& seen : entries_) {
      if (seen.key == key) {
        loader_.fail(key_mark, "duplicate key " + quote(key) + " " + Loader::where(path_) +
                                   " (first at line " + std::to_string(seen.key_mark.line + 1) +
                                   ")");
      }
    }
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      loader_.fail(key_mark, "unknown key " + quote(key) + " " + Loader::where(path_) +
                                 did_you_mean(key, allowed));
    }
    entries_.push_back({key, key_mark, pair.second});
  }
}

Value Fields::value_of(const Entry& entry) const {
  // A null value's own mark points at the next token, often on another line: use the key's.
  const bool own_mark = !entry.value.IsNull() && !entry.value.Mark().is_null();
  return {entry.value, own_mark ? entry.value.Mark() : entry.key_mark,
          path_.empty() ? entry.key : path_ + "." + entry.key};
}

std::optional<Value> Fields::find(std::string_view key) const {
  for (const Entry& entry : entries_) {
    if (entry.key == key) return value_of(entry);
  }
  return std::nullopt;
}

Value Fields::require(std::string_view key) const {
  auto value = find(key);
  if (!value) {
    loader_.fail(mark_, "missing required key " + quote(key) + " " + Loader::where(path_));
  }
  return *value;
}

// --- scalars ---

std::string Loader::read_string(const Value& value) const {
  if (!value.node.IsScalar()) fail(value, "expected a string, got " + describe(value.node));
  return value.node.Scalar();
}

// The text of a plain (unquoted, untagged) scalar: numbers and booleans must be written as such.
std::string Loader::plain_scalar(const Value& value, std::string_view expected) const {
  if (!value.node.IsScalar() || value.node.Tag() != "?") {
    const std::string got =
        value.node.IsScalar() ? "the string " + quote(value.node.Scalar()) : describe(value.node);
    fail(value, "expected " + std::string(expected) + ", got " + got);
  }
  return value.node.Scalar();
}

uint64_t Loader::read_uint(const Value& value, uint64_t min, uint64_t max) const {
  const std::string text = plain_scalar(value, "an integer");
  const bool negative = text.size() > 1 && text[0] == '-' && all_digits(text.substr(1));
  if (!negative && !all_digits(text)) fail(value, "expected an integer, got " + quote(text));
  uint64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (negative || error != std::errc() || number < min || number > max) {
    const std::string bounds =
        max == std::numeric_limits<uint64_t>::max()
            ? "must be at least " + std::to_string(min)
            : "must be from " + std::to_string(min) + " to " + std::to_string(max);
    fail(value, text + " is out of range (" + bounds + ")");
  }
  return number;
}

bool Loader::read_bool(const Value& value) const {
  const std::string text = plain_scalar(value, "true or false");
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  fail(value, "expected true or false, got " + quote(text));
}

double Loader::read_number(const Value& value) const {
  const std::string text = plain_scalar(value, "a number");
  double number = 0;
  const char* begin = text.data();
  if (!text.empty() && text[0] == '+') ++begin;  // from_chars takes no plus sign
  const auto [end, error] = std::from_chars(begin, text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(number)) {
    fail(value, "expected a number, got " + quote(text));
  }
  return number;
}

double Loader::read_probability(const Value& value) const {
  const double p = read_number(value);
  if (p < 0.0 || p > 1.0) {
    fail(value, "probability " + value.node.Scalar() + " is outside [0, 1]");
  }
  return p;
}

Duration Loader::read_duration(const Value& value) const {
  if (!value.node.IsScalar()) {
    fail(value, "expected a duration like 250ms, got " + describe(value.node));
  }
  std::string why;
  const auto duration = parse_duration_why(value.node.Scalar(), &why);
  if (!duration) fail(value, "bad duration " + quote(value.node.Scalar()) + " (" + why + ")");
  return *duration;
}

DurationRange Loader::read_range(const Value& value) const {
  if (value.node.IsScalar()) {
    const Duration d = read_duration(value);
    return {d, d};
  }
  if (!value.node.IsSequence() || value.node.size() != 2) {
    fail(value, "expected a range [min, max] or one duration, got " + describe(value.node) +
                    (value.node.IsSequence() ? " of " + std::to_string(value.node.size()) : ""));
  }
  const DurationRange range{read_duration({value.node[0], value.node[0].Mark(), value.field}),
                            read_duration({value.node[1], value.node[1].Mark(), value.field})};
  if (range.min > range.max) {
    fail(value, "range [" + format_duration(range.min) + ", " + format_duration(range.max) +
                    "] has min > max");
  }
  return range;
}

Rate Loader::read_rate(const Value& value) const {
  if (!value.node.IsScalar())
    fail(value, "expected a rate like 200/s, got " + describe(value.node));
  const auto rate = parse_rate(value.node.Scalar());
  if (!rate) {
    fail(value, "bad rate " + quote(value.node.Scalar()) +
                    " (expected a positive count per unit or duration, like 200/s or 1/2s)");
  }
  return *rate;
}

// One of a fixed set of words (`names`); its index.
template <class Names>
size_t Loader::read_word(const Value& value, const Names& names, std::string_view what,
                         std::string_view separator) const {
  if (!value.node.IsScalar()) {
    fail(value, "expected " + std::string(what) + ", got " + describe(value.node));
  }
  const std::string& word = value.node.Scalar();
  const auto found = std::find(std::begin(names), std::end(names), word);
  if (found == std::end(names)) {
    fail(value, "unknown " + std::string(what) + " " + quote(word) + did_you_mean(word, names) +
                    "; one of " + join(separator, std::begin(names), std::end(names)));
  }
  return static_cast<size_t>(found - std::begin(names));
}

MessageSet Loader::read_messages(const Value& value) const {
  if (!value.node.IsSequence() || value.node.size() == 0) {
    fail(value, "expected a list of message kinds, got " +
                    (value.node.IsSequence() ? "an empty list" : describe(value.node)));
  }
  MessageSet set{0};
  for (const auto& item : value.node) {
    const size_t kind =
        read_word({item, item.Mark(), value.field}, kMessageKindNames, "message kind", ", ");
    set.bits |= MessageSet::bit(static_cast<MessageKind>(kind));
  }
  return set;
}

NodeSelector Loader::read_selector(const Value& value) {
  if (value.node.IsMap()) {
    const Fields fields(*this, value, {"leader_of"});
    const Value shard_value = fields.require("leader_of");
    const uint64_t shard = read_uint(shard_value, 0, std::numeric_limits<uint32_t>::max());
    if (shards_ > 0 && shard >= shards_) {
      fail(shard_value, "shard " + std::to_string(shard) + " does not exist (shards are 0.." +
                            std::to_string(shards_ - 1) + ")");
    }
    return NodeSelector::leader_of(ShardId{shard});
  }
  if (!value.node.IsScalar()) {
    fail(value, "expected a node or selector, got " + describe(value.node));
  }
  const std::string& word = value.node.Scalar();
  if (const auto id = parse_node_name(word)) {
    if (refs_ != nullptr) refs_->push_back({*id, value.mark, value.field});
    return NodeSelector::named(NodeId{*id});
  }
  if (word == "leader_of") fail(value, "leader_of takes a shard, like {leader_of: 1}");
  const auto found = std::find(kSelectorNames.begin() + 1, kSelectorNames.end(), word);
  if (found == kSelectorNames.end()) {
    fail(value, "unknown node or selector " + quote(word) + did_you_mean(word, kSelectorNames));
  }
  return NodeSelector::of(static_cast<SelectorKind>(found - kSelectorNames.begin()));
}

NodeSet Loader::read_node_set(const Value& value) {
  if (!value.node.IsSequence()) return {read_selector(value)};
  if (value.node.size() == 0) fail(value, "expected at least one node or selector, got []");
  NodeSet set;
  for (const auto& item : value.node) {
    const Value one{item, item.Mark().is_null() ? value.mark : item.Mark(), value.field};
    if (item.IsSequence()) fail(one, "expected a node or selector, got a list");
    set.push_back(read_selector(one));
  }
  return set;
}

NodeId Loader::read_node_name(const Value& value) const {
  if (!value.node.IsScalar())
    fail(value, "expected a node name like n3, got " + describe(value.node));
  const auto id = parse_node_name(value.node.Scalar());
  if (!id) {
    fail(value, "expected a node name like n3, got " + quote(value.node.Scalar()));
  }
  return NodeId{*id};
}

// --- sections ---

ClusterSpec Loader::read_cluster(const Value& value) const {
  const Fields fields(*this, value,
                      {"nodes", "shards", "replication", "election_timeout", "heartbeat",
                       "pre_vote", "check_quorum", "snapshot_every"});
  ClusterSpec cluster;
  cluster.nodes = static_cast<uint32_t>(read_uint(fields.require("nodes"), 1, kScenarioNodesMax));
  if (auto v = fields.find("shards")) {
    cluster.shards = static_cast<uint32_t>(read_uint(*v, 0, kScenarioShardsMax));
  }
  if (auto v = fields.find("replication")) {
    cluster.replication = static_cast<uint32_t>(read_uint(*v, 1, kScenarioNodesMax));
    if (cluster.shards > 0 && cluster.replication > cluster.nodes) {
      fail(*v, "replication " + std::to_string(cluster.replication) + " is more than the " +
                   std::to_string(cluster.nodes) + " nodes");
    }
  } else if (cluster.shards > 0) {
    cluster.replication = std::min<uint32_t>(3, cluster.nodes);
  }
  if (auto v = fields.find("election_timeout")) {
    cluster.election_timeout = read_range(*v);
    if (cluster.election_timeout.min.ns <= 0) fail(*v, "the election timeout must be above 0s");
  }
  if (auto v = fields.find("heartbeat")) {
    cluster.heartbeat = read_duration(*v);
    if (cluster.heartbeat.ns <= 0) fail(*v, "the heartbeat must be above 0s");
  }
  if (auto v = fields.find("pre_vote")) cluster.pre_vote = read_bool(*v);
  if (auto v = fields.find("check_quorum")) cluster.check_quorum = read_bool(*v);
  if (auto v = fields.find("snapshot_every")) {
    cluster.snapshot_every = read_uint(*v, 0, std::numeric_limits<uint64_t>::max());
  }
  return cluster;
}

NetworkSpec Loader::read_network(const Value& value) const {
  const Fields fields(*this, value, {"latency", "drop", "duplicate", "reorder"});
  NetworkSpec network;
  if (auto v = fields.find("latency")) network.latency = read_range(*v);
  if (auto v = fields.find("drop")) network.drop = read_probability(*v);
  if (auto v = fields.find("duplicate")) network.duplicate = read_probability(*v);
  if (auto v = fields.find("reorder")) network.reorder = read_bool(*v);
  return network;
}

DiskSpec Loader::read_disk(const Value& value) const {
  const Fields fields(*this, value, {"sync_latency"});
  DiskSpec disk;
  if (auto v = fields.find("sync_latency")) disk.sync_latency = read_range(*v);
  return disk;
}

OperationMix Loader::read_mix(const Value& value) const {
  const Fields fields(*this, value, {"put", "get", "cas", "delete"});
  OperationMix mix{0.0, 0.0, 0.0, 0.0};  // only the kinds listed
  if (auto v = fields.find("put")) mix.put = read_probability(*v);
  if (auto v = fields.find("get")) mix.get = read_probability(*v);
  if (auto v = fields.find("cas")) mix.cas = read_probability(*v);
  if (auto v = fields.find("delete")) mix.del = read_probability(*v);
  const double sum = mix.put + mix.get + mix.cas + mix.del;
  if (std::abs(sum - 1.0) > 1e-9) {
    std::ostringstream text;
    text << "the probabilities sum to " << sum << ", not 1";
    fail(value, text.str());
  }
  return mix;
}

WorkloadSpec Loader::read_workload(const Value& value) const {
  const Fields fields(*this, value,
                      {"clients", "keys", "mix", "rate", "from", "until", "timeout",
                       "distribution", "zipf_s"});
  WorkloadSpec workload;
  if (auto v = fields.find("clients")) {
    workload.clients = static_cast<uint32_t>(read_uint(*v, 1, kScenarioClientsMax));
  }
  if (auto v = fields.find("keys")) {
    workload.keys = static_cast<uint32_t>(read_uint(*v, 1, std::numeric_limits<uint32_t>::max()));
  }
  if (auto v = fields.find("mix")) workload.mix = read_mix(*v);
  if (auto v = fields.find("rate")) workload.rate = read_rate(*v);
  if (auto v = fields.find("from")) workload.from = read_duration(*v);
  if (auto v = fields.find("until")) {
    workload.until = read_duration(*v);
    if (*workload.until < workload.from) fail(*v, "until is before from");
  }
  if (auto v = fields.find("timeout")) {
    workload.timeout = read_duration(*v);
    if (workload.timeout.ns <= 0) fail(*v, "the timeout must be above 0s");
  }
  if (auto v = fields.find("distribution")) {
    const std::string name = read_string(*v);
    if (name != "uniform" && name != "zipf") {
      fail(*v, "distribution must be uniform or zipf, not '" + name + "'");
    }
    workload.zipf = name == "zipf";
  }
  if (auto v = fields.find("zipf_s")) {
    workload.zipf_s = read_number(*v);
    if (workload.zipf_s <= 0 || workload.zipf_s > 4) fail(*v, "zipf_s must be in (0, 4]");
    if (!workload.zipf) fail(*v, "zipf_s needs distribution: zipf");
  }
  return workload;
}

NemesisSpec Loader::read_nemesis(const Value& value) const {
  const Fields fields(*this, value, {"kinds", "interval", "from", "until"});
  NemesisSpec nemesis;
  if (auto v = fields.find("kinds")) {
    if (!v->node.IsSequence() || v->node.size() == 0) {
      fail(*v, "expected a list of fault kinds, got " +
                   (v->node.IsSequence() ? "an empty list" : describe(v->node)));
    }
    nemesis.kinds.clear();
    for (const auto& item : v->node) {
      const Value kind{item, item.Mark(), v->field};
      const auto nemesis_kind =
          static_cast<NemesisKind>(read_word(kind, kNemesisNames, "nemesis kind", ", "));
      if (std::find(nemesis.kinds.begin(), nemesis.kinds.end(), nemesis_kind) !=
          nemesis.kinds.end()) {
        fail(kind, quote(item.Scalar()) + " is listed twice");
      }
      nemesis.kinds.push_back(nemesis_kind);
    }
  }
  if (auto v = fields.find("interval")) {
    nemesis.interval = read_range(*v);
    if (nemesis.interval.min.ns <= 0) fail(*v, "the interval must be above 0s");
  }
  if (auto v = fields.find("from")) nemesis.from = read_duration(*v);
  if (auto v = fields.find("until")) {
    nemesis.until = read_duration(*v);
    if (*nemesis.until < nemesis.from) fail(*v, "until is before from");
  }
  return nemesis;
}

ExpectSpec Loader::read_expect(const Value& value, std::optional<NodeRef>& leader_ref) const {
  const Fields fields(*this, value,
                      {"linearizable", "no_lost_writes", "recovers_within", "min_committed",
                       "max_term", "leader_at_end", "max_load_stddev_pct", "converged",
                       "max_served_stddev_pct"});
  constexpr uint64_t kAny = std::numeric_limits<uint64_t>::max();
  ExpectSpec expect;
  if (auto v = fields.find("linearizable")) expect.linearizable = read_bool(*v);
  if (auto v = fields.find("no_lost_writes")) expect.no_lost_writes = read_bool(*v);
  if (auto v = fields.find("recovers_within")) expect.recovers_within = read_duration(*v);
  if (auto v = fields.find("min_committed")) expect.min_committed = read_uint(*v, 0, kAny);
  if (auto v = fields.find("max_term")) expect.max_term = read_uint(*v, 0, kAny);
  if (auto v = fields.find("leader_at_end")) {
    expect.leader_at_end = read_node_name(*v);
    leader_ref = NodeRef{expect.leader_at_end->value, v->mark, v->field};
  }
  if (auto v = fields.find("max_load_stddev_pct")) {
    expect.max_load_stddev_pct = read_number(*v);
    if (*expect.max_load_stddev_pct < 0) fail(*v, "must not be negative");
  }
  if (auto v = fields.find("converged")) expect.converged = read_bool(*v);
  if (auto v = fields.find("max_served_stddev_pct")) {
    expect.max_served_stddev_pct = read_number(*v);
    if (*expect.max_served_stddev_pct < 0) fail(*v, "must not be negative");
  }
  return expect;
}

// --- faults ---

FaultAction Loader::read_action(const std::string& name, const Value& value) {
  const auto link_fault = [&](auto fault, std::string_view amount) {
    const Fields fields(*this, value, {"from", "to", amount, "for", "messages"});
    fault.from = read_node_set(fields.require("from"));
    fault.to = read_node_set(fields.require("to"));
    if (auto v = fields.find("for")) fault.duration = read_duration(*v);
    if (auto v = fields.find("messages")) fault.messages = read_messages(*v);
    return std::pair{fault, fields.require(amount)};
  };
  if (name == "partition") return read_partition(value);
  if (name == "cut") {
    const Fields fields(*this, value, {"from", "to", "messages"});
    CutFault cut;
    cut.from = read_node_set(fields.require("from"));
    cut.to = read_node_set(fields.require("to"));
    if (auto v = fields.find("messages")) cut.messages = read_messages(*v);
    return cut;
  }
  if (name == "heal") {
    if (!value.node.IsScalar() || value.node.Scalar() != "all") {
      fail(value, "expected all (heal lifts every partition and cut), got " + describe(value.node));
    }
    return HealFault{};
  }
  if (name == "crash") return CrashFault{read_node_set(value)};
  if (name == "restart") return RestartFault{read_node_set(value)};
  if (name == "campaign") return CampaignFault{read_node_set(value)};
  if (name == "remove_node") return RemoveNodeFault{read_node_set(value)};
  if (name == "pause") {
    const Fields fields(*this, value, {"node", "for"});
    return PauseFault{read_node_set(fields.require("node")), read_duration(fields.require("for"))};
  }
  if (name == "latency") {
    auto [fault, amount] = link_fault(LatencyFault{}, "value");
    fault.value = read_range(amount);
    return fault;
  }
  if (name == "drop") {
    auto [fault, amount] = link_fault(DropFault{}, "rate");
    fault.rate = read_probability(amount);
    return fault;
  }
  if (name == "duplicate") {
    auto [fault, amount] = link_fault(DuplicateFault{}, "rate");
    fault.rate = read_probability(amount);
    return fault;
  }
  if (name == "disk") return read_disk_fault(value);
  if (name == "drift") {
    const Fields fields(*this, value, {"node", "rate", "for"});
    DriftFault drift;
    drift.nodes = read_node_set(fields.require("node"));
    const Value rate = fields.require("rate");
    drift.rate = read_number(rate);
    if (drift.rate <= 0) fail(rate, "the rate must be above 0");
    if (auto v = fields.find("for")) drift.duration = read_duration(*v);
    return drift;
  }
  if (name == "transfer_leader") {
    if (value.node.IsSequence()) {
      fail(value, "expected one node or selector, got a list");
    }
    return TransferLeaderFault{read_selector(value)};
  }
  if (name == "put") {
    const Fields fields(*this, value, {"key", "value"});
    return PutFault{read_string(fields.require("key")), read_string(fields.require("value"))};
  }
  if (name == "add_node") return AddNodeFault{read_node_name(value)};
  // The only action left: Fields allowed no other key.
  if (!read_bool(value)) fail(value, "expected true (run the rebalancing planner now), got false");
  return RebalanceFault{};
}

PartitionFault Loader::read_partition(const Value& value) {
  if (!value.node.IsSequence() || value.node.size() == 0) {
    fail(value, "expected a list of groups like [[leader], [others]], got " +
                    (value.node.IsSequence() ? "an empty list" : describe(value.node)));
  }
  PartitionFault partition;
  for (const auto& group : value.node) {
    partition.groups.push_back(read_node_set({group, group.Mark(), value.field}));
  }
  return partition;
}

DiskFault Loader::read_disk_fault(const Value& value) {
  const Fields fields(*this, value, {"node", "fault", "for"});
  DiskFault disk;
  disk.nodes = read_node_set(fields.require("node"));
  disk.fault = static_cast<DiskFaultKind>(
      read_word(fields.require("fault"), kDiskFaultNames, "disk fault", " | "));
  const std::string_view word = to_string(disk.fault);
  const bool lasting = disk.fault == DiskFaultKind::kFull || disk.fault == DiskFaultKind::kEio;
  const auto duration = fields.find("for");
  if (lasting && !duration) {
    fail(fields.mark(), "missing required key 'for' " + where(fields.path()) + " (" +
                            std::string(word) + " lasts for a time)");
  }
  if (!lasting && duration) {
    fail(*duration, "'for' applies only to full and eio; " + std::string(word) +
                        " happens at the node's next crash");
  }
  if (duration) disk.duration = read_duration(*duration);
  return disk;
}

ParsedFault Loader::read_fault(const Value& value) {
  std::initializer_list<std::string_view> keys{
      "at",       "partition",       "cut",  "heal",      "crash",       "restart",
      "pause",    "latency",         "drop", "duplicate", "disk",        "drift",
      "campaign", "transfer_leader", "put",  "add_node",  "remove_node", "rebalance"};
  const Fields fields(*this, value, keys);
  ParsedFault parsed;
  const Fields::Entry* action = nullptr;
  for (const Fields::Entry& entry : fields.entries()) {
    if (entry.key == "at") continue;
    if (action != nullptr) {
      fail(entry.key_mark, value.field + " has two actions, '" + action->key + "' and '" +
                               entry.key + "' (a fault has exactly one)");
    }
    action = &entry;
  }
  if (action == nullptr) {
    fail(fields.mark(), value.field + " has no action (one of " +
                            join(", ", kActionNames.begin(), kActionNames.end()) + ")");
  }
  parsed.step.at = read_duration(fields.require("at"));
  refs_ = &parsed.refs;
  const Value action_value = fields.value_of(*action);
  parsed.step.action = read_action(action->key, action_value);
  refs_ = nullptr;
  if (const auto* add = std::get_if<AddNodeFault>(&parsed.step.action)) {
    parsed.added = NodeRef{add->node.value, action_value.mark, action_value.field};
  }
  return parsed;
}

// Every node named must exist when its fault fires: n1..nN, and the nodes earlier add_node
// faults brought in. Walks the timeline in order (faults are sorted by then).
void Loader::check_nodes(const std::vector<ParsedFault>& faults,
                         const std::optional<NodeRef>& leader_ref) const {
  const auto known = [&](uint64_t count) {
    return count == 1 ? std::string("n1") : "n1.." + node_name(count);
  };
  uint64_t count = nodes_;
  for (size_t i = 0; i < faults.size(); ++i) {
    const ParsedFault& fault = faults[i];
    for (const NodeRef& ref : fault.refs) {
      if (ref.id >= 1 && ref.id <= count) continue;
      std::string message = "node " + quote(node_name(ref.id)) + " does not exist (nodes are " +
                            known(count) + " at " + format_duration(fault.step.at);
      for (size_t j = i + 1; j < faults.size(); ++j) {
        if (faults[j].added && faults[j].added->id == ref.id) {
          message +=
              "; " + node_name(ref.id) + " is added only at " + format_duration(faults[j].step.at);
          break;
        }
      }
      fail(ref.mark, ref.field + ": " + message + ")");
    }
    if (fault.added) {
      const NodeRef& add = *fault.added;
      if (add.id <= count) {
        fail(add.mark, add.field + ": " + node_name(add.id) +
                           " already exists (the next new node is " + node_name(count + 1) + ")");
      }
      if (add.id != count + 1) {
        fail(add.mark, add.field + ": the next new node is " + node_name(count + 1) + ", not " +
                           node_name(add.id) + " (new nodes are named in order)");
      }
      if (add.id > kScenarioNodesMax) {
        fail(add.mark, add.field + ": " + node_name(add.id) + " would make more than " +
                           std::to_string(kScenarioNodesMax) + " nodes");
      }
      count = add.id;
    }
  }
  if (leader_ref && (leader_ref->id < 1 || leader_ref->id > count)) {
    fail(leader_ref->mark, leader_ref->field + ": node " + quote(node_name(leader_ref->id)) +
                               " does not exist (nodes are " + known(count) + ")");
  }
}

Scenario Loader::load(const YAML::Node& root) {
  const Fields fields(*this, {root, root.Mark(), ""},
                      {"name", "description", "seed", "cluster", "network", "disk", "workload",
                       "faults", "nemesis", "run_until", "expect"});
  Scenario scenario;
  const Value name = fields.require("name");
  scenario.name = read_string(name);
  if (scenario.name.empty()) fail(name, "the name must not be empty");
  if (auto v = fields.find("description")) scenario.description = read_string(*v);
  if (auto v = fields.find("seed")) {
    scenario.seed = read_uint(*v, 0, std::numeric_limits<uint64_t>::max());
  }
  scenario.cluster = read_cluster(fields.require("cluster"));
  nodes_ = scenario.cluster.nodes;
  shards_ = scenario.cluster.shards;
  if (auto v = fields.find("network")) scenario.network = read_network(*v);
  if (auto v = fields.find("disk")) scenario.disk = read_disk(*v);
  if (auto v = fields.find("workload")) scenario.workload = read_workload(*v);
  // Faults are read as parsed faults, so that add_node can be followed: see check_nodes.
  std::vector<ParsedFault> faults;
  if (auto v = fields.find("faults")) {
    if (!v->node.IsSequence()) fail(*v, "expected a list of faults, got " + describe(v->node));
    for (size_t i = 0; i < v->node.size(); ++i) {
      const YAML::Node item = v->node[i];
      faults.push_back(read_fault({item, item.Mark().is_null() ? v->mark : item.Mark(),
                                   "faults[" + std::to_string(i) + "]"}));
    }
  }
  if (auto v = fields.find("nemesis")) scenario.nemesis = read_nemesis(*v);
  const Value run_until = fields.require("run_until");
  scenario.run_until = read_duration(run_until);
  if (scenario.run_until.ns <= 0) fail(run_until, "run_until must be above 0s");
  std::optional<NodeRef> leader_ref;
  if (auto v = fields.find("expect")) scenario.expect = read_expect(*v, leader_ref);

  // A timeline: in time order, file order among faults at the same time.
  std::stable_sort(faults.begin(), faults.end(), [](const ParsedFault& a, const ParsedFault& b) {
    return a.step.at < b.step.at;
  });
  check_nodes(faults, leader_ref);
  for (ParsedFault& fault : faults) scenario.faults.push_back(std::move(fault.step));
  return scenario;
}

// --- documents ---

// Notes where documents start and ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// Checks that the text holds exactly one YAML document (YAML syntax errors throw). YAML::LoadAll
// is not used: yaml-cpp 0.7 turns a stray top-level `,` into an endless run of empty documents
// that never moves past it, and LoadAll collects them until memory runs out. Here the parser is
// asked for at most three documents, and one that starts where the last one did is an error.
void check_one_document(const Loader& loader, const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts documents;
  for (int i = 0; i < 3 && parser.HandleNextDocument(documents); ++i) {
  }
  const std::vector<YAML::Mark>& starts = documents.starts;
  if (starts.empty()) {
    loader.fail(YAML::Mark(), "the file is empty (a scenario needs name, cluster and run_until)");
  }
  if (starts.size() == 1) return;
  const bool stuck =
      starts[1].pos == starts[0].pos || (starts.size() > 2 && starts[2].pos == starts[1].pos);
  if (stuck) loader.fail(starts[1], "bad YAML: unexpected character (a stray ','?)");
  loader.fail(starts[1], "more than one YAML document (one scenario a file)");
}

// --- the writer ---------------------------------------------------------------------------------

// A YAML double-quoted string: read back byte for byte.
std::string yaml_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          constexpr std::string_view kHex = "0123456789abcdef";
          out += "\\x";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// The shortest text that reads back as the same double.
std::string yaml_number(double value) {
  std::array<char, 32> buffer{};
  const auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return error == std::errc() ? std::string(buffer.data(), end) : "0";
}

std::string yaml_bool(bool value) { return value ? "true" : "false"; }

std::string yaml_range(const DurationRange& range) {
  return "[" + format_duration(range.min) + ", " + format_duration(range.max) + "]";
}

std::string yaml_rate(const Rate& rate) {
  std::string per = format_duration(rate.per);
  if (per.size() > 1 && per[0] == '1' && !is_digit(per[1]) && per[1] != '.') per.erase(0, 1);
  return std::to_string(rate.count) + "/" + per;
}

std::string yaml_selector(const NodeSelector& selector) {
  switch (selector.kind) {
    case SelectorKind::kNode:
      return node_name(selector.node.value);
    case SelectorKind::kLeaderOf:
      return "{leader_of: " + std::to_string(selector.shard.value) + "}";
    default:
      return std::string(to_string(selector.kind));
  }
}

std::string yaml_list(const NodeSet& set) {
  std::vector<std::string> items;
  for (const NodeSelector& selector : set) items.push_back(yaml_selector(selector));
  return "[" + join(", ", items.begin(), items.end()) + "]";
}

std::string yaml_node_set(const NodeSet& set) {
  return set.size() == 1 ? yaml_selector(set.front()) : yaml_list(set);
}

std::string yaml_messages(const MessageSet& messages) {
  if (messages.is_all()) return "";
  std::vector<std::string_view> names;
  for (size_t i = 0; i < kMessageKindCount; ++i) {
    if (messages.contains(static_cast<MessageKind>(i))) names.push_back(kMessageKindNames[i]);
  }
  return ", messages: [" + join(", ", names.begin(), names.end()) + "]";
}

std::string yaml_for(const std::optional<Duration>& duration) {
  return duration ? ", for: " + format_duration(*duration) : "";
}

// One fault's action as `key: value`, in flow style.
struct ActionWriter {
  std::string operator()(const PartitionFault& f) const {
    std::vector<std::string> groups;
    for (const NodeSet& group : f.groups) groups.push_back(yaml_list(group));
    return "partition: [" + join(", ", groups.begin(), groups.end()) + "]";
  }
  std::string operator()(const CutFault& f) const {
    return "cut: {from: " + yaml_node_set(f.from) + ", to: " + yaml_node_set(f.to) +
           yaml_messages(f.messages) + "}";
  }
  std::string operator()(const HealFault&) const { return "heal: all"; }
  std::string operator()(const CrashFault& f) const { return "crash: " + yaml_node_set(f.nodes); }
  std::string operator()(const RestartFault& f) const {
    return "restart: " + yaml_node_set(f.nodes);
  }
  std::string operator()(const PauseFault& f) const {
    return "pause: {node: " + yaml_node_set(f.nodes) + ", for: " + format_duration(f.duration) +
           "}";
  }
  std::string operator()(const LatencyFault& f) const {
    return "latency: {from: " + yaml_node_set(f.from) + ", to: " + yaml_node_set(f.to) +
           ", value: " + yaml_range(f.value) + yaml_for(f.duration) + yaml_messages(f.messages) +
           "}";
  }
  std::string operator()(const DropFault& f) const {
    return "drop: {from: " + yaml_node_set(f.from) + ", to: " + yaml_node_set(f.to) +
           ", rate: " + yaml_number(f.rate) + yaml_for(f.duration) + yaml_messages(f.messages) +
           "}";
  }
  std::string operator()(const DuplicateFault& f) const {
    return "duplicate: {from: " + yaml_node_set(f.from) + ", to: " + yaml_node_set(f.to) +
           ", rate: " + yaml_number(f.rate) + yaml_for(f.duration) + yaml_messages(f.messages) +
           "}";
  }
  std::string operator()(const DiskFault& f) const {
    return "disk: {node: " + yaml_node_set(f.nodes) +
           ", fault: " + std::string(to_string(f.fault)) + yaml_for(f.duration) + "}";
  }
  std::string operator()(const DriftFault& f) const {
    return "drift: {node: " + yaml_node_set(f.nodes) + ", rate: " + yaml_number(f.rate) +
           yaml_for(f.duration) + "}";
  }
  std::string operator()(const CampaignFault& f) const {
    return "campaign: " + yaml_node_set(f.nodes);
  }
  std::string operator()(const TransferLeaderFault& f) const {
    return "transfer_leader: " + yaml_selector(f.target);
  }
  std::string operator()(const PutFault& f) const {
    return "put: {key: " + yaml_string(f.key) + ", value: " + yaml_string(f.value) + "}";
  }
  std::string operator()(const AddNodeFault& f) const {
    return "add_node: " + node_name(f.node.value);
  }
  std::string operator()(const RemoveNodeFault& f) const {
    return "remove_node: " + yaml_node_set(f.nodes);
  }
  std::string operator()(const RebalanceFault&) const { return "rebalance: true"; }
};

void write_expect(std::ostringstream& out, const ExpectSpec& expect) {
  std::vector<std::string> lines;
  if (expect.linearizable) lines.push_back("linearizable: " + yaml_bool(*expect.linearizable));
  if (expect.no_lost_writes) {
    lines.push_back("no_lost_writes: " + yaml_bool(*expect.no_lost_writes));
  }
  if (expect.recovers_within) {
    lines.push_back("recovers_within: " + format_duration(*expect.recovers_within));
  }
  if (expect.min_committed) {
    lines.push_back("min_committed: " + std::to_string(*expect.min_committed));
  }
  if (expect.max_term) lines.push_back("max_term: " + std::to_string(*expect.max_term));
  if (expect.leader_at_end) {
    lines.push_back("leader_at_end: " + node_name(expect.leader_at_end->value));
  }
  if (expect.max_load_stddev_pct) {
    lines.push_back("max_load_stddev_pct: " + yaml_number(*expect.max_load_stddev_pct));
  }
  if (expect.converged) lines.push_back("converged: " + yaml_bool(*expect.converged));
  if (expect.max_served_stddev_pct) {
    lines.push_back("max_served_stddev_pct: " + yaml_number(*expect.max_served_stddev_pct));
  }
  if (lines.empty()) {
    out << "expect: {}\n";
    return;
  }
  out << "expect:\n";
  for (const std::string& line : lines) out << "  " << line << "\n";
}

}  // namespace

// --- public
// ---------------------------------------------------------------------------------------

std::string_view to_string(MessageKind kind) {
  return kMessageKindNames.at(static_cast<size_t>(kind));
}
std::string_view to_string(SelectorKind kind) {
  return kSelectorNames.at(static_cast<size_t>(kind));
}
std::string_view to_string(DiskFaultKind kind) {
  return kDiskFaultNames.at(static_cast<size_t>(kind));
}
std::string_view to_string(NemesisKind kind) { return kNemesisNames.at(static_cast<size_t>(kind)); }
std::string_view action_name(const FaultAction& action) { return kActionNames.at(action.index()); }

std::string InputError::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": " + message;
  // One line, whatever the file name or message holds.
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return out;
}

std::optional<Duration> parse_duration(std::string_view text) {
  return parse_duration_why(text, nullptr);
}

std::string format_duration(Duration duration) {
  if (duration.ns == 0) return "0s";
  for (auto unit = kUnits.rbegin(); unit != kUnits.rend(); ++unit) {
    if (duration.ns % unit->ns == 0) {
      return std::to_string(duration.ns / unit->ns) + std::string(unit->name);
    }
  }
  return std::to_string(duration.ns) + "ns";  // unreachable: 1ns divides everything
}

Expected<Scenario, InputError> parse_scenario(const std::string& yaml_text,
                                              const std::string& file_name_for_messages) {
  const auto error_at = [&](const YAML::Mark& mark, std::string message) {
    return Unexpected{InputError{file_name_for_messages, mark.is_null() ? 0 : mark.line + 1,
                                 mark.is_null() ? 0 : mark.column + 1, std::move(message)}};
  };
  try {
    Loader loader(file_name_for_messages);
    check_one_document(loader, yaml_text);
    const YAML::Node root = YAML::Load(yaml_text);
    if (root.IsNull()) {
      loader.fail(root.Mark().is_null() ? YAML::Mark() : root.Mark(),
                  "the file holds no scenario (it needs name, cluster and run_until)");
    }
    return loader.load(root);
  } catch (const Failure& failure) {
    return Unexpected{failure.error};
  } catch (const YAML::Exception& e) {
    return error_at(e.mark, "bad YAML: " + e.msg);
  } catch (const std::exception& e) {
    return Unexpected{
        InputError{file_name_for_messages, 0, 0, std::string("cannot load: ") + e.what()}};
  } catch (...) {
    return Unexpected{InputError{file_name_for_messages, 0, 0, "cannot load: unknown error"}};
  }
}

Expected<Scenario, InputError> load_scenario(const std::string& path) {
  std::string text;
  try {
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return Unexpected{
          InputError{path, 0, 0, std::string("cannot open the file: ") + std::strerror(errno)}};
    }
    std::array<char, 64 * 1024> buffer{};
    while (in) {
      in.read(buffer.data(), buffer.size());
      text.append(buffer.data(), static_cast<size_t>(in.gcount()));
      if (text.size() > kScenarioFileBytesMax) {
        return Unexpected{InputError{
            path, 0, 0,
            "the file is larger than " + std::to_string(kScenarioFileBytesMax >> 20) + " MiB"}};
      }
    }
    if (in.bad() || !in.eof()) {
      return Unexpected{InputError{
          path, 0, 0,
          std::string("cannot read the file: ") + std::strerror(errno != 0 ? errno : EIO)}};
    }
  } catch (const std::exception& e) {
    return Unexpected{InputError{path, 0, 0, std::string("cannot read the file: ") + e.what()}};
  }
  return parse_scenario(text, path);
}

std::string to_yaml(const Scenario& scenario) {
  std::ostringstream out;
  out << "name: " << yaml_string(scenario.name) << "\n";
  if (!scenario.description.empty()) {
    out << "description: " << yaml_string(scenario.description) << "\n";
  }
  if (scenario.seed) out << "seed: " << *scenario.seed << "\n";

  const ClusterSpec& cluster = scenario.cluster;
  out << "\ncluster:\n"
      << "  nodes: " << cluster.nodes << "\n"
      << "  shards: " << cluster.shards << "\n"
      << "  replication: " << cluster.replication << "\n"
      << "  election_timeout: " << yaml_range(cluster.election_timeout) << "\n"
      << "  heartbeat: " << format_duration(cluster.heartbeat) << "\n"
      << "  pre_vote: " << yaml_bool(cluster.pre_vote) << "\n"
      << "  check_quorum: " << yaml_bool(cluster.check_quorum) << "\n"
      << "  snapshot_every: " << cluster.snapshot_every << "\n";

  const NetworkSpec& network = scenario.network;
  out << "\nnetwork:\n"
      << "  latency: " << yaml_range(network.latency) << "\n"
      << "  drop: " << yaml_number(network.drop) << "\n"
      << "  duplicate: " << yaml_number(network.duplicate) << "\n"
      << "  reorder: " << yaml_bool(network.reorder) << "\n";

  out << "\ndisk:\n  sync_latency: " << yaml_range(scenario.disk.sync_latency) << "\n";

  if (scenario.workload) {
    const WorkloadSpec& w = *scenario.workload;
    out << "\nworkload:\n"
        << "  clients: " << w.clients << "\n"
        << "  keys: " << w.keys << "\n"
        << "  mix: {put: " << yaml_number(w.mix.put) << ", get: " << yaml_number(w.mix.get)
        << ", cas: " << yaml_number(w.mix.cas) << ", delete: " << yaml_number(w.mix.del) << "}\n"
        << "  rate: " << yaml_rate(w.rate) << "\n"
        << "  from: " << format_duration(w.from) << "\n";
    if (w.until) out << "  until: " << format_duration(*w.until) << "\n";
    out << "  timeout: " << format_duration(w.timeout) << "\n";
    if (w.zipf) out << "  distribution: zipf\n  zipf_s: " << yaml_number(w.zipf_s) << "\n";
  }

  if (scenario.faults.empty()) {
    out << "\nfaults: []\n";
  } else {
    out << "\nfaults:\n";
    for (const FaultStep& step : scenario.faults) {
      out << "  - {at: " << format_duration(step.at) << ", "
          << std::visit(ActionWriter{}, step.action) << "}\n";
    }
  }

  if (scenario.nemesis) {
    const NemesisSpec& n = *scenario.nemesis;
    std::vector<std::string_view> kinds;
    for (const NemesisKind kind : n.kinds) kinds.push_back(to_string(kind));
    out << "\nnemesis:\n"
        << "  kinds: [" << join(", ", kinds.begin(), kinds.end()) << "]\n"
        << "  interval: " << yaml_range(n.interval) << "\n"
        << "  from: " << format_duration(n.from) << "\n";
    if (n.until) out << "  until: " << format_duration(*n.until) << "\n";
  }

  out << "\nrun_until: " << format_duration(scenario.run_until) << "\n\n";
  write_expect(out, scenario.expect);
  return out.str();
}

}  // namespace grape::sim
