#!/usr/bin/env bash
# `grape shard plan`, the offline planner, end to end: a placement, a join planned from it with
# --from (moves to the new node only, as few as possible), a removal, weights, and bad input
# (exit 2 with a message naming the flag or the file).
set -euo pipefail
grape=${1:?usage: check_shard_plan.sh GRAPE}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$grape" shard plan --nodes 3 --shards 1024 --replication 3 --format json >"$dir/three.json"
jq -e '(.shards | length) == 1024 and all(.shards[]; (.replicas | unique | length) == 3)
       and all(.shards[]; .leader as $l | .replicas | index($l) != null)' "$dir/three.json" \
  >/dev/null || fail "3 nodes: every shard needs 3 distinct replicas and a leader among them"
jq -e '[.nodes[].leaders] | max - min <= 1' "$dir/three.json" >/dev/null \
  || fail "3 nodes: leaders differ by more than one"

"$grape" shard plan --nodes 4 --from "$dir/three.json" --format json >"$dir/four.json"
jq -e '(.moves | length) == 768 and (.moves | length) == .minimum_moves
       and all(.moves[]; .to == "n4") and .version == 2' "$dir/four.json" >/dev/null \
  || fail "a fourth node: expected exactly 768 moves, all to n4"
jq -e '[.nodes[].replicas] == [768, 768, 768, 768]' "$dir/four.json" >/dev/null \
  || fail "a fourth node: expected 768 replicas on each"

"$grape" shard plan --nodes 4 --remove n2 --from "$dir/four.json" --format json >"$dir/out.json"
jq -e 'all(.moves[]; .from == "n2") and all(.shards[]; .replicas | index("n2") == null)' \
  "$dir/out.json" >/dev/null || fail "removing n2: only n2's replicas may move, and all of them"

"$grape" shard plan --nodes 4 --weights 1,1,1,2 --shards 500 --replication 2 --format json \
  >"$dir/weighted.json"
jq -e '[.nodes[].replicas] == [200, 200, 200, 400]' "$dir/weighted.json" >/dev/null \
  || fail "weights 1,1,1,2: expected 200, 200, 200 and 400 replicas"

"$grape" shard plan --nodes 4 --from "$dir/three.json" | grep -q "768 replica moves" \
  || fail "the table names the moves"

expect_bad() {  # expect_bad MESSAGE ARGS...: exit 2, and stderr says MESSAGE
  local message=$1
  shift
  local status=0
  "$grape" shard plan "$@" 2>"$dir/err" >/dev/null || status=$?
  [[ $status -eq 2 ]] || fail "grape shard plan $*: exit $status, expected 2"
  grep -qF -- "$message" "$dir/err" || fail "grape shard plan $*: stderr lacks '$message': $(cat "$dir/err")"
}
expect_bad "--weights: 2 weights for 3 nodes" --nodes 3 --weights 1,2
expect_bad "'x' is not a positive number" --nodes 3 --weights 1,x,2
expect_bad "--remove: n9 is not one of n1..n4" --nodes 4 --remove n9
expect_bad "replication 3 needs 1..2" --nodes 2 --from "$dir/three.json"
expect_bad "--shards 99, but" --shards 99 --from "$dir/three.json"
echo '{"shards": [{"id": 0, "replicas": ["n1", "bob"], "leader": "n1"}]}' >"$dir/bad.json"
expect_bad "bad.json: shard 0: 'bob' is not a node name" --nodes 3 --from "$dir/bad.json"
echo 'nope' >"$dir/bad.json"
expect_bad "bad.json: not JSON" --from "$dir/bad.json"
echo "grape shard plan: placements, joins, removals, weights and bad input all as expected"
