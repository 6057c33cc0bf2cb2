#include "sim/shrink.h"

#include <algorithm>

#include "sim/runner.h"

namespace grape::sim {

namespace {

class Shrinker {
 public:
  Shrinker(uint64_t seed, const ShrinkOptions& options) : seed_(seed), options_(options) {}

  // Whether `candidate` still fails with `property_` (the first run sets it).
  bool fails(const Scenario& candidate) {
    if (runs_ >= options_.max_runs) return false;
    ++runs_;
    const RunResult result = run_scenario(candidate, seed_);
    const bool failed = result.verdict == Verdict::kFail &&
                        (property_.empty() || result.violations.front().property == property_);
    if (failed && property_.empty()) property_ = result.violations.front().property;
    if (options_.progress) options_.progress(runs_, candidate.faults.size(), failed);
    return failed;
  }

  // ddmin: try dropping chunks of the timeline, finer and finer.
  void shrink_faults(Scenario& best) {
    size_t chunks = 2;
    while (best.faults.size() >= 1 && runs_ < options_.max_runs) {
      const size_t n = best.faults.size();
      chunks = std::min(chunks, n);
      const size_t size = (n + chunks - 1) / chunks;
      bool reduced = false;
      for (size_t start = 0; start < n && !reduced; start += size) {
        Scenario candidate = best;
        candidate.faults.erase(
            candidate.faults.begin() + static_cast<std::ptrdiff_t>(start),
            candidate.faults.begin() + static_cast<std::ptrdiff_t>(std::min(n, start + size)));
        if (fails(candidate)) {
          best = std::move(candidate);
          chunks = std::max<size_t>(chunks - 1, 2);
          reduced = true;
        }
      }
      if (reduced) continue;
      if (chunks >= n) break;  // single steps tried: 1-minimal
      chunks = std::min(n, chunks * 2);
    }
  }

  // Fewer clients, fewer keys, a shorter workload and run, each kept only if it still fails.
  void shrink_workload_and_run(Scenario& best) {
    auto try_change = [&](auto change) {
      Scenario candidate = best;
      if (!change(candidate)) return false;
      if (!fails(candidate)) return false;
      best = std::move(candidate);
      return true;
    };
    if (best.workload) {
      while (try_change([](Scenario& s) {
        if (s.workload->clients <= 1) return false;
        s.workload->clients /= 2;
        return true;
      })) {
      }
      while (try_change([](Scenario& s) {
        if (s.workload->keys <= 1) return false;
        s.workload->keys /= 2;
        return true;
      })) {
      }
    }
    // Stop the run earlier (never before the last fault).
    Duration last_fault;
    for (const FaultStep& step : best.faults) last_fault = std::max(last_fault, step.at);
    while (try_change([&](Scenario& s) {
      const Duration shorter{s.run_until.ns * 3 / 4};
      if (shorter <= last_fault + milliseconds(100) || shorter < milliseconds(500)) return false;
      s.run_until = shorter;
      if (s.workload && s.workload->until && *s.workload->until > shorter)
        s.workload->until = shorter;
      if (s.nemesis && s.nemesis->until && *s.nemesis->until > shorter) s.nemesis->until = shorter;
      return true;
    })) {
    }
  }

  int runs() const { return runs_; }
  const std::string& property() const { return property_; }

 private:
  uint64_t seed_;
  const ShrinkOptions& options_;
  int runs_ = 0;
  std::string property_;
};

}  // namespace

Expected<ShrinkResult, std::string> shrink_scenario(const Scenario& scenario, uint64_t seed,
                                                    const ShrinkOptions& options) {
  Shrinker shrinker(seed, options);
  if (!shrinker.fails(scenario)) {
    return Unexpected(std::string("the scenario passes with seed ") + std::to_string(seed) +
                      ": nothing to shrink");
  }
  ShrinkResult result;
  Scenario best = scenario;
  result.faults_before = materialize_faults(scenario, seed).size();
  if (best.nemesis) {
    // The nemesis's steps made explicit replay the same run (the same draws, the same times).
    Scenario explicit_faults = best;
    explicit_faults.faults = materialize_faults(best, seed);
    explicit_faults.nemesis.reset();
    if (shrinker.fails(explicit_faults)) best = std::move(explicit_faults);
  }
  shrinker.shrink_faults(best);
  shrinker.shrink_workload_and_run(best);
  result.minimal = std::move(best);
  result.minimal.name += "-min";
  result.minimal.seed = seed;
  result.property = shrinker.property();
  result.runs = shrinker.runs();
  result.faults_after = result.minimal.faults.size();
  return result;
}

}  // namespace grape::sim
