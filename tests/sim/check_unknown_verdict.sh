#!/usr/bin/env bash
# A run whose linearizability search gives up (a tiny --max-states) is reported unknown, never
# pass: `scenario run` prints UNKNOWN / "result": "unknown" and exits 3, `scenario sweep` counts it
# apart from failures, lists it with its replay command, and exits 3.
set -uo pipefail
grape=${1:?usage: check_unknown_verdict.sh GRAPE SCENARIO}
scenario=${2:?usage: check_unknown_verdict.sh GRAPE SCENARIO}
failed=0
out=""
code=0

# check WHAT CODE [TEXT...] -- COMMAND...: COMMAND exits with CODE and prints every TEXT.
check() {
  local what=$1 want=$2
  shift 2
  local texts=()
  while [[ $1 != "--" ]]; do texts+=("$1"); shift; done
  shift
  out=$("$@" 2>/dev/null)
  code=$?
  if [[ $code -ne $want ]]; then
    echo "FAIL $what: exit code $code, expected $want: $out"; failed=1; return
  fi
  for text in "${texts[@]}"; do
    if ! grep -qF -- "$text" <<<"$out"; then
      echo "FAIL $what: expected '$text' in: $out"; failed=1; return
    fi
  done
  echo "ok   $what"
}

check "run passes with the default limit" 0 ": PASS" -- \
  "$grape" scenario run "$scenario" --seed 3
check "run with a tiny limit is unknown" 3 ": UNKNOWN" "UNDECIDED linearizability" \
  "--seed 3 --max-states 2" -- "$grape" scenario run "$scenario" --seed 3 --max-states 2
check "run with a tiny limit is unknown, json" 3 '"result":"unknown"' '"violations":[]' \
  '"undecided":[{' -- "$grape" scenario run "$scenario" --seed 3 --max-states 2 --format json
check "sweep counts unknown runs apart" 3 '"failed":0' '"unknown":2' '"seed":1' '"seed":2' \
  '--max-states 2"' -- "$grape" scenario sweep "$scenario" --seeds 2 --jobs 1 --max-states 2 \
  --format json
check "sweep lists unknown runs with their replay" 3 "0 failed, 2 unknown" "UNKNOWN" \
  "replay: grape scenario run" -- "$grape" scenario sweep "$scenario" --seeds 2 --jobs 1 \
  --max-states 2
exit $failed
