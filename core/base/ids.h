#pragma once
// Strong types for identifiers and positions, so that a term can never be passed where a log index
// is expected. Each is a thin wrapper over uint64_t with ordering, printing and, for positions,
// the little arithmetic Raft needs (next index, previous index, distance).

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace grape {

template <class Tag>
struct StrongId {
  uint64_t value = 0;

  constexpr StrongId() = default;
  constexpr explicit StrongId(uint64_t v) : value(v) {}

  constexpr auto operator<=>(const StrongId&) const = default;

  friend std::ostream& operator<<(std::ostream& out, StrongId id) { return out << id.value; }
};

// A position on a line (log index, term, epoch): adds offsets and measures distances.
template <class Tag>
struct StrongPosition : StrongId<Tag> {
  using StrongId<Tag>::StrongId;

  constexpr StrongPosition next() const { return StrongPosition(this->value + 1); }
  constexpr StrongPosition prev() const { return StrongPosition(this->value - 1); }
  constexpr StrongPosition operator+(uint64_t n) const { return StrongPosition(this->value + n); }
  constexpr StrongPosition operator-(uint64_t n) const { return StrongPosition(this->value - n); }
  // Distance between two positions; the caller guarantees *this >= other.
  constexpr uint64_t operator-(StrongPosition other) const { return this->value - other.value; }
  constexpr auto operator<=>(const StrongPosition&) const = default;
};

struct NodeIdTag {};
struct GroupIdTag {};
struct ShardIdTag {};
struct TermTag {};
struct LogIndexTag {};
struct EpochTag {};

using NodeId = StrongId<NodeIdTag>;  // 0 means "none" (no leader, no vote)
using GroupId = StrongId<GroupIdTag>;
using ShardId = StrongId<ShardIdTag>;
using Term = StrongPosition<TermTag>;
using LogIndex = StrongPosition<LogIndexTag>;
using Epoch = StrongPosition<EpochTag>;

inline constexpr NodeId kNoNode{0};

}  // namespace grape

template <class Tag>
struct std::hash<grape::StrongId<Tag>> {
  size_t operator()(grape::StrongId<Tag> id) const noexcept { return std::hash<uint64_t>{}(id.value); }
};
