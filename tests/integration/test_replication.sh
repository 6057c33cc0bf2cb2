#!/usr/bin/env bash
# Election and replication: three nodes elect one leader that all agree on; a write through a
# follower is forwarded to the leader and reaches every node; status, health, readiness and
# metrics answer.
source "$(dirname "$0")/lib.sh" "$1"

start_cluster 3
s=$(status_json)
jq -e '(.leader | test("^n[1-3]$")) and .term >= 1 and (.members | length == 3)
       and all(.members[]; has("id") and has("role") and has("match_index"))' <<<"$s" >/dev/null ||
  fail "cluster status lacks leader, term or members: $s"
L=$(leader)
say "leader $L, term $(jq .term <<<"$s")"
for i in 1 2 3; do
  wait_for "n$i to follow $L" 10 bash -c "curl -sf $(http_url "$i")/v1/cluster | jq -e '.leader == \"$L\"'"
done
[[ $(jq '[.members[] | select(.role == "leader")] | length' <<<"$s") -eq 1 ]] || fail "not one leader: $s"

F=$(followers | head -1)
out=$("$GRAPE" kv put --endpoints "$(http_url "${F#n}")" color blue)
say "put through follower $F: $out"
[[ $out == *"node $L"* ]] || fail "the write was not served by the leader $L: $out"
for i in 1 2 3; do
  wait_for "n$i to hold color" 10 bash -c "[[ \$('$GRAPE' kv get --stale --endpoints $(http_url "$i") color) == blue ]]"
done
[[ $("$GRAPE" kv get --endpoints "$(http_url "${F#n}")" color) == blue ]] || fail "linearizable read at $F"
"$GRAPE" kv get nothing-here && fail "kv get of an absent key exited 0"

curl -sf "$(http_url 1)/health" | jq -e '.status == "ok"' >/dev/null || fail "/health"
for i in 1 2 3; do wait_for "n$i ready" 10 curl -sf "$(http_url "$i")/ready"; done
metrics=$(curl -sf "$(http_url "${L#n}")/metrics")
for name in grape_raft_term grape_raft_leader_changes_total grape_proposals_committed_total \
  grape_replication_latency_seconds_bucket grape_wal_sync_latency_seconds_bucket \
  grape_peer_send_queue_frames grape_http_request_duration_seconds_bucket grape_snapshots_saved_total \
  grape_raft_apply_lag_entries; do
  grep -q "^$name" <<<"$metrics" || fail "/metrics lacks $name"
done
say "ok"
