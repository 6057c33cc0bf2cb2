#pragma once
// The design's one hash: 64-bit XXH3 (Debian's libxxhash). Everything in grape that hashes (shard
// placement, trace hashes, log-prefix digests) goes through this header.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace grape {

uint64_t hash64(const void* data, size_t size, uint64_t seed = 0);

inline uint64_t hash64(std::string_view text, uint64_t seed = 0) {
  return hash64(text.data(), text.size(), seed);
}

// Folds a value into a running digest (order matters): digest' = H(digest || value).
inline uint64_t hash_combine(uint64_t digest, uint64_t value) {
  const uint64_t words[2] = {digest, value};
  return hash64(words, sizeof(words));
}

// An incremental 64-bit digest over a stream of words and byte strings.
class Hasher {
 public:
  Hasher& add(uint64_t value) {
    digest_ = hash_combine(digest_, value);
    return *this;
  }
  Hasher& add_bytes(const void* data, size_t size) {
    digest_ = hash64(data, size, digest_);
    return *this;
  }
  uint64_t digest() const { return digest_; }

 private:
  uint64_t digest_ = 0x6772617065ULL;  // "grape"
};

}  // namespace grape
