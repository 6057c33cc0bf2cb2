#!/usr/bin/env bash
# Leadership transfer: to a named voter, then to the most caught-up one.
source "$(dirname "$0")/lib.sh" "$1"

start_cluster 3
T=$(followers | head -1)
"$GRAPE" leader transfer "$T" || fail "leader transfer $T"
[[ $(leader) == "$T" ]] || fail "leader is $(leader), not $T"
"$GRAPE" leader transfer || fail "leader transfer (any)"
[[ $(leader) != "$T" ]] || fail "leadership did not move from $T"
"$GRAPE" kv put after-transfer yes >/dev/null || fail "no write after the transfer"
"$GRAPE" leader transfer n9 && fail "transfer to a non-member succeeded"
say "ok"
