// A peer's send queue stays within its bounds whatever is pushed, and the reconnect back-off grows
// exponentially to its cap, with jitter, and starts over after a success.

#include <algorithm>

#include <gtest/gtest.h>

#include "net/peer_link.h"

namespace grape::net {
namespace {

TEST(SendQueue, StaysWithinItsFrameAndByteBoundsAndCountsDrops) {
  SendQueue q(3, 100);
  EXPECT_TRUE(q.push(Bytes(40)));
  EXPECT_TRUE(q.push(Bytes(40)));
  EXPECT_FALSE(q.push(Bytes(30)));  // 110 bytes: over the byte bound
  EXPECT_TRUE(q.push(Bytes(20)));
  EXPECT_FALSE(q.push(Bytes(0)));   // a fourth frame: over the frame bound
  EXPECT_EQ(q.frames(), 3u);
  EXPECT_EQ(q.bytes(), 100u);
  EXPECT_EQ(q.dropped(), 2u);
  EXPECT_EQ(q.front().size(), 40u);
  q.pop();
  EXPECT_EQ(q.bytes(), 60u);
  EXPECT_TRUE(q.push(Bytes(40)));
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(SendQueue, AStalledPeerNeverGrowsItPastTheBound) {
  SendQueue q(1000, 1 << 20);
  for (int i = 0; i < 100000; ++i) (void)q.push(Bytes(512));
  EXPECT_LE(q.bytes(), size_t{1} << 20);
  EXPECT_LE(q.frames(), 1000u);
  EXPECT_EQ(q.dropped(), 100000u - q.frames());
}

TEST(Backoff, GrowsExponentiallyWithJitterToItsCapAndResets) {
  Backoff b(50, 2000);
  Rng rng(1);
  int64_t expected_ceiling = 50;
  for (int i = 0; i < 10; ++i) {
    const int64_t wait = b.next(rng);
    EXPECT_GE(wait, expected_ceiling / 2) << "attempt " << i;
    EXPECT_LE(wait, expected_ceiling) << "attempt " << i;
    expected_ceiling = std::min<int64_t>(2000, expected_ceiling * 2);
  }
  for (int i = 0; i < 100; ++i) EXPECT_LE(b.next(rng), 2000);  // never past the cap, no overflow
  b.reset();
  EXPECT_LE(b.next(rng), 50);
}

}  // namespace
}  // namespace grape::net
