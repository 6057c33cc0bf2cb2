// Forwarded client writes across a follower restart (found by review 8).
//
// A follower forwards a client write to the leader under a request id; the leader answers with a
// ForwardedReply carrying that id, and the follower completes the pending request that has it.
// When ids restarted at 1 in every incarnation, a reply the leader sent for a forward of the
// previous incarnation (it applied the entry after the follower restarted) completed a different,
// new request: the new write was acknowledged (200, with the old write's index) though the leader
// never proposed it. Ids now start at a random point, and only the node a request was last
// forwarded to may answer it.
//
// The leader here is a fake peer (a PeerNetwork speaking the real handshake and frames) so that
// the order of events is exact; it answers the first incarnation's forward just as Node would
// once that entry applied.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "net/asio.h"
#include "net/http_client.h"
#include "net/peers.h"
#include "net/runtime_impl.h"
#include "net/wire.h"

namespace grape::net {
namespace {

using namespace std::chrono_literals;

struct Forward {
  uint64_t id;
  std::string key;
};

class FakeLeader {
 public:
  FakeLeader(const std::string& listen, const std::string& follower_address)
      : guard_(io_.get_executor()) {
    PeerNetworkOptions options;
    options.self = NodeId(1);
    options.cluster = "grape";
    options.token = "forwarding-token";
    options.listen = listen;
    options.backoff_initial_ms = 10;
    options.backoff_max_ms = 50;
    network_ = std::make_unique<PeerNetwork>(
        io_, options,
        [follower_address](NodeId id) -> std::optional<std::string> {
          if (id == NodeId(2)) return follower_address;
          return std::nullopt;
        },
        [this](NodeId, Frame frame) {
          if (frame.kind != FrameKind::kForward) return;
          auto request = decode_forwarded_request(frame.payload);
          if (!request) return;
          std::lock_guard lock(mu_);
          forwards_.push_back(Forward{request->id, request->command.key});
        });
    started_ = network_->start().is_ok();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeLeader() {
    boost::asio::post(io_, [this] { network_->stop(); });
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  bool started() const { return started_; }

  // A heartbeat of term 5 from n1: the follower takes n1 as its leader.
  void heartbeat() {
    raft::Message m;
    m.type = raft::MessageType::kHeartbeat;
    m.from = NodeId(1);
    m.to = NodeId(2);
    m.term = Term(5);
    send(encode_frame(FrameKind::kRaft, encode_message(m)));
  }
  // What the leader's Node answers once the forwarded entry applied (Runtime::on_reply).
  void reply_ok(uint64_t id, LogIndex index) {
    ForwardedReply reply{id, node::ReplyStatus::kOk, NodeId(1), index, kv::Result{true, {}}};
    send(encode_frame(FrameKind::kForwardReply, encode_forwarded_reply(reply)));
  }
  std::optional<Forward> forward_for(const std::string& key) {
    std::lock_guard lock(mu_);
    for (const Forward& f : forwards_) {
      if (f.key == key) return f;
    }
    return std::nullopt;
  }

 private:
  void send(Bytes frame) {
    boost::asio::post(io_, [this, frame = std::move(frame)]() mutable {
      network_->send(NodeId(2), std::move(frame));
    });
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::unique_ptr<PeerNetwork> network_;
  std::thread thread_;
  bool started_ = false;
  std::mutex mu_;
  std::vector<Forward> forwards_;
};

// One incarnation of the follower n2, run on its own thread until stop().
class Follower {
 public:
  explicit Follower(const RuntimeConfig& config) : runtime_(config) {}
  bool start() {
    if (!runtime_.start().is_ok()) return false;
    // Polled after every drain and tick, on the runtime's thread: the way to stop it from here.
    runtime_.wait_until([this] { return stop_.load(); }, [this](bool) { runtime_.stop(); });
    thread_ = std::thread([this] { runtime_.run(); });
    return true;
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  ~Follower() { stop(); }

 private:
  Runtime runtime_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit,
              const std::function<void()>& meanwhile = {}) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    if (meanwhile) meanwhile();
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

bool follows_n1(const std::string& http) {
  auto r = http_call(http, HttpCall{"GET", "/v1/cluster", "", {}, 1000ms});
  return r && r->status == 200 && r->body.find("\"leader\":\"n1\"") != std::string::npos;
}

TEST(RuntimeForwarding, AReplyToTheLastIncarnationsForwardDoesNotAcknowledgeANewWrite) {
  const int base = 21000 + static_cast<int>(getpid() % 3000) * 3;  // below the ephemeral range
  const std::string leader_peer = "127.0.0.1:" + std::to_string(base);
  const std::string follower_peer = "127.0.0.1:" + std::to_string(base + 1);
  const std::string follower_http = "127.0.0.1:" + std::to_string(base + 2);
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("grape-forwarding-" + std::to_string(getpid())))
          .string();
  std::filesystem::remove_all(dir);

  RuntimeConfig config;
  config.id = NodeId(2);
  config.data_dir = dir;
  config.listen_peer = follower_peer;
  config.listen_http = follower_http;
  config.initial_cluster = {{NodeId(1), leader_peer}, {NodeId(2), follower_peer}};
  config.token = "forwarding-token";
  config.election_timeout_ms = 600'000;  // n2 never campaigns: n1 leads throughout
  config.request_timeout_ms = 60'000;
  config.snapshot_every = 0;
  config.log_level = "error";

  FakeLeader leader(leader_peer, follower_peer);
  ASSERT_TRUE(leader.started());

  // Incarnation 1: a write forwarded to n1, which has not applied it yet when n2 is killed.
  std::optional<Forward> first;
  {
    Follower n2(config);
    ASSERT_TRUE(n2.start());
    ASSERT_TRUE(wait_for([&] { return follows_n1(follower_http); }, 5000ms,
                         [&] { leader.heartbeat(); }));
    std::thread client([&] {
      (void)http_call(follower_http, HttpCall{"PUT", "/v1/kv/a", "first", {}, 20000ms});
    });
    ASSERT_TRUE(wait_for([&] { return (first = leader.forward_for("a")).has_value(); }, 5000ms));
    n2.stop();
    client.join();
  }

  // Incarnation 2, on the same data directory: a different write, forwarded to n1.
  Follower n2(config);
  ASSERT_TRUE(n2.start());
  ASSERT_TRUE(wait_for([&] { return follows_n1(follower_http); }, 5000ms,
                       [&] { leader.heartbeat(); }));
  std::optional<Expected<HttpResult, std::string>> second_answer;
  std::atomic<bool> second_done{false};
  std::thread client([&] {
    second_answer = http_call(follower_http, HttpCall{"PUT", "/v1/kv/b", "second", {}, 20000ms});
    second_done = true;
  });
  std::optional<Forward> second;
  ASSERT_TRUE(wait_for([&] { return (second = leader.forward_for("b")).has_value(); }, 5000ms));
  std::printf("forward ids: incarnation 1 -> %llu, incarnation 2 -> %llu\n",
              static_cast<unsigned long long>(first->id),
              static_cast<unsigned long long>(second->id));

  // n1 applies incarnation 1's write (a) at index 7 and answers it, as its Node would. It never
  // proposed b.
  leader.reply_ok(first->id, LogIndex(7));
  const bool answered = wait_for([&] { return second_done.load(); }, 3000ms);
  n2.stop();  // answers b (if still pending) with 503
  client.join();
  std::filesystem::remove_all(dir);

  ASSERT_TRUE(second_answer.has_value());
  ASSERT_TRUE(second_answer->has_value()) << second_answer->error();
  const HttpResult& r = **second_answer;
  EXPECT_NE(r.status, 200u) << "write b acknowledged by the reply to write a (answered within 3 s: "
                            << answered << "): " << r.body;
}

}  // namespace
}  // namespace grape::net
