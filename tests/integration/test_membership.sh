#!/usr/bin/env bash
# Membership: add a fourth node (it joins empty and learns everything from the leader), read
# through it, remove it, remove a voter, add a learner and promote it.
source "$(dirname "$0")/lib.sh" "$1"

start_cluster 3
"$GRAPE" kv put before-join yes >/dev/null
"$GRAPE" member add n4 "$(peer_addr 4)" || fail "member add n4"
start_node 4 --initial-cluster-state existing
wait_for "n4 to catch up" 20 caught_up
[[ $("$GRAPE" kv get --endpoints "$(http_url 4)" before-join) == yes ]] || fail "n4 cannot read"
[[ $("$GRAPE" member list --format json | jq '[.members[] | select(.voter)] | length') -eq 4 ]] ||
  fail "not 4 voters"
say "n4 joined"

"$GRAPE" member remove n4 || fail "member remove n4"
[[ $("$GRAPE" member list --format json | jq '.members | length') -eq 3 ]] || fail "n4 still a member"
F=$(followers | head -1)
"$GRAPE" member remove "$F" || fail "member remove $F"
[[ $("$GRAPE" member list --format json | jq '.members | length') -eq 2 ]] || fail "$F still a member"
"$GRAPE" kv put after-remove yes >/dev/null || fail "no write with two voters"
say "removed n4 and $F"

"$GRAPE" member add n5 "$(peer_addr 5)" --learner || fail "member add n5 --learner"
start_node 5 --initial-cluster-state existing
[[ $("$GRAPE" member list --format json | jq -r '.members[] | select(.id == "n5") | .role') == learner ]] ||
  fail "n5 is not a learner"
wait_for "n5 to catch up" 20 caught_up
"$GRAPE" member promote n5 || fail "member promote n5"
[[ $("$GRAPE" member list --format json | jq -r '.members[] | select(.id == "n5") | .voter') == true ]] ||
  fail "n5 is not a voter"
"$GRAPE" member add n4 "$(peer_addr 4)" && "$GRAPE" member add n4 "$(peer_addr 4)" &&
  fail "adding a member twice succeeded"
say "ok"
