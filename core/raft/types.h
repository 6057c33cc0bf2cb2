#pragma once
// The plain data of Raft: log entries, the hard state that must be durable, and the one message
// struct every Raft RPC travels in (etcd's shape: one struct, a type tag, fields used per type).
// These are wire and disk types: cereal functions for them live in core/codec.

#include <cstdint>
#include <ostream>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/ids.h"

namespace grape::raft {

enum class EntryType : uint8_t {
  kNormal,  // a command for the state machine (empty data: the leader's no-op of its term)
};

struct Entry {
  Term term;
  LogIndex index;
  EntryType type = EntryType::kNormal;
  Bytes data;

  bool operator==(const Entry&) const = default;
};

// State that must be on stable storage before any message that depends on it is sent (Figure 2:
// currentTerm, votedFor; commit is kept too so a restart does not re-apply from zero).
struct HardState {
  Term term;
  NodeId vote;  // kNoNode: no vote in `term`
  LogIndex commit;

  bool operator==(const HardState&) const = default;
};

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };

enum class MessageType : uint8_t {
  kAppend,             // AppendEntries: leader -> follower
  kAppendResponse,     // follower -> leader: success (index = last matched) or reject (hints)
  kVote,               // RequestVote
  kVoteResponse,       //
  kPreVote,            // thesis §9.6: would you vote for me at term+1? (term is not changed)
  kPreVoteResponse,    //
  kHeartbeat,          // leader -> follower: authority and commit, no entries
  kHeartbeatResponse,  //
  kTimeoutNow,         // leadership transfer: campaign now (thesis §3.10)
};
inline constexpr int kMessageTypeCount = 9;

std::string_view to_string(MessageType type);
std::string_view to_string(Role role);

// One Raft RPC. Fields by type:
//   kAppend:            log_term/index = the entry preceding `entries`, commit = leader's commit
//   kAppendResponse:    index = last index known to match (success) or the rejected index;
//                       reject_hint/log_term = the follower's conflict hint (fast back-off)
//   kVote, kPreVote:    log_term/index = the candidate's last entry; transfer = leadership
//                       transfer (bypasses leader stickiness)
//   k*VoteResponse:     reject = vote denied
//   kHeartbeat:         commit = min(leader commit, follower match)
struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from;
  NodeId to;
  Term term;
  Term log_term;
  LogIndex index;
  LogIndex commit;
  std::vector<Entry> entries;
  bool reject = false;
  LogIndex reject_hint;
  bool transfer = false;

  bool operator==(const Message&) const = default;
};

// True for messages that promise durable state (a granted vote, an acknowledged append, an
// election at a new term): they may leave only once the Ready they came with is persisted.
bool needs_persisted_state(const Message& message);

std::ostream& operator<<(std::ostream& out, const Entry& entry);
std::ostream& operator<<(std::ostream& out, const HardState& state);
std::ostream& operator<<(std::ostream& out, const Message& message);

}  // namespace grape::raft
