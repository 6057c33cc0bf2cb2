#include "sim/linearizability.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "sim/checker.h"

namespace grape::sim {
namespace {

// Values are interned per key: the register's state is a small integer and comparing two states
// is exact (equal ids <=> equal strings). 0 is "absent", the initial state.
using ValueId = uint32_t;
constexpr ValueId kAbsent = 0;

// What an op does to the register once its outcome is taken into account (see the header).
enum class Effect : uint8_t {
  kWrite,         // sets `written`
  kRead,          // requires current == `required`
  kCas,           // requires current == `required`, then sets `written`
  kReadNotEqual,  // a failed cas: requires current != `required`
};

struct SearchOp {
  const Operation* source = nullptr;
  Effect effect = Effect::kWrite;
  ValueId required = kAbsent;
  ValueId written = kAbsent;
  bool must_complete = true;  // ok/fail: ordered before its completion; info: may be left out
};

// The register model: the value after `op` takes effect on `current`, or nullopt if it cannot.
std::optional<ValueId> apply(const SearchOp& op, ValueId current) {
  switch (op.effect) {
    case Effect::kWrite:
      return op.written;
    case Effect::kRead:
      if (current == op.required) return current;
      return std::nullopt;
    case Effect::kCas:
      if (current == op.required) return op.written;
      return std::nullopt;
    case Effect::kReadNotEqual:
      if (current != op.required) return current;
      return std::nullopt;
  }
  return std::nullopt;
}

// Interns one key's values: 0 is absent; ids are exact (equal ids <=> equal strings).
class ValueInterner {
 public:
  // `value` must outlive the interner, which keeps a view of it.
  ValueId intern(const std::optional<std::string>& value) {
    if (!value) return kAbsent;
    return ids_.try_emplace(*value, static_cast<ValueId>(ids_.size() + 1)).first->second;
  }
  size_t size() const { return ids_.size() + 1; }

 private:
  std::unordered_map<std::string_view, ValueId> ids_;  // lookups only: order never shows
};

// Values that no op observes (no get reads them, no cas expects them) are indistinguishable to
// the model: every comparison with them is false. They all become one fresh value, so that
// configurations differing only in which of them the register holds are one.
//
// Then an info op that writes that value can be left out of any order that holds it: until the
// next write only ops that succeed on that value could follow it, and there are none -- unless a
// failed cas, which succeeds on every value but one, is about, so then nothing is dropped.
// Dropping an optional op never hides a violation.
void merge_unobserved_values(std::vector<SearchOp>& ops, size_t value_count) {
  std::vector<bool> observed(value_count, false);
  bool has_failed_cas = false;
  for (const SearchOp& op : ops) {
    if (op.effect != Effect::kWrite) observed[op.required] = true;
    has_failed_cas |= op.effect == Effect::kReadNotEqual;
  }
  const auto unobserved = static_cast<ValueId>(value_count);
  for (SearchOp& op : ops) {
    const bool writes = op.effect == Effect::kWrite || op.effect == Effect::kCas;
    if (writes && !observed[op.written]) op.written = unobserved;
  }
  if (has_failed_cas) return;
  std::erase_if(ops, [&](const SearchOp& op) {
    return !op.must_complete && op.effect != Effect::kRead && op.written == unobserved;
  });
}

// One key's operations as the search sees them; outcomes are read as the header says.
std::vector<SearchOp> to_search_ops(const std::vector<const Operation*>& ops) {
  ValueInterner values;
  std::vector<SearchOp> out;
  out.reserve(ops.size());
  for (const Operation* op : ops) {
    const bool definite = op->outcome == OpOutcome::kOk || op->outcome == OpOutcome::kFail;
    SearchOp search_op{.source = op, .must_complete = definite};
    switch (op->kind) {
      case OpKind::kPut:
      case OpKind::kDelete:
        if (op->outcome == OpOutcome::kFail) continue;  // certainly did not happen
        search_op.effect = Effect::kWrite;
        search_op.written = op->kind == OpKind::kPut ? values.intern(op->value) : kAbsent;
        break;
      case OpKind::kGet:
        if (op->outcome != OpOutcome::kOk) continue;  // observed nothing
        search_op.effect = Effect::kRead;
        search_op.required = values.intern(op->value);
        break;
      case OpKind::kCas:
        search_op.required = values.intern(op->expected);
        if (op->outcome == OpOutcome::kFail) {
          search_op.effect = Effect::kReadNotEqual;
        } else {
          search_op.effect = Effect::kCas;
          search_op.written = values.intern(op->value);
        }
        break;
    }
    out.push_back(search_op);
  }
  merge_unobserved_values(out, values.size());
  // The search wants the ops that must complete first, in invocation order (see StateCache).
  const auto info = std::stable_partition(out.begin(), out.end(),
                                          [](const SearchOp& op) { return op.must_complete; });
  std::stable_sort(out.begin(), info, [](const SearchOp& a, const SearchOp& b) {
    return a.source->invoked < b.source->invoked;
  });
  return out;
}

uint64_t mix64(uint64_t z) {  // splitmix64's finalizer
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The configurations explored: (set of ordered ops, register value), compared exactly. Open
// addressing over indices into flat arrays.
//
// A set is a bitset whose first `required_words` words hold the ops that must complete, in
// invocation order, and the rest the info ops. Only a window of the first part varies between
// configurations -- everything invoked well before the earliest unordered op is ordered, nothing
// invoked after the earliest pending completion is -- so an entry stores its set as: the number
// of leading all-ones words, the words from there to the last non-zero one, then the info words.
// The encoding is canonical, so equal sets have equal encodings.
class StateCache {
 public:
  StateCache(size_t required_words, size_t info_words)
      : required_words_(required_words), info_words_(info_words), slots_(1024, kEmpty) {}

  // Adds the configuration; false if it was already there. `bits_hash` is a hash of `bits`.
  bool insert(const std::vector<uint64_t>& bits, uint64_t bits_hash, ValueId value) {
    encode(bits);
    const uint64_t hash = mix64(bits_hash + (uint64_t{value} + 1) * 0x9E3779B97F4A7C15ULL);
    if ((hashes_.size() + 1) * 2 > slots_.size()) grow();
    const size_t mask = slots_.size() - 1;
    for (size_t slot = hash & mask;; slot = (slot + 1) & mask) {
      const uint32_t entry = slots_[slot];
      if (entry == kEmpty) {
        slots_[slot] = static_cast<uint32_t>(hashes_.size());
        hashes_.push_back(hash);
        values_.push_back(value);
        arena_.insert(arena_.end(), scratch_.begin(), scratch_.end());
        offsets_.push_back(arena_.size());
        return true;
      }
      if (hashes_[entry] == hash && values_[entry] == value &&
          std::equal(scratch_.begin(), scratch_.end(), arena_.begin() + offsets_[entry],
                     arena_.begin() + offsets_[entry + 1])) {
        return false;
      }
    }
  }
  uint64_t size() const { return hashes_.size(); }

 private:
  static constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();

  void encode(const std::vector<uint64_t>& bits) {
    size_t low = 0;
    while (low < required_words_ && bits[low] == ~uint64_t{0}) ++low;
    size_t high = required_words_;
    while (high > low && bits[high - 1] == 0) --high;
    scratch_.clear();
    scratch_.push_back(low);
    scratch_.insert(scratch_.end(), bits.begin() + low, bits.begin() + high);
    scratch_.insert(scratch_.end(), bits.begin() + required_words_,
                    bits.begin() + required_words_ + info_words_);
  }

  void grow() {
    slots_.assign(slots_.size() * 2, kEmpty);
    const size_t mask = slots_.size() - 1;
    for (size_t entry = 0; entry < hashes_.size(); ++entry) {
      size_t slot = hashes_[entry] & mask;
      while (slots_[slot] != kEmpty) slot = (slot + 1) & mask;
      slots_[slot] = static_cast<uint32_t>(entry);
    }
  }

  size_t required_words_;
  size_t info_words_;
  std::vector<uint32_t> slots_;  // a power of two, at most half full
  std::vector<uint64_t> hashes_;
  std::vector<ValueId> values_;
  std::vector<uint64_t> arena_;     // the encoded sets, one after another
  std::vector<size_t> offsets_{0};  // entry i's encoding is arena_[offsets_[i], offsets_[i+1])
  std::vector<uint64_t> scratch_;   // the set being inserted, encoded
};

// The WGL search over one key (Lowe, "Testing for linearizability", 2017, with just-in-time
// linearization). The history is a doubly linked list of call and return events in time order.
// Walking it from the front, a call may be ordered next if the model allows and the resulting
// configuration is new: the op is then unlinked (call and return) and the walk restarts at the
// front. Reaching the return of an op not yet ordered means the last choice was wrong: undo it
// (relink, dancing-links style) and try the next call after it. Info ops have no return: they
// may be ordered at any point after their call, or never. Reaching the end of the list means
// every op with a return has been ordered.
//
// Symmetry: info ops with the same effect (after merge_unobserved_values, e.g. every timed-out
// delete, or every timed-out put of a value nobody read) are interchangeable once invoked, so
// only the earliest-invoked unordered one of each class may be ordered. Any order using others
// maps to one using the earliest ones instead (matching sorted invocations to sorted positions
// keeps every invocation before its position), so nothing is lost, and the search sees k + 1
// ways to have ordered k of a class instead of 2^k.
class KeySearch {
 public:
  // `ops` lists the ops that must complete first, in invocation order, then the info ops.
  KeySearch(const std::vector<SearchOp>& ops, uint64_t max_states)
      : ops_(ops),
        max_states_(max_states),
        required_ops_(static_cast<uint32_t>(std::count_if(
            ops.begin(), ops.end(), [](const SearchOp& op) { return op.must_complete; }))),
        required_words_(words_for(required_ops_)),
        cache_(required_words_, words_for(ops.size() - required_ops_)) {
    build_list();
    link_classes();
    bits_.assign(required_words_ + words_for(ops.size() - required_ops_), 0);
    zobrist_.reserve(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) zobrist_.push_back(mix64(i + 0x6772617065ULL));
  }

  KeyVerdict run() {
    ValueId current = kAbsent;
    int32_t node = next_[kHead];
    while (node != kNone) {
      const uint32_t op = node_op_[node];
      if (is_call_[node]) {
        if (!maybe_order(op, current)) {
          node = next_[node];
        } else if (cache_.size() > max_states_) {
          return KeyVerdict::kGaveUp;
        } else {
          node = next_[kHead];
        }
        continue;
      }
      // The completion of an op not yet ordered: no order extending the current one works.
      note_block(node);
      if (stack_.empty()) return KeyVerdict::kViolation;
      const Frame frame = stack_.back();
      stack_.pop_back();
      flip(frame.op);
      relink(frame.op);
      current = frame.before;
      node = next_[call_node_[frame.op]];
    }
    return KeyVerdict::kLinearizable;
  }

  uint64_t states_explored() const { return cache_.size(); }
  VirtualTime blocked_at() const { return ops_[deepest_op_].source->completed; }
  std::string explain() const;

 private:
  static constexpr int32_t kHead = 0;
  static constexpr int32_t kNone = -1;
  static constexpr size_t kRecentShownMax = 3;
  static constexpr size_t kValuesShownMax = 4;

  struct Frame {
    uint32_t op;
    ValueId before;  // the register's value before the op took effect
  };

  static size_t words_for(size_t ops) { return (ops + 63) / 64; }

  void build_list();
  void link_classes();
  bool maybe_order(uint32_t op, ValueId& current);
  void note_block(int32_t node);
  const std::optional<std::string>& value_now() const;

  // Info ops' bits start on a word of their own (see StateCache).
  size_t bit_of(uint32_t op) const {
    return op < required_ops_ ? op : required_words_ * 64 + (op - required_ops_);
  }
  bool is_ordered(uint32_t op) const { return (bits_[bit_of(op) / 64] >> (bit_of(op) % 64)) & 1; }
  void flip(uint32_t op) {
    bits_[bit_of(op) / 64] ^= uint64_t{1} << (bit_of(op) % 64);
    bits_hash_ ^= zobrist_[op];
  }
  void unlink(int32_t node) {
    next_[prev_[node]] = next_[node];
    if (next_[node] != kNone) prev_[next_[node]] = prev_[node];
  }
  void link(int32_t node) {  // undoes the latest unlink(node): its neighbours are unchanged
    next_[prev_[node]] = node;
    if (next_[node] != kNone) prev_[next_[node]] = node;
  }
  void lift(uint32_t op) {
    unlink(call_node_[op]);
    if (return_node_[op] != kNone) unlink(return_node_[op]);
  }
  void relink(uint32_t op) {
    if (return_node_[op] != kNone) link(return_node_[op]);
    link(call_node_[op]);
  }

  const std::vector<SearchOp>& ops_;
  uint64_t max_states_;
  uint32_t required_ops_;  // ops_[0, required_ops_) must complete; the rest are info ops
  size_t required_words_;

  // The event list. Node 0 is the head; nodes 1.. are the events in time order.
  std::vector<int32_t> next_, prev_;
  std::vector<uint32_t> node_op_;
  std::vector<bool> is_call_;
  std::vector<int32_t> call_node_, return_node_;  // per op; return_node_ kNone for info ops
  std::vector<int32_t> earlier_twin_;  // info ops: the previous one of its class, or kNone

  std::vector<uint64_t> bits_;  // the ops ordered so far
  uint64_t bits_hash_ = 0;      // Zobrist hash of bits_: xor of zobrist_[op] over its ops
  std::vector<uint64_t> zobrist_;
  StateCache cache_;
  std::vector<Frame> stack_;  // the order so far

  // The latest completion at which the search got stuck, for the explanation.
  int32_t deepest_node_ = 0;
  uint32_t deepest_op_ = 0;
  std::vector<uint32_t> deepest_recent_;  // the last ops ordered the first time it got there
  size_t deepest_ordered_ = 0;
  std::vector<const std::optional<std::string>*> deepest_values_;  // what the register held
  bool deepest_values_capped_ = false;
};

// Events sort by time; at one instant calls come before returns, so an op completing at t and one
// invoked at t are concurrent (the safe reading: it only allows more orders).
void KeySearch::build_list() {
  struct Event {
    int64_t time_ns;
    bool is_return;
    uint32_t op;
  };
  std::vector<Event> events;
  events.reserve(ops_.size() * 2);
  for (uint32_t i = 0; i < ops_.size(); ++i) {
    const Operation& source = *ops_[i].source;
    events.push_back({source.invoked.ns, false, i});
    if (ops_[i].must_complete) {
      events.push_back({std::max(source.completed.ns, source.invoked.ns), true, i});
    }
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.time_ns, a.is_return, a.op) < std::tie(b.time_ns, b.is_return, b.op);
  });

  const size_t nodes = events.size() + 1;
  next_.resize(nodes);
  prev_.resize(nodes);
  node_op_.assign(nodes, 0);
  is_call_.assign(nodes, false);
  call_node_.assign(ops_.size(), kNone);
  return_node_.assign(ops_.size(), kNone);
  for (size_t n = 0; n < nodes; ++n) {
    prev_[n] = static_cast<int32_t>(n) - 1;
    next_[n] = n + 1 < nodes ? static_cast<int32_t>(n + 1) : kNone;
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const auto node = static_cast<int32_t>(i + 1);
    node_op_[node] = events[i].op;
    is_call_[node] = !events[i].is_return;
    (events[i].is_return ? return_node_ : call_node_)[events[i].op] = node;
  }
}

// Chains each info op to the previous info op (in call order) with the same effect.
void KeySearch::link_classes() {
  earlier_twin_.assign(ops_.size(), kNone);
  std::map<std::tuple<Effect, ValueId, ValueId>, int32_t> latest;
  for (int32_t node = next_[kHead]; node != kNone; node = next_[node]) {
    const SearchOp& op = ops_[node_op_[node]];
    if (op.must_complete || !is_call_[node]) continue;
    auto [it, inserted] = latest.try_emplace({op.effect, op.required, op.written},
                                             static_cast<int32_t>(node_op_[node]));
    if (!inserted) {
      earlier_twin_[node_op_[node]] = it->second;
      it->second = static_cast<int32_t>(node_op_[node]);
    }
  }
}

// Orders `op` next if the register allows it and the configuration it leads to is unexplored.
bool KeySearch::maybe_order(uint32_t op, ValueId& current) {
  const int32_t twin = earlier_twin_[op];
  if (twin != kNone && !is_ordered(static_cast<uint32_t>(twin))) return false;  // symmetry
  const std::optional<ValueId> after = apply(ops_[op], current);
  if (!after) return false;
  flip(op);
  if (!cache_.insert(bits_, bits_hash_, *after)) {
    flip(op);
    return false;
  }
  stack_.push_back({op, current});
  current = *after;
  lift(op);
  return true;
}

// The register's actual value under the current order (ids may merge values nobody observed).
const std::optional<std::string>& KeySearch::value_now() const {
  static const std::optional<std::string> kInitial;
  for (auto frame = stack_.rbegin(); frame != stack_.rend(); ++frame) {
    const Operation& source = *ops_[frame->op].source;
    switch (ops_[frame->op].effect) {
      case Effect::kWrite:
        if (source.kind == OpKind::kDelete) return kInitial;
        return source.value;
      case Effect::kCas:
        return source.value;
      case Effect::kRead:
      case Effect::kReadNotEqual:
        break;
    }
  }
  return kInitial;
}

void KeySearch::note_block(int32_t node) {
  if (node < deepest_node_) return;
  if (node > deepest_node_) {
    deepest_node_ = node;
    deepest_op_ = node_op_[node];
    deepest_ordered_ = stack_.size();
    deepest_recent_.clear();
    const size_t from = stack_.size() - std::min(stack_.size(), kRecentShownMax);
    for (size_t i = from; i < stack_.size(); ++i) deepest_recent_.push_back(stack_[i].op);
    deepest_values_.clear();
    deepest_values_capped_ = false;
  }
  if (deepest_values_capped_) return;
  const std::optional<std::string>& value = value_now();
  for (const std::optional<std::string>* seen : deepest_values_) {
    if (*seen == value) return;
  }
  if (deepest_values_.size() < kValuesShownMax) {
    deepest_values_.push_back(&value);
  } else {
    deepest_values_capped_ = true;
  }
}

// Names the op whose completion no order could get past, the register values the search reached
// it with, and the ops ordered just before it.
std::string KeySearch::explain() const {
  const SearchOp& blocked = ops_[deepest_op_];
  const Operation& source = *blocked.source;
  std::ostringstream out;
  out << "no order of its ops explains " << describe(source) << ", which must have taken effect by "
      << source.completed;
  switch (blocked.effect) {
    case Effect::kRead:
      break;
    case Effect::kWrite:
      break;
    case Effect::kCas:
      out << " (an ok cas must see " << describe_value(source.expected) << ")";
      break;
    case Effect::kReadNotEqual:
      out << " (a failed cas must see a value other than " << describe_value(source.expected)
          << ")";
      break;
  }
  out << "; the orders tried reach it with the register holding ";
  if (deepest_values_.size() > 1) out << "one of ";
  for (size_t i = 0; i < deepest_values_.size(); ++i) {
    out << (i > 0 ? ", " : "") << describe_value(*deepest_values_[i]);
  }
  if (deepest_values_capped_) out << " or another";
  if (deepest_recent_.empty()) {
    out << ", before any other op.";
    return out.str();
  }
  out << ". Ordered just before it";
  if (deepest_ordered_ > deepest_recent_.size()) {
    out << " (last " << deepest_recent_.size() << " of " << deepest_ordered_ << ")";
  }
  out << ": ";
  for (size_t i = 0; i < deepest_recent_.size(); ++i) {
    out << (i > 0 ? "; " : "") << describe(*ops_[deepest_recent_[i]].source);
  }
  out << ".";
  return out.str();
}

KeyCheck check_key(std::string_view key, const std::vector<const Operation*>& key_ops,
                   const CheckLimits& limits) {
  const std::vector<SearchOp> ops = to_search_ops(key_ops);
  const uint64_t max_states = std::min(limits.max_states, kCheckStatesMax);
  KeySearch search(ops, max_states);
  KeyCheck check{.key = std::string(key), .ops = ops.size()};
  check.verdict = search.run();
  check.states_explored = search.states_explored();
  std::ostringstream detail;
  detail << "key \"" << key << "\" ";
  switch (check.verdict) {
    case KeyVerdict::kLinearizable:
      return check;
    case KeyVerdict::kViolation:
      check.at = search.blocked_at();
      detail << "is not linearizable (" << ops.size() << " ops, " << check.states_explored
             << " states explored): " << search.explain();
      break;
    case KeyVerdict::kGaveUp:
      detail << "was not decided: the search gave up after " << max_states
             << " states (the per-key limit, max_states) over " << ops.size()
             << " ops; it may or may not be linearizable";
      break;
  }
  check.detail = detail.str();
  return check;
}

}  // namespace

LinearizabilityResult check_linearizable(const History& history, const CheckLimits& limits) {
  std::map<std::string_view, std::vector<const Operation*>> by_key;  // key order: deterministic
  for (const Operation& op : history.ops) by_key[op.key].push_back(&op);

  LinearizabilityResult result;
  result.keys.reserve(by_key.size());
  for (const auto& [key, ops] : by_key) {
    KeyCheck check = check_key(key, ops, limits);
    result.states_explored += check.states_explored;
    if (check.verdict == KeyVerdict::kViolation && result.ok) {
      result.ok = false;
      result.key = check.key;
      result.detail = check.detail;
      result.at = check.at;
    } else if (check.verdict == KeyVerdict::kGaveUp) {
      if (result.ok && !result.gave_up) {
        result.key = check.key;
        result.detail = check.detail;
      }
      result.gave_up = true;
    }
    result.keys.push_back(std::move(check));
  }
  return result;
}

namespace {

// The value a get or cas needs the register to hold, if it took effect (see the header).
const std::optional<std::string>* value_read(const Operation& op) {
  if (op.outcome != OpOutcome::kOk) return nullptr;
  if (op.kind == OpKind::kGet) return &op.value;
  if (op.kind == OpKind::kCas) return &op.expected;
  return nullptr;
}

bool writes(const Operation& op) { return op.kind == OpKind::kPut || op.kind == OpKind::kCas; }

// Removes ops from one key's violating sub-history while it still cannot be ordered.
class ViolationShrinker {
 public:
  ViolationShrinker(const History& history, const CheckLimits& limits, uint64_t checks_max)
      : history_(history), limits_(limits), checks_max_(checks_max) {}

  // Whether `ids` alone cannot be ordered: a proven violation, within the budget.
  bool fails(const std::vector<uint64_t>& ids, VirtualTime* at = nullptr) {
    if (!keeps_writes_read(ids)) return false;
    if (checks_ >= checks_max_) {
      out_of_budget_ = true;
      return false;
    }
    ++checks_;
    History subset;
    subset.ops.reserve(ids.size());
    for (uint64_t id : ids) subset.ops.push_back(history_.ops[id]);
    const LinearizabilityResult result = check_linearizable(subset, limits_);
    if (at) *at = result.at;
    return !result.ok;
  }

  // Drops ops in chunks, halving the chunk size; at size one, repeats until nothing goes (a
  // removal can make another op removable again: the property is not monotone).
  void shrink(std::vector<uint64_t>& ids) {
    size_t chunk = std::max<size_t>(1, ids.size() / 2);
    for (;;) {
      bool removed = false;
      for (size_t start = 0; start < ids.size();) {
        std::vector<uint64_t> candidate(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(start));
        const size_t end = std::min(ids.size(), start + chunk);
        candidate.insert(candidate.end(), ids.begin() + static_cast<ptrdiff_t>(end), ids.end());
        if (!candidate.empty() && fails(candidate)) {
          ids = std::move(candidate);
          removed = true;
        } else {
          start += chunk;
        }
      }
      if (chunk > 1) {
        chunk /= 2;
      } else if (!removed) {
        return;
      }
    }
  }

  // Remembers which values some op of the whole key writes.
  void note_writes(const std::vector<uint64_t>& ids) {
    for (uint64_t id : ids) {
      const Operation& op = history_.ops[id];
      if (writes(op) && op.value) written_.insert(*op.value);
    }
  }

  uint64_t checks() const { return checks_; }
  bool out_of_budget() const { return out_of_budget_; }

 private:
  // Every value read in `ids` that the key writes somewhere is written in `ids` too.
  bool keeps_writes_read(const std::vector<uint64_t>& ids) const {
    std::set<std::string_view> written;
    for (uint64_t id : ids) {
      const Operation& op = history_.ops[id];
      if (writes(op) && op.value) written.insert(*op.value);
    }
    for (uint64_t id : ids) {
      const std::optional<std::string>* read = value_read(history_.ops[id]);
      if (read && *read && written_.count(**read) && !written.count(**read)) return false;
    }
    return true;
  }

  const History& history_;
  CheckLimits limits_;
  uint64_t checks_max_;
  uint64_t checks_ = 0;
  bool out_of_budget_ = false;
  std::set<std::string_view> written_;  // views into history_
};

}  // namespace

MinimalViolation minimize_violation(const History& history, std::string_view key,
                                    const CheckLimits& limits, uint64_t checks_max) {
  MinimalViolation out{.key = std::string(key)};
  for (uint64_t id = 0; id < history.ops.size(); ++id) {
    if (history.ops[id].key == key) out.op_ids.push_back(id);
  }
  ViolationShrinker shrinker(history, limits, checks_max);
  shrinker.note_writes(out.op_ids);
  VirtualTime at;
  if (!shrinker.fails(out.op_ids, &at)) {
    out.checks = shrinker.checks();
    return out;
  }
  // The search never reaches an op invoked after the completion it got stuck at (see
  // KeySearch), so those ops usually all go at once: a cheap first cut on a long history.
  std::vector<uint64_t> before;
  for (uint64_t id : out.op_ids) {
    if (history.ops[id].invoked <= at) before.push_back(id);
  }
  if (before.size() < out.op_ids.size() && shrinker.fails(before)) out.op_ids = std::move(before);
  shrinker.shrink(out.op_ids);
  out.minimal = !shrinker.out_of_budget();
  out.checks = shrinker.checks();
  return out;
}

Violation to_violation(const LinearizabilityResult& result) {
  return Violation{
      .property = "linearizability", .at = result.at, .node = kNoNode, .detail = result.detail};
}

std::string_view to_string(KeyVerdict verdict) {
  switch (verdict) {
    case KeyVerdict::kLinearizable:
      return "linearizable";
    case KeyVerdict::kViolation:
      return "violation";
    case KeyVerdict::kGaveUp:
      return "gave_up";
  }
  return "unknown";
}

}  // namespace grape::sim
