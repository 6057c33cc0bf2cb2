#!/usr/bin/env bash
# Every broken scenario in tests/sim/bad/ is refused with exit code 2 and one line naming the file
# and the line, and the problem the file's first comment line promises (`# expect: TEXT`).
set -uo pipefail
grape=${1:?usage: check_bad_input.sh GRAPE BAD_DIR}
dir=${2:?usage: check_bad_input.sh GRAPE BAD_DIR}
failed=0
for file in "$dir"/*.yaml; do
  want=$(sed -n 's/^# expect: //p' "$file" | head -1)
  out=$("$grape" scenario run "$file" 2>&1 >/dev/null)
  code=$?
  if [[ $code -ne 2 ]]; then
    echo "FAIL $file: exit code $code, expected 2 ($out)"; failed=1; continue
  fi
  if [[ $(printf '%s\n' "$out" | wc -l) -ne 1 ]]; then
    echo "FAIL $file: expected one line, got: $out"; failed=1; continue
  fi
  if ! grep -qE "$(basename "$file"):[0-9]+(:[0-9]+)?: " <<<"$out"; then
    echo "FAIL $file: the message does not name file and line: $out"; failed=1; continue
  fi
  if [[ -n "$want" ]] && ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL $file: expected '$want' in: $out"; failed=1; continue
  fi
  echo "ok   $out"
done
exit $failed
