#!/usr/bin/env bash
# `grape wal bench --keep` writes a real log; `grape wal inspect` reads it: exit 0 and no damage on
# the log as written, exit 0 and a torn tail (file, offset, bytes) once the last record is cut
# short, exit 1 naming file and offset once a byte in the middle is flipped, exit 2 for a
# directory that holds no log. Bad flags of `wal bench` exit 2.
set -euo pipefail
grape=${1:?usage: check_wal_cli.sh GRAPE}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
log="$dir/log"

fail() { echo "check_wal_cli: $*" >&2; exit 1; }

"$grape" wal bench --dir "$log" --entries 2000 --entry-bytes 100 --groups 3 --keep --format json \
  > "$dir/bench.json" || fail "wal bench failed"
grep -q '"recovered_entries":2000' "$dir/bench.json" || fail "bench did not recover every entry"

"$grape" wal inspect "$log" --format json > "$dir/clean.json" || fail "inspect of a clean log: exit $?"
grep -q '"corruption":null' "$dir/clean.json" || fail "clean log reported corrupt"
grep -q '"torn_tail":null' "$dir/clean.json" || fail "clean log reported torn"
"$grape" wal inspect "$log" > "$dir/clean.txt" || fail "inspect (text) of a clean log failed"
grep -q "no corruption found" "$dir/clean.txt" || fail "text output lacks the verdict"

segment=$(ls "$log"/*.wal | tail -n 1)
size=$(stat -c %s "$segment")

# A torn tail: cut the last record short by 7 bytes.
cp "$segment" "$dir/segment.bak"
truncate -s $((size - 7)) "$segment"
set +e
"$grape" wal inspect "$log" --format json > "$dir/torn.json"
code=$?
set -e
[[ $code -eq 0 ]] || fail "torn tail: exit $code, expected 0"
grep -q '"torn_tail":{' "$dir/torn.json" || fail "torn tail not reported: $(cat "$dir/torn.json")"
grep -q "\"file\":\"$segment\"" "$dir/torn.json" || fail "torn tail does not name the file"
cp "$dir/segment.bak" "$segment"

# Corruption in the middle: flip one bit a third of the way into the segment.
offset=$((size / 3))
byte=$(od -An -tu1 -j "$offset" -N1 "$segment" | tr -d ' ')
printf "\\x$(printf %02x $((byte ^ 1)))" | dd of="$segment" bs=1 seek=$offset conv=notrunc status=none
set +e
"$grape" wal inspect "$log" > "$dir/corrupt.txt"
code=$?
set -e
[[ $code -eq 1 ]] || fail "corrupt middle: exit $code, expected 1"
grep -q "CORRUPT: $segment at offset [0-9]" "$dir/corrupt.txt" ||
  fail "corruption not named with file and offset: $(cat "$dir/corrupt.txt")"

# No log at all, and bad flags: bad input.
mkdir "$dir/empty"
set +e
"$grape" wal inspect "$dir/empty" 2> /dev/null; code=$?
[[ $code -eq 2 ]] || fail "empty directory: exit $code, expected 2"
"$grape" wal inspect "$dir/nowhere" 2> /dev/null; code=$?
[[ $code -eq 2 ]] || fail "missing directory: exit $code, expected 2"
"$grape" wal bench --dir "$dir/b" --entries 0 2> /dev/null; code=$?
[[ $code -eq 2 ]] || fail "--entries 0: exit $code, expected 2"
"$grape" wal bench --dir "$log" --entries 10 2> /dev/null; code=$?
[[ $code -eq 2 ]] || fail "bench into a directory holding a log: exit $code, expected 2"
set -e
echo "check_wal_cli: inspect reports clean, torn (exit 0) and corrupt (exit 1, file and offset) logs"
