// The peer handshake: two nodes of one cluster with one token authenticate each other; a wrong
// token, another cluster, a peer that is not the one dialed, a replayed proof, messages out of
// order and garbage all fail with a reason, never a crash.

#include <string>

#include <gtest/gtest.h>

#include "core/base/rng.h"
#include "net/handshake.h"

namespace grape::net {
namespace {

Bytes challenge(uint8_t seed) {
  Bytes c(kChallengeBytes);
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<std::byte>(seed + 7 * i);
  return c;
}

struct Outcome {
  std::string dialer_error;
  std::string acceptor_error;
  std::optional<NodeId> dialer_peer;
  std::optional<NodeId> acceptor_peer;
};

// n1 dials n2; each side with its own cluster and token.
Outcome run(const std::string& cluster1, const std::string& token1, const std::string& cluster2,
            const std::string& token2, NodeId dialed = NodeId(2)) {
  Handshake dialer = Handshake::dialer(cluster1, token1, NodeId(1), dialed, challenge(1));
  Handshake acceptor = Handshake::acceptor(cluster2, token2, NodeId(2), challenge(2));
  Outcome out;
  auto step1 = acceptor.on_payload(dialer.start());
  if (!step1) {
    out.acceptor_error = step1.error();
    return out;
  }
  auto step2 = dialer.on_payload(step1->send);
  if (!step2) {
    out.dialer_error = step2.error();
    return out;
  }
  out.dialer_peer = step2->peer;
  auto step3 = acceptor.on_payload(step2->send);
  if (!step3) {
    out.acceptor_error = step3.error();
    return out;
  }
  out.acceptor_peer = step3->peer;
  return out;
}

TEST(PeerHandshake, SameClusterAndTokenAuthenticateBothWays) {
  const Outcome o = run("prod", "s3cret", "prod", "s3cret");
  EXPECT_EQ(o.dialer_peer, NodeId(2));
  EXPECT_EQ(o.acceptor_peer, NodeId(1));
  EXPECT_TRUE(o.dialer_error.empty() && o.acceptor_error.empty());
}

TEST(PeerHandshake, AWrongTokenIsCaughtByTheDialerBeforeItProvesAnything) {
  // The acceptor's proof fails at the dialer, which never proves anything with the wrong token.
  const Outcome o = run("prod", "s3cret", "prod", "other");
  EXPECT_FALSE(o.dialer_peer.has_value());
  EXPECT_NE(o.dialer_error.find("proof is wrong"), std::string::npos) << o.dialer_error;
}

TEST(PeerHandshake, AnotherClusterIsRefusedByName) {
  const Outcome o = run("staging", "s3cret", "prod", "s3cret");
  EXPECT_NE(o.acceptor_error.find("staging"), std::string::npos) << o.acceptor_error;
  EXPECT_FALSE(o.acceptor_peer.has_value());
}

TEST(PeerHandshake, ThePeerMustBeTheNodeDialed) {
  const Outcome o = run("prod", "s3cret", "prod", "s3cret", NodeId(3));
  EXPECT_NE(o.dialer_error.find("answered"), std::string::npos) << o.dialer_error;
}

TEST(PeerHandshake, AProofIsBoundToItsChallengeAndItsNodes) {
  const Bytes a = handshake_proof("t", "c", NodeId(1), NodeId(2), challenge(1));
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a, handshake_proof("t", "c", NodeId(1), NodeId(2), challenge(1)));
  EXPECT_NE(a, handshake_proof("t", "c", NodeId(1), NodeId(2), challenge(2)));
  EXPECT_NE(a, handshake_proof("t", "c", NodeId(2), NodeId(1), challenge(1)));
  EXPECT_NE(a, handshake_proof("t", "c", NodeId(1), NodeId(3), challenge(1)));
  EXPECT_NE(a, handshake_proof("t", "d", NodeId(1), NodeId(2), challenge(1)));
  EXPECT_NE(a, handshake_proof("u", "c", NodeId(1), NodeId(2), challenge(1)));
  // "12" | "3" and "1" | "23" must not collide.
  EXPECT_NE(handshake_proof("t", "c", NodeId(12), NodeId(3), challenge(1)),
            handshake_proof("t", "c", NodeId(1), NodeId(23), challenge(1)));
}

TEST(PeerHandshake, AReplayedProofFromAnotherConnectionIsRefused) {
  // Record a good exchange, then replay its final proof to an acceptor with a fresh challenge.
  Handshake d1 = Handshake::dialer("prod", "k", NodeId(1), NodeId(2), challenge(1));
  Handshake a1 = Handshake::acceptor("prod", "k", NodeId(2), challenge(2));
  auto s1 = a1.on_payload(d1.start());
  ASSERT_TRUE(s1.has_value());
  auto s2 = d1.on_payload(s1->send);
  ASSERT_TRUE(s2.has_value());
  const Bytes recorded_hello = Handshake::dialer("prod", "k", NodeId(1), NodeId(2), challenge(1)).start();
  Handshake a2 = Handshake::acceptor("prod", "k", NodeId(2), challenge(9));  // fresh challenge
  ASSERT_TRUE(a2.on_payload(recorded_hello).has_value());
  auto replay = a2.on_payload(s2->send);
  ASSERT_FALSE(replay.has_value());
  EXPECT_NE(replay.error().find("proof is wrong"), std::string::npos);
}

TEST(PeerHandshake, OutOfOrderAndGarbageFailWithAReason) {
  Handshake a = Handshake::acceptor("prod", "k", NodeId(2), challenge(2));
  Handshake d = Handshake::dialer("prod", "k", NodeId(1), NodeId(2), challenge(1));
  auto s1 = a.on_payload(d.start());
  ASSERT_TRUE(s1.has_value());
  // The acceptor's own challenge sent back to it is not a proof.
  auto wrong = a.on_payload(s1->send);
  ASSERT_FALSE(wrong.has_value());
  // After a failure nothing more is accepted.
  EXPECT_FALSE(a.on_payload(d.start()).has_value());
  Rng rng(3);
  for (int i = 0; i < 5000; ++i) {
    Bytes garbage(rng.below(600));
    for (std::byte& b : garbage) b = static_cast<std::byte>(rng.below(256));
    Handshake fresh = Handshake::acceptor("prod", "k", NodeId(2), challenge(2));
    auto step = fresh.on_payload(garbage);
    EXPECT_FALSE(step.has_value() && step->peer.has_value());
  }
}

}  // namespace
}  // namespace grape::net
