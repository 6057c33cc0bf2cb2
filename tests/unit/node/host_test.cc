// node::Host: many groups on one host. Three hosts with 64 groups each (every group on all
// three) exchange batches through an in-test loop that delivers everything at once: every group
// elects a leader and commits, idle heartbeats and their answers travel as one batch per peer per
// heartbeat interval, and requests or messages for groups a host does not have are refused.

#include "core/node/host.h"

#include <map>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "core/kv/kv.h"
#include "core/raft/log_store.h"

namespace grape::node {
namespace {

constexpr int kHeartbeatTicks = 3;
constexpr uint64_t kGroups = 64;

class ThreeHosts : public ::testing::Test {
 protected:
  ThreeHosts() {
    for (uint64_t h = 1; h <= 3; ++h) {
      hosts_.push_back(std::make_unique<Host>(NodeId(h), kHeartbeatTicks));
      for (uint64_t g = 1; g <= kGroups; ++g) {
        auto& store = stores_[{h, g}];
        store = std::make_unique<raft::MemoryLogStore>();
        EXPECT_TRUE(hosts_.back()->add_group(GroupId(g), config(NodeId(h)), *store, Rng(100 * h + g)).is_ok());
      }
    }
  }

  static NodeConfig config(NodeId id) {
    NodeConfig c;
    c.raft.id = id;
    c.raft.voters = {NodeId(1), NodeId(2), NodeId(3)};
    c.raft.election_ticks = 10;
    c.raft.heartbeat_ticks = kHeartbeatTicks;
    return c;
  }

  Host& host(uint64_t id) { return *hosts_[id - 1]; }

  // Handles every host's Readies and delivers every batch, until nothing is left to do.
  void pump() {
    for (int round = 0; round < 100; ++round) {
      bool busy = false;
      for (uint64_t h = 1; h <= 3; ++h) {
        while (host(h).has_ready()) {
          busy = true;
          HostReady ready = host(h).take_ready();
          for (GroupReady& group : ready.groups) {
            auto& store = *stores_[{h, group.group.value}];
            EXPECT_TRUE(store.append(group.ready.raft.entries_to_persist).is_ok());
            if (group.ready.raft.hard_state) {
              EXPECT_TRUE(store.set_hard_state(*group.ready.raft.hard_state).is_ok());
            }
            for (ClientReply& reply : group.ready.replies) replies_.push_back(reply);
          }
          for (ClientReply& reply : ready.refused) replies_.push_back(reply);
          for (auto* batches : {&ready.batches, &ready.batches_after_persist}) {
            for (PeerBatch& batch : *batches) {
              ++batches_sent_;
              messages_sent_ += batch.messages.size();
              in_flight_.push_back(std::move(batch));
            }
          }
          host(h).advance();
        }
      }
      std::vector<PeerBatch> arriving = std::move(in_flight_);
      in_flight_.clear();
      for (const PeerBatch& batch : arriving) {
        busy = true;
        EXPECT_TRUE(host(batch.to.value).step(batch).empty());
      }
      if (!busy) return;
    }
    FAIL() << "the hosts never went quiet";
  }

  void tick_all(int ticks) {
    for (int t = 0; t < ticks; ++t) {
      for (uint64_t h = 1; h <= 3; ++h) host(h).tick();
      pump();
    }
  }

  // The host leading `group`, or 0.
  uint64_t leader_of(uint64_t group) {
    for (uint64_t h = 1; h <= 3; ++h) {
      if (host(h).group(GroupId(group))->raft().role() == raft::Role::kLeader) return h;
    }
    return 0;
  }

  std::vector<std::unique_ptr<Host>> hosts_;
  std::map<std::pair<uint64_t, uint64_t>, std::unique_ptr<raft::MemoryLogStore>> stores_;
  std::vector<PeerBatch> in_flight_;
  std::vector<ClientReply> replies_;
  uint64_t batches_sent_ = 0;
  uint64_t messages_sent_ = 0;
};

TEST_F(ThreeHosts, EveryGroupElectsALeaderAndCommitsAWrite) {
  tick_all(60);
  for (uint64_t g = 1; g <= kGroups; ++g) {
    const uint64_t leader = leader_of(g);
    ASSERT_NE(leader, 0u) << "group " << g;
    ClientRequest request;
    request.client = 1;
    request.request = g;
    request.command = {kv::Op::kPut, "k", "v" + std::to_string(g)};
    request.group = GroupId(g);
    host(leader).on_client_request(request);
  }
  pump();
  tick_all(kHeartbeatTicks);  // the followers learn the commit index and apply too
  ASSERT_EQ(replies_.size(), kGroups);
  for (const ClientReply& reply : replies_) {
    EXPECT_EQ(reply.status, ReplyStatus::kOk);
    EXPECT_EQ(reply.group, GroupId(reply.request));  // each answer names its group
  }
  for (uint64_t h = 1; h <= 3; ++h) {
    for (uint64_t g = 1; g <= kGroups; ++g) {
      const auto value = host(h).group(GroupId(g))->kv().get("k");
      ASSERT_TRUE(value.has_value()) << "n" << h << " group " << g;
      EXPECT_EQ(*value, "v" + std::to_string(g));
    }
  }
}

TEST_F(ThreeHosts, IdleHeartbeatsTravelAsOneBatchPerPeerPerInterval) {
  tick_all(60);  // elections settle
  for (uint64_t g = 1; g <= kGroups; ++g) ASSERT_NE(leader_of(g), 0u);
  batches_sent_ = messages_sent_ = 0;
  constexpr int kIntervals = 10;
  tick_all(kIntervals * kHeartbeatTicks);
  // Every group beats once per interval to 2 followers, who answer: 64 * 2 * 2 messages. They go
  // as at most one heartbeat batch and one answer batch per ordered pair of hosts (6 pairs).
  EXPECT_EQ(messages_sent_, kIntervals * kGroups * 2 * 2);
  EXPECT_LE(batches_sent_, uint64_t{kIntervals} * 6 * 2);
}

TEST_F(ThreeHosts, UnknownGroupsAreRefused) {
  raft::Message message;
  message.type = raft::MessageType::kHeartbeat;
  message.from = NodeId(2);
  message.to = NodeId(1);
  const auto stepped = host(1).step(GroupMessage{GroupId(999), message});
  ASSERT_FALSE(stepped.is_ok());
  EXPECT_EQ(stepped.error().code, HostErrorCode::kUnknownGroup);

  ClientRequest request;
  request.client = 5;
  request.request = 6;
  request.command = {kv::Op::kGet, "k", ""};
  request.group = GroupId(999);
  host(1).on_client_request(request);
  ASSERT_TRUE(host(1).has_ready());
  HostReady ready = host(1).take_ready();
  ASSERT_EQ(ready.refused.size(), 1u);
  EXPECT_EQ(ready.refused[0].status, ReplyStatus::kRedirect);
  EXPECT_EQ(ready.refused[0].group, GroupId(999));
  EXPECT_EQ(ready.refused[0].request, 6u);
  host(1).advance();

  raft::MemoryLogStore store;
  const auto twice = host(1).add_group(GroupId(1), config(NodeId(1)), store, Rng(1));
  ASSERT_FALSE(twice.is_ok());
  EXPECT_EQ(twice.error().code, HostErrorCode::kGroupExists);
  const auto elsewhere = host(1).add_group(GroupId(500), config(NodeId(2)), store, Rng(1));
  ASSERT_FALSE(elsewhere.is_ok());
  EXPECT_EQ(elsewhere.error().code, HostErrorCode::kWrongNode);

  host(1).remove_group(GroupId(1));
  EXPECT_FALSE(host(1).hosts(GroupId(1)));
  EXPECT_EQ(host(1).group_count(), kGroups - 1);
}

}  // namespace
}  // namespace grape::node

namespace grape::node {
namespace {

// Routing on a sharded host: a request must carry the shard's current epoch; a stale or missing
// one is refused with the current entry, a request for a shard not hosted is redirected with it.
class ShardedHost : public ::testing::Test {
 protected:
  ShardedHost() : host_(NodeId(1), 1) {
    NodeConfig config;
    config.raft.id = NodeId(1);
    config.raft.voters = {NodeId(1)};  // a group of one: it leads at once
    EXPECT_TRUE(host_.add_group(shard::group_of(0), config, store_, Rng(1)).is_ok());
    host_.set_route(shard::RouteEntry{0, Epoch(3), {NodeId(1), NodeId(2), NodeId(3)}, NodeId(1)});
    host_.set_route(shard::RouteEntry{1, Epoch(2), {NodeId(2), NodeId(3), NodeId(4)}, NodeId(4)});
    host_.group(shard::group_of(0))->campaign();
    drain();
  }

  std::vector<ClientReply> drain() {
    std::vector<ClientReply> replies;
    while (host_.has_ready()) {
      HostReady ready = host_.take_ready();
      for (GroupReady& group : ready.groups) {
        EXPECT_TRUE(store_.append(group.ready.raft.entries_to_persist).is_ok());
        if (group.ready.raft.hard_state) {
          EXPECT_TRUE(store_.set_hard_state(*group.ready.raft.hard_state).is_ok());
        }
        for (ClientReply& reply : group.ready.replies) replies.push_back(reply);
      }
      for (ClientReply& reply : ready.refused) replies.push_back(reply);
      host_.advance();
    }
    return replies;
  }

  ClientReply ask(uint32_t shard, Epoch epoch) {
    ClientRequest request;
    request.client = 1;
    request.request = 7;
    request.group = shard::group_of(shard);
    request.epoch = epoch;
    request.command = {kv::Op::kPut, "k", "v"};
    host_.on_client_request(request);
    std::vector<ClientReply> replies = drain();
    EXPECT_EQ(replies.size(), 1u);
    return replies.empty() ? ClientReply{} : replies[0];
  }

  raft::MemoryLogStore store_;
  Host host_;
};

TEST_F(ShardedHost, TheCurrentEpochIsServed) {
  EXPECT_EQ(ask(0, Epoch(3)).status, ReplyStatus::kOk);
}

TEST_F(ShardedHost, AStaleOrMissingEpochIsRefusedWithTheCurrentEntry) {
  for (Epoch stale : {Epoch(0), Epoch(2)}) {
    const ClientReply reply = ask(0, stale);
    EXPECT_EQ(reply.status, ReplyStatus::kStaleEpoch);
    ASSERT_TRUE(reply.route.has_value());
    EXPECT_EQ(reply.route->epoch, Epoch(3));
    EXPECT_EQ(reply.route->leader, NodeId(1));  // the live leader, not only the map's hint
  }
  EXPECT_EQ(host_.group(shard::group_of(0))->kv().get("k"), std::nullopt);  // nothing written
}

TEST_F(ShardedHost, ANewerEpochThanTheHostsIsRedirected) {
  const ClientReply reply = ask(0, Epoch(4));  // this host is the one behind
  EXPECT_EQ(reply.status, ReplyStatus::kRedirect);
  EXPECT_EQ(reply.route->epoch, Epoch(3));
}

TEST_F(ShardedHost, AShardHostedElsewhereIsRedirectedWithItsRoute) {
  const ClientReply reply = ask(1, Epoch(2));
  EXPECT_EQ(reply.status, ReplyStatus::kRedirect);
  ASSERT_TRUE(reply.route.has_value());
  EXPECT_EQ(reply.route->replicas, (std::vector<NodeId>{NodeId(2), NodeId(3), NodeId(4)}));
  EXPECT_EQ(reply.leader_hint, NodeId(4));
}

// Load reports (the executor's load-aware planning) count what a replica took as its shard's
// leader apart from what it took as a follower: leader-served load moves with leadership,
// follower-served reads stay with the replica. A follower redirects writes: it counts reads only.
TEST(HostLoad, ReportsWhatItServedAsLeaderAndAsFollowerApart) {
  Host host(NodeId(1), 1);
  raft::MemoryLogStore led_store;
  raft::MemoryLogStore followed_store;
  NodeConfig alone;  // shard 0: a group of one, which n1 leads
  alone.raft.id = NodeId(1);
  alone.raft.voters = {NodeId(1)};
  NodeConfig three = alone;  // shard 1: n2 and n3 are its other voters; n1 follows
  three.raft.voters = {NodeId(1), NodeId(2), NodeId(3)};
  three.raft.election_ticks = 1000;
  ASSERT_TRUE(host.add_group(shard::group_of(0), alone, led_store, Rng(1)).is_ok());
  ASSERT_TRUE(host.add_group(shard::group_of(1), three, followed_store, Rng(2)).is_ok());
  host.set_route(shard::RouteEntry{0, Epoch(1), {NodeId(1)}, NodeId(1)});
  host.set_route(shard::RouteEntry{1, Epoch(1), {NodeId(1), NodeId(2), NodeId(3)}, NodeId(2)});
  PlacementHostOptions options;
  options.meta_voters = {NodeId(2)};
  options.load_report_ticks = 5;
  host.enable_placement(options);
  std::vector<shard::Control> reports;
  auto drain = [&] {
    while (host.has_ready()) {
      HostReady ready = host.take_ready();
      for (GroupReady& group : ready.groups) {
        raft::MemoryLogStore& store =
            group.group == shard::group_of(0) ? led_store : followed_store;
        EXPECT_TRUE(store.append(group.ready.raft.entries_to_persist).is_ok());
        if (group.ready.raft.hard_state) {
          EXPECT_TRUE(store.set_hard_state(*group.ready.raft.hard_state).is_ok());
        }
      }
      for (const PeerBatch& batch : ready.batches) {
        for (const GroupMessage& message : batch.messages) {
          if (message.control && message.control->kind == shard::ControlKind::kLoad) {
            EXPECT_EQ(batch.to, NodeId(2));
            reports.push_back(*message.control);
          }
        }
      }
      host.advance();
    }
  };
  host.group(shard::group_of(0))->campaign();
  drain();
  ASSERT_EQ(host.group(shard::group_of(0))->raft().role(), raft::Role::kLeader);
  ASSERT_NE(host.group(shard::group_of(1))->raft().role(), raft::Role::kLeader);
  uint64_t next = 1;
  auto ask = [&](uint32_t shard, kv::Op op) {
    ClientRequest request;
    request.client = 1;
    request.request = next++;
    request.group = shard::group_of(shard);
    request.epoch = Epoch(1);
    request.command = {op, "k", op == kv::Op::kGet ? "" : "v"};
    host.on_client_request(request);
  };
  ask(0, kv::Op::kPut);
  ask(0, kv::Op::kGet);
  ask(0, kv::Op::kPut);
  ask(1, kv::Op::kGet);
  ask(1, kv::Op::kPut);  // redirected to the leader: not served here
  for (int t = 0; t < 5; ++t) {
    host.tick();
    drain();
  }
  ASSERT_EQ(reports.size(), 1u);
  // The shard it leads also reports its size ("k" = "v": 2 bytes), since it changed.
  EXPECT_EQ(reports[0].loads,
            (std::vector<shard::ShardServed>{{0, 3, 0, true, 2}, {1, 0, 1, false, 0}}));
  for (int t = 0; t < 10; ++t) {
    host.tick();
    drain();
  }
  EXPECT_EQ(reports.size(), 1u) << "an idle host reports nothing (no calls, no size change)";
}

TEST(RouteCache, NewerEpochsWinAndLeaderHintsUpdate) {
  shard::RouteCache cache;
  EXPECT_TRUE(cache.update({5, Epoch(2), {NodeId(1)}, NodeId(1)}));
  EXPECT_FALSE(cache.update({5, Epoch(1), {NodeId(9)}, NodeId(9)}));  // older: ignored
  EXPECT_EQ(cache.find(5)->replicas, std::vector<NodeId>{NodeId(1)});
  EXPECT_FALSE(cache.update({5, Epoch(2), {NodeId(1)}, kNoNode}));  // no news
  EXPECT_EQ(cache.find(5)->leader, NodeId(1));
  EXPECT_TRUE(cache.update({5, Epoch(3), {NodeId(2)}, kNoNode}));
  EXPECT_EQ(cache.find(5)->replicas, std::vector<NodeId>{NodeId(2)});
  cache.set_leader(5, NodeId(2));
  EXPECT_EQ(cache.find(5)->leader, NodeId(2));
  EXPECT_EQ(cache.find(6), nullptr);
}

// --snapshot-rate: the host refills its groups' shared snapshot budget every tick, up to the
// burst (never below one chunk), and every group added afterwards draws from it.
TEST(HostSnapshotBudget, RefillsEveryTickUpToTheBurst) {
  Host host(NodeId(1), 3);
  host.limit_snapshot_rate(100, 250, 64);
  EXPECT_EQ(host.snapshot_budget().available, 250u) << "starts full";
  raft::MemoryLogStore store;
  NodeConfig config;
  config.raft.id = NodeId(1);
  config.raft.voters = {NodeId(1)};
  ASSERT_TRUE(host.add_group(GroupId(2), config, store, Rng(1)).is_ok());
  EXPECT_EQ(host.group(GroupId(2))->raft().config().snapshot_budget, &host.snapshot_budget());
  for (int i = 0; i < 5; ++i) host.tick();
  EXPECT_EQ(host.snapshot_budget().available, 250u) << "never above the burst";

  Host small(NodeId(1), 3);
  small.limit_snapshot_rate(10, 20, 64 * 1024);
  EXPECT_EQ(small.snapshot_budget().available, 64u * 1024) << "the burst holds a chunk at least";
}

}  // namespace
}  // namespace grape::node
