// The runtime's small parts on their own: node names and --initial-cluster parsing, the forwarded
// request and reply codec, percent-encoding, and the Prometheus rendering of metrics.

#include <gtest/gtest.h>

#include "net/http_server.h"
#include "net/metrics.h"
#include "net/runtime.h"
#include "net/wire.h"

namespace grape::net {
namespace {

TEST(RuntimeParts, NodeNamesAreNFollowedByAPositiveNumber) {
  EXPECT_EQ(parse_node_name("n1"), NodeId(1));
  EXPECT_EQ(parse_node_name("n42"), NodeId(42));
  for (const char* bad : {"", "n", "n0", "x1", "n1a", "N1", "n-1", "n12345678901234"}) {
    EXPECT_FALSE(parse_node_name(bad).has_value()) << bad;
  }
  EXPECT_EQ(node_name(NodeId(7)), "n7");
}

TEST(RuntimeParts, InitialClusterErrorsNameTheBadPart) {
  auto ok = parse_initial_cluster("n1=127.0.0.1:7001,n2=localhost:7002");
  ASSERT_TRUE(ok.has_value()) << ok.error();
  EXPECT_EQ(ok->size(), 2u);
  EXPECT_EQ(ok->at(NodeId(2)), "localhost:7002");
  struct Case {
    const char* text;
    const char* mentions;
  };
  for (const Case& c : {Case{"n1=127.0.0.1", "127.0.0.1"}, Case{"m1=1.2.3.4:5", "m1"},
                        Case{"n1=a:1,n1=b:2", "twice"}, Case{"n1", "id=host:port"},
                        Case{"n1=a:99999", "a:99999"}}) {
    auto bad = parse_initial_cluster(c.text);
    ASSERT_FALSE(bad.has_value()) << c.text;
    EXPECT_NE(bad.error().find(c.mentions), std::string::npos) << bad.error();
  }
}

TEST(RuntimeParts, ForwardedRequestsAndRepliesRoundTripAndRefuseGarbage) {
  const ForwardedRequest request{0xDEADBEEF12345678ull,
                                 kv::Command{kv::Op::kCas, "key", "new", std::string("old")}};
  auto decoded = decode_forwarded_request(encode_forwarded_request(request));
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  EXPECT_EQ(decoded->id, request.id);
  EXPECT_EQ(decoded->command, request.command);

  ForwardedReply reply{7, node::ReplyStatus::kOk, NodeId(3), LogIndex(12), kv::Result{false, "cur"}};
  Bytes bytes = encode_forwarded_reply(reply);
  auto back = decode_forwarded_reply(bytes);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(back->id, 7u);
  EXPECT_EQ(back->status, node::ReplyStatus::kOk);
  EXPECT_EQ(back->leader_hint, NodeId(3));
  EXPECT_EQ(back->index, LogIndex(12));
  EXPECT_EQ(back->result, reply.result);

  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(decode_forwarded_reply(std::span<const std::byte>(bytes).first(cut)).has_value())
        << "a reply cut at " << cut << " bytes decoded";
  }
  Bytes bad_status = bytes;
  bad_status[8] = std::byte{99};
  EXPECT_FALSE(decode_forwarded_reply(bad_status).has_value());
  EXPECT_FALSE(decode_forwarded_request(Bytes(5, std::byte{1})).has_value());
}

TEST(RuntimeParts, PercentDecodingRefusesBrokenEscapes) {
  EXPECT_EQ(percent_decode("a%2Fb%20c", false), "a/b c");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  for (const char* bad : {"%", "%2", "%zz", "abc%g1"}) {
    EXPECT_FALSE(percent_decode(bad, false).has_value()) << bad;
  }
  EXPECT_EQ(percent_decode(percent_encode("k/ey ?&=\x01\xff"), false), "k/ey ?&=\x01\xff");
}

TEST(RuntimeParts, HistogramsCountPerBucketAndRenderCumulatively) {
  Histogram h({0.001, 0.01, 0.1});
  for (double v : {0.0005, 0.001, 0.002, 0.05, 5.0}) h.observe(v);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_DOUBLE_EQ(h.sum(), 0.0005 + 0.001 + 0.002 + 0.05 + 5.0);
  // A bucket counts the values up to and including its bound; the last one is +Inf.
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{2, 1, 1, 1}));

  Metrics m;
  m.leader_changes = 3;
  m.replication_latency.observe(0.0002);
  m.observe_http("kv_put", 0.0001);
  MetricsGauges g;
  g.term = 9;
  g.peer_send_queue_frames["n2"] = 4;
  const std::string text = render_prometheus("n1", m, g);
  for (const char* line :
       {"grape_raft_term{node=\"n1\"} 9\n", "grape_raft_leader_changes_total{node=\"n1\"} 3\n",
        "# TYPE grape_replication_latency_seconds histogram\n",
        "grape_replication_latency_seconds_bucket{node=\"n1\",le=\"0.00025\"} 1\n",
        "grape_replication_latency_seconds_bucket{node=\"n1\",le=\"+Inf\"} 1\n",
        "grape_replication_latency_seconds_count{node=\"n1\"} 1\n",
        "grape_peer_send_queue_frames{node=\"n1\",peer=\"n2\"} 4\n",
        "grape_http_request_duration_seconds_count{node=\"n1\",route=\"kv_put\"} 1\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line;
  }
  EXPECT_NE(text.find("grape_replication_latency_seconds_bucket{node=\"n1\",le=\"0.0001\"} 0\n"),
            std::string::npos)
      << "buckets below the value count 0";
}

}  // namespace
}  // namespace grape::net
