#pragma once
// Chaos: what FoundationDB calls BUGGIFY, for grape's simulator. A scenario says what faults to
// inject; chaos varies everything the scenario leaves open, per seed, so that a sweep visits the
// corners a kind simulator never reaches (sim-fidelity.md): tiny append batches and in-flight
// windows, a one-entry apply budget, applying that takes time, a small cap on pending requests,
// slow syncs with a long tail,
// timers that fire in bursts after a pause, rare multi-second message delays and late replays,
// crashes timed at protocol moments (before a sync, after it, after the sends), and links that
// clog and then release their backlog at once.
//
// Everything is drawn from the run's seed, so a seed replays identically. Per-fault choices (does
// this crash strike at a kill point? is this latency fault a clog?) hash the seed with the fault's
// time and node rather than drawing in order, so that the shrinker, which deletes faults, leaves
// the choices of the remaining ones unchanged.
//
// Half the seeds run with the nominal knobs (chaos off), so that a sweep also shows how the
// defaults behave; `grape scenario run --no-chaos` turns it off for one run.

#include <cstdint>
#include <string>

#include "sim/network.h"
#include "sim/time.h"
#include "sim/world.h"

namespace grape::sim {

struct Chaos {
  bool enabled = false;
  size_t append_entries_max = 64;
  size_t inflight_appends_max = 256;
  size_t apply_bytes_max = 4 * 1024 * 1024;
  size_t pending_requests_max = 100'000;
  int resume_ticks_max = 1;
  Duration apply_entry_cost;
  double disk_slow_sync_rate = 0.0;
  Duration disk_slow_sync_max;
  NetworkChaos network;
  double kill_point_rate = 0.0;  // share of crash faults that strike at a protocol moment
  double clog_rate = 0.0;        // share of latency faults that clog the links instead
  // Snapshots far more often than the scenario's snapshot_every (never when it says 0), sent in
  // tiny chunks: transfers, compaction and restarts from snapshots in most runs.
  uint64_t snapshot_every = 0;  // 0: the scenario's
  size_t snapshot_chunk_bytes = 0;  // 0: the default
};

// The chaos of one run (deterministic in the seed).
Chaos draw_chaos(uint64_t seed);
// Sets the world's knobs from `chaos` (a no-op when it is off).
void apply_chaos(const Chaos& chaos, WorldOptions& options);

// For a crash of `node` scheduled at `at`: the kill point it waits for, or kNone to crash at once.
World::KillPoint kill_point_for(const Chaos& chaos, uint64_t seed, Duration at, NodeId node);
// For a latency fault at `at`: whether it clogs its links instead (messages held until its end).
bool clog_for(const Chaos& chaos, uint64_t seed, Duration at);

// One line for people: the knobs that differ from the defaults ("off" when disabled).
std::string describe(const Chaos& chaos);

}  // namespace grape::sim
