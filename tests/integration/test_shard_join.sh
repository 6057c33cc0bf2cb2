#!/usr/bin/env bash
# Sharding on real nodes: a 3-node cluster of 64 shards takes a write load through every node; a
# fourth node is added under that load, the executor moves replicas to it (each move a learner,
# catch-up, joint-consensus swap), and the clients' history must be linearizable, with every
# acknowledged write read back at the end. Then every node's replica and leader counts are even.
source "$(dirname "$0")/lib.sh" "$1"

SHARDS=64
start_sharded_cluster 3 $SHARDS

"$GRAPE" bench --clients 8 --duration 10s --op mixed --keys 200 --value-bytes 8 --timeout 3s \
  --history "$WORK/history.jsonl" --format json >"$WORK/bench.json" 2>"$WORK/bench.err" &
BENCH=$!
ALL_PIDS+=($BENCH)
sleep 2
"$GRAPE" member add n4 "$(peer_addr 4)" >/dev/null || fail "member add n4"
start_node 4 --initial-cluster-state existing
say "n4 added under load"

# Every replica n4 should get (a quarter of 64 x 3, within one) has moved, and no move is left.
settled() {
  local s
  s=$(sharding "$(leader_index)")
  [[ $(jq .moves_unfinished <<<"$s") -eq 0 && $(jq .moves_done <<<"$s") -ge 47 ]]
}
wait_for "the moves to n4" 60 settled
say "moves: $(sharding "$(leader_index)")"
wait "$BENCH" || fail "bench failed: $(cat "$WORK/bench.err")"
say "bench: $(cat "$WORK/bench.json")"
[[ $(jq .ok "$WORK/bench.json") -gt 500 ]] || fail "too few calls succeeded"
"$GRAPE" history check "$WORK/history.jsonl" || fail "the history is not linearizable"
reads=$(grep -c '"type":"ok","f":"get"' "$WORK/history.jsonl" || true)
say "history linearizable; $reads reads ok"

# The map: 48 replicas on each node (64 x 3 / 4), and n4 serves its own.
members=$("$GRAPE" member list --format json)
say "members: $(jq -c '[.members[] | {id, replicas, leaders}]' <<<"$members")"
[[ $(jq '[.members[] | select(.replicas == 48)] | length' <<<"$members") -eq 4 ]] ||
  fail "replicas are not 48 per node"
[[ $(sharding 4 | jq .replicas) -eq 48 ]] || fail "n4 does not hold 48 replicas"
"$GRAPE" kv put after-join yes --endpoints "$(http_url 4)" >/dev/null || fail "no write through n4"
metric() { curl -sf "$(http_url "$1")/metrics" | awk -v m="$2" '$1 ~ "^"m"[{]" {print $2; exit}'; }
[[ $(metric 4 grape_shard_replicas) == 48 && $(metric 4 grape_shard_replicas_created_total) -ge 48 ]] ||
  fail "n4's metrics: $(metric 4 grape_shard_replicas) replicas, $(metric 4 grape_shard_replicas_created_total) created"
L=$(leader_index)
[[ $(curl -sf "$(http_url "$L")/metrics" | grep -c '^grape_shard_node_replicas{.*} 48$') -eq 4 ]] ||
  fail "the map's metrics do not show 48 replicas per node"
[[ $("$GRAPE" shard list --format json | jq '.shards | length') -eq $SHARDS ]] || fail "shard list"
route=$("$GRAPE" shard route after-join --format json)
[[ $(jq '.replicas | length' <<<"$route") -eq 3 ]] || fail "shard route: $route"
[[ $("$GRAPE" shard rebalance --dry-run --format json | jq '.moves | length') -eq 0 ]] ||
  fail "a balanced map still plans moves"
[[ $("$GRAPE" kv get after-join --endpoints "$(http_url 1)") == yes ]] || fail "cannot read it back"
say "ok"
