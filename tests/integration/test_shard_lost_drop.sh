#!/usr/bin/env bash
# A drop that ends a replica's life on the node a move took it from must reach that node even if
# it is down when the move finishes, and even if the metadata leader that owed it restarts
# meanwhile (review 10: the drop was sent once, from memory, and the replica stayed forever).
# The metadata group's record of each move owes the drop until the node acknowledges it.
#
# 4 nodes of 8 shards; n4 (outside the metadata group) is killed and removed, its replicas move
# away; the metadata leader is restarted (its peer queues die with it), then n4 comes back with
# its old replicas on disk. It must end up holding none, and its write-ahead log must let the
# dropped replicas' segments go.
source "$(dirname "$0")/lib.sh" "$1"

start_sharded_cluster 4 8
n4_holds() { [[ $(sharding 4 | jq .replicas) -gt 0 ]]; }
wait_for "n4 to hold its first replicas" 20 n4_holds
before=$(sharding 4 | jq .replicas)
say "n4 holds $before replicas; stopping it and removing it"

kill_node 4
"$GRAPE" member remove n4 >/dev/null || fail "member remove n4"
members_json() { curl -sf "$(http_url 1)/v1/members"; }
emptied() {
  [[ $(members_json | jq '[.members[] | select(.id == "n4" and .replicas == 0)] | length') -eq 1 &&
     $(sharding "$(leader_index)" | jq .moves_unfinished) -eq 0 ]]
}
wait_for "n4's replicas to move away" 90 emptied

L=$(leader_index)
say "the map gives n4 nothing; restarting the metadata leader n$L, then n4"
kill_node "$L"
start_node "$L"
wait_for "a metadata leader" 20 has_leader

start_node 4
wait_for "n4 to answer" 20 sharding 4
n4_empty() { [[ $(sharding 4 | jq .replicas) -eq 0 ]]; }
wait_for "n4 to drop the replicas it was given no longer" 60 n4_empty
grep -q "dropped its replica of group" "$WORK/n4.log" || fail "n4's log says nothing of the drops"
# Every drop acknowledged: the record owes nothing (drops_unacked in /v1/rebalance).
acked() { [[ $(curl -sf "$(http_url "$(leader_index)")/v1/rebalance" | jq .drops_unacked) -eq 0 ]]; }
wait_for "every drop to be acknowledged" 30 acked
say "ok: n4 dropped all $before replicas after its return, every drop acknowledged"
