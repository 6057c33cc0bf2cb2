#pragma once
// The plain data of Raft: log entries, the hard state that must be durable, and the one message
// struct every Raft RPC travels in (etcd's shape: one struct, a type tag, fields used per type).
// These are wire and disk types: cereal functions for them live in core/codec.

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/expected.h"
#include "core/base/ids.h"

namespace grape::raft {

enum class EntryType : uint8_t {
  kNormal,      // a command for the state machine (empty data: the leader's no-op of its term)
  kConfChange,  // an encoded ConfChange: the driver hands it to Raft::apply_conf_change
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

// --- membership ----------------------------------------------------------------------------------
//
// A ConfChange is a list of changes proposed together (etcd's ConfChangeV2). Applied to a simple
// configuration, a change that adds or removes at most one voter switches directly (any majority
// of the old and the new voters overlap, thesis §4.1); one that changes several voters enters the
// joint configuration C_old,new (thesis §4.3), which the leader leaves with an empty ConfChange.
//
// Byte encoding (little-endian), written by encode_conf_change():
//   u8 version (1) | u32 count | count x (u8 type | u64 node)
// The empty change (count 0) means "leave the joint configuration".

enum class ConfChangeType : uint8_t {
  kAddVoter = 1,    // a new node, or a learner promoted to voter
  kAddLearner = 2,  // a new non-voter, or a voter demoted to learner
  kRemoveNode = 3,  // a voter or a learner
};

struct ConfChangeItem {
  ConfChangeType type = ConfChangeType::kAddVoter;
  NodeId node;

  bool operator==(const ConfChangeItem&) const = default;
};

struct ConfChange {
  std::vector<ConfChangeItem> changes;  // empty: leave the joint configuration

  bool is_leave_joint() const { return changes.empty(); }
  bool operator==(const ConfChange&) const = default;
};

// A configuration (etcd's ConfState). Every list is sorted and free of duplicates; a node is in at
// most one of voters and learners, and a learner is never in voters_outgoing (a voter demoted
// while joint waits in learners_next until the joint configuration is left).
struct ConfState {
  std::vector<NodeId> voters;           // the incoming voters: the configuration when not joint
  std::vector<NodeId> voters_outgoing;  // C_old while joint; empty otherwise
  std::vector<NodeId> learners;         // receive the log; never vote or count for quorum
  std::vector<NodeId> learners_next;    // demoted voters of C_old: learners once joint is left

  bool is_joint() const { return !voters_outgoing.empty(); }
  bool operator==(const ConfState&) const = default;
};

// A snapshot: the state machine as of `index` (the last entry it covers, of `term`) and the
// configuration in force there, which a restarted node or a follower that installs it acts on.
struct SnapshotMeta {
  LogIndex index;
  Term term;
  ConfState conf_state;
  bool operator==(const SnapshotMeta&) const = default;
};
struct Snapshot {
  SnapshotMeta meta;
  Bytes data;  // the state machine's own encoding
  bool operator==(const Snapshot&) const = default;
};

struct ConfChangeDecodeError {
  std::string detail;
};

Bytes encode_conf_change(const ConfChange& change);
Expected<ConfChange, ConfChangeDecodeError> decode_conf_change(const Bytes& bytes);

std::string_view to_string(ConfChangeType type);

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
  kSnapshot,           // InstallSnapshot, one chunk: leader -> follower behind the compacted log
  kSnapshotResponse,   // follower -> leader: chunk received (offset) or transfer restarted
  kReadIndex,          // follower -> leader: what index must I apply to serve a read?
  kReadIndexResponse,  // leader -> follower: that index, once leadership is confirmed
};
inline constexpr int kMessageTypeCount = 13;

std::string_view to_string(MessageType type);
std::string_view to_string(Role role);

// One Raft RPC. Fields by type:
//   kAppend:            log_term/index = the entry preceding `entries`, commit = leader's commit
//   kAppendResponse:    index = last index known to match (success) or the rejected index;
//                       reject_hint/log_term = the follower's conflict hint (fast back-off)
//   kVote, kPreVote:    log_term/index = the candidate's last entry; transfer = leadership
//                       transfer (bypasses leader stickiness)
//   k*VoteResponse:     reject = vote denied; commit/log_term = the voter's commit index and the
//                       term of its entry there (a candidate lacking the news commits that far)
//   kHeartbeat:         commit = min(leader commit, follower match); context = the read round
//                       it confirms (0: none), echoed by the kHeartbeatResponse
//   kReadIndex:         context = the reader's id for this read
//   kReadIndexResponse: index = the read index, context = the reader's id
//   kSnapshot:          index/log_term = the snapshot's last entry, conf_state = the configuration
//                       it was taken under, offset = where `data` (a chunk) starts, done = the
//                       last chunk; the follower answers the last one, once it has installed
//                       the snapshot durably, with a kAppendResponse at `index`
//   kSnapshotResponse:  index = the snapshot's, offset = bytes held so far (the next chunk
//                       wanted); reject = the transfer restarts at `offset`
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
  uint64_t context = 0;  // kHeartbeat(Response), kReadIndex(Response)
  // kSnapshot, kSnapshotResponse
  ConfState conf_state;
  uint64_t offset = 0;
  Bytes data;
  bool done = false;

  bool operator==(const Message&) const = default;
};

// True for messages that promise durable state (a granted vote, an acknowledged append, an
// election at a new term): they may leave only once the Ready they came with is persisted.
bool needs_persisted_state(const Message& message);

std::ostream& operator<<(std::ostream& out, const Entry& entry);
std::ostream& operator<<(std::ostream& out, const HardState& state);
std::ostream& operator<<(std::ostream& out, const Message& message);
std::ostream& operator<<(std::ostream& out, const ConfChange& change);
std::ostream& operator<<(std::ostream& out, const ConfState& state);

}  // namespace grape::raft
