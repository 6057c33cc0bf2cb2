// The peer wire format: every message type survives a round trip; frames split across reads are
// reassembled; a bad checksum, version, kind or an oversized frame is an error, never a crash;
// and payloads of garbage (random, or forged to claim huge lists) decode to errors without
// allocating more than they hold.

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/rng.h"
#include "net/wire.h"

namespace grape::net {
namespace {

raft::Message full_message(raft::MessageType type) {
  raft::Message m;
  m.type = type;
  m.from = NodeId(3);
  m.to = NodeId(7);
  m.term = Term(12);
  m.log_term = Term(11);
  m.index = LogIndex(1000);
  m.commit = LogIndex(998);
  for (uint64_t i = 0; i < 3; ++i) {
    raft::Entry e;
    e.term = Term(11 + i % 2);
    e.index = LogIndex(1001 + i);
    e.type = i == 1 ? raft::EntryType::kConfChange : raft::EntryType::kNormal;
    e.data = to_bytes("payload " + std::to_string(i));
    m.entries.push_back(e);
  }
  m.entries.push_back(raft::Entry{Term(12), LogIndex(1004), raft::EntryType::kNormal, {}});
  m.reject = true;
  m.reject_hint = LogIndex(990);
  m.transfer = true;
  m.context = 0xDEADBEEFCAFEull;
  m.conf_state.voters = {NodeId(1), NodeId(2), NodeId(3)};
  m.conf_state.voters_outgoing = {NodeId(1), NodeId(4)};
  m.conf_state.learners = {NodeId(5)};
  m.conf_state.learners_next = {NodeId(4)};
  m.offset = 65536;
  m.data = Bytes(300, std::byte{0xAB});
  m.done = true;
  return m;
}

TEST(Wire, EveryMessageTypeRoundTrips) {
  for (int t = 0; t < raft::kMessageTypeCount; ++t) {
    const raft::Message m = full_message(static_cast<raft::MessageType>(t));
    auto back = decode_message(encode_message(m));
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(*back, m) << "type " << t;
  }
  const raft::Message empty;
  auto back = decode_message(encode_message(empty));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, empty);
}

TEST(Wire, FramesSplitAcrossReadsAreReassembled) {
  Bytes stream;
  std::vector<raft::Message> sent;
  for (int t = 0; t < raft::kMessageTypeCount; ++t) {
    sent.push_back(full_message(static_cast<raft::MessageType>(t)));
    const Bytes frame = encode_frame(FrameKind::kRaft, encode_message(sent.back()));
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  FrameReader reader;
  std::vector<raft::Message> received;
  for (std::byte b : stream) {  // one byte per read: the worst split
    reader.feed(std::span<const std::byte>(&b, 1));
    for (;;) {
      auto frame = reader.next();
      ASSERT_TRUE(frame.has_value()) << frame.error();
      if (!*frame) break;
      EXPECT_EQ((*frame)->kind, FrameKind::kRaft);
      auto m = decode_message((*frame)->payload);
      ASSERT_TRUE(m.has_value()) << m.error();
      received.push_back(*m);
    }
  }
  EXPECT_EQ(received, sent);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(Wire, EveryFlippedBitOfAFrameIsAnErrorOrAWaitNeverAWrongMessage) {
  const raft::Message m = full_message(raft::MessageType::kAppend);
  const Bytes frame = encode_frame(FrameKind::kRaft, encode_message(m));
  size_t errors = 0;
  for (size_t byte = 0; byte < frame.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = frame;
      bad[byte] ^= std::byte{static_cast<uint8_t>(1u << bit)};
      FrameReader reader;
      reader.feed(bad);
      auto next = reader.next();
      if (!next.has_value()) {
        ++errors;
        continue;
      }
      // A flipped length may make the reader wait for bytes that never come (the runtime's
      // timeout closes the connection); it must never hand out a frame.
      EXPECT_FALSE(next->has_value()) << "byte " << byte << " bit " << bit;
      EXPECT_LT(byte, 4u) << "only the length can make it wait";
    }
  }
  EXPECT_GT(errors, frame.size() * 8 - 32);
}

TEST(Wire, OversizedVersionAndKindAreRefused) {
  Bytes frame = encode_frame(FrameKind::kRaft, to_bytes("x"));
  {
    FrameReader reader(16);
    reader.feed(encode_frame(FrameKind::kRaft, Bytes(17, std::byte{1})));
    auto next = reader.next();
    ASSERT_FALSE(next.has_value());
    EXPECT_NE(next.error().find("limit"), std::string::npos) << next.error();
  }
  {
    Bytes bad = frame;
    bad[4] = std::byte{9};
    FrameReader reader;
    reader.feed(bad);
    auto next = reader.next();
    ASSERT_FALSE(next.has_value());
    EXPECT_NE(next.error().find("version"), std::string::npos) << next.error();
  }
  {
    Bytes bad = frame;
    bad[5] = std::byte{77};
    FrameReader reader;
    reader.feed(bad);
    ASSERT_FALSE(reader.next().has_value());
  }
}

TEST(Wire, GarbagePayloadsDecodeToErrorsNeverCrashes) {
  Rng rng(7);
  size_t decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes garbage(rng.below(200));
    for (std::byte& b : garbage) b = static_cast<std::byte>(rng.below(256));
    auto m = decode_message(garbage);
    if (m.has_value()) ++decoded;
  }
  // Random bytes almost never form a whole message with nothing left over.
  EXPECT_LT(decoded, 100u);
}

TEST(Wire, AForgedHugeListLengthIsRefusedWithoutAllocatingIt) {
  raft::Message m = full_message(raft::MessageType::kAppend);
  m.entries.clear();
  Bytes payload = encode_message(m);
  // The entry count sits after type (1), from, to (8 + 8) and four u64 positions (32): offset 49.
  const uint64_t huge = uint64_t{1} << 60;
  for (int i = 0; i < 8; ++i) payload[49 + i] = static_cast<std::byte>(huge >> (8 * i));
  auto back = decode_message(payload);
  ASSERT_FALSE(back.has_value());
  EXPECT_NE(back.error().find("claims"), std::string::npos) << back.error();
}

}  // namespace
}  // namespace grape::net
