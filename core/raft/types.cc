#include "core/raft/types.h"

namespace grape::raft {

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
  return out << "{" << entry.index << "@" << entry.term << " " << entry.data.size() << "B}";
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
      break;
    default:
      break;
  }
  return out;
}

}  // namespace grape::raft
