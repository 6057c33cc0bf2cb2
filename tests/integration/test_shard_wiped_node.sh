#!/usr/bin/env bash
# Review 10: a sharded cluster's initial member that holds NO metadata replica (n4 of 4: the
# metadata group is n1..n3) bootstraps shard replicas from an empty data dir just like the
# metadata members do. If its data dir is lost and it is started again with the same flags, it
# must refuse (as the metadata members do, etcd's isMemberBootstrapped): starting afresh it has
# forgotten its votes and the entries it acknowledged in every shard group it is a voter of, so a
# shard could elect a leader without a committed entry (lost acknowledged write) or get two
# leaders in one term. The "started/nX" marker that guards this is only written by members of
# the metadata group (Runtime::maybe_mark_started), so n4 is never marked and re-bootstraps.
#
# Expected: n4 exits with "has run in this cluster before". Before review 10's fix: it bootstraps its first
# replicas again from index 1 and runs.
source "$(dirname "$0")/lib.sh" "$1"

start_sharded_cluster 4 8
# Some acknowledged writes, so that n4's shard replicas hold entries it acknowledged.
for i in $(seq 1 40); do "$GRAPE" kv put "k$i" "v$i" >/dev/null || fail "put k$i"; done
grep -q "bootstrapped" "$WORK/n4.log" || fail "n4 did not bootstrap shard replicas at the first start"
# Until the metadata group records that n4 has run, n4 acknowledges nothing (a wipe before that
# loses nothing, and n4 may start afresh): the case under test begins once it is recorded.
n4_recorded() { grep -q "records that this node has run" "$WORK/n4.log"; }
wait_for "the metadata group to record that n4 has run" 20 n4_recorded
say "n4 bootstrapped its first shard replicas; wiping its data dir"

kill_node 4
rm -rf "$WORK/n4"
: >"$WORK/n4.log"
start_node 4
PID=${NODE_PID[4]}
# check_never_started waits at most 2 s for the peers' answers.
for _ in $(seq 1 60); do
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$PID" 2>/dev/null; then
  fail "n4 started again from an empty data dir (its votes and acknowledged entries lost): $(grep -m1 bootstrapped "$WORK/n4.log" || true)"
fi
grep -q "has run in this cluster before" "$WORK/n4.log" || fail "n4 exited, but not for the right reason"
say "ok"
