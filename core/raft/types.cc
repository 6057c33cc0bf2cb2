#include "core/raft/types.h"

namespace grape::raft {

namespace {

constexpr uint8_t kConfChangeVersion = 1;
constexpr size_t kConfChangeItemBytes = 1 + 8;

void put_le(Bytes& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}

uint64_t get_le(const Bytes& in, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(in[pos + i]) << (8 * i);
  return v;
}

void print_ids(std::ostream& out, const std::vector<NodeId>& ids) {
  out << "{";
  for (size_t i = 0; i < ids.size(); ++i) out << (i == 0 ? "" : ",") << ids[i];
  out << "}";
}

}  // namespace

Bytes encode_conf_change(const ConfChange& change) {
  Bytes out;
  out.reserve(5 + change.changes.size() * kConfChangeItemBytes);
  put_le(out, kConfChangeVersion, 1);
  put_le(out, change.changes.size(), 4);
  for (const ConfChangeItem& item : change.changes) {
    put_le(out, static_cast<uint8_t>(item.type), 1);
    put_le(out, item.node.value, 8);
  }
  return out;
}

Expected<ConfChange, ConfChangeDecodeError> decode_conf_change(const Bytes& bytes) {
  if (bytes.size() < 5) return Unexpected(ConfChangeDecodeError{"truncated header"});
  if (get_le(bytes, 0, 1) != kConfChangeVersion) {
    return Unexpected(
        ConfChangeDecodeError{"unknown version " + std::to_string(get_le(bytes, 0, 1))});
  }
  const uint64_t count = get_le(bytes, 1, 4);
  // Checked before reserving anything: a garbage count must not allocate gigabytes.
  if (count != (bytes.size() - 5) / kConfChangeItemBytes ||
      (bytes.size() - 5) % kConfChangeItemBytes != 0) {
    return Unexpected(ConfChangeDecodeError{"count " + std::to_string(count) + " does not match " +
                                            std::to_string(bytes.size()) + " bytes"});
  }
  ConfChange change;
  change.changes.reserve(count);
  for (size_t pos = 5; pos < bytes.size(); pos += kConfChangeItemBytes) {
    const uint64_t type = get_le(bytes, pos, 1);
    if (type < static_cast<uint8_t>(ConfChangeType::kAddVoter) ||
        type > static_cast<uint8_t>(ConfChangeType::kRemoveNode)) {
      return Unexpected(ConfChangeDecodeError{"unknown change type " + std::to_string(type)});
    }
    const NodeId node(get_le(bytes, pos + 1, 8));
    if (node == kNoNode) return Unexpected(ConfChangeDecodeError{"change of node 0"});
    change.changes.push_back(ConfChangeItem{static_cast<ConfChangeType>(type), node});
  }
  return change;
}

std::string_view to_string(ConfChangeType type) {
  switch (type) {
    case ConfChangeType::kAddVoter: return "add_voter";
    case ConfChangeType::kAddLearner: return "add_learner";
    case ConfChangeType::kRemoveNode: return "remove_node";
  }
  return "unknown";
}

std::string_view to_string(MessageType type) {
  switch (type) {
    case MessageType::kAppend: return "append";
    case MessageType::kAppendResponse: return "append_response";
    case MessageType::kVote: return "vote";
    case MessageType::kVoteResponse: return "vote_response";
    case MessageType::kPreVote: return "pre_vote";
    case MessageType::kPreVoteResponse: return "pre_vote_response";
    case MessageType::kHeartbeat: return "heartbeat";
    case MessageType::kHeartbeatResponse: return "heartbeat_response";
    case MessageType::kTimeoutNow: return "timeout_now";
    case MessageType::kSnapshot: return "snapshot";
    case MessageType::kSnapshotResponse: return "snapshot_response";
    case MessageType::kReadIndex: return "read_index";
    case MessageType::kReadIndexResponse: return "read_index_response";
  }
  return "unknown";
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "unknown";
}

bool needs_persisted_state(const Message& message) {
  switch (message.type) {
    case MessageType::kVote:            // the candidate's new term and self-vote
    case MessageType::kVoteResponse:    // a granted vote
    case MessageType::kAppendResponse:  // entries acknowledged as held
      return true;
    default:
      return false;
  }
}

std::ostream& operator<<(std::ostream& out, const Entry& entry) {
  out << "{" << entry.index << "@" << entry.term << " ";
  if (entry.type == EntryType::kConfChange) out << "conf ";
  return out << entry.data.size() << "B}";
}

std::ostream& operator<<(std::ostream& out, const HardState& state) {
  return out << "{term " << state.term << " vote " << state.vote << " commit " << state.commit
             << "}";
}

std::ostream& operator<<(std::ostream& out, const Message& m) {
  out << to_string(m.type) << " " << m.from << "->" << m.to << " term " << m.term;
  switch (m.type) {
    case MessageType::kAppend:
      out << " prev " << m.index << "@" << m.log_term << " entries " << m.entries.size()
          << " commit " << m.commit;
      break;
    case MessageType::kAppendResponse:
      out << (m.reject ? " reject " : " ok ") << m.index;
      if (m.reject) out << " hint " << m.reject_hint << "@" << m.log_term;
      break;
    case MessageType::kVote:
    case MessageType::kPreVote:
      out << " last " << m.index << "@" << m.log_term << (m.transfer ? " transfer" : "");
      break;
    case MessageType::kVoteResponse:
    case MessageType::kPreVoteResponse:
      out << (m.reject ? " rejected" : " granted");
      break;
    case MessageType::kHeartbeat:
      out << " commit " << m.commit;
      if (m.context != 0) out << " read round " << m.context;
      break;
    case MessageType::kReadIndex:
      out << " read " << m.context;
      break;
    case MessageType::kReadIndexResponse:
      out << " read " << m.context << " at " << m.index;
      break;
    case MessageType::kSnapshot:
      out << " snapshot " << m.index << "@" << m.log_term << " offset " << m.offset << " bytes "
          << m.data.size() << (m.done ? " done" : "");
      break;
    case MessageType::kSnapshotResponse:
      out << " snapshot " << m.index << (m.reject ? " restart at " : " holds ") << m.offset;
      break;
    default:
      break;
  }
  return out;
}

std::ostream& operator<<(std::ostream& out, const ConfChange& change) {
  if (change.is_leave_joint()) return out << "{leave_joint}";
  out << "{";
  for (size_t i = 0; i < change.changes.size(); ++i) {
    out << (i == 0 ? "" : " ") << to_string(change.changes[i].type) << " "
        << change.changes[i].node;
  }
  return out << "}";
}

std::ostream& operator<<(std::ostream& out, const ConfState& state) {
  out << "{voters ";
  print_ids(out, state.voters);
  if (state.is_joint()) {
    out << " outgoing ";
    print_ids(out, state.voters_outgoing);
  }
  out << " learners ";
  print_ids(out, state.learners);
  if (!state.learners_next.empty()) {
    out << " learners_next ";
    print_ids(out, state.learners_next);
  }
  return out << "}";
}

}  // namespace grape::raft
