#pragma once
// The peer handshake: before any Raft message, both ends of a peer connection prove they hold the
// cluster token, without sending it. Mutual challenge-response with HMAC-SHA256 (OpenSSL):
//
//   dialer   -> acceptor  Hello     {cluster, dialer id, challenge A}
//   acceptor -> dialer    Challenge {cluster, acceptor id, challenge B, proof(A)}
//   dialer   -> acceptor  Proof     {proof(B)}
//
// proof(C) = HMAC-SHA256(token, "grape-peer-v1" | cluster | prover id | verifier id | C), so a
// proof is bound to this cluster, these two nodes and this fresh challenge: it cannot be replayed
// to another node or in another connection. A peer that names another cluster, sends a wrong
// proof or anything out of order gets an error saying which; the runtime logs it and closes that
// connection. Challenges come from the caller (the runtime draws 32 bytes from RAND_bytes), so
// the exchange itself is deterministic and testable.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/base/bytes.h"
#include "core/base/expected.h"
#include "core/base/ids.h"

namespace grape::net {

inline constexpr size_t kChallengeBytes = 32;

Bytes handshake_proof(const std::string& token, const std::string& cluster, NodeId prover,
                      NodeId verifier, std::span<const std::byte> challenge);

// One end of the exchange. Feed it the payloads of the peer's handshake frames; send what it
// returns as handshake frames. Done once peer() is set.
class Handshake {
 public:
  struct Step {
    Bytes send;                 // a payload to send (empty: nothing)
    std::optional<NodeId> peer;  // the peer, authenticated: the connection may carry Raft now
  };

  // `expected_peer`: the dialer knows whom it calls; the acceptor learns it from the Hello.
  static Handshake dialer(std::string cluster, std::string token, NodeId self, NodeId peer,
                          Bytes challenge);
  static Handshake acceptor(std::string cluster, std::string token, NodeId self, Bytes challenge);

  Bytes start();  // the dialer's Hello (empty for the acceptor, which speaks second)
  [[nodiscard]] Expected<Step, std::string> on_payload(std::span<const std::byte> payload);

 private:
  enum class State : uint8_t { kDialerStart, kDialerAwaitChallenge, kAcceptorAwaitHello,
                               kAcceptorAwaitProof, kDone, kFailed };
  Handshake(State state, std::string cluster, std::string token, NodeId self, NodeId peer,
            Bytes challenge);

  State state_;
  std::string cluster_;
  std::string token_;
  NodeId self_;
  NodeId peer_;
  Bytes challenge_;  // ours
};

}  // namespace grape::net
