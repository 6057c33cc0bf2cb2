#pragma once
// The one random generator of grape: xoshiro256** seeded through splitmix64. Its output is fixed by
// this file alone, never by the standard library, so a seed replays identically on any machine.
// Seeds are derived, not drawn: fork(stream) gives an independent generator per node or
// subsystem, so adding a consumer leaves the draws of the others unchanged.

#include <cstdint>

namespace grape {

class Rng {
 public:
  explicit Rng(uint64_t seed) : seed_(seed) {
    uint64_t x = seed;
    for (uint64_t& word : state_) word = splitmix64(x);
  }

  uint64_t seed() const { return seed_; }

  uint64_t next_u64() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, n), without modulo bias (Lemire's multiply-and-reject). n must be > 0.
  uint64_t below(uint64_t n) {
    __extension__ using U128 = unsigned __int128;  // a GNU type: fine on g++ and clang
    U128 m = static_cast<U128>(next_u64()) * n;
    auto low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = -n % n;
      while (low < threshold) {
        m = static_cast<U128>(next_u64()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform in [lo, hi] (both inclusive); lo <= hi.
  int64_t between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // True with probability p, decided on a 2^-53 grid so it is exact across machines.
  bool chance(double p) {
    if (p <= 0.0) return false;
    if (p >= 1.0) return true;
    constexpr uint64_t kGrid = uint64_t{1} << 53;
    return below(kGrid) < static_cast<uint64_t>(p * static_cast<double>(kGrid));
  }

  // An independent generator for a sub-stream (a node, a subsystem), derived from the seed only.
  Rng fork(uint64_t stream) const {
    uint64_t x = seed_ ^ (stream * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL);
    return Rng(splitmix64(x));
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  uint64_t seed_;
  uint64_t state_[4];
};

}  // namespace grape
