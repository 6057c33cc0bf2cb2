#include "core/storage/crc32c.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/rng.h"

namespace grape::storage {
namespace {

std::vector<std::byte> filled(size_t n, uint8_t value) {
  return std::vector<std::byte>(n, std::byte{value});
}

std::span<const std::byte> text(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::vector<std::byte> random_bytes(Rng& rng, size_t n) {
  std::vector<std::byte> out(n);
  for (std::byte& b : out) b = std::byte{static_cast<uint8_t>(rng.below(256))};
  return out;
}

// RFC 3720 (iSCSI), appendix B.4, plus the customary check value of "123456789".
TEST(Crc32c, MatchesRfc3720TestVectors) {
  std::vector<std::byte> ascending(32);
  for (size_t i = 0; i < ascending.size(); ++i) ascending[i] = std::byte{static_cast<uint8_t>(i)};

  EXPECT_EQ(crc32c(filled(32, 0x00)), 0x8A9136AAu);
  EXPECT_EQ(crc32c(filled(32, 0xFF)), 0x62A8AB43u);
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c(text("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c(std::span<const std::byte>()), 0u);
}

TEST(Crc32c, PortableMatchesRfc3720TestVectors) {
  std::vector<std::byte> ascending(32);
  for (size_t i = 0; i < ascending.size(); ++i) ascending[i] = std::byte{static_cast<uint8_t>(i)};

  EXPECT_EQ(crc32c_portable(filled(32, 0x00)), 0x8A9136AAu);
  EXPECT_EQ(crc32c_portable(filled(32, 0xFF)), 0x62A8AB43u);
  EXPECT_EQ(crc32c_portable(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c_portable(text("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(std::span<const std::byte>()), 0u);
}

// Lengths 0..300 (every tail length of the 8-byte loops) at every alignment 0..7 of the start.
TEST(Crc32c, HardwareAndPortableAgreeOnRandomBuffers) {
  Rng rng(20260301);
  const std::vector<std::byte> buffer = random_bytes(rng, 4096 + 8);
  size_t compared = 0;
  for (size_t align = 0; align < 8; ++align) {
    for (size_t length = 0; length <= 300; ++length) {
      const std::span<const std::byte> data(buffer.data() + align, length);
      ASSERT_EQ(crc32c(data), crc32c_portable(data)) << "length " << length << " align " << align;
      ++compared;
    }
  }
  for (size_t length : {1023u, 1024u, 1025u, 4095u, 4096u}) {
    const std::span<const std::byte> data(buffer.data() + 3, length);
    ASSERT_EQ(crc32c(data), crc32c_portable(data)) << "length " << length;
    ++compared;
  }
  EXPECT_EQ(compared, 8u * 301u + 5u);
  // Which path crc32c took: on x86-64 with SSE4.2 the comparison above tested the instruction.
  RecordProperty("hardware", crc32c_is_hardware() ? "yes" : "no");
}

TEST(Crc32c, IncrementalExtensionEqualsOneShot) {
  Rng rng(7);
  const std::vector<std::byte> data = random_bytes(rng, 1000);
  const std::span<const std::byte> all(data);
  const uint32_t whole = crc32c(all);
  ASSERT_EQ(whole, crc32c_portable(all));
  for (size_t split : {0u, 1u, 7u, 8u, 9u, 500u, 999u, 1000u}) {
    const uint32_t head = crc32c(all.first(split));
    EXPECT_EQ(crc32c(all.subspan(split), head), whole) << "split at " << split;
    EXPECT_EQ(crc32c_portable(all.subspan(split), crc32c_portable(all.first(split))), whole)
        << "split at " << split;
  }
  // Many small random pieces, alternating the two implementations.
  uint32_t crc = 0;
  size_t pos = 0;
  bool hardware = true;
  while (pos < data.size()) {
    const size_t n = std::min<size_t>(data.size() - pos, rng.below(20));
    crc = hardware ? crc32c(all.subspan(pos, n), crc) : crc32c_portable(all.subspan(pos, n), crc);
    hardware = !hardware;
    pos += n;
  }
  EXPECT_EQ(crc, whole);
}

TEST(Crc32c, DetectsSingleBitFlips) {
  Rng rng(11);
  std::vector<std::byte> data = random_bytes(rng, 64);
  const uint32_t original = crc32c(data);
  for (size_t bit = 0; bit < data.size() * 8; ++bit) {
    data[bit / 8] ^= std::byte{static_cast<uint8_t>(1u << (bit % 8))};
    EXPECT_NE(crc32c(data), original) << "bit " << bit;
    data[bit / 8] ^= std::byte{static_cast<uint8_t>(1u << (bit % 8))};
  }
  EXPECT_EQ(crc32c(data), original);
}

}  // namespace
}  // namespace grape::storage
