#include "net/peers.h"

#include <openssl/rand.h>

#include <array>
#include <chrono>

#include "net/asio.h"
#include "net/handshake.h"
#include "net/listener.h"
#include "net/log.h"
#include "net/peer_link.h"

namespace grape::net {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

std::optional<std::pair<std::string, uint16_t>> split_host_port(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return std::nullopt;
  uint32_t port = 0;
  for (size_t i = colon + 1; i < address.size(); ++i) {
    if (address[i] < '0' || address[i] > '9') return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(address[i] - '0');
    if (port > 65535) return std::nullopt;
  }
  if (port == 0) return std::nullopt;
  return std::make_pair(address.substr(0, colon), static_cast<uint16_t>(port));
}

namespace {

Bytes fresh_challenge() {
  Bytes challenge(kChallengeBytes);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(challenge.data()),
                 static_cast<int>(challenge.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return challenge;
}

std::string remote_of(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "?";
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

// Closes the socket when the deadline passes first (Asio 1.18 has no per-operation timeouts).
class Deadline {
 public:
  Deadline(tcp::socket& socket, std::chrono::milliseconds after)
      : timer_(socket.get_executor(), after) {
    timer_.async_wait([&socket](boost::system::error_code ec) {
      if (!ec) socket.close();
    });
  }
  ~Deadline() { timer_.cancel(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

 private:
  asio::steady_timer timer_;
};

// Reads until one whole frame is buffered; errors (bad frame, closed socket) throw.
awaitable<Frame> read_frame(tcp::socket& socket, FrameReader& reader) {
  std::array<std::byte, 64 * 1024> buffer;
  for (;;) {
    auto next = reader.next();
    if (!next) throw std::runtime_error(next.error());
    if (*next) co_return std::move(**next);
    const size_t n = co_await socket.async_read_some(asio::buffer(buffer), use_awaitable);
    reader.feed(std::span<const std::byte>(buffer.data(), n));
  }
}

awaitable<void> write_frame(tcp::socket& socket, FrameKind kind, const Bytes& payload) {
  const Bytes frame = encode_frame(kind, payload);
  co_await asio::async_write(socket, asio::buffer(frame), use_awaitable);
}

}  // namespace

// One outbound link: the queue of frames for a peer and the coroutine that dials it and drains
// the queue into the connection.
struct Link {
  Link(asio::io_context& io, NodeId to, const PeerNetworkOptions& options)
      : peer(to),
        socket(io),
        wake(io),
        retry(io),
        queue(options.queue_frames_max, options.queue_bytes_max),
        backoff(options.backoff_initial_ms, options.backoff_max_ms) {}
  NodeId peer;
  tcp::socket socket;
  asio::steady_timer wake;  // the writer sleeps on it; send() cancels it
  asio::steady_timer retry;  // the back-off before redialing; cut short when the peer dials us
  SendQueue queue;
  Backoff backoff;
  bool connected = false;
  bool failing_logged = false;
  uint64_t generation = 0;  // of the connection: a watcher of an older one must not close this one
  bool writing = false;     // an async write is in progress: send() must queue
  Bytes partial;            // the rest of a frame send() wrote only in part: goes out first
};

struct PeerNetwork::Impl : std::enable_shared_from_this<PeerNetwork::Impl> {
  Impl(asio::io_context& context, PeerNetworkOptions opts, Resolve resolver, OnFrame handler,
       OnPeerDown down)
      : io(context),
        options(std::move(opts)),
        resolve(std::move(resolver)),
        on_frame(std::move(handler)),
        on_peer_down(std::move(down)),
        acceptor(context),
        rng(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())) {}

  asio::io_context& io;
  PeerNetworkOptions options;
  Resolve resolve;
  OnFrame on_frame;
  OnPeerDown on_peer_down;
  tcp::acceptor acceptor;
  std::map<NodeId, std::shared_ptr<Link>> links;
  std::map<uint64_t, std::shared_ptr<tcp::socket>> inbound;  // to close them at stop
  uint64_t next_inbound = 0;
  Rng rng;  // back-off jitter only
  bool stopped = false;
  uint64_t dropped_by_closed_links = 0;
  uint64_t refused = 0;

  awaitable<void> accept_loop();
  awaitable<void> serve_inbound(std::shared_ptr<tcp::socket> socket, uint64_t slot);
  awaitable<void> run_link(std::shared_ptr<Link> link);
  awaitable<void> dial(Link& link);
  awaitable<void> drain_link(Link& link);
  awaitable<void> watch_link(std::shared_ptr<Link> link);
  void refuse(const std::string& who, const std::string& why) {
    ++refused;
    log::warn("closing peer connection {}: {}", who, why);
  }
};

awaitable<void> PeerNetwork::Impl::accept_loop() {
  auto self = shared_from_this();
  co_await accept_connections(acceptor, stopped, inbound, next_inbound, "a peer",
                              [this](SocketPtr socket, uint64_t slot) {
                                return serve_inbound(std::move(socket), slot);
                              });
}

// An inbound connection: the acceptor's side of the handshake, then frames from the peer.
awaitable<void> PeerNetwork::Impl::serve_inbound(std::shared_ptr<tcp::socket> socket,
                                                 uint64_t slot) {
  auto self = shared_from_this();
  const std::string who = "from " + remote_of(*socket);
  FrameReader reader;
  std::optional<NodeId> peer;
  try {
    socket->set_option(tcp::no_delay(true));
    Handshake handshake = Handshake::acceptor(options.cluster, options.token, options.self,
                                              fresh_challenge());
    {
      Deadline deadline(*socket, std::chrono::milliseconds(options.handshake_timeout_ms));
      while (!peer) {
        Frame frame = co_await read_frame(*socket, reader);
        if (frame.kind != FrameKind::kHandshake) throw std::runtime_error("frame before handshake");
        auto step = handshake.on_payload(frame.payload);
        if (!step) throw std::runtime_error("handshake: " + step.error());
        if (!step->send.empty()) co_await write_frame(*socket, FrameKind::kHandshake, step->send);
        peer = step->peer;
      }
    }
    log::debug("peer n{} connected {}", peer->value, who);
    // It is back: redial it now rather than at the end of our back-off.
    if (auto it = links.find(*peer); it != links.end() && !it->second->connected) {
      it->second->backoff.reset();
      it->second->retry.cancel();
    }
    for (;;) {
      Frame frame = co_await read_frame(*socket, reader);
      if (frame.kind == FrameKind::kHandshake) throw std::runtime_error("handshake frame after handshake");
      on_frame(*peer, std::move(frame));
    }
  } catch (const boost::system::system_error& e) {
    if (!stopped && !peer) {
      // A dialer that finds our proof wrong (another cluster token) hangs up here.
      refuse(who, "closed during the handshake (" + e.code().message() +
                      "): a peer with another cluster token, or not a grape peer");
    } else if (!stopped && e.code() != asio::error::eof &&
               e.code() != asio::error::operation_aborted) {
      // An authenticated peer went away: not worth a warning.
      log::debug("peer connection {} closed: {}", who, e.code().message());
    }
  } catch (const std::exception& e) {
    if (!stopped) refuse(who, e.what());
  }
  boost::system::error_code ignored;
  socket->close(ignored);
  inbound.erase(slot);
  if (peer && !stopped && on_peer_down) on_peer_down(*peer);
}

awaitable<void> PeerNetwork::Impl::dial(Link& link) {
  const std::optional<std::string> address = resolve(link.peer);
  if (!address) throw std::runtime_error("no address known");
  const auto host_port = split_host_port(*address);
  if (!host_port) throw std::runtime_error("bad address '" + *address + "'");
  tcp::resolver resolver(io);
  const auto endpoints = co_await resolver.async_resolve(
      host_port->first, std::to_string(host_port->second), use_awaitable);
  link.socket = tcp::socket(io);
  Deadline deadline(link.socket, std::chrono::milliseconds(options.handshake_timeout_ms));
  co_await asio::async_connect(link.socket, endpoints, use_awaitable);
  link.socket.set_option(tcp::no_delay(true));
  link.socket.non_blocking(true);  // send() tries a direct write first
  Handshake handshake = Handshake::dialer(options.cluster, options.token, options.self, link.peer,
                                          fresh_challenge());
  co_await write_frame(link.socket, FrameKind::kHandshake, handshake.start());
  FrameReader reader;
  for (;;) {
    Frame frame = co_await read_frame(link.socket, reader);
    if (frame.kind != FrameKind::kHandshake) throw std::runtime_error("frame before handshake");
    auto step = handshake.on_payload(frame.payload);
    if (!step) {
      ++refused;
      throw std::runtime_error("handshake: " + step.error());
    }
    if (!step->send.empty()) co_await write_frame(link.socket, FrameKind::kHandshake, step->send);
    if (step->peer) co_return;
  }
}

// Writes queued frames, many per write, until the connection fails.
awaitable<void> PeerNetwork::Impl::drain_link(Link& link) {
  std::vector<asio::const_buffer> buffers;
  while (!stopped) {
    if (!link.partial.empty()) {
      link.writing = true;
      co_await asio::async_write(link.socket, asio::buffer(link.partial), use_awaitable);
      link.writing = false;
      link.partial.clear();
      continue;
    }
    if (link.queue.empty()) {
      link.wake.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      co_await link.wake.async_wait(asio::redirect_error(use_awaitable, ec));
      if (!link.socket.is_open()) throw std::runtime_error("connection closed");
      continue;
    }
    // Up to 256 frames or 1 MiB in one write; the queue keeps them until written.
    buffers.clear();
    size_t frames = 0, bytes = 0;
    std::vector<Bytes> batch;
    while (!link.queue.empty() && frames < 256 && bytes < (1u << 20)) {
      batch.push_back(link.queue.take_front());
      bytes += batch.back().size();
      ++frames;
    }
    for (const Bytes& b : batch) buffers.emplace_back(asio::buffer(b));
    link.writing = true;
    co_await asio::async_write(link.socket, buffers, use_awaitable);
    link.writing = false;
  }
}

// The peer never writes on our outbound connection after the handshake: a read completes only
// when it closes the connection (or breaks the protocol); then wake the writer to redial.
awaitable<void> PeerNetwork::Impl::watch_link(std::shared_ptr<Link> link) {
  const uint64_t generation = link->generation;
  std::array<std::byte, 256> buffer;
  boost::system::error_code ec;
  co_await link->socket.async_read_some(asio::buffer(buffer), asio::redirect_error(use_awaitable, ec));
  if (link->generation != generation) co_return;
  link->socket.close(ec);
  link->wake.cancel();
}

awaitable<void> PeerNetwork::Impl::run_link(std::shared_ptr<Link> link) {
  auto self = shared_from_this();
  const std::string who = "to n" + std::to_string(link->peer.value);
  while (!stopped) {
    std::string failure;
    try {
      co_await dial(*link);
      link->connected = true;
      ++link->generation;
      link->backoff.reset();
      if (link->failing_logged) log::info("peer n{} reachable again", link->peer.value);
      link->failing_logged = false;
      asio::co_spawn(io, watch_link(link), asio::detached);
      co_await drain_link(*link);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    boost::system::error_code ignored;
    link->socket.close(ignored);
    link->writing = false;
    link->partial.clear();  // half a frame means nothing on the next connection
    if (stopped) break;
    if (link->connected) {
      log::info("peer connection {} lost: {}", who, failure);
    } else if (!link->failing_logged) {
      log::warn("cannot reach peer n{}: {} (retrying with back-off)", link->peer.value, failure);
      link->failing_logged = true;
    }
    link->connected = false;
    // Messages to an unreachable peer are stale by the time it is back: Raft resends.
    dropped_by_closed_links += link->queue.frames();
    link->queue.clear();
    link->retry.expires_after(std::chrono::milliseconds(link->backoff.next(rng)));
    boost::system::error_code ec;
    co_await link->retry.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

PeerNetwork::PeerNetwork(asio::io_context& io, PeerNetworkOptions options, Resolve resolve,
                         OnFrame on_frame, OnPeerDown on_peer_down)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(resolve),
                                   std::move(on_frame), std::move(on_peer_down))) {}

PeerNetwork::~PeerNetwork() { stop(); }

Status<std::string> PeerNetwork::start() {
  if (auto opened = open_listener(impl_->acceptor, impl_->options.listen, "peers"); !opened) {
    return opened;
  }
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return Status<std::string>::ok();
}

void PeerNetwork::send(NodeId to, Bytes frame) {
  Impl& impl = *impl_;
  if (impl.stopped || to == impl.options.self) return;
  auto it = impl.links.find(to);
  if (it == impl.links.end()) {
    auto link = std::make_shared<Link>(impl.io, to, impl.options);
    it = impl.links.emplace(to, link).first;
    asio::co_spawn(impl.io, impl.run_link(link), asio::detached);
  }
  Link& link = *it->second;
  if (link.connected && !link.writing && link.partial.empty() && link.queue.empty()) {
    // Straight onto the socket: a message must not wait for the loop to come round (the leader's
    // appends would otherwise leave only after its own fsync, serializing the two disks).
    boost::system::error_code ec;
    const size_t written = link.socket.write_some(asio::buffer(frame), ec);
    if (!ec && written == frame.size()) return;
    if (!ec || ec == asio::error::would_block || ec == asio::error::try_again) {
      link.partial.assign(frame.begin() + static_cast<std::ptrdiff_t>(written), frame.end());
      link.wake.cancel();
      return;
    }
    // A broken connection: queue it; the writer finds out and redials.
  }
  // While dialing (or waiting to), what fits waits and leaves once connected.
  link.queue.push(std::move(frame));
  link.wake.cancel();
}

void PeerNetwork::stop() {
  if (!impl_ || impl_->stopped) return;
  Impl& impl = *impl_;
  impl.stopped = true;
  boost::system::error_code ignored;
  impl.acceptor.close(ignored);
  for (auto& [peer, link] : impl.links) {
    link->socket.close(ignored);
    link->wake.cancel();
    link->retry.cancel();
  }
  for (auto& [slot, socket] : impl.inbound) socket->close(ignored);
}

std::map<NodeId, PeerStats> PeerNetwork::stats() const {
  std::map<NodeId, PeerStats> out;
  for (const auto& [peer, link] : impl_->links) {
    out[peer] = PeerStats{link->queue.frames(), link->queue.bytes()};
  }
  return out;
}

uint64_t PeerNetwork::frames_dropped() const {
  uint64_t n = impl_->dropped_by_closed_links;
  for (const auto& [peer, link] : impl_->links) n += link->queue.dropped();
  return n;
}

uint64_t PeerNetwork::connections_refused() const { return impl_->refused; }

}  // namespace grape::net
