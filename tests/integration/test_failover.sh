#!/usr/bin/env bash
# kill -9 of the leader, then of a follower, under a write load: clients record a history that
# `grape history check` must find linearizable, ending with a read of every key (so every
# acknowledged write is read back); the killed nodes restart and catch up.
source "$(dirname "$0")/lib.sh" "$1"

start_cluster 3
"$GRAPE" bench --clients 8 --duration 9s --op mixed --keys 20 --value-bytes 8 --timeout 2s \
  --history "$WORK/history.jsonl" --format json >"$WORK/bench.json" 2>"$WORK/bench.err" &
BENCH=$!
ALL_PIDS+=($BENCH)
sleep 2
L=$(leader_index)
say "kill -9 leader n$L"
start=$(date +%s%N)
kill_node "$L"
wait_for "a new leader" 15 bash -c "l=\$('$GRAPE' cluster status --format json --timeout 1s | jq -r .leader); [[ \$l =~ ^n[0-9]+$ && \$l != n$L ]]"
say "new leader $(leader) after $((($(date +%s%N) - start) / 1000000)) ms"
sleep 1
start_node "$L"
sleep 2
F=$(followers | head -1)
say "kill -9 follower $F"
kill_node "${F#n}"
sleep 1
start_node "${F#n}"
wait "$BENCH" || fail "bench failed: $(cat "$WORK/bench.err")"
say "bench: $(cat "$WORK/bench.json")"
[[ $(jq .ok "$WORK/bench.json") -gt 1000 ]] || fail "too few calls succeeded"
"$GRAPE" history check "$WORK/history.jsonl" || fail "the history is not linearizable"
reads=$(grep -c '"type":"ok","f":"get"' "$WORK/history.jsonl" || true)
say "history linearizable; $reads reads ok"
wait_for "every node to catch up" 20 caught_up
say "ok"
