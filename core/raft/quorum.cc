#include "core/raft/quorum.h"

#include <algorithm>
#include <functional>
#include <limits>

namespace grape::raft {

LogIndex majority_index(const std::vector<NodeId>& voters,
                        const std::map<NodeId, LogIndex>& acked) {
  if (voters.empty()) return LogIndex(std::numeric_limits<uint64_t>::max());
  std::vector<LogIndex> indexes;
  indexes.reserve(voters.size());
  for (NodeId voter : voters) {
    auto it = acked.find(voter);
    indexes.push_back(it == acked.end() ? LogIndex(0) : it->second);
  }
  std::sort(indexes.begin(), indexes.end(), std::greater<>());
  return indexes[voters.size() / 2];  // held by the first voters.size() / 2 + 1 of them
}

VoteResult majority_vote(const std::vector<NodeId>& voters, const std::map<NodeId, bool>& votes) {
  if (voters.empty()) return VoteResult::kWon;
  size_t yes = 0;
  size_t no = 0;
  for (NodeId voter : voters) {
    auto it = votes.find(voter);
    if (it != votes.end()) (it->second ? yes : no)++;
  }
  const size_t quorum = voters.size() / 2 + 1;
  if (yes >= quorum) return VoteResult::kWon;
  if (no > voters.size() - quorum) return VoteResult::kLost;
  return VoteResult::kPending;
}

LogIndex quorum_index(const ConfState& conf, const std::map<NodeId, LogIndex>& acked) {
  return std::min(majority_index(conf.voters, acked), majority_index(conf.voters_outgoing, acked));
}

VoteResult quorum_vote(const ConfState& conf, const std::map<NodeId, bool>& votes) {
  const VoteResult incoming = majority_vote(conf.voters, votes);
  const VoteResult outgoing = majority_vote(conf.voters_outgoing, votes);
  if (incoming == VoteResult::kLost || outgoing == VoteResult::kLost) return VoteResult::kLost;
  if (incoming == VoteResult::kWon && outgoing == VoteResult::kWon) return VoteResult::kWon;
  return VoteResult::kPending;
}

}  // namespace grape::raft
