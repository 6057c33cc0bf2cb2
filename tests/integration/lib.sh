#!/usr/bin/env bash
# Helpers of the integration tests: real `grape node` processes on 127.0.0.1. Every test sources
# this file with the grape binary as its first argument; the EXIT trap kills every process the
# test started and removes its files, also when the test fails (and then prints the nodes' logs).
set -euo pipefail

GRAPE=$(realpath "$1")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/grape-it.XXXXXX")
TOKEN=it-secret
declare -A NODE_PID=()
ALL_PIDS=()
TEST_NAME=$(basename "$0" .sh)

cleanup() {
  local status=$?
  for pid in "${ALL_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  { wait; } 2>/dev/null || true
  if [[ $status -ne 0 ]]; then
    echo "--- $TEST_NAME failed; node logs:" >&2
    for log in "$WORK"/n*.log; do
      [[ -f $log ]] || continue
      echo "--- $log (last 30 lines)" >&2
      tail -n 30 "$log" >&2
    done
  fi
  rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

say() { echo "[$TEST_NAME] $*"; }

# Whether something listens on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Picks PEER_BASE and HTTP_BASE so that ports BASE+1..BASE+9 are free for both. Below the
# kernel's ephemeral range (32768 and up here): a port in it may be taken by an outgoing
# connection between the check and the node's bind.
pick_ports() {
  local attempt base ok i
  for attempt in $(seq 1 50); do
    base=$((20000 + (RANDOM * 7 + $$ + attempt * 101) % 11000))
    base=$((base - base % 10))
    ok=1
    for i in $(seq 1 9); do
      if port_in_use $((base + i)) || port_in_use $((base + 1000 + i)); then ok=0; break; fi
    done
    if [[ $ok -eq 1 ]]; then
      PEER_BASE=$base
      HTTP_BASE=$((base + 1000))
      return 0
    fi
  done
  fail "no free ports found"
}

peer_addr() { echo "127.0.0.1:$((PEER_BASE + $1))"; }
http_url() { echo "http://127.0.0.1:$((HTTP_BASE + $1))"; }

# Sets INITIAL_CLUSTER and GRAPE_ENDPOINTS for nodes 1..$1.
define_cluster() {
  local n=$1 i
  pick_ports
  INITIAL_CLUSTER=""
  GRAPE_ENDPOINTS=""
  for i in $(seq 1 "$n"); do
    INITIAL_CLUSTER+="${INITIAL_CLUSTER:+,}n$i=$(peer_addr "$i")"
    GRAPE_ENDPOINTS+="${GRAPE_ENDPOINTS:+,}$(http_url "$i")"
  done
  export GRAPE_ENDPOINTS GRAPE_TOKEN=$TOKEN
}

# start_node I [extra flags...]: starts node nI in the background, logging to $WORK/nI.log.
start_node() {
  local i=$1
  shift
  "$GRAPE" node start --id "n$i" --data-dir "$WORK/n$i" --listen-peer "$(peer_addr "$i")" \
    --listen-http "127.0.0.1:$((HTTP_BASE + i))" --initial-cluster "$INITIAL_CLUSTER" \
    --cluster-token "$TOKEN" --heartbeat 50ms --election-timeout 500ms ${NODE_FLAGS:-} "$@" \
    >>"$WORK/n$i.log" 2>&1 &
  NODE_PID[$i]=$!
  ALL_PIDS+=($!)
}

kill_node() {
  local i=$1
  kill -9 "${NODE_PID[$i]}" 2>/dev/null || true
  { wait "${NODE_PID[$i]}"; } 2>/dev/null || true  # quietly: no "Killed" line
}

start_cluster() {
  local n=$1 i
  define_cluster "$n"
  for i in $(seq 1 "$n"); do start_node "$i"; done
  wait_for "a leader" 20 has_leader
}

# wait_for WHAT SECONDS COMMAND...: polls the command until it succeeds.
wait_for() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [[ $SECONDS -lt $deadline ]] || fail "timed out after ${seconds}s waiting for $what"
    sleep 0.1
  done
}

status_json() { "$GRAPE" cluster status --format json --timeout 1s; }
has_leader() { [[ $(status_json | jq -r .leader) =~ ^n[0-9]+$ ]]; }
leader() { status_json | jq -r .leader; }
leader_index() { leader | sed 's/^n//'; }
# The ids of the followers, one per line.
followers() { status_json | jq -r '.members[] | select(.role == "follower") | .id'; }
# Whether every member's match index equals the leader's last index.
caught_up() {
  local s
  s=$(status_json)
  [[ $(jq -r .role <<<"$s") == leader ]] || return 1
  [[ $(jq '[.members[] | .lag] | all(. == 0)' <<<"$s") == true ]]
}

# Sharded clusters. sharding I: node nI's `sharding` section of /v1/cluster.
sharding() { curl -sf "$(http_url "$1")/v1/cluster" | jq -c .sharding; }
map_written() { [[ $(sharding "$(leader_index)" | jq .map_version) -ge 1 ]]; }
# Whether nodes 1..$1 are all ready: every replica on each knows its group's leader.
all_ready() {
  local i
  for i in $(seq 1 "$1"); do curl -sf "$(http_url "$i")/ready" >/dev/null || return 1; done
}
# start_sharded_cluster N SHARDS: N nodes of SHARDS shards (every later start_node too), once
# the metadata leader has written the first map and every shard has a leader.
start_sharded_cluster() {
  NODE_FLAGS="--shards $2"
  start_cluster "$1"
  wait_for "the first shard map" 20 map_written
  wait_for "a leader in every shard" 20 all_ready "$1"
}
