#!/usr/bin/env bash
# Peers that fail the handshake are refused and logged: a node with a wrong cluster token, and
# one that names another cluster, never disturb the cluster.
source "$(dirname "$0")/lib.sh" "$1"

start_cluster 3
L=$(leader)
term=$(status_json | jq .term)
intruders="n1=$(peer_addr 1),n2=$(peer_addr 2),n3=$(peer_addr 3),n4=$(peer_addr 4)"
"$GRAPE" node start --id n4 --data-dir "$WORK/n4" --listen-peer "$(peer_addr 4)" \
  --listen-http "127.0.0.1:$((HTTP_BASE + 4))" --initial-cluster "$intruders" \
  --cluster-token not-the-token --election-timeout 300ms --heartbeat 50ms >>"$WORK/n4.log" 2>&1 &
ALL_PIDS+=($!)
"$GRAPE" node start --id n5 --data-dir "$WORK/n5" --listen-peer "$(peer_addr 5)" \
  --listen-http "127.0.0.1:$((HTTP_BASE + 5))" \
  --initial-cluster "$intruders,n5=$(peer_addr 5)" --cluster-id another --cluster-token "$TOKEN" \
  --election-timeout 300ms --heartbeat 50ms >>"$WORK/n5.log" 2>&1 &
ALL_PIDS+=($!)
wait_for "the wrong token to be refused" 15 grep -q "closed during the handshake" "$WORK/n1.log" "$WORK/n2.log" "$WORK/n3.log"
wait_for "the intruder to find our proof wrong" 15 grep -q "proof is wrong" "$WORK/n4.log"
wait_for "the other cluster to be refused" 15 grep -q "names cluster 'another'" "$WORK/n1.log" "$WORK/n2.log" "$WORK/n3.log"
refused=$(curl -sf "$(http_url 1)/metrics" | awk '/^grape_peer_connections_refused_total/ {print $2}')
say "n1 refused $refused peer connections"
sleep 1
[[ $(leader) == "$L" && $(status_json | jq .term) == "$term" ]] || fail "the intruders disturbed the cluster"
[[ $(status_json | jq '.members | length') -eq 3 ]] || fail "members changed"
"$GRAPE" kv put still working >/dev/null || fail "no write"
say "ok"
