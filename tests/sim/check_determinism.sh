#!/usr/bin/env bash
# The same scenario and seed give the same trace hash in separate processes; other seeds differ.
set -euo pipefail
grape=${1:?usage: check_determinism.sh GRAPE SCENARIO}
scenario=${2:?usage: check_determinism.sh GRAPE SCENARIO}
hash() { "$grape" scenario run "$scenario" --seed "$1" --format json | sed -E 's/.*"trace_hash":"([0-9a-f]+)".*/\1/'; }
a=$(hash 7); b=$(hash 7); c=$(hash 8)
echo "seed 7: $a, again: $b; seed 8: $c"
[[ -n "$a" && "$a" == "$b" ]] || { echo "FAIL: seed 7 gave two different trace hashes"; exit 1; }
[[ "$a" != "$c" ]] || { echo "FAIL: seeds 7 and 8 gave the same trace hash"; exit 1; }
echo "deterministic: same seed, same hash; different seed, different hash"
