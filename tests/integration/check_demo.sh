#!/usr/bin/env bash
# `grape demo` (what `make demo` runs) goes end to end and leaves nothing running or on disk.
set -euo pipefail
GRAPE=$(realpath "$1")
out=$("$GRAPE" demo) || { echo "$out"; echo "FAIL: grape demo exited with an error"; exit 1; }
echo "$out"
dir=$(sed -n 's/.*(files in \(.*\))$/\1/p' <<<"$out" | head -1)
[[ -n $dir ]] || { echo "FAIL: the demo did not name its directory"; exit 1; }
grep -q "20 of 20 there" <<<"$out" || { echo "FAIL: acknowledged keys missing"; exit 1; }
grep -q "holds the write made while it was down: yes" <<<"$out" || { echo "FAIL: no catch-up"; exit 1; }
grep -q "n4: 48 replicas" <<<"$out" || { echo "FAIL: n4 did not get its 48 replicas"; exit 1; }
grep -q "read back through n4: 21 of 21" <<<"$out" || { echo "FAIL: keys missing after the rebalance"; exit 1; }
[[ ! -e $dir ]] || { echo "FAIL: $dir left behind"; exit 1; }
if pgrep -f "data-dir $dir/" >/dev/null; then
  echo "FAIL: node processes left running"
  pkill -9 -f "data-dir $dir/" || true
  exit 1
fi
echo "demo ok: nothing left behind"
