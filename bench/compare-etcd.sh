#!/usr/bin/env bash
# grape against etcd on this machine, same run, same client (docs/benchmarks.md):
#   - a 3-member etcd (Debian's etcd-server, default durability: every write fsynced) and a 3-node
#     grape (every write fdatasynced), each alone on loopback while it is measured;
#   - wrk with a Lua script drives both: puts of 16-byte keys and 256-byte values and
#     linearizable gets at 1, 16 and 64 connections, at the leader (etcd through its v3 JSON
#     gateway, POST /v3/kv/put and /v3/kv/range; grape through PUT and GET /v1/kv/{key});
#   - failover: kill -9 of the leader, then the time until the next write is acknowledged, over
#     several trials, at the same timeouts (heartbeat 100 ms, election timeout 1 s);
#   - grape's replication latency p99 from its own metrics.
# Prints a table with both systems and the grape/etcd ratios.
#
# Usage: bench/compare-etcd.sh [--duration 10] [--trials 5] [--build-dir build] [--json FILE]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=10
TRIALS=5
BUILD_DIR=$ROOT/build
JSON_OUT=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --trials) TRIALS=$2; shift 2 ;;
    --build-dir) BUILD_DIR=$(realpath "$2"); shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "compare-etcd: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

need=()
for tool in etcd wrk curl jq; do command -v $tool >/dev/null || need+=("$tool"); done
if [[ ${#need[@]} -gt 0 ]]; then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  echo "compare-etcd: installing etcd-server wrk curl jq" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends etcd-server wrk curl jq >/dev/null
fi
GRAPE=$BUILD_DIR/grape
[[ -x $GRAPE ]] || make -C "$ROOT" build >/dev/null

WORK=$(mktemp -d "${TMPDIR:-/tmp}/grape-vs-etcd.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
export BENCH_LUA_DIR=$ROOT/bench/wrk BENCH_KEYS=1000

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
BASE=0
for attempt in $(seq 1 50); do
  b=$((21000 + (RANDOM % 1000) * 10))  # below the ephemeral range (32768 and up)
  ok=1
  for i in $(seq 1 9); do port_in_use $((b + i)) && ok=0; done
  [[ $ok -eq 1 ]] && { BASE=$b; break; }
done
[[ $BASE -ne 0 ]] || { echo "compare-etcd: no free ports" >&2; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }

# --- etcd ---------------------------------------------------------------------------------------
declare -A EPID
etcd_client() { echo "http://127.0.0.1:$((BASE + $1))"; }
etcd_peer() { echo "http://127.0.0.1:$((BASE + 3 + $1))"; }
ETCD_CLUSTER="e1=$(etcd_peer 1),e2=$(etcd_peer 2),e3=$(etcd_peer 3)"
start_etcd() {
  local i=$1
  etcd --name "e$i" --data-dir "$WORK/etcd$i" --listen-client-urls "$(etcd_client "$i")" \
    --advertise-client-urls "$(etcd_client "$i")" --listen-peer-urls "$(etcd_peer "$i")" \
    --initial-advertise-peer-urls "$(etcd_peer "$i")" --initial-cluster "$ETCD_CLUSTER" \
    --initial-cluster-state new --initial-cluster-token bench --heartbeat-interval 100 \
    --election-timeout 1000 --logger zap --log-level error >>"$WORK/etcd$i.log" 2>&1 &
  EPID[$i]=$!
  PIDS+=($!)
  disown  # no "Killed" line from the shell at each kill -9
}
etcd_leader() {  # the index of the leader, or nothing
  local i s
  for i in 1 2 3; do
    s=$(curl -s --max-time 0.5 -X POST "$(etcd_client "$i")/v3/maintenance/status" -d '{}' || true)
    [[ -n $s ]] || continue
    if [[ $(jq -r '.header.member_id' <<<"$s") == $(jq -r '.leader' <<<"$s") ]]; then echo "$i"; return; fi
  done
}
etcd_write() {  # $1: index; true when acknowledged
  local out
  out=$(curl -s --max-time 0.3 -X POST "$(etcd_client "$1")/v3/kv/put" -d '{"key":"ZmFpbG92ZXI=","value":"eA=="}' || true)
  [[ $out == *'"header"'* && $out != *'"error"'* ]]
}
etcd_healthy() {
  local i
  for i in 1 2 3; do curl -sf --max-time 0.5 "$(etcd_client "$i")/health" | grep -q '"health":"true"' || return 1; done
}

# --- grape --------------------------------------------------------------------------------------
declare -A GPID
grape_http() { echo "http://127.0.0.1:$((BASE + $1))"; }
grape_peer() { echo "127.0.0.1:$((BASE + 3 + $1))"; }
GRAPE_CLUSTER="n1=$(grape_peer 1),n2=$(grape_peer 2),n3=$(grape_peer 3)"
start_grape() {
  local i=$1
  "$GRAPE" node start --id "n$i" --data-dir "$WORK/grape$i" --listen-peer "$(grape_peer "$i")" \
    --listen-http "127.0.0.1:$((BASE + i))" --initial-cluster "$GRAPE_CLUSTER" \
    --cluster-token bench --heartbeat 100ms --election-timeout 1s --log-level warn \
    >>"$WORK/grape$i.log" 2>&1 &
  GPID[$i]=$!
  PIDS+=($!)
  disown
}
grape_leader() {
  local i s
  for i in 1 2 3; do
    s=$(curl -s --max-time 0.5 "$(grape_http "$i")/v1/cluster" || true)
    [[ -n $s ]] || continue
    if [[ $(jq -r .role <<<"$s") == leader ]]; then echo "$i"; return; fi
  done
}
grape_write() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 0.3 -X PUT "$(grape_http "$1")/v1/kv/failover" -d x || true) == 200 ]]
}
grape_healthy() {
  local l s
  l=$(grape_leader); [[ -n $l ]] || return 1
  s=$(curl -s --max-time 0.5 "$(grape_http "$l")/v1/cluster")
  [[ $(jq '[.members[] | .lag] | all(. == 0) and length == 3' <<<"$s") == true ]]
}

wait_until() {  # seconds command...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [[ $SECONDS -lt $deadline ]] || { echo "compare-etcd: timed out waiting for $*" >&2; return 1; }
    sleep 0.05
  done
}

# run_wrk SYSTEM OP CONNECTIONS URL -> one JSON line
run_wrk() {
  local threads=2
  [[ $3 -eq 1 ]] && threads=1
  wrk -t "$threads" -c "$3" -d "${DURATION}s" --timeout 5s -s "$BENCH_LUA_DIR/$1_$2.lua" "$4" | tail -1
}

# measure SYSTEM: the six wrk runs and the failover trials, into $WORK/SYSTEM.json
measure() {
  local system=$1 leader url results="" c op line
  leader=$(${system}_leader)
  url=$(${system}_client_or_http "$leader")
  for op in put get; do
    for c in 1 16 64; do
      echo "compare-etcd: $system $op at $c connection(s) for ${DURATION}s" >&2
      line=$(run_wrk "$system" "$op" "$c" "$url")
      results+="{\"op\":\"$op\",\"connections\":$c,\"wrk\":$line},"
    done
  done
  local times=() t start
  for t in $(seq 1 "$TRIALS"); do
    wait_until 30 "${system}_healthy"
    sleep 1
    leader=$(${system}_leader)
    echo "compare-etcd: $system failover trial $t: kill -9 of the leader ($leader)" >&2
    if [[ $system == etcd ]]; then kill -9 "${EPID[$leader]}"; else kill -9 "${GPID[$leader]}"; fi
    start=$(now_ms)
    local acked=0
    while [[ $acked -eq 0 ]]; do
      for i in 1 2 3; do
        [[ $i -eq $leader ]] && continue
        if "${system}_write" "$i"; then acked=1; break; fi
      done
      [[ $(($(now_ms) - start)) -lt 30000 ]] || { echo "compare-etcd: no write after 30 s" >&2; exit 1; }
    done
    times+=($(($(now_ms) - start)))
    "start_${system}" "$leader"
  done
  local failover
  failover=$(printf '%s\n' "${times[@]}" | jq -s '{median_ms: (sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end), min_ms: min, max_ms: max, trials: .}')
  echo "{\"system\":\"$system\",\"runs\":[${results%,}],\"failover\":$failover}" >"$WORK/$system.json"
}
etcd_client_or_http() { etcd_client "$1"; }
grape_client_or_http() { grape_http "$1"; }

echo "compare-etcd: etcd $(etcd --version | head -1 | awk '{print $3}') vs grape $("$GRAPE" --version | awk '{print $2}'), ${DURATION}s per run, $TRIALS failover trials" >&2
for i in 1 2 3; do start_etcd "$i"; done
wait_until 30 etcd_healthy
wait_until 30 etcd_leader
measure etcd
for i in 1 2 3; do kill -9 "${EPID[$i]}" 2>/dev/null || true; done
sleep 0.5

for i in 1 2 3; do start_grape "$i"; done
wait_until 30 grape_healthy
measure grape
# Replication latency p99 from the leader's histogram (the leader changed during the trials: sum
# every node's buckets).
wait_until 30 grape_healthy || true
repl_p99=$(for i in 1 2 3; do curl -s "$(grape_http "$i")/metrics" || true; done |
  awk '/^grape_replication_latency_seconds_bucket/ {
         match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5)
         if (!(le in n)) order[++k] = le
         n[le] += $2 }
       END { total = n["+Inf"]; if (total == 0) exit
             for (i = 1; i <= k; i++) if (n[order[i]] >= 0.99 * total) { print (order[i] == "+Inf" ? "inf" : order[i] * 1000); exit } }')

jq -n --slurpfile e "$WORK/etcd.json" --slurpfile g "$WORK/grape.json" --arg repl "$repl_p99" \
  --arg duration "$DURATION" '{etcd: $e[0], grape: $g[0], grape_replication_p99_ms: ($repl | tonumber? // null), duration_s: ($duration | tonumber)}' >"$WORK/all.json"
[[ -z $JSON_OUT ]] || cp "$WORK/all.json" "$JSON_OUT"

jq -r '
  def rps(r): r.wrk.requests / (r.wrk.duration_us / 1e6);
  def ms(x): (x / 1000 * 100 | round) / 100;
  def ratio(a; b): if b == 0 then "-" else ((a / b * 100 | round) / 100 | tostring) + "x" end;
  . as $all
  | "| measure | etcd | grape | grape/etcd |", "|---|---:|---:|---:|",
    ( range(0; 6) as $i
      | ($all.etcd.runs[$i]) as $e | ($all.grape.runs[$i]) as $g
      | "| \($e.op) at \($e.connections): ops/s | \(rps($e) | round) | \(rps($g) | round) | \(ratio(rps($g); rps($e))) |",
        "| \($e.op) at \($e.connections): p50 / p99 / p99.9 ms | \(ms($e.wrk.p50_us)) / \(ms($e.wrk.p99_us)) / \(ms($e.wrk.p999_us)) | \(ms($g.wrk.p50_us)) / \(ms($g.wrk.p99_us)) / \(ms($g.wrk.p999_us)) | \(ratio($e.wrk.p99_us; $g.wrk.p99_us)) better p99 |",
        (if ($e.wrk.errors + $g.wrk.errors) > 0 then "| \($e.op) at \($e.connections): errors | \($e.wrk.errors) | \($g.wrk.errors) | |" else empty end) ),
    "| failover (kill -9 of the leader to the next acknowledged write): median (min-max) ms | \($all.etcd.failover.median_ms) (\($all.etcd.failover.min_ms)-\($all.etcd.failover.max_ms)) | \($all.grape.failover.median_ms) (\($all.grape.failover.min_ms)-\($all.grape.failover.max_ms)) | \(ratio($all.etcd.failover.median_ms; $all.grape.failover.median_ms)) faster |",
    "| replication latency p99 (grape metrics, proposal to commit) | - | \($all.grape_replication_p99_ms) ms | |"
' "$WORK/all.json"
