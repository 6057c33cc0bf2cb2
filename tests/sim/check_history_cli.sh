#!/usr/bin/env bash
# `grape history check` on crafted histories: the exit code says linearizable (0), not
# linearizable (1, naming the key and the operations), unknown (3) or bad input (2, one line naming
# the file, the line and the problem).
set -uo pipefail
grape=${1:?usage: check_history_cli.sh GRAPE HISTORY_DIR}
dir=${2:?usage: check_history_cli.sh GRAPE HISTORY_DIR}
failed=0
out=""
code=0

run() {
  out=$("$grape" history check "$@" 2>&1)
  code=$?
}

# expect WHAT CODE [TEXT...]: the last run exited with CODE and printed every TEXT.
expect() {
  local what=$1 want=$2
  shift 2
  if [[ $code -ne $want ]]; then
    echo "FAIL $what: exit code $code, expected $want: $out"; failed=1; return
  fi
  for text in "$@"; do
    if ! grep -qF -- "$text" <<<"$out"; then
      echo "FAIL $what: expected '$text' in: $out"; failed=1; return
    fi
  done
  echo "ok   $what"
}

run "$dir/linearizable.jsonl"
expect "linearizable history" 0 "linearizable.jsonl: linearizable" "9 operations on 2 keys"
run "$dir/linearizable.jsonl" --format json
expect "linearizable history, json" 0 '"result":"linearizable"' '"key":null'

# A stale read of k2 among other calls: the smallest set is the read and the two writes.
run "$dir/stale-read.jsonl"
expect "stale read" 1 'NOT LINEARIZABLE (key "k2")' 'smallest set that cannot be ordered: 3 of the 5 operations on key "k2"' \
  'lines 1, 3' 'lines 7, 8' 'lines 10, 12'
run "$dir/stale-read.jsonl" --format json
expect "stale read, json" 1 '"result":"not_linearizable"' '"key":"k2"' '"complete":true'
if [[ $(grep -o '"invoke_line"' <<<"$out" | wc -l) -ne 3 ]]; then
  echo "FAIL stale read, json: expected 3 operations in the minimal set: $out"; failed=1
fi

# Too few states to decide anything: unknown, not a pass.
run "$dir/linearizable.jsonl" --max-states 2
expect "state limit" 3 "UNKNOWN" 'key "k1" was not decided'
run "$dir/linearizable.jsonl" --max-states 2 --format json
expect "state limit, json" 3 '"result":"unknown"' '"undecided":[{'

# Bad input: FILE LINE TEXT.
while read -r file line text; do
  run "$dir/bad/$file"
  expect "bad input $file" 2 "$file:$line: " "$text"
  if [[ $(printf '%s\n' "$out" | wc -l) -ne 1 ]]; then
    echo "FAIL bad input $file: expected one line, got: $out"; failed=1
  fi
done <<'EOF'
malformed.jsonl 3 malformed JSON at column
missing-field.jsonl 2 field "key": missing
unknown-type.jsonl 2 field "type": expected one of invoke, ok, fail, info
process-not-a-number.jsonl 1 field "process": expected a non-negative integer
completion-without-invoke.jsonl 3 field "type": "ok" for process 2, which has no call in flight
two-invokes-in-flight.jsonl 3 field "process": process 1 invokes again
completion-of-another-call.jsonl 2 field "f": "cas" differs from the invocation on line 1
value-not-a-string.jsonl 2 field "value": expected a string or null
not-an-object.jsonl 2 expected a JSON object
EOF
if [[ $(ls "$dir"/bad/*.jsonl | wc -l) -ne 9 ]]; then
  echo "FAIL every file in $dir/bad needs a line in the table above"; failed=1
fi

run "$dir/no-such-file.jsonl"
expect "missing file" 2 "no-such-file.jsonl: no such file"
run "$dir/bad"
expect "a folder" 2 "bad: not a regular file"
run "$dir/linearizable.jsonl" --max-states 0
expect "bad --max-states" 2 "--max-states"
run "$dir/linearizable.jsonl" --format xml
expect "bad --format" 2 "--format"
exit $failed
