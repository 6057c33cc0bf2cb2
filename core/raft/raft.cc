#include "core/raft/raft.h"

#include <algorithm>

#include "core/base/assert.h"
#include "core/base/mark.h"
#include "core/raft/conf_change.h"

namespace grape::raft {

namespace {
bool is_from_leader(MessageType type) {
  return type == MessageType::kAppend || type == MessageType::kHeartbeat ||
         type == MessageType::kSnapshot;
}

std::vector<NodeId> sorted_unique(std::vector<NodeId> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

ConfState initial_conf_state(const Config& config) {
  ConfState conf;
  conf.voters = sorted_unique(config.voters);
  conf.learners = sorted_unique(config.learners);
  GRAPE_ASSERT(!conf.voters.empty(), "node " << config.id << ": a configuration needs a voter");
  for (NodeId learner : conf.learners) {
    GRAPE_ASSERT(!std::binary_search(conf.voters.begin(), conf.voters.end(), learner),
                 "node " << learner << " is both voter and learner in the initial configuration");
  }
  return conf;
}
}  // namespace

Raft::Raft(const Config& config, const LogStore& store, Rng rng)
    : config_(config),
      id_(config.id),
      conf_state_(config.snapshot ? config.snapshot->meta.conf_state : initial_conf_state(config)),
      election_ticks_max_(config.election_ticks_max > 0 ? config.election_ticks_max
                                                        : 2 * config.election_ticks),
      rng_(rng),
      log_(store) {
  GRAPE_ASSERT(id_ != kNoNode, "a Raft node needs an id");
  GRAPE_ASSERT(config.election_ticks > config.heartbeat_ticks && config.heartbeat_ticks > 0,
               "election_ticks " << config.election_ticks << " must exceed heartbeat_ticks "
                                 << config.heartbeat_ticks << " > 0");
  GRAPE_ASSERT(election_ticks_max_ > config.election_ticks, "empty election timeout range");
  GRAPE_ASSERT(config.inflight_appends_max > 0 && config.append_entries_max > 0,
               "replication limits must be positive");
  if (config.snapshot) {
    // The driver restored the state machine from it and compacted the store up to it.
    GRAPE_ASSERT(config.snapshot->meta.index == store.first_index().prev(),
                 "snapshot at " << config.snapshot->meta.index << " but the log starts at "
                                << store.first_index());
    latest_snapshot_ = config.snapshot;
  }
  passive_ = config.passive;
  note_configuration();
  const HardState stored = store.hard_state();
  term_ = stored.term;
  vote_ = stored.vote;
  last_handed_hard_state_ = stored;
  become_follower(term_, kNoNode);
}

// ---------------------------------------------------------------------------------------------
// Role transitions

void Raft::reset(Term term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_election_timeout();
  votes_.clear();
  self_vote_ = SelfVote::kNone;
  progress_.clear();
  transfer_target_ = kNoNode;
  broadcast_pending_ = false;
  // Reads in flight belong to a leadership (or a leader) that is over: they never come out.
  reads_waiting_.clear();
  read_round_.reset();
}

void Raft::reset_election_timeout() {
  if (leader_lost_) {
    // The leader is known dead (report_peer_down) and no other has been heard of: elections, also
    // after a split vote, come within two heartbeats rather than a whole timeout.
    randomized_election_ticks_ =
        1 + static_cast<int>(rng_.between(0, 2 * config_.heartbeat_ticks));
    return;
  }
  randomized_election_ticks_ =
      static_cast<int>(rng_.between(config_.election_ticks, election_ticks_max_ - 1));
}

void Raft::become_follower(Term term, NodeId leader) {
  // A leader heard of, or another node's election under way (a new term): back to whole timeouts,
  // so that this node waits for that election rather than disrupting it.
  if (leader != kNoNode || term > term_) leader_lost_ = false;
  reset(term);
  role_ = Role::kFollower;
  leader_ = leader;
}

void Raft::become_pre_candidate() {
  GRAPE_ASSERT(role_ != Role::kLeader, "a leader cannot become a pre-candidate");
  // Pre-vote changes neither term nor vote: a node that cannot win disturbs nobody (§9.6).
  votes_.clear();
  self_vote_ = SelfVote::kNone;
  leader_ = kNoNode;
  role_ = Role::kPreCandidate;
}

void Raft::become_candidate() {
  GRAPE_ASSERT(role_ != Role::kLeader, "a leader cannot become a candidate");
  reset(term_.next());
  vote_ = id_;
  role_ = Role::kCandidate;
}

void Raft::become_leader() {
  leader_lost_ = false;
  GRAPE_ASSERT(role_ == Role::kCandidate, "only a candidate becomes leader");
  GRAPE_ASSERT(is_promotable(), "node " << id_ << " won an election without being a voter");
  reset(term_);
  role_ = Role::kLeader;
  leader_ = id_;
  update_progress_to_members(/*new_peers_active=*/false);
  // Any entry we hold beyond what is applied may be a conf change (etcd does the same): no new
  // one until they all are, so each change is checked against the configuration it applies to.
  pending_conf_index_ = log_.last_index();
  // A no-op entry of the new term: previous terms' entries commit only with it (Figure 8).
  append_entry({});
}

// ---------------------------------------------------------------------------------------------
// Ticks

void Raft::tick() {
  if (role_ == Role::kLeader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void Raft::align_heartbeat(int elapsed) {
  if (role_ == Role::kLeader) heartbeat_elapsed_ = elapsed % config_.heartbeat_ticks;
}

void Raft::tick_election() {
  ++election_elapsed_;
  // The cheap test first: this runs on every tick of every idle follower group.
  if (election_elapsed_ >= randomized_election_ticks_ && is_promotable()) {
    election_elapsed_ = 0;
    maybe_campaign(config_.pre_vote ? CampaignKind::kPreElection : CampaignKind::kElection);
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_ticks) {
    election_elapsed_ = 0;
    if (config_.check_quorum && !quorum_active()) {
      // Check-quorum (§6.2): a leader that has not heard from a majority for an election timeout
      // steps down, so clients stop waiting on it and its lease expires.
      GRAPE_MARK("raft.leader_steps_down_without_quorum");
      become_follower(term_, kNoNode);
      return;
    }
    for (auto& [peer, pr] : progress_) pr.recent_active = peer == id_;
    if (transfer_target_ != kNoNode) {
      GRAPE_MARK("raft.transfer_aborted_after_timeout");
      transfer_target_ = kNoNode;
    }
    if (!is_promotable()) hand_off_leadership();  // removed: try again
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
  }
}

// ---------------------------------------------------------------------------------------------
// Elections

// Only voters campaign: learners and nodes outside the configuration (removed, or added but not
// yet told) would disturb the voters with elections they must not win. A voter of C_old alone
// still may: while joint its vote counts.
bool Raft::is_promotable() const { return !passive_ && is_voter(conf_state_, id_); }

void Raft::note_configuration() {
  if (!passive_) return;
  auto lists = [&](const std::vector<NodeId>& nodes) {
    return std::find(nodes.begin(), nodes.end(), id_) != nodes.end();
  };
  if (lists(conf_state_.learners) || lists(conf_state_.learners_next)) passive_ = false;
}

// Leader stickiness (§4.2.3): while a node has heard from a leader within the minimum election
// timeout it disregards vote requests, so a partitioned or half-connected node cannot unseat a
// healthy leader. A leader is in lease until its check-quorum round finds it alone.
// Only with check-quorum, as in etcd and raft-rs: without it a leader that hears nobody never
// steps down, and followers that keep hearing it would refuse every candidate for as long as a
// one-way fault lasts, electing no one (scenario stickiness-without-check-quorum).
bool Raft::in_lease() const {
  return config_.check_quorum && leader_ != kNoNode && election_elapsed_ < config_.election_ticks;
}

void Raft::report_peer_down(NodeId peer) {
  if (role_ != Role::kFollower || leader_ == kNoNode || peer != leader_) return;
  if (!config_.pre_vote || !config_.check_quorum || !is_promotable()) return;
  GRAPE_MARK("raft.leader_connection_lost");
  leader_ = kNoNode;
  leader_lost_ = true;
  reset_election_timeout();
  randomized_election_ticks_ += election_elapsed_;
}

void Raft::campaign() {
  if (role_ == Role::kLeader || !is_promotable()) return;
  election_elapsed_ = 0;
  maybe_campaign(config_.pre_vote ? CampaignKind::kPreElection : CampaignKind::kElection);
}

void Raft::maybe_campaign(CampaignKind kind) {
  if (log_.has_unapplied_conf_changes()) {
    // Our configuration is older than the committed one: we might win a term under a membership
    // that no longer holds (issue 6, defect 2). Wait until the driver has applied the changes.
    GRAPE_MARK("raft.campaign_refused_unapplied_conf_change");
    return;
  }
  start_campaign(kind);
}

void Raft::start_campaign(CampaignKind kind) {
  Term campaign_term;
  MessageType type;
  if (kind == CampaignKind::kPreElection) {
    become_pre_candidate();
    campaign_term = term_.next();  // the term we would stand at; our own term is unchanged
    type = MessageType::kPreVote;
  } else {
    become_candidate();
    campaign_term = term_;
    type = MessageType::kVote;
  }
  // Our own vote counts once this campaign's term and vote are durable (maybe_count_self_vote).
  self_vote_ = SelfVote::kPending;
  self_vote_term_ = campaign_term;
  // Both halves of a joint configuration vote (thesis §4.3): ask every voter, incoming or outgoing.
  for (NodeId voter : members(conf_state_)) {
    if (voter == id_ || !is_voter(conf_state_, voter)) continue;
    Message m;
    m.type = type;
    m.to = voter;
    m.term = campaign_term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.transfer = kind == CampaignKind::kTransfer;
    send(std::move(m));
  }
}

VoteResult Raft::record_vote(NodeId from, bool granted) {
  votes_.emplace(from, granted);  // the first answer from a voter counts
  // While joint, a majority of C_new and one of C_old (thesis §4.3); learners are in neither.
  return quorum_vote(conf_state_, votes_);
}

void Raft::on_vote_request(const Message& m) {
  const bool pre_vote = m.type == MessageType::kPreVote;
  // We may vote for `m.from` if we already did this term, or have voted for nobody and know no
  // leader, or (pre-vote) it asks about a later term than ours.
  const bool can_vote =
      vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) || (pre_vote && m.term > term_);
  const bool grant = can_vote && log_.is_up_to_date(m.index, m.log_term);  // §5.4.1
  Message response;
  response.type = pre_vote ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  response.to = m.from;
  // A granted answer carries the asked term (for a pre-vote, the pre-candidate's future term);
  // a refusal carries ours so a stale candidate learns it.
  response.term = grant ? m.term : term_;
  response.reject = !grant;
  // What we know to be committed, with its entry's term: the candidate may lack the news (see
  // learn_commit_from_vote_response).
  response.commit = log_.committed();
  response.log_term = log_.term(log_.committed());
  if (grant && !pre_vote) {
    election_elapsed_ = 0;
    vote_ = m.from;
  }
  send(std::move(response));
}

// Commitment is a fact about the group, not about a term: if a voter says (commit, its term) is
// committed and our log holds that entry, Log Matching makes our prefix the committed one. This
// is how a candidate learns of a commit that no leader is left to tell it: the leader that
// removed itself committed its removal on us, crashed before telling us, and, restarted outside
// the configuration, never campaigns; we, still counting it as a voter, could never win its vote
// (its log is longer) until we apply the removal (RaftStateful found it).
void Raft::learn_commit_from_vote_response(const Message& m) {
  if (m.commit <= log_.committed() || !log_.match_term(m.commit, m.log_term)) return;
  GRAPE_MARK("raft.commit_learned_from_vote_response");
  log_.commit_to(m.commit);
}

void Raft::on_vote_response(const Message& m) {
  const bool expected = (role_ == Role::kPreCandidate && m.type == MessageType::kPreVoteResponse) ||
                        (role_ == Role::kCandidate && m.type == MessageType::kVoteResponse);
  if (!expected) return;  // a late answer to an election we have left
  on_vote_result(record_vote(m.from, !m.reject));
}

// advance(): the Ready that started the campaign is persisted, so our own vote may count now, if
// we are still in that campaign (not deposed or restarted into another one meanwhile).
void Raft::maybe_count_self_vote() {
  if (self_vote_ != SelfVote::kHanded) return;
  self_vote_ = SelfVote::kNone;
  const bool same_campaign = (role_ == Role::kPreCandidate && term_.next() == self_vote_term_) ||
                             (role_ == Role::kCandidate && term_ == self_vote_term_);
  if (!same_campaign) return;
  on_vote_result(record_vote(id_, true));
}

void Raft::on_vote_result(VoteResult result) {
  switch (result) {
    case VoteResult::kWon:
      if (role_ == Role::kPreCandidate) {
        start_campaign(CampaignKind::kElection);
      } else {
        become_leader();
      }
      break;
    case VoteResult::kLost:
      // A pre-candidate that lost keeps its term; a candidate too (the refusals carried no
      // higher term, or handle_term would have made us a follower already).
      become_follower(term_, kNoNode);
      break;
    case VoteResult::kPending:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Step

Status<StepError> Raft::step(const Message& m) {
  if (m.to != id_) {
    return Unexpected(StepError{StepErrorCode::kWrongRecipient, "message for another node"});
  }
  // Only members of the configuration take part: a grant from a stranger must never count
  // towards a majority (RaftElection.VoteFromNonMemberDoesNotCount). Members are every voter,
  // incoming or outgoing, and every learner. Two exceptions, as in etcd, because our own
  // configuration may be older than the sender's:
  //   - a leader's append or heartbeat: a node joining the group learns the configuration from
  //     the log itself, so it must follow a leader its configuration does not list yet;
  //   - a (pre-)vote request: a lagging voter must answer a voter added after its last applied
  //     change, or a group that lost one member may elect no one (RaftReview.LaggingVoter...).
  //     Answering is safe: each candidate counts only the voters of its own configuration.
  //     A removed node that does not know it is kept harmless by pre-vote and the lease;
  //   - a TimeoutNow: a removed leader hands leadership to a remaining voter (hand_off_leadership).
  const bool may_be_new_to_us = is_from_leader(m.type) || m.type == MessageType::kVote ||
                                m.type == MessageType::kPreVote ||
                                m.type == MessageType::kTimeoutNow;
  if (m.from == kNoNode || m.from == id_ ||
      (!may_be_new_to_us && !is_member(conf_state_, m.from))) {
    return Unexpected(StepError{StepErrorCode::kUnknownPeer, "message from no valid peer"});
  }
  if (m.type == MessageType::kVoteResponse || m.type == MessageType::kPreVoteResponse) {
    learn_commit_from_vote_response(m);
  }
  if (!handle_term(m)) return Status<StepError>::ok();

  if (m.type == MessageType::kVote || m.type == MessageType::kPreVote) {
    on_vote_request(m);
    return Status<StepError>::ok();
  }
  switch (role_) {
    case Role::kFollower:
      step_follower(m);
      break;
    case Role::kPreCandidate:
    case Role::kCandidate:
      step_candidate(m);
      break;
    case Role::kLeader:
      step_leader(m);
      break;
  }
  return Status<StepError>::ok();
}

bool Raft::handle_term(const Message& m) {
  const bool vote_request = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
  if (m.term > term_) {
    if (vote_request && !m.transfer && in_lease()) {
      GRAPE_MARK("raft.vote_ignored_in_lease");
      return false;
    }
    if (m.type == MessageType::kPreVote) return true;  // asks about a future term: no change
    if (m.type == MessageType::kPreVoteResponse && !m.reject) return true;  // our future term
    become_follower(m.term, is_from_leader(m.type) ? m.from : kNoNode);
    return true;
  }
  if (m.term < term_) {
    if (is_from_leader(m.type)) {
      // A stale leader (perhaps we ran up our term while cut off and now cannot win, or it was
      // partitioned): tell it our term so it steps down. With stickiness our vote requests may
      // never be heard, so this is how terms converge (etcd does the same).
      GRAPE_MARK("raft.stale_leader_told_newer_term");
      Message response;
      response.type = MessageType::kAppendResponse;
      response.to = m.from;
      response.term = term_;
      send(std::move(response));
    } else if (m.type == MessageType::kPreVote) {
      Message response;
      response.type = MessageType::kPreVoteResponse;
      response.to = m.from;
      response.term = term_;
      response.reject = true;
      send(std::move(response));
    }
    return false;  // every other stale message is ignored
  }
  return true;
}

void Raft::heard_from_leader(NodeId leader) {
  election_elapsed_ = 0;
  leader_ = leader;
  if (leader_lost_) {
    leader_lost_ = false;
    reset_election_timeout();  // back to a whole election timeout
  }
}

void Raft::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      heard_from_leader(m.from);
      on_append(m);
      break;
    case MessageType::kHeartbeat:
      heard_from_leader(m.from);
      on_heartbeat(m);
      break;
    case MessageType::kSnapshot:
      heard_from_leader(m.from);
      on_snapshot(m);
      break;
    case MessageType::kReadIndexResponse:
      read_states_.push_back(ReadState{m.index, m.context});
      break;
    case MessageType::kTimeoutNow:
      if (is_promotable()) {
        GRAPE_MARK("raft.campaign_on_timeout_now");
        maybe_campaign(CampaignKind::kTransfer);
      }
      break;
    default:
      break;  // responses to a role we no longer hold
  }
}

void Raft::step_candidate(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshot:
      // A leader of our term exists (§5.2): concede.
      become_follower(m.term, m.from);
      step_follower(m);
      break;
    case MessageType::kVoteResponse:
    case MessageType::kPreVoteResponse:
      on_vote_response(m);
      break;
    default:
      break;
  }
}

void Raft::step_leader(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendResponse:
      on_append_response(m);
      break;
    case MessageType::kHeartbeatResponse:
      on_heartbeat_response(m);
      break;
    case MessageType::kSnapshotResponse:
      on_snapshot_response(m);
      break;
    case MessageType::kReadIndex:
      add_read(PendingRead{m.context, m.from});
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Replication: follower side

void Raft::on_append(const Message& m) {
  Message response;
  response.type = MessageType::kAppendResponse;
  response.to = m.from;
  response.term = term_;
  if (m.index < log_.committed()) {
    // Everything up to our commit index is known to match: say so, and the leader skips ahead.
    response.index = log_.committed();
    send(std::move(response));
    return;
  }
  if (auto last_new = log_.maybe_append(m.index, m.log_term, m.commit, m.entries)) {
    response.index = *last_new;
    send(std::move(response));
    return;
  }
  // Reject with a hint for fast back-off (§5.3): the largest index at or below the probe whose
  // term is at most the leader's term there; the leader skips every entry of a term we lack.
  GRAPE_MARK("raft.append_rejected");
  const LogIndex hint =
      log_.find_conflict_by_term(std::min(m.index, log_.last_index()), m.log_term);
  response.reject = true;
  response.index = m.index;
  response.reject_hint = hint;
  response.log_term = log_.term(hint);
  send(std::move(response));
}

void Raft::on_heartbeat(const Message& m) {
  // The leader sends min(our match, its commit), never past our log; clamp all the same so that
  // a confused peer cannot make us commit entries we do not hold.
  log_.commit_to(std::min(m.commit, log_.last_index()));
  Message response;
  response.type = MessageType::kHeartbeatResponse;
  response.to = m.from;
  response.term = term_;
  response.context = m.context;
  send(std::move(response));
}

void Raft::on_snapshot(const Message& m) {
  Message response;
  response.to = m.from;
  response.term = term_;
  response.index = m.index;
  if (m.index <= log_.committed()) {
    // We hold at least as much committed state: say where our commit is (as on_append does).
    incoming_snapshot_.reset();
    response.type = MessageType::kAppendResponse;
    response.index = log_.committed();
    send(std::move(response));
    return;
  }
  response.type = MessageType::kSnapshotResponse;
  const bool same = incoming_snapshot_ && incoming_snapshot_->meta.index == m.index &&
                    incoming_snapshot_->term == m.term;
  if (!same) {
    if (m.offset != 0) {
      // A chunk of a transfer whose start we do not hold (we restarted): start over.
      GRAPE_MARK("raft.snapshot_transfer_start_missing");
      incoming_snapshot_.reset();
      response.reject = true;
      response.offset = 0;
      send(std::move(response));
      return;
    }
    incoming_snapshot_ = IncomingSnapshot{m.from, m.term, {m.index, m.log_term, m.conf_state}, {}};
  }
  Bytes& data = incoming_snapshot_->data;
  if (m.offset != data.size()) {
    // A duplicate, or a chunk after a gap (one lost or overtaken): keep what we hold and say how
    // much that is, as a cumulative acknowledgement; the leader resends from there when a
    // heartbeat round passes without progress. Never a reject: rejecting every reordered chunk
    // made the leader resend its window each time, and the resent chunks, reordered again,
    // multiplied (a message storm).
    GRAPE_MARK("raft.snapshot_chunk_out_of_order");
    response.offset = data.size();
    send(std::move(response));
    return;
  }
  data.insert(data.end(), m.data.begin(), m.data.end());
  if (!m.done) {
    response.offset = data.size();
    send(std::move(response));
    return;
  }
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->meta = incoming_snapshot_->meta;
  snapshot->data = std::move(data);
  incoming_snapshot_.reset();
  install_snapshot(std::move(snapshot));
}

// A complete snapshot from the leader, past our commit index.
void Raft::install_snapshot(std::shared_ptr<const Snapshot> snapshot) {
  const SnapshotMeta& meta = snapshot->meta;
  Message response;
  response.type = MessageType::kAppendResponse;
  response.to = leader_;
  response.term = term_;
  response.index = meta.index;
  if (log_.match_term(meta.index, meta.term)) {
    // Our log already holds its last entry, so all of it: just commit that far (etcd does the
    // same) and keep the entries after it.
    GRAPE_MARK("raft.snapshot_matches_log");
    log_.commit_to(meta.index);
    response.index = log_.committed();
    send(std::move(response));
    return;
  }
  GRAPE_MARK("raft.snapshot_restored");
  log_.restore(meta.index, meta.term);
  conf_state_ = meta.conf_state;  // the configuration in force at its index
  note_configuration();
  snapshot_to_install_ = snapshot;
  latest_snapshot_ = std::move(snapshot);
  send(std::move(response));  // after persist: it promises the snapshot is durable
}

void Raft::set_latest_snapshot(std::shared_ptr<const Snapshot> snapshot) {
  if (!latest_snapshot_ || snapshot->meta.index > latest_snapshot_->meta.index) {
    latest_snapshot_ = std::move(snapshot);
  }
}

// ---------------------------------------------------------------------------------------------
// Replication: leader side

const Progress* Raft::progress(NodeId peer) const {
  auto it = progress_.find(peer);
  return it == progress_.end() ? nullptr : &it->second;
}

void Raft::on_append_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (pr.state == ProgressState::kSnapshot) {
    // Only the answer that the snapshot (or more) is installed ends the transfer; anything
    // else answers an append sent before it began.
    if (m.reject || m.index < pr.snapshot->meta.index || m.index > log_.last_index()) return;
    GRAPE_MARK("raft.snapshot_installed_by_follower");
    pr.maybe_update(m.index);
    pr.become_probe();
    if (maybe_commit()) broadcast_pending_ = true;
    maybe_send_append(m.from, true);
    return;
  }
  if (m.reject) {
    LogIndex next_probe = m.reject_hint;
    if (m.log_term > Term(0)) next_probe = log_.find_conflict_by_term(m.reject_hint, m.log_term);
    if (pr.maybe_decrease_to(m.index, next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.become_probe();
      maybe_send_append(m.from, true);
    }
    return;
  }
  if (m.index > log_.last_index()) {
    // A follower cannot hold more of our log than we do; only a broken peer (or a broken
    // election) says so. Refuse the claim rather than trust it.
    GRAPE_MARK("raft.ack_beyond_last_index_ignored");
    return;
  }
  const bool was_paused = pr.is_paused();
  // A probe acknowledged at the follower's known match still proves where its log ends: start
  // replicating (etcd does the same), or a caught-up follower would stay in probe.
  const bool probe_confirmed = pr.state == ProgressState::kProbe && pr.match == m.index;
  if (!pr.maybe_update(m.index) && !probe_confirmed) return;
  if (pr.state == ProgressState::kProbe) {
    pr.become_replicate();
  } else {
    pr.inflights.free_le(m.index);
  }
  if (maybe_commit()) {
    broadcast_pending_ = true;  // followers learn the new commit index with the next appends
  } else if (was_paused) {
    maybe_send_append(m.from, true);
  }
  // Fill the pipeline: keep sending while the window has room and there are entries.
  while (maybe_send_append(m.from, false)) {
  }
  if (m.from == transfer_target_ && pr.match == log_.last_index()) send_timeout_now(m.from);
}

void Raft::on_heartbeat_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (read_round_ && m.context == read_round_->id) {
    read_round_->acks[m.from] = true;
    maybe_finish_read_round();
  }
  if (pr.state == ProgressState::kSnapshot) {
    // No acknowledgement during a whole heartbeat round: a chunk (or the install's answer) was
    // lost. Send again from what the follower confirmed.
    if (pr.snapshot_acked == pr.snapshot_acked_at_heartbeat &&
        (pr.snapshot_sent > pr.snapshot_acked || pr.snapshot_done_sent)) {
      GRAPE_MARK("raft.snapshot_resent_after_silence");
      pr.snapshot_sent = pr.snapshot_acked;
      pr.snapshot_done_sent = false;
    }
    pr.snapshot_acked_at_heartbeat = pr.snapshot_acked;
    while (maybe_send_snapshot_chunk(m.from, pr)) {
    }
    return;
  }
  pr.probe_sent = false;
  // A lost append may have left the window full forever; a heartbeat round trip proves the link
  // works, so let one more append through (etcd does the same).
  if (pr.state == ProgressState::kReplicate && pr.inflights.full()) pr.inflights.free_first_one();
  // In probe the heartbeat's answer is the cue to probe again (etcd): the last probe may be lost.
  if (pr.match < log_.last_index() || pr.state == ProgressState::kProbe) {
    maybe_send_append(m.from, true);
  }
}

bool Raft::maybe_send_append(NodeId to, bool send_if_empty) {
  Progress& pr = progress_.at(to);
  if (pr.state == ProgressState::kSnapshot) return maybe_send_snapshot_chunk(to, pr);
  if (pr.is_paused()) return false;
  if (pr.next.prev() < log_.first_index().prev()) {
    // The entries it needs are compacted away: send the snapshot instead.
    if (!latest_snapshot_ || latest_snapshot_->meta.index < pr.next.prev()) {
      GRAPE_MARK("raft.snapshot_needed_but_none");
      return false;
    }
    GRAPE_MARK("raft.snapshot_transfer_started");
    pr.become_snapshot(latest_snapshot_,
                       config_.snapshot_chunk_bytes * config_.snapshot_chunks_inflight_max);
    const bool sent = maybe_send_snapshot_chunk(to, pr);
    while (maybe_send_snapshot_chunk(to, pr)) {  // fill the window
    }
    return sent;
  }
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.term = term_;
  m.index = pr.next.prev();
  m.log_term = log_.term(m.index);
  m.entries = log_.entries_from(pr.next, config_.append_entries_max, config_.append_bytes_max);
  if (m.entries.empty() && !send_if_empty) return false;
  m.commit = log_.committed();
  const LogIndex last = m.entries.empty() ? m.index : m.entries.back().index;
  pr.on_append_sent(last, !m.entries.empty());
  send(std::move(m));
  return true;
}

bool Raft::maybe_send_snapshot_chunk(NodeId to, Progress& pr) {
  if (pr.is_paused()) return false;
  const Snapshot& snap = *pr.snapshot;
  const uint64_t size = snap.data.size();
  const uint64_t chunk =
      std::min<uint64_t>(std::max<size_t>(1, config_.snapshot_chunk_bytes), size - pr.snapshot_sent);
  if (SnapshotBudget* budget = config_.snapshot_budget) {
    if (budget->available < chunk) {
      ++budget->held;
      return false;
    }
    budget->available -= chunk;
  }
  Message m;
  m.type = MessageType::kSnapshot;
  m.to = to;
  m.term = term_;
  m.index = snap.meta.index;
  m.log_term = snap.meta.term;
  m.conf_state = snap.meta.conf_state;
  m.offset = pr.snapshot_sent;
  const auto begin = snap.data.begin() + static_cast<std::ptrdiff_t>(pr.snapshot_sent);
  m.data.assign(begin, begin + static_cast<std::ptrdiff_t>(chunk));
  m.done = pr.snapshot_sent + chunk == size;
  pr.snapshot_sent += chunk;
  pr.snapshot_done_sent = m.done;
  send(std::move(m));
  return true;
}

void Raft::on_snapshot_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (pr.state != ProgressState::kSnapshot || m.index != pr.snapshot->meta.index) return;
  const uint64_t offset = std::min<uint64_t>(m.offset, pr.snapshot->data.size());
  if (m.reject) {
    // The follower lost the start (it restarted): send again from the beginning, once (later
    // rejections answer chunks sent before this restart).
    if (pr.snapshot_acked > 0 || pr.snapshot_sent > 0) {
      GRAPE_MARK("raft.snapshot_transfer_restarted");
      pr.snapshot_sent = pr.snapshot_acked = pr.snapshot_acked_at_heartbeat = 0;
      pr.snapshot_done_sent = false;
    }
  } else if (offset > pr.snapshot_acked) {
    pr.snapshot_acked = offset;  // cumulative: it may hold more than we resent since
    if (pr.snapshot_sent < offset) pr.snapshot_sent = offset;
  }
  while (maybe_send_snapshot_chunk(m.from, pr)) {
  }
}

void Raft::send_heartbeat(NodeId to) {
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  m.term = term_;
  // Every heartbeat also confirms the read round in flight: a later round's acknowledgement
  // proves leadership at a later moment, which is just as good.
  if (read_round_) m.context = read_round_->id;
  // Never tell a follower to commit past what it is known to hold: its log beyond `match` may
  // still differ from ours.
  m.commit = std::min(progress_.at(to).match, log_.committed());
  send(std::move(m));
}

void Raft::broadcast_heartbeat() {
  for (const auto& [peer, pr] : progress_) {  // learners too: they need the commit index
    if (peer != id_) send_heartbeat(peer);
  }
}

void Raft::flush_broadcast() {
  if (!broadcast_pending_ || role_ != Role::kLeader) return;
  broadcast_pending_ = false;
  for (const auto& [peer, pr] : progress_) {
    if (peer == id_) continue;
    // Send even when there are no new entries, so a moved commit index reaches the followers.
    if (maybe_send_append(peer, true)) {
      while (maybe_send_append(peer, false)) {
      }
    }
  }
}

bool Raft::maybe_commit() {
  std::map<NodeId, LogIndex> matches;
  for (const auto& [peer, pr] : progress_) matches.emplace(peer, pr.match);
  // Replicated on a majority of the voters and, while joint, of the outgoing voters too (thesis
  // §4.3); learners' copies are not counted. Figure 8: only an entry of the current term is
  // committed by counting replicas; earlier entries commit with it.
  if (!log_.maybe_commit(quorum_index(conf_state_, matches), term_)) return false;
  maybe_start_read_round();  // reads may have waited for our first commit of the term
  return true;
}

// ---------------------------------------------------------------------------------------------
// ReadIndex (thesis §6.4)

Status<ReadError> Raft::read_index(uint64_t context) {
  if (role_ == Role::kLeader) {
    add_read(PendingRead{context, id_});
    return Status<ReadError>::ok();
  }
  if (leader_ == kNoNode) return Unexpected(ReadError{ReadErrorCode::kNoLeader});
  Message m;
  m.type = MessageType::kReadIndex;
  m.to = leader_;
  m.term = term_;
  m.context = context;
  send(std::move(m));
  return Status<ReadError>::ok();
}

bool Raft::committed_in_current_term() const { return log_.term(log_.committed()) == term_; }

void Raft::add_read(PendingRead read) {
  reads_waiting_.push_back(read);
  maybe_start_read_round();
}

// A round starts once no other is out and the leader has committed an entry of its term (until
// then its commit index may lag what an earlier leader committed, Figure 8 style). Its read
// index is the commit index now; the heartbeats that follow confirm we were still leader after
// that moment.
void Raft::maybe_start_read_round() {
  if (role_ != Role::kLeader || read_round_ || reads_waiting_.empty()) return;
  if (!committed_in_current_term()) {
    GRAPE_MARK("raft.read_waits_for_commit_in_term");
    return;
  }
  ReadRound round;
  round.id = next_read_round_++;
  round.index = log_.committed();
  round.reads = std::move(reads_waiting_);
  reads_waiting_.clear();
  round.acks[id_] = true;
  read_round_ = std::move(round);
  maybe_finish_read_round();  // a single voter needs nobody
  if (read_round_) broadcast_heartbeat();
}

void Raft::maybe_finish_read_round() {
  if (!read_round_) return;
  std::map<NodeId, bool> acks;
  for (const auto& [peer, pr] : progress_) {
    auto it = read_round_->acks.find(peer);
    acks.emplace(peer, it != read_round_->acks.end());
  }
  if (quorum_vote(conf_state_, acks) != VoteResult::kWon) return;
  GRAPE_MARK("raft.read_round_confirmed");
  const ReadRound round = std::move(*read_round_);
  read_round_.reset();
  for (const PendingRead& read : round.reads) {
    if (read.from == id_) {
      read_states_.push_back(ReadState{round.index, read.context});
      continue;
    }
    Message m;
    m.type = MessageType::kReadIndexResponse;
    m.to = read.from;
    m.term = term_;
    m.index = round.index;
    m.context = read.context;
    send(std::move(m));
  }
  maybe_start_read_round();  // reads that arrived meanwhile form the next round
}

bool Raft::quorum_active() const {
  std::map<NodeId, bool> active;
  for (const auto& [peer, pr] : progress_) active.emplace(peer, peer == id_ || pr.recent_active);
  return quorum_vote(conf_state_, active) == VoteResult::kWon;
}

void Raft::append_entry(Bytes data, EntryType type) {
  Entry e;
  e.term = term_;
  e.index = log_.last_index().next();
  e.type = type;
  e.data = std::move(data);
  log_.append({&e, 1});
  broadcast_pending_ = true;
}

Status<ProposeError> Raft::check_can_propose() const {
  if (role_ != Role::kLeader) {
    return Unexpected(ProposeError{ProposeErrorCode::kNotLeader, leader_});
  }
  if (transfer_target_ != kNoNode) {
    // New entries would keep the target from ever catching up (§3.10).
    return Unexpected(ProposeError{ProposeErrorCode::kTransferInProgress, transfer_target_});
  }
  return Status<ProposeError>::ok();
}

Expected<LogIndex, ProposeError> Raft::propose(Bytes command) {
  if (auto status = check_can_propose(); !status) return Unexpected(status.error());
  append_entry(std::move(command));
  return log_.last_index();
}

Status<TransferError> Raft::transfer_leadership(NodeId to) {
  if (role_ != Role::kLeader) return Unexpected(TransferError{TransferErrorCode::kNotLeader});
  // Only a voter of the incoming configuration may lead next: a learner cannot be elected, and a
  // voter of C_old alone is about to leave.
  if (!std::binary_search(conf_state_.voters.begin(), conf_state_.voters.end(), to)) {
    return Unexpected(TransferError{TransferErrorCode::kUnknownPeer});
  }
  if (to == id_ || to == transfer_target_) return Status<TransferError>::ok();
  transfer_target_ = to;
  election_elapsed_ = 0;  // the transfer is abandoned after one election timeout
  if (progress_.at(to).match == log_.last_index()) {
    send_timeout_now(to);
  } else {
    maybe_send_append(to, true);
  }
  return Status<TransferError>::ok();
}

void Raft::send_timeout_now(NodeId to) {
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  m.term = term_;
  send(std::move(m));
}

// ---------------------------------------------------------------------------------------------
// Membership (thesis §4.3, etcd's confchange)

Expected<LogIndex, ProposeError> Raft::propose_conf_change(const ConfChange& change) {
  if (auto status = check_can_propose(); !status) return Unexpected(status.error());
  // One change at a time: each is validated against the configuration in force when it was
  // proposed, which is the one it applies to only if nothing else changes it in between.
  // While joint the only change allowed is the leave (the joint phase must end first).
  if (pending_conf_index_ > log_.applied() ||
      (conf_state_.is_joint() && !change.is_leave_joint())) {
    return Unexpected(ProposeError{ProposeErrorCode::kConfChangePending, id_});
  }
  if (!next_conf_state(conf_state_, change).has_value()) {
    return Unexpected(ProposeError{ProposeErrorCode::kConfChangeInvalid, id_});
  }
  append_entry(encode_conf_change(change), EntryType::kConfChange);
  pending_conf_index_ = log_.last_index();
  return pending_conf_index_;
}

ConfState Raft::apply_conf_change(const ConfChange& change) {
  auto next = next_conf_state(conf_state_, change);
  if (!next) {
    // Proposals are validated against the configuration they apply to, so only a change written
    // by something else gets here; every replica applies the same log and skips it alike.
    GRAPE_MARK("raft.invalid_conf_change_ignored");
    return conf_state_;
  }
  switch_to(*next);
  return conf_state_;
}

void Raft::switch_to(const ConfState& next) {
  conf_state_ = next;
  note_configuration();
  if (role_ == Role::kPreCandidate || role_ == Role::kCandidate) {
    // An election a non-voter must not win (become_leader asserts it).
    if (!is_promotable()) become_follower(term_, kNoNode);
    return;
  }
  if (role_ != Role::kLeader) return;
  update_progress_to_members(/*new_peers_active=*/true);
  if (!is_promotable()) {
    // Removed, or a voter of C_old only and the joint phase is over. Stepping down at once could
    // strand the group: the remaining voters may not know yet that the change is committed (its
    // append lost, or held by a full window), so they still need our vote under the old
    // configuration, which we, with the longer log and no right to campaign, never give
    // (found by the stateful property). So we keep leading, without counting ourselves, and hand
    // leadership to the most caught-up remaining voter (thesis §3.10); its election ends ours.
    hand_off_leadership();
  }
  if (transfer_target_ != kNoNode &&
      !std::binary_search(conf_state_.voters.begin(), conf_state_.voters.end(), transfer_target_)) {
    transfer_target_ = kNoNode;  // the target is no voter any more
  }
  // The quorum changed: entries the old one was still waiting for may be committed now (a
  // removed voter was holding them back). New peers get their first probe with the broadcast.
  maybe_commit();
  broadcast_pending_ = true;
}

// Leader: one Progress per member, voters and learners alike; those that left are dropped, except
// our own (a removed leader keeps leading until it has handed off; its copy never counts, as
// quorums count voters only).
// `new_peers_active`: peers added by a conf change count as recently active (etcd does the same),
// so a check-quorum round that ends before they could answer does not depose the leader; a new
// leader's peers must prove themselves within the first round, as before.
void Raft::update_progress_to_members(bool new_peers_active) {
  const std::vector<NodeId> all = members(conf_state_);
  std::erase_if(progress_, [this, &all](const auto& entry) {
    return entry.first != id_ && !std::binary_search(all.begin(), all.end(), entry.first);
  });
  const LogIndex next = log_.last_index().next();
  for (NodeId id : all) {
    auto [it, added] = progress_.try_emplace(id, next, config_.inflight_appends_max);
    if (!added) continue;
    Progress& pr = it->second;
    // A new peer starts in probe at last + 1: the first append finds where its log ends.
    pr.recent_active = new_peers_active;
    if (id == id_) {
      // The leader counts only what it has made durable itself (advance() moves this on).
      pr.match = log_.persisted_last_index();
      pr.become_replicate();
      pr.recent_active = true;
      pr.next = next;
    }
  }
}

// A leader that is no voter any more: transfer to the remaining voter with the longest log (ties:
// the lowest id), and try again after each election timeout until one wins.
void Raft::hand_off_leadership() {
  NodeId best;
  LogIndex best_match;
  for (NodeId voter : conf_state_.voters) {
    const Progress& pr = progress_.at(voter);
    if (best == kNoNode || pr.match > best_match) {
      best = voter;
      best_match = pr.match;
    }
  }
  GRAPE_ASSERT(best != kNoNode, "a configuration without voters");
  GRAPE_MARK("raft.removed_leader_hands_off");
  transfer_target_ = best;
  election_elapsed_ = 0;
  if (best_match == log_.last_index()) {
    send_timeout_now(best);
  } else {
    maybe_send_append(best, true);
  }
}

// Auto-leave (etcd's AutoLeave): a joint configuration exists only to reach C_new safely, so
// once the leader has applied it (or was elected while joint and has applied everything it
// found) it proposes the empty change that leaves it. At most once: the leave is then the pending
// conf change, and after it applies the configuration is no longer joint. Refused only during a
// leadership transfer; a later advance() tries again.
void Raft::maybe_auto_leave() {
  if (role_ != Role::kLeader || !conf_state_.is_joint() || pending_conf_index_ > log_.applied()) {
    return;
  }
  if (propose_conf_change(ConfChange{}).has_value()) {
    GRAPE_MARK("raft.auto_leave_proposed");
  } else {
    GRAPE_MARK("raft.auto_leave_delayed");
  }
}

// ---------------------------------------------------------------------------------------------
// Ready

void Raft::send(Message m) {
  m.from = id_;
  if (needs_persisted_state(m)) {
    messages_after_persist_.push_back(std::move(m));
  } else {
    messages_.push_back(std::move(m));
  }
}

bool Raft::has_ready() const {
  if (ready_outstanding_) return false;
  return (broadcast_pending_ && role_ == Role::kLeader) || self_vote_ == SelfVote::kPending ||
         snapshot_to_install_ != nullptr || !read_states_.empty() ||
         !messages_.empty() || !messages_after_persist_.empty() || log_.has_entries_to_persist() ||
         log_.has_entries_to_apply() || hard_state() != last_handed_hard_state_;
}

Ready Raft::take_ready() {
  GRAPE_ASSERT(!ready_outstanding_, "take_ready() again before advance()");
  flush_broadcast();
  Ready ready;
  ready_snapshot_index_.reset();
  if (snapshot_to_install_) {
    ready_snapshot_index_ = snapshot_to_install_->meta.index;
    ready.snapshot = std::move(snapshot_to_install_);
    snapshot_to_install_.reset();
  }
  const HardState current = hard_state();
  if (current != last_handed_hard_state_) {
    ready.hard_state = current;
    last_handed_hard_state_ = current;
  }
  ready.entries_to_persist = log_.take_entries_to_persist();
  ready_last_persisted_.reset();
  if (!ready.entries_to_persist.empty()) {
    const Entry& last = ready.entries_to_persist.back();
    ready_last_persisted_ = LogPosition{last.index, last.term};
  }
  ready.messages = std::move(messages_);
  ready.messages_after_persist = std::move(messages_after_persist_);
  messages_.clear();
  messages_after_persist_.clear();
  ready.entries_to_apply = log_.next_entries_to_apply(config_.apply_bytes_max);
  ready.read_states = std::move(read_states_);
  read_states_.clear();
  ready_last_applied_ =
      ready.entries_to_apply.empty() ? log_.applied() : ready.entries_to_apply.back().index;
  if (self_vote_ == SelfVote::kPending) self_vote_ = SelfVote::kHanded;
  ready_outstanding_ = true;
  return ready;
}

void Raft::advance() {
  GRAPE_ASSERT(ready_outstanding_, "advance() without a Ready taken");
  ready_outstanding_ = false;
  if (ready_last_persisted_) {
    log_.stable_to(ready_last_persisted_->index, ready_last_persisted_->term);
    ready_last_persisted_.reset();
  }
  if (ready_snapshot_index_) {
    log_.snapshot_stored(*ready_snapshot_index_);
    ready_snapshot_index_.reset();
  }
  // A snapshot restored meanwhile (from a message stepped while this Ready was out) may have
  // moved applied past what this Ready handed out.
  if (ready_last_applied_ > log_.applied()) log_.applied_to(ready_last_applied_);
  maybe_count_self_vote();
  if (role_ == Role::kLeader) {
    // The leader's own copy counts towards a majority only once it is durable.
    Progress& self = progress_.at(id_);
    if (self.maybe_update(log_.persisted_last_index()) && maybe_commit()) {
      broadcast_pending_ = true;
    }
    maybe_auto_leave();
  }
}

}  // namespace grape::raft
