#include "sim/chaos.h"

#include <sstream>
#include <utility>

#include "core/base/hash.h"
#include "core/base/rng.h"

namespace grape::sim {

namespace {
constexpr uint64_t kChaosStream = 0xB066;  // "bugg"
constexpr uint64_t kKillSalt = 0x4B11;
constexpr uint64_t kClogSalt = 0xC106;

template <class T, size_t N>
T pick(Rng& rng, const T (&choices)[N]) {
  return choices[rng.below(N)];
}

// A uniform draw in [0, 1) from a hash: stable per (seed, salt, at, node).
double unit_hash(uint64_t seed, uint64_t salt, Duration at, uint64_t node) {
  const uint64_t h =
      hash_combine(hash_combine(hash_combine(seed, salt), static_cast<uint64_t>(at.ns)), node);
  return static_cast<double>(h >> 11) / static_cast<double>(uint64_t{1} << 53);
}
}  // namespace

Chaos draw_chaos(uint64_t seed) {
  Rng rng = Rng(seed).fork(kChaosStream);
  Chaos c;
  c.enabled = rng.chance(0.5);
  if (!c.enabled) return c;
  // Each knob is varied on its own with some probability, so that most runs mix a few odd
  // settings with nominal ones (FoundationDB activates each BUGGIFY point per run at random).
  // Batching and pipelining: tiny batches or a tiny window, never both (a scenario's throughput
  // expectations assume a working pipeline).
  static constexpr std::pair<size_t, size_t> kFlows[] = {{1, 256}, {64, 1}, {2, 4}, {4, 2}};
  static constexpr size_t kApplyBytes[] = {1, 64};
  static constexpr size_t kPending[] = {16, 64};
  if (rng.chance(0.6)) {
    const auto [batch, window] = pick(rng, kFlows);
    c.append_entries_max = batch;
    c.inflight_appends_max = window;
  }
  if (rng.chance(0.3)) c.apply_bytes_max = pick(rng, kApplyBytes);
  if (rng.chance(0.2)) c.pending_requests_max = pick(rng, kPending);
  if (rng.chance(0.5)) c.resume_ticks_max = static_cast<int>(rng.between(2, 10));
  if (rng.chance(0.3)) {
    // Slow applying comes in chunks, as etcd hands committed entries out a bounded batch at a
    // time: a node re-applying its log keeps ticking between the chunks.
    c.apply_entry_cost = microseconds(rng.between(100, 1000));
    static constexpr size_t kChunkBytes[] = {1, 64, 1024};
    c.apply_bytes_max = pick(rng, kChunkBytes);
  }
  if (rng.chance(0.3)) {
    c.disk_slow_sync_rate = 0.01;
    c.disk_slow_sync_max = milliseconds(rng.between(5, 25));
  }
  if (rng.chance(0.6)) {
    c.network.long_delay_rate = 1e-3;
    c.network.late_duplicate_rate = 1e-3;
  }
  c.kill_point_rate = rng.chance(0.7) ? 0.6 : 0.0;
  c.clog_rate = rng.chance(0.5) ? 0.5 : 0.0;
  static constexpr uint64_t kSnapshotEvery[] = {8, 32, 128};
  static constexpr size_t kChunkBytes[] = {16, 256};
  if (rng.chance(0.6)) c.snapshot_every = pick(rng, kSnapshotEvery);
  if (rng.chance(0.5)) c.snapshot_chunk_bytes = pick(rng, kChunkBytes);
  return c;
}

void apply_chaos(const Chaos& c, WorldOptions& o) {
  if (!c.enabled) return;
  o.append_entries_max = c.append_entries_max;
  o.inflight_appends_max = c.inflight_appends_max;
  o.apply_bytes_max = c.apply_bytes_max;
  o.pending_requests_max = c.pending_requests_max;
  o.resume_ticks_max = c.resume_ticks_max;
  o.apply_entry_cost = c.apply_entry_cost;
  o.disk_slow_sync_rate = c.disk_slow_sync_rate;
  o.disk_slow_sync_max = std::max(c.disk_slow_sync_max, o.disk_sync_max);
  o.network_chaos = c.network;
  if (c.snapshot_every > 0 && o.snapshot_every > 0) {
    o.snapshot_every = std::min(o.snapshot_every, c.snapshot_every);
  }
  if (c.snapshot_chunk_bytes > 0) o.snapshot_chunk_bytes = c.snapshot_chunk_bytes;
}

World::KillPoint kill_point_for(const Chaos& c, uint64_t seed, Duration at, NodeId node) {
  if (!c.enabled || c.kill_point_rate <= 0.0) return World::KillPoint::kNone;
  const double u = unit_hash(seed, kKillSalt, at, node.value);
  if (u >= c.kill_point_rate) return World::KillPoint::kNone;
  // Split the chosen share evenly over the three moments.
  const int which = static_cast<int>(u / c.kill_point_rate * 3.0);
  static constexpr World::KillPoint kPoints[] = {
      World::KillPoint::kBeforeSync, World::KillPoint::kAfterSync, World::KillPoint::kAfterSend};
  return kPoints[std::min(which, 2)];
}

bool clog_for(const Chaos& c, uint64_t seed, Duration at) {
  return c.enabled && unit_hash(seed, kClogSalt, at, 0) < c.clog_rate;
}

std::string describe(const Chaos& c) {
  if (!c.enabled) return "off";
  std::ostringstream out;
  const char* sep = "";
  auto item = [&](const char* name, auto value) {
    out << sep << name << "=" << value;
    sep = " ";
  };
  const Chaos nominal;
  if (c.append_entries_max != nominal.append_entries_max) item("batch", c.append_entries_max);
  if (c.inflight_appends_max != nominal.inflight_appends_max)
    item("window", c.inflight_appends_max);
  if (c.apply_bytes_max != nominal.apply_bytes_max) item("apply_bytes", c.apply_bytes_max);
  if (c.pending_requests_max != nominal.pending_requests_max)
    item("pending", c.pending_requests_max);
  if (c.resume_ticks_max != nominal.resume_ticks_max) item("resume_ticks", c.resume_ticks_max);
  if (c.apply_entry_cost.ns > 0) item("apply_us", c.apply_entry_cost.ns / 1000);
  if (c.disk_slow_sync_rate > 0) item("slow_sync", c.disk_slow_sync_rate);
  if (c.network.long_delay_rate > 0) item("long_delay", c.network.long_delay_rate);
  if (c.network.late_duplicate_rate > 0) item("late_dup", c.network.late_duplicate_rate);
  if (c.kill_point_rate > 0) item("kill_points", c.kill_point_rate);
  if (c.clog_rate > 0) item("clog", c.clog_rate);
  if (c.snapshot_every > 0) item("snapshot_every", c.snapshot_every);
  if (c.snapshot_chunk_bytes > 0) item("snapshot_chunk", c.snapshot_chunk_bytes);
  const std::string text = out.str();
  return text.empty() ? "on (nominal knobs)" : text;
}

}  // namespace grape::sim
