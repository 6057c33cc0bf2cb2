#include "net/handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <sstream>

#include <cereal/archives/portable_binary.hpp>

namespace grape::net {
namespace {

constexpr const char* kDomain = "grape-peer-v1";
constexpr size_t kProofBytes = 32;
constexpr size_t kNameBytesMax = 256;

enum class Kind : uint8_t { kHello = 1, kChallenge = 2, kProof = 3 };

struct Payload {
  Kind kind = Kind::kHello;
  std::string cluster;
  uint64_t node = 0;
  Bytes challenge;
  Bytes proof;
};

Bytes encode(const Payload& p) {
  std::ostringstream out(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive ar(out);
    ar(static_cast<uint8_t>(p.kind), static_cast<uint64_t>(p.cluster.size()));
    ar(cereal::binary_data(p.cluster.data(), p.cluster.size()));
    ar(p.node);
    ar(static_cast<uint64_t>(p.challenge.size()));
    ar(cereal::binary_data(p.challenge.data(), p.challenge.size()));
    ar(static_cast<uint64_t>(p.proof.size()));
    ar(cereal::binary_data(p.proof.data(), p.proof.size()));
  }
  const std::string s = out.str();
  const auto* b = reinterpret_cast<const std::byte*>(s.data());
  return Bytes(b, b + s.size());
}

Expected<Payload, std::string> decode(std::span<const std::byte> bytes) {
  // Bounded before cereal reads a length: a handshake is small.
  if (bytes.size() > 2 * kNameBytesMax) return Unexpected(std::string("handshake too large"));
  std::istringstream in(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                        std::ios::binary);
  try {
    cereal::PortableBinaryInputArchive ar(in);
    Payload p;
    uint8_t kind = 0;
    uint64_t n = 0;
    ar(kind, n);
    if (kind < 1 || kind > 3) return Unexpected("unknown handshake message " + std::to_string(kind));
    // Every length is checked before anything is allocated for it: garbage must not make us
    // reserve what it claims.
    if (n > kNameBytesMax) return Unexpected(std::string("cluster name too long"));
    p.cluster.resize(n);
    if (n > 0) ar(cereal::binary_data(p.cluster.data(), n));
    ar(p.node);
    p.kind = static_cast<Kind>(kind);
    ar(n);
    if (n > kChallengeBytes) return Unexpected(std::string("challenge too long"));
    p.challenge.resize(n);
    if (n > 0) ar(cereal::binary_data(p.challenge.data(), n));
    ar(n);
    if (n > kProofBytes) return Unexpected(std::string("proof too long"));
    p.proof.resize(n);
    if (n > 0) ar(cereal::binary_data(p.proof.data(), n));
    if (in.peek() != std::char_traits<char>::eof()) {
      return Unexpected(std::string("bytes after the handshake message"));
    }
    return p;
  } catch (const std::exception& e) {
    return Unexpected(std::string("handshake does not decode: ") + e.what());
  }
}

bool same(const Bytes& a, const Bytes& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

Bytes handshake_proof(const std::string& token, const std::string& cluster, NodeId prover,
                      NodeId verifier, std::span<const std::byte> challenge) {
  std::string message = kDomain;
  message.push_back('\0');
  message += cluster;
  message.push_back('\0');
  message += std::to_string(prover.value);
  message.push_back('\0');
  message += std::to_string(verifier.value);
  message.push_back('\0');
  message.append(reinterpret_cast<const char*>(challenge.data()), challenge.size());
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &length);
  const auto* b = reinterpret_cast<const std::byte*>(out);
  return Bytes(b, b + length);
}

Handshake::Handshake(State state, std::string cluster, std::string token, NodeId self, NodeId peer,
                     Bytes challenge)
    : state_(state),
      cluster_(std::move(cluster)),
      token_(std::move(token)),
      self_(self),
      peer_(peer),
      challenge_(std::move(challenge)) {}

Handshake Handshake::dialer(std::string cluster, std::string token, NodeId self, NodeId peer,
                            Bytes challenge) {
  return Handshake(State::kDialerStart, std::move(cluster), std::move(token), self, peer,
                   std::move(challenge));
}

Handshake Handshake::acceptor(std::string cluster, std::string token, NodeId self,
                              Bytes challenge) {
  return Handshake(State::kAcceptorAwaitHello, std::move(cluster), std::move(token), self, kNoNode,
                   std::move(challenge));
}

Bytes Handshake::start() {
  if (state_ != State::kDialerStart) return {};
  state_ = State::kDialerAwaitChallenge;
  return encode(Payload{Kind::kHello, cluster_, self_.value, challenge_, {}});
}

Expected<Handshake::Step, std::string> Handshake::on_payload(std::span<const std::byte> bytes) {
  auto fail = [this](std::string why) -> Expected<Step, std::string> {
    state_ = State::kFailed;
    return Unexpected(std::move(why));
  };
  auto p = decode(bytes);
  if (!p) return fail(p.error());
  switch (state_) {
    case State::kAcceptorAwaitHello: {
      if (p->kind != Kind::kHello) return fail("expected a hello");
      if (p->cluster != cluster_) return fail("peer names cluster '" + p->cluster + "', ours is '" + cluster_ + "'");
      if (p->node == 0 || p->node == self_.value) return fail("peer names no valid node id");
      if (p->challenge.size() != kChallengeBytes) return fail("peer's challenge has the wrong size");
      peer_ = NodeId(p->node);
      state_ = State::kAcceptorAwaitProof;
      return Step{encode(Payload{Kind::kChallenge, cluster_, self_.value, challenge_,
                                 handshake_proof(token_, cluster_, self_, peer_, p->challenge)}),
                  std::nullopt};
    }
    case State::kDialerAwaitChallenge: {
      if (p->kind != Kind::kChallenge) return fail("expected a challenge");
      if (p->cluster != cluster_) return fail("peer names cluster '" + p->cluster + "', ours is '" + cluster_ + "'");
      if (p->node != peer_.value) {
        return fail("dialed n" + std::to_string(peer_.value) + " but n" + std::to_string(p->node) +
                    " answered");
      }
      if (p->challenge.size() != kChallengeBytes) return fail("peer's challenge has the wrong size");
      if (!same(p->proof, handshake_proof(token_, cluster_, peer_, self_, challenge_))) {
        return fail("peer's proof is wrong (another cluster token?)");
      }
      state_ = State::kDone;
      return Step{encode(Payload{Kind::kProof, cluster_, self_.value, {},
                                 handshake_proof(token_, cluster_, self_, peer_, p->challenge)}),
                  peer_};
    }
    case State::kAcceptorAwaitProof: {
      if (p->kind != Kind::kProof) return fail("expected a proof");
      if (!same(p->proof, handshake_proof(token_, cluster_, peer_, self_, challenge_))) {
        return fail("peer's proof is wrong (another cluster token?)");
      }
      state_ = State::kDone;
      return Step{{}, peer_};
    }
    default:
      return fail("handshake message out of order");
  }
}

}  // namespace grape::net
