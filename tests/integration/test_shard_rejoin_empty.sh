#!/usr/bin/env bash
# Review 10: a sharded cluster's initial member that lost its data dir and is started with
# --initial-cluster-state existing (what the refusal of check_never_started tells the operator to
# do) must not bootstrap anything: a joining node "holds nothing until moves bring it replicas".
# Runtime::bootstrap_groups() looks at config_.join only on the unsharded path; sharded, it
# bootstraps every replica shard::initial_layout gives the node, the metadata group included
# (whose voters never change), from index 1 with an empty hard state: a voter that forgot its
# votes and the entries it acknowledged (etcd refuses exactly this; it would let a leader without
# a committed entry be elected).
#
# Expected: n3 bootstraps nothing (or refuses to start). Before review 10's fix: "bootstrapped N replicas of a new
# cluster" and it runs as a voter of group 1 again.
source "$(dirname "$0")/lib.sh" "$1"

start_sharded_cluster 3 8
for i in $(seq 1 20); do "$GRAPE" kv put "k$i" "v$i" >/dev/null || fail "put k$i"; done
# n3 must not be the leader for the rest (kill a follower).
L=$(leader_index)
V=3
[[ $L -eq 3 ]] && V=2
say "wiping n$V (leader n$L) and starting it with --initial-cluster-state existing"
kill_node "$V"
rm -rf "${WORK:?}/n$V"
: >"$WORK/n$V.log"
start_node "$V" --initial-cluster-state existing
PID=${NODE_PID[$V]}
for _ in $(seq 1 80); do
  grep -q "bootstrapped" "$WORK/n$V.log" && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
if grep -q "bootstrapped" "$WORK/n$V.log"; then
  fail "n$V rejoined with an empty data dir and bootstrapped its first replicas again: $(grep -m1 bootstrapped "$WORK/n$V.log")"
fi
say "ok"
