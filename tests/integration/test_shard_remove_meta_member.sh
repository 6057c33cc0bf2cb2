#!/usr/bin/env bash
# Review 10: removing members of a sharded cluster that hold the metadata group.
#
# DELETE /v1/members/nX marks the node leaving and the executor moves its shard replicas away;
# GET /v1/members then shows it with 0 replicas, i.e. safe to shut down. But the metadata group
# (group 1: the map, the plan, the executor) stays on the nodes the cluster was created with
# (meta_voters_of: n1..n3 of 5), and nothing moves it. Remove n1 and n2 (3 active nodes are left,
# enough for replication 3), wait until they hold nothing, shut them down as one would a removed
# node: the metadata group has lost its quorum and the cluster is wedged (no map, no moves, no
# member changes). PD never lets that happen: a store goes Offline -> Tombstone only once every
# peer on it has been moved, and PD's own members are changed by explicit membership changes.
#
# Expected: either the DELETE of a metadata member is refused, or the metadata group still has a
# leader among n3..n5 after n1 and n2 are removed and stopped.
source "$(dirname "$0")/lib.sh" "$1"

start_sharded_cluster 5 8
say "metadata group: $(curl -sf "$(http_url 3)/v1/cluster" | jq -c '[.members[].id]')"

for n in n1 n2; do
  if ! out=$("$GRAPE" member remove "$n" 2>&1); then
    say "removing $n refused: $out"
    say "ok"
    exit 0
  fi
done
say "n1 and n2 are leaving"

members_json() { curl -sf "$(http_url 3)/v1/members"; }
emptied() {
  local m
  m=$(members_json)
  [[ $(jq '[.members[] | select((.id == "n1" or .id == "n2") and .replicas == 0)] | length' <<<"$m") -eq 2 ]]
}
wait_for "n1 and n2 to hold no shard replica" 60 emptied
say "members: $(members_json | jq -c '[.members[] | {id, state, replicas}]')"

kill_node 1
kill_node 2
say "n1 and n2 (removed, 0 replicas) stopped"
meta_leader() { [[ $(curl -sf "$(http_url "$1")/v1/cluster" | jq -r .leader) =~ ^n[0-9]+$ ]]; }
has_meta_leader() { meta_leader 3 || meta_leader 4 || meta_leader 5; }
sleep 3
deadline=$((SECONDS + 15))
until has_meta_leader; do
  [[ $SECONDS -lt $deadline ]] ||
    fail "after removing n1 and n2 and stopping them, the metadata group has no leader: the cluster is wedged ($(curl -s "$(http_url 3)/v1/cluster" | jq -c '{leader, members: [.members[].id]}'))"
  sleep 0.2
done
say "ok"
