#pragma once
// PeerNetwork: the TCP links between this node and its peers.
//
// Every node dials every peer it sends to (one outbound connection per peer, redialed with
// back-off when it drops) and accepts the connections its peers dial; Raft messages and forwarded
// client requests to a peer travel on our outbound connection, its traffic to us on its own. Each
// connection starts with the handshake of handshake.h (the dialer speaks first); only then does
// it carry frames (wire.h). A peer that fails the handshake, names another cluster, or sends a
// bad, oversized or unexpected frame has that connection closed with a logged reason: nothing it
// sends reaches the node, and the process goes on.
//
// Sends never block: frames wait in the peer's bounded SendQueue (peer_link.h), dropped when it is
// full or the peer cannot be reached (Raft resends what matters). Asio stays out of this header.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/base/bytes.h"
#include "core/base/expected.h"
#include "core/base/ids.h"
#include "net/wire.h"

namespace boost::asio {
class io_context;
}

namespace grape::net {

struct PeerNetworkOptions {
  NodeId self;
  std::string cluster;  // the cluster id both ends must name
  std::string token;    // the shared secret of the handshake
  std::string listen;   // host:port to accept peers on
  size_t queue_frames_max = 8192;
  size_t queue_bytes_max = 64u << 20;
  int64_t backoff_initial_ms = 50;
  int64_t backoff_max_ms = 2000;
  int64_t handshake_timeout_ms = 5000;
};

struct PeerStats {
  size_t queued_frames = 0;
  size_t queued_bytes = 0;
};

class PeerNetwork {
 public:
  // Where a peer listens ("host:port"), or nullopt when unknown.
  using Resolve = std::function<std::optional<std::string>(NodeId)>;
  // A frame from an authenticated peer (never a handshake frame).
  using OnFrame = std::function<void(NodeId from, Frame frame)>;
  // An authenticated peer's connection to us closed (its process died, or it hung up).
  using OnPeerDown = std::function<void(NodeId peer)>;

  PeerNetwork(boost::asio::io_context& io, PeerNetworkOptions options, Resolve resolve,
              OnFrame on_frame, OnPeerDown on_peer_down = {});
  ~PeerNetwork();
  PeerNetwork(const PeerNetwork&) = delete;
  PeerNetwork& operator=(const PeerNetwork&) = delete;

  // Binds the listening socket (an error names the address) and starts accepting.
  [[nodiscard]] Status<std::string> start();
  // Queues a frame for `to`, dialing it if no link exists yet.
  void send(NodeId to, Bytes frame);
  void stop();

  std::map<NodeId, PeerStats> stats() const;
  uint64_t frames_dropped() const;
  uint64_t connections_refused() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// "host:port" split; nullopt when malformed.
std::optional<std::pair<std::string, uint16_t>> split_host_port(const std::string& address);

}  // namespace grape::net
