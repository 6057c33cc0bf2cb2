#pragma once
// The peer wire format: Raft messages serialized with cereal's portable binary archive, carried in
// frames that say how long they are, which format version wrote them and what they hold, guarded
// by CRC32C. A reader that meets anything else (a bad checksum, an unknown version, a frame
// larger than the limit, a payload that does not decode) gets an error saying which: the runtime
// then closes that one connection, never the process.
//
// Frame (little endian):  u32 payload length | u8 version | u8 kind | u16 zero | u32 crc | payload
//   crc: CRC32C of the 8 header bytes before it and of the payload.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/expected.h"
#include "core/node/node.h"
#include "core/raft/types.h"

namespace grape::net {

// 2: many groups (kBatch, forwarded requests name their group).
inline constexpr uint8_t kWireVersion = 2;
inline constexpr size_t kFrameHeaderBytes = 12;
inline constexpr uint32_t kFrameBytesMax = 64u << 20;  // a snapshot chunk or an append batch

enum class FrameKind : uint8_t {
  kRaft = 1,       // one raft::Message
  kHandshake = 2,  // the peer handshake (handshake.h)
  // A client request a node forwards to the leader, and the leader's answer (see below).
  kForward = 3,
  kForwardReply = 4,
  // A node starting with an empty data dir asks its peers whether it has been a member before
  // (payload: u64 node id), and they answer (u64 node id, u8 1 if it has). See runtime.cc.
  kMemberQuery = 5,
  kMemberAnswer = 6,
  // Everything one host sends a peer in one Ready: many groups' Raft messages and placement
  // controls (batch_wire.h).
  kBatch = 7,
  // A node joining a sharded cluster asks a peer for the cluster's parameters (empty payload),
  // and a peer that knows them answers (batch_wire.h's ClusterParams; an empty payload: it does
  // not know them yet).
  kClusterQuery = 8,
  kClusterAnswer = 9,
};
inline constexpr uint8_t kFrameKindMax = 9;

struct Frame {
  FrameKind kind = FrameKind::kRaft;
  Bytes payload;
};

Bytes encode_frame(FrameKind kind, std::span<const std::byte> payload);

// Splits a byte stream into frames: feed what the socket read, then take frames until it says
// it needs more. After an error the stream is unusable (close the connection).
class FrameReader {
 public:
  explicit FrameReader(uint32_t frame_bytes_max = kFrameBytesMax) : max_(frame_bytes_max) {}
  void feed(std::span<const std::byte> bytes);
  // A frame, nullopt when more bytes are needed, or an error naming what is wrong.
  Expected<std::optional<Frame>, std::string> next();
  size_t buffered() const { return buffer_.size() - start_; }

 private:
  uint32_t max_;
  Bytes buffer_;
  size_t start_ = 0;
};

Bytes encode_message(const raft::Message& message);
// Never throws and never allocates more than the payload could hold.
Expected<raft::Message, std::string> decode_message(std::span<const std::byte> payload);

// Many messages in one archive (u32 count, then each): a batch of a thousand heartbeats costs one
// stream, not a thousand.
Bytes encode_messages(std::span<const raft::Message* const> messages);
Expected<std::vector<raft::Message>, std::string> decode_messages(std::span<const std::byte> payload);

// A client request forwarded to the leader by the node that received it: the leader answers with
// a ForwardedReply carrying the same id.
// Encoding: u64 id | u64 group | u64 epoch | the kv command (kv.h's encoding).
struct ForwardedRequest {
  uint64_t id = 0;
  kv::Command command;
  GroupId group{1};
  Epoch epoch;  // sharded: the epoch of the route entry the sender used
};
// u64 id | u8 status | u64 leader hint | u64 index | u8 ok | u8 has value | u32 size | value
// | u64 group | u8 has route | route (batch_wire.h)
struct ForwardedReply {
  uint64_t id = 0;
  node::ReplyStatus status = node::ReplyStatus::kOk;
  NodeId leader_hint;
  LogIndex index;
  kv::Result result;
  GroupId group{1};
  std::optional<shard::RouteEntry> route;  // sharded redirects: the newer entry
};
Bytes encode_forwarded_request(const ForwardedRequest& request);
Expected<ForwardedRequest, std::string> decode_forwarded_request(std::span<const std::byte> payload);
Bytes encode_forwarded_reply(const ForwardedReply& reply);
Expected<ForwardedReply, std::string> decode_forwarded_reply(std::span<const std::byte> payload);

}  // namespace grape::net
