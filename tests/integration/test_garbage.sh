#!/usr/bin/env bash
# Garbage on the peer and HTTP ports closes that connection (logged), never the process; bad
# requests get 400 with a JSON error.
source "$(dirname "$0")/lib.sh" "$1"

start_cluster 3
peer_port=$((PEER_BASE + 1))
head -c 65536 /dev/urandom >"/dev/tcp/127.0.0.1/$peer_port" || true
# A frame header claiming 4 GiB, then a valid-looking header with a bad checksum.
printf '\xff\xff\xff\xff\x01\x02\x00\x00\x00\x00\x00\x00' >"/dev/tcp/127.0.0.1/$peer_port" || true
printf '\x04\x00\x00\x00\x01\x02\x00\x00\x12\x34\x56\x78abcd' >"/dev/tcp/127.0.0.1/$peer_port" || true
# A Raft frame before any handshake.
printf '\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00' >"/dev/tcp/127.0.0.1/$peer_port" || true
wait_for "the peer garbage to be logged" 10 grep -q "closing peer connection" "$WORK/n1.log"

url=$(http_url 1)
exec 3<>"/dev/tcp/127.0.0.1/$((HTTP_BASE + 1))"
printf 'this is not HTTP\r\n\r\n' >&3
reply=$(head -c 200 <&3 || true)
exec 3<&-
[[ $reply == *"400"* ]] || fail "HTTP garbage did not get 400: $reply"
head -c 65536 /dev/urandom >"/dev/tcp/127.0.0.1/$((HTTP_BASE + 1))" || true
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X POST "$url/v1/kv/x/cas" -d '{not json')
[[ $code == 400 ]] && jq -e .error "$WORK/body" >/dev/null || fail "bad cas JSON: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/kv/%zz")
[[ $code == 400 ]] || fail "bad percent-encoding: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH "$url/v1/kv/x")
[[ $code == 405 ]] || fail "PATCH: HTTP $code"
head -c $((9 << 20)) /dev/zero >"$WORK/big"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$WORK/big" "$url/v1/kv/big")
[[ $code == 400 || $code == 413 || $code == 000 ]] || fail "a 9 MiB body: HTTP $code"

for i in 1 2 3; do
  kill -0 "${NODE_PID[$i]}" || fail "n$i died"
  curl -sf "$(http_url "$i")/health" >/dev/null || fail "n$i unhealthy"
done
"$GRAPE" kv put still working >/dev/null || fail "no write after the garbage"
say "ok"
