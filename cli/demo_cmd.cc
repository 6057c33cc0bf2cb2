#include "cli/demo_cmd.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "net/http_client.h"

namespace grape::cli {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kNodes = 3;
constexpr int kKeys = 20;
constexpr int kShards = 64;  // each a Raft group of 3 replicas

struct DemoNode {
  int id = 0;
  uint16_t peer_port = 0;
  uint16_t http_port = 0;
  pid_t pid = -1;
  bool joins = false;  // started into a running cluster
  std::string url() const { return "http://127.0.0.1:" + std::to_string(http_port); }
  std::string name() const { return "n" + std::to_string(id); }
};

std::vector<DemoNode>* g_nodes = nullptr;  // for the signal handler: no child outlives the demo

void kill_all(int) {
  if (g_nodes != nullptr) {
    for (const DemoNode& n : *g_nodes) {
      if (n.pid > 0) ::kill(n.pid, SIGKILL);
    }
  }
  std::_Exit(130);
}

// A free port below the kernel's ephemeral range (32768 and up on Linux by default): one in it
// could be taken by a node's outgoing connection before the node that should listen on it binds.
uint16_t free_port() {
  static uint32_t next = 20000 + static_cast<uint32_t>(::getpid()) % 10000;
  for (int attempt = 0; attempt < 2000; ++attempt) {
    const auto port = static_cast<uint16_t>(20000 + (next++ - 20000) % 12000);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) return port;
  }
  return 0;
}

class Demo {
 public:
  Demo(bool keep, std::string dir) : keep_(keep), dir_(std::move(dir)) {}

  void start(DemoNode& n, const std::string& cluster) {
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    std::vector<std::string> args = {self, "node", "start", "--id", n.name(),
        "--data-dir", dir_ + "/" + n.name(),
        "--listen-peer", "127.0.0.1:" + std::to_string(n.peer_port),
        "--listen-http", "127.0.0.1:" + std::to_string(n.http_port),
        "--initial-cluster", cluster, "--cluster-token", "demo-token",
        "--shards", std::to_string(kShards)};
    if (n.joins) args.insert(args.end(), {"--initial-cluster-state", "existing"});
    const std::string log = dir_ + "/" + n.name() + ".log";
    const pid_t parent = ::getpid();
    std::fflush(stdout);  // or the child would write our buffered lines again
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (keep_) {
        ::setsid();  // survives the demo's terminal
      } else {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the demo
        if (::getppid() != parent) std::_Exit(1);
      }
      std::FILE* out = std::freopen(log.c_str(), "a", stderr);
      (void)out;
      (void)std::freopen("/dev/null", "w", stdout);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(self.c_str(), argv.data());
      std::_Exit(127);
    }
    n.pid = pid;
  }

  void kill9(DemoNode& n) {
    ::kill(n.pid, SIGKILL);
    ::waitpid(n.pid, nullptr, 0);
    n.pid = -1;
  }

  void stop_all(std::vector<DemoNode>& nodes) {
    for (DemoNode& n : nodes) {
      if (n.pid <= 0) continue;
      ::kill(n.pid, SIGTERM);
    }
    for (DemoNode& n : nodes) {
      if (n.pid <= 0) continue;
      ::waitpid(n.pid, nullptr, 0);
      n.pid = -1;
    }
  }

 private:
  bool keep_;
  std::string dir_;
};

std::optional<json> get_json(const std::string& url, const std::string& target) {
  auto r = net::http_call(url, net::HttpCall{"GET", target, {}, {}, std::chrono::milliseconds(500)});
  if (!r || r->status != 200) return std::nullopt;
  auto j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// The leader as the live nodes agree on it, waiting up to `seconds`.
std::optional<std::string> wait_leader(const std::vector<DemoNode>& nodes, double seconds,
                                       const std::string& not_this = "") {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    for (const DemoNode& n : nodes) {
      if (n.pid <= 0) continue;
      auto c = get_json(n.url(), "/v1/cluster");
      if (c && (*c)["leader"].is_string() && (*c)["leader"] != not_this && (*c)["role"] == "leader") {
        return (*c)["leader"].get<std::string>();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

// Through the first node that acknowledges it, trying them all for up to 5 s (a shard whose
// leader was just killed elects another meanwhile).
bool put(const std::vector<DemoNode>& nodes, const std::string& key, const std::string& value) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    for (const DemoNode& n : nodes) {
      if (n.pid <= 0) continue;
      auto r = net::http_call(n.url(), net::HttpCall{"PUT", "/v1/kv/" + key, value, {}, std::chrono::milliseconds(3000)});
      if (r && r->status == 200) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Every live node ready: each of its shard replicas knows its group's leader.
bool wait_ready(const std::vector<DemoNode>& nodes, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    bool all = true;
    for (const DemoNode& n : nodes) {
      if (n.pid <= 0) continue;
      auto r = net::http_call(n.url(), net::HttpCall{"GET", "/ready", {}, {}, std::chrono::milliseconds(500)});
      all &= r && r->status == 200;
    }
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The shard map as the metadata group's leader has it: each node's replicas and leaders, and
// the moves left.
std::optional<json> shard_members(const std::vector<DemoNode>& nodes) {
  for (const DemoNode& n : nodes) {
    if (n.pid <= 0) continue;
    auto members = get_json(n.url(), "/v1/members");
    auto cluster = get_json(n.url(), "/v1/cluster");
    if (!members || !cluster || (*cluster)["role"] != "leader") continue;
    (*members)["moves_unfinished"] = (*cluster)["sharding"].value("moves_unfinished", json(nullptr));
    return members;
  }
  return std::nullopt;
}

void print_map(const json& members) {
  std::printf("     ");
  for (const json& m : members["members"]) {
    std::printf("  %s: %2d replicas, %2d leaders", m["id"].get<std::string>().c_str(),
                m["replicas"].get<int>(), m["leaders"].get<int>());
  }
  std::printf("\n");
}

// Adds a 4th node: the metadata leader records it, its executor moves a quarter of the replicas
// to it (each a learner that catches up, then a joint-consensus swap). Returns what failed.
std::optional<std::string> grow(Demo& demo, std::vector<DemoNode>& nodes, const std::string& cluster) {
  auto before = shard_members(nodes);
  if (!before) return "no shard map";
  std::printf("\n     before:");
  print_map(*before);
  DemoNode n4;
  n4.id = kNodes + 1;
  n4.peer_port = free_port();
  n4.http_port = free_port();
  n4.joins = true;
  const json body{{"id", n4.name()}, {"peer_address", "127.0.0.1:" + std::to_string(n4.peer_port)}};
  bool added = false;
  for (const DemoNode& n : nodes) {
    if (n.pid <= 0 || added) continue;
    auto r = net::http_call(n.url(), net::HttpCall{"POST", "/v1/members", body.dump(),
                                                   {{"Authorization", "Bearer demo-token"}},
                                                   std::chrono::milliseconds(3000)});
    added = r && r->status == 200;
  }
  if (!added) return "the metadata leader did not record n4";
  nodes.push_back(n4);
  demo.start(nodes.back(), cluster);
  const auto t = Clock::now();
  const int share = kShards * 3 / (kNodes + 1);
  while (since(t) < 60) {
    auto now = shard_members(nodes);
    if (now && (*now)["moves_unfinished"] == 0) {
      bool balanced = true;
      // Replicas even, and leaders within one of even (the plan hands leadership over last).
      for (const json& m : (*now)["members"]) {
        balanced &= m["replicas"] == share && std::abs(m["leaders"].get<int>() - kShards / (kNodes + 1)) <= 1;
      }
      if (balanced && (*now)["members"].size() == kNodes + 1) {
        std::printf("     after: ");
        print_map(*now);
        std::printf("     %d replicas moved, and leaders evened out, in %.2f s\n", share, since(t));
        return std::nullopt;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "the moves to n4 did not finish in 60 s";
}

}  // namespace

int real_demo(const DemoArgs& args) {
  char tmpl[] = "/tmp/grape-demo-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::perror("grape demo: mkdtemp");
    return kExitFailed;
  }
  const std::string dir = tmpl;
  std::vector<DemoNode> nodes(kNodes);
  std::string cluster;
  for (int i = 0; i < kNodes; ++i) {
    nodes[i].id = i + 1;
    nodes[i].peer_port = free_port();
    nodes[i].http_port = free_port();
    cluster += (i ? "," : "") + nodes[i].name() + "=127.0.0.1:" + std::to_string(nodes[i].peer_port);
  }
  g_nodes = &nodes;
  ::signal(SIGINT, kill_all);
  ::signal(SIGTERM, kill_all);
  Demo demo(args.keep, dir);
  auto fail = [&](const std::string& what) {
    std::printf("\nFAILED: %s (logs in %s)\n", what.c_str(), dir.c_str());
    demo.stop_all(nodes);
    return kExitFailed;
  };

  std::printf("grape demo: a 3-node cluster of %d shards, real processes on this machine (files in %s)\n\n",
              kShards, dir.c_str());
  for (DemoNode& n : nodes) {
    demo.start(n, cluster);
    std::printf("  %s  peers 127.0.0.1:%u  HTTP %s  pid %d\n", n.name().c_str(), n.peer_port,
                n.url().c_str(), n.pid);
  }
  auto t = Clock::now();
  std::printf("\n1. The nodes elect a leader (election timeout 1 s, heartbeat 100 ms) ... ");
  std::fflush(stdout);
  auto leader = wait_leader(nodes, 15);
  if (!leader) return fail("no leader elected");
  if (!wait_ready(nodes, 15)) return fail("the shards did not all elect a leader");
  std::printf("%s leads the metadata group, and every shard has a leader, after %.2f s\n",
              leader->c_str(), since(t));

  std::printf("2. Writing %d keys, each through a different node (followers forward to the leader) ... ", kKeys);
  std::fflush(stdout);
  int acked = 0;
  for (int k = 1; k <= kKeys; ++k) {
    std::vector<DemoNode> order(nodes.begin() + (k % kNodes), nodes.end());
    order.insert(order.end(), nodes.begin(), nodes.begin() + (k % kNodes));
    if (put(order, "demo-" + std::to_string(k), "value-" + std::to_string(k))) ++acked;
  }
  std::printf("%d acknowledged\n", acked);
  if (acked != kKeys) return fail("writes were not acknowledged");

  DemoNode& old = nodes[std::stoi(leader->substr(1)) - 1];
  std::printf("3. kill -9 %s, the leader ... ", leader->c_str());
  std::fflush(stdout);
  t = Clock::now();
  demo.kill9(old);
  auto next = wait_leader(nodes, 15, *leader);
  if (!next) return fail("no new leader after the kill");
  const double failover = since(t);
  bool wrote = false;
  while (!wrote && since(t) < 15) wrote = put(nodes, "after-failover", "yes");
  std::printf("%s leads after %.2f s; the next write was acknowledged %.2f s after the kill\n",
              next->c_str(), failover, since(t));

  std::printf("4. Reading every acknowledged key back (linearizable reads through the survivors) ... ");
  std::fflush(stdout);
  int found = 0;
  for (int k = 1; k <= kKeys; ++k) {
    for (const DemoNode& n : nodes) {
      if (n.pid <= 0) continue;
      auto v = get_json(n.url(), "/v1/kv/demo-" + std::to_string(k));
      if (v && (*v)["value"] == "value-" + std::to_string(k)) {
        ++found;
        break;
      }
    }
  }
  std::printf("%d of %d there\n", found, kKeys);
  if (found != kKeys) return fail("acknowledged keys are missing");

  std::printf("5. Restarting %s: it replays its log from its data dir and catches up ... ", old.name().c_str());
  std::fflush(stdout);
  t = Clock::now();
  demo.start(old, cluster);
  bool caught_up = false;
  std::string progress;
  while (!caught_up && since(t) < 15) {
    for (const DemoNode& n : nodes) {
      if (n.pid <= 0 || n.name() != *next) continue;
      auto c = get_json(n.url(), "/v1/cluster");
      if (!c) continue;
      for (const json& m : (*c)["members"]) {
        if (m["id"] == old.name() && m["lag"] == 0 && m["match_index"].is_number()) {
          progress = "match index " + std::to_string(m["match_index"].get<uint64_t>()) + " = the leader's last index";
          // Caught up in the write's own shard too (a sharded node's groups catch up one by one).
          auto held = get_json(old.url(), "/v1/kv/after-failover?consistency=stale");
          caught_up = held && (*held)["value"] == "yes";
        }
      }
    }
    if (!caught_up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!caught_up) return fail(old.name() + " did not catch up");
  std::printf("%s after %.2f s (and it holds the write made while it was down: yes)\n",
              progress.c_str(), since(t));

  std::printf("6. Adding a 4th node: the %d shards rebalance onto it, one move at a time ... ", kShards);
  std::fflush(stdout);
  if (auto failed = grow(demo, nodes, cluster)) return fail(*failed);
  const DemoNode& n4 = nodes.back();
  int through_n4 = 0;
  for (int k = 1; k <= kKeys; ++k) {
    auto got = get_json(n4.url(), "/v1/kv/demo-" + std::to_string(k));
    if (got && (*got)["value"] == "value-" + std::to_string(k)) ++through_n4;
  }
  auto after = get_json(n4.url(), "/v1/kv/after-failover");
  if (after && (*after)["value"] == "yes") ++through_n4;
  std::printf("   every acknowledged key read back through n4: %d of %d\n", through_n4, kKeys + 1);
  if (through_n4 != kKeys + 1) return fail("keys missing after the rebalance");

  if (args.keep) {
    std::string endpoints;
    for (const DemoNode& n : nodes) endpoints += (endpoints.empty() ? "" : ",") + n.url();
    std::printf("\nThe cluster keeps running. Talk to it:\n"
                "  export GRAPE_ENDPOINTS=%s GRAPE_TOKEN=demo-token\n"
                "  grape cluster status\n  grape kv put hello world && grape kv get hello\n"
                "Stop it and remove its files:\n  kill",
                endpoints.c_str());
    for (const DemoNode& n : nodes) std::printf(" %d", n.pid);
    std::printf(" && rm -rf %s\n", dir.c_str());
    return kExitOk;
  }
  std::printf("7. Stopping the nodes (SIGTERM) and removing %s ... ", dir.c_str());
  std::fflush(stdout);
  demo.stop_all(nodes);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::printf("done\n\nEvery acknowledged write survived the leader's kill -9 and the rebalance.\n");
  return kExitOk;
}

}  // namespace grape::cli
