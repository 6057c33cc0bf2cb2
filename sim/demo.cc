#include "sim/demo.h"

#include <iomanip>
#include <map>
#include <string>

#include "sim/world.h"

namespace grape::sim {

namespace {

std::string name(NodeId id) { return "n" + std::to_string(id.value); }

std::string seconds_text(VirtualTime t) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << static_cast<double>(t.ns) / 1e9 << "s";
  return out.str();
}

// Tells role changes, crashes and network faults as they happen, in words.
class Narrator {
 public:
  explicit Narrator(std::ostream& out) : out_(out) {}

  void on_event(const TraceEvent& e) {
    switch (e.kind) {
      case TraceKind::kRoleChange:
        on_role_change(e);
        break;
      case TraceKind::kCrash:
        roles_[e.node] = raft::Role::kFollower;
        say(e.at, name(e.node) + " crashes: its memory is gone, its disk survives.");
        break;
      case TraceKind::kRestart:
        say(e.at, name(e.node) + " restarts from its disk (term " + std::to_string(e.term.value) +
                      ") and rejoins as a follower.");
        break;
      case TraceKind::kPartition:
        say(e.at, "the network splits into " + e.detail + "(nodes in different groups cannot talk).");
        break;
      case TraceKind::kHeal:
        say(e.at, "the network heals: every node can reach every other again.");
        break;
      default:
        break;
    }
  }

  void say(VirtualTime at, const std::string& text) {
    out_ << "  [" << std::setw(6) << seconds_text(at) << "] " << text << "\n";
  }

 private:
  void on_role_change(const TraceEvent& e) {
    const raft::Role before = roles_[e.node];
    roles_[e.node] = e.role;
    if (e.role == raft::Role::kLeader && before != raft::Role::kLeader) {
      say(e.at, name(e.node) + " wins the election for term " + std::to_string(e.term.value) +
                    " and becomes leader.");
    } else if (before == raft::Role::kLeader && e.role != raft::Role::kLeader) {
      say(e.at, name(e.node) + " steps down: " +
                    (e.leader.value == 0 ? std::string("it cannot hear a majority (check-quorum).")
                                         : "it heard from a newer leader."));
    } else if (e.role == raft::Role::kCandidate && before != raft::Role::kCandidate) {
      say(e.at, name(e.node) + " heard no leader for an election timeout and asks for votes for term " +
                    std::to_string(e.term.value) + ".");
    }
  }

  std::ostream& out_;
  std::map<NodeId, raft::Role> roles_;
};

// A client that proposes one write every 20 ms to whichever node is leader, and counts commits.
struct Client {
  uint64_t proposed = 0;
  uint64_t refused = 0;
  bool stopped = false;

  void schedule_next(World& world) {
    world.schedule(world.now() + milliseconds(20), [this](World& w) {
      if (stopped) return;
      if (auto leader = w.leader()) {
        const std::string command = "put key" + std::to_string(proposed % 16) + "=" + std::to_string(proposed);
        if (w.propose(*leader, to_bytes(command))) {
          ++proposed;
        } else {
          ++refused;
        }
      }
      schedule_next(w);
    });
  }
};

bool has_leader(const World& w) { return w.leader().has_value(); }

}  // namespace

DemoResult run_demo(std::ostream& out, uint64_t seed) {
  WorldOptions options;
  options.nodes = 5;
  options.seed = seed;
  World world(options);
  Narrator narrator(out);
  world.set_trace_sink([&narrator](const TraceEvent& e) { narrator.on_event(e); });
  // Count each committed client write once, the first time any node applies it.
  uint64_t writes_committed = 0;
  LogIndex highest_applied;
  world.set_apply_hook([&](NodeId, const raft::Entry& e) {
    if (e.index <= highest_applied) return;
    highest_applied = e.index;
    if (!e.data.empty()) ++writes_committed;  // empty entries are new leaders' no-ops
  });

  out << "grape demo: a simulated 5-node Raft cluster (seed " << seed << ")\n"
      << "Virtual time; election timeout 150-300 ms, heartbeat 50 ms, pre-vote and check-quorum on.\n"
      << "A client sends a write every 20 ms to the current leader.\n\n";

  out << "1. Start-up: all five nodes are followers; the first to time out campaigns.\n";
  world.run_until(has_leader, seconds(5));
  Client client;
  client.schedule_next(world);
  world.run_for(seconds(2));
  narrator.say(world.now(), std::to_string(client.proposed) + " writes proposed; commit index is " +
                                std::to_string(world.max_commit_index().value) + ".");

  out << "\n2. The leader crashes.\n";
  const NodeId first_leader = *world.leader();
  world.crash(first_leader);
  const VirtualTime crashed_at = world.now();
  world.run_until(has_leader, seconds(5));
  narrator.say(world.now(), "a new leader took over " +
                                std::to_string((world.now() - crashed_at).ms()) +
                                " ms after the crash; writes continue.");
  world.run_for(seconds(1));
  world.restart(first_leader);
  world.run_for(seconds(1));
  narrator.say(world.now(), name(first_leader) + " has caught up: its commit index is " +
                                std::to_string(world.raft(first_leader)->log().committed().value) +
                                " like the leader's " +
                                std::to_string(world.max_commit_index().value) + ".");

  out << "\n3. A partition cuts the leader and one follower off from the other three.\n";
  const NodeId second_leader = *world.leader();
  NodeId buddy = second_leader == NodeId(1) ? NodeId(2) : NodeId(1);
  std::vector<NodeId> majority;
  for (NodeId id : world.node_ids()) {
    if (id != second_leader && id != buddy) majority.push_back(id);
  }
  world.partition({{second_leader, buddy}, majority});
  const Term term_before = world.stats().max_term;
  world.run_for(seconds(3));
  narrator.say(world.now(), "the majority side kept committing (commit index " +
                                std::to_string(world.max_commit_index().value) +
                                "); the minority side never won an election: pre-vote kept it "
                                "from raising terms (max term went from " +
                                std::to_string(term_before.value) + " to " +
                                std::to_string(world.stats().max_term.value) + ").");
  world.heal_all();
  world.run_for(seconds(2));
  client.stopped = true;
  world.run_for(seconds(1));  // let the last commits reach every follower

  out << "\n4. Summary.\n";
  const WorldStats& stats = world.stats();
  out << "  leaders elected: " << stats.elections << ", highest term: " << stats.max_term
      << "\n  writes proposed: " << client.proposed << ", committed: " << writes_committed
      << "; the other " << client.proposed - writes_committed
      << " were proposed to a leader that then crashed or was cut off: never acknowledged, they"
      << " were discarded, as Raft allows"
      << "\n  messages sent: " << stats.messages_sent << ", events simulated: " << stats.events
      << " over " << seconds_text(world.now()) << " of virtual time\n";
  bool identical = true;
  const raft::Raft* leader = world.raft(*world.leader());
  for (NodeId id : world.node_ids()) {
    identical = identical && world.raft(id)->log().committed() == leader->log().committed();
  }
  out << "  all five nodes hold the same committed log: " << (identical ? "yes" : "NO") << "\n";
  const bool safe = world.checks_passed();
  out << "  safety checks (election safety, log matching, leader completeness, state machine "
         "safety, leader append-only): "
      << (safe ? "all held" : "VIOLATED: " + world.failure_report()) << "\n";
  out << "  trace hash " << std::hex << std::setw(16) << std::setfill('0') << world.trace_hash()
      << std::dec << std::setfill(' ') << " (run it again with --seed " << seed
      << ": the same hash, event for event)\n";
  return DemoResult{safe && identical, world.trace_hash()};
}

}  // namespace grape::sim
