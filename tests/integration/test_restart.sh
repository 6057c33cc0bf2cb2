#!/usr/bin/env bash
# Restart and catch-up: a follower down while 200 writes commit catches up when it returns (by a
# snapshot, the log being compacted meanwhile); then every node is killed at once and the
# restarted cluster still holds every write.
source "$(dirname "$0")/lib.sh" "$1"

NODE_FLAGS="--snapshot-every 50"
start_cluster 3
F=$(followers | head -1)
say "kill -9 follower $F"
kill_node "${F#n}"
"$GRAPE" bench --clients 4 --duration 2s --op put --keys 50 --value-bytes 8 --format json >/dev/null
for i in $(seq 1 20); do "$GRAPE" kv put "key$i" "v$i" >/dev/null; done
start_node "${F#n}"
wait_for "$F to catch up" 20 caught_up
[[ $("$GRAPE" kv get --stale --endpoints "$(http_url "${F#n}")" key20) == v20 ]] || fail "$F lacks key20"
grep -q "installed a snapshot" "$WORK/$F.log" || fail "$F caught up without a snapshot"
say "$F caught up by a snapshot"

say "kill -9 every node"
for i in 1 2 3; do kill_node "$i"; done
for i in 1 2 3; do start_node "$i"; done
wait_for "a leader after the restart" 20 has_leader
for i in 1 7 20; do
  [[ $("$GRAPE" kv get "key$i") == "v$i" ]] || fail "key$i lost across the restart"
done
"$GRAPE" kv put after restart >/dev/null || fail "no write after the restart"

say "a member whose data dir was lost must not bootstrap again (it would forget its votes)"
F=$(followers | head -1)
kill_node "${F#n}"
rm -rf "${WORK:?}/$F"
start_node "${F#n}"
wait_for "$F to refuse to start" 10 bash -c "! kill -0 ${NODE_PID[${F#n}]} 2>/dev/null"
{ wait "${NODE_PID[${F#n}]}"; } 2>/dev/null || true
grep -q "has run in this cluster before" "$WORK/$F.log" || fail "$F started on an empty data dir"
"$GRAPE" kv put still writable >/dev/null || fail "no write with two members"
say "ok"
