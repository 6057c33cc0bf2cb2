// The multi-group wire format (net/batch_wire.h): a batch of Raft messages of many groups and
// placement controls, forwarded requests and replies naming their group and route, and the
// cluster's parameters survive a round trip; a batch whose messages claim another sender is
// refused; truncated or random payloads decode to errors, never a crash.

#include <gtest/gtest.h>

#include "core/base/rng.h"
#include "net/batch_wire.h"
#include "net/wire.h"

namespace grape::net {
namespace {

node::PeerBatch sample_batch() {
  node::PeerBatch batch{NodeId(2), NodeId(5), {}};
  for (uint64_t g = 1; g <= 4; ++g) {
    raft::Message m;
    m.type = g % 2 ? raft::MessageType::kHeartbeat : raft::MessageType::kAppend;
    m.from = NodeId(2);
    m.to = NodeId(5);
    m.term = Term(g);
    m.commit = LogIndex(10 * g);
    if (g == 2) m.entries.push_back(raft::Entry{Term(2), LogIndex(7), raft::EntryType::kNormal, to_bytes("x")});
    batch.messages.push_back(node::GroupMessage{GroupId(g), m, {}});
  }
  shard::Control move;
  move.kind = shard::ControlKind::kMove;
  move.move_id = 77;
  move.shard = 9;
  move.from = NodeId(1);
  move.to = NodeId(5);
  move.initial_voters = {NodeId(1), NodeId(2), NodeId(3)};
  move.cancel = true;
  raft::Message envelope;
  envelope.from = NodeId(2);
  envelope.to = NodeId(5);
  batch.messages.push_back(node::GroupMessage{GroupId(11), envelope, move});
  shard::Control routes;
  routes.kind = shard::ControlKind::kRoute;
  routes.routes.push_back(shard::RouteEntry{3, Epoch(4), {NodeId(1), NodeId(5)}, NodeId(5)});
  routes.loads = {{3, 1000, 250}, {4, 7, 0}};
  batch.messages.push_back(node::GroupMessage{GroupId(1), envelope, routes});
  return batch;
}

TEST(BatchWire, ABatchOfManyGroupsAndControlsRoundTrips) {
  const node::PeerBatch batch = sample_batch();
  auto decoded = decode_batch(encode_batch(batch), NodeId(2), NodeId(5));
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  EXPECT_EQ(*decoded, batch);  // Raft messages first, then controls: as sample_batch() lists them
}

TEST(BatchWire, MessagesThatClaimAnotherSenderAreRefused) {
  const Bytes encoded = encode_batch(sample_batch());
  auto decoded = decode_batch(encoded, NodeId(3), NodeId(5));
  ASSERT_FALSE(decoded.has_value());
  EXPECT_NE(decoded.error().find("claims to be from n2"), std::string::npos) << decoded.error();
  EXPECT_FALSE(decode_batch(encoded, NodeId(2), NodeId(6)).has_value());
}

TEST(BatchWire, TruncatedAndRandomPayloadsAreErrorsNeverCrashes) {
  const Bytes encoded = encode_batch(sample_batch());
  for (size_t cut = 0; cut < encoded.size(); ++cut) {
    EXPECT_FALSE(decode_batch(std::span(encoded).first(cut), NodeId(2), NodeId(5)).has_value()) << cut;
  }
  Rng rng(17);
  int refused = 0;
  for (int i = 0; i < 2000; ++i) {
    Bytes garbage(static_cast<size_t>(rng.between(0, 200)));
    for (std::byte& b : garbage) b = std::byte(rng.between(0, 255));
    refused += decode_batch(garbage, NodeId(2), NodeId(5)).has_value() ? 0 : 1;
    (void)decode_cluster_params(garbage);
  }
  EXPECT_GT(refused, 1990);
}

TEST(BatchWire, ForwardedRequestsAndRepliesCarryTheirGroupAndRoute) {
  ForwardedRequest request{42, kv::Command{kv::Op::kPut, "k", "v", {}}, GroupId(300), Epoch(6)};
  auto back = decode_forwarded_request(encode_forwarded_request(request));
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(back->group, GroupId(300));
  EXPECT_EQ(back->epoch, Epoch(6));
  EXPECT_EQ(back->command.key, "k");
  ForwardedReply reply;
  reply.id = 42;
  reply.status = node::ReplyStatus::kStaleEpoch;
  reply.group = GroupId(300);
  reply.route = shard::RouteEntry{298, Epoch(7), {NodeId(1), NodeId(2), NodeId(4)}, NodeId(4)};
  auto reply_back = decode_forwarded_reply(encode_forwarded_reply(reply));
  ASSERT_TRUE(reply_back.has_value()) << reply_back.error();
  EXPECT_EQ(reply_back->status, node::ReplyStatus::kStaleEpoch);
  EXPECT_EQ(reply_back->route, reply.route);
  reply.route.reset();
  reply_back = decode_forwarded_reply(encode_forwarded_reply(reply));
  ASSERT_TRUE(reply_back.has_value());
  EXPECT_FALSE(reply_back->route.has_value());
}

TEST(BatchWire, ClusterParametersRoundTrip) {
  ClusterParams params{1024, 3, {{NodeId(1), 1}, {NodeId(2), 2}}, {{NodeId(4), "127.0.0.1:7004"}}};
  auto back = decode_cluster_params(encode_cluster_params(params));
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(*back, params);
}

}  // namespace
}  // namespace grape::net
