#!/usr/bin/env bash
# Planted bugs in net/ (tests/mutants/net/*.patch), which the simulator never runs: each is
# applied to a scratch clone, `grape` is rebuilt, and the integration tests on real processes
# (tests/integration/test_*.sh) must catch it. Exit 0 only if every one is caught.
#
# Usage: tests/mutants/run_net.sh [--build-jobs N] [--table FILE] [NAME...]   (make mutants-net)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build_jobs=$(nproc)
table=""
only=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-jobs) build_jobs=$2; shift 2 ;;
    --table) table=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) only+=("$1"); shift ;;
  esac
done

work=$root/build-mutants-net
src=$work/src
build=$work/build
mkdir -p "$work"
if [[ ! -d $src/.git ]]; then git clone -q "$root" "$src"; fi
git -C "$src" fetch -q "$root" HEAD
git -C "$src" checkout -q --force FETCH_HEAD
git -C "$src" clean -qfd
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRAPE_BUILD_BENCH=OFF >/dev/null
echo "run_net.sh: building the unmutated copy" >&2
cmake --build "$build" -j "$build_jobs" --target grape >/dev/null

rows=()
caught=0
total=0
for patch in "$root"/tests/mutants/net/*.patch; do
  name=$(basename "$patch" .patch)
  if [[ ${#only[@]} -gt 0 ]] && ! printf '%s\n' "${only[@]}" | grep -qx "$name"; then continue; fi
  total=$((total + 1))
  area=$(sed -n 's/^Area: //p' "$patch" | head -1)
  echo "run_net.sh: $name ($area): $(sed -n 's/^Description: //p' "$patch" | head -1)" >&2
  git -C "$src" apply "$patch"
  start=$SECONDS
  if ! cmake --build "$build" -j "$build_jobs" --target grape >"$work/$name.build.log" 2>&1; then
    git -C "$src" checkout -q --force -- .
    rows+=("| $name | $area | ERROR (build, see $work/$name.build.log) | | |")
    continue
  fi
  by=""
  for test in "$src"/tests/integration/test_*.sh; do
    if ! timeout 180 "$test" "$build/grape" >"$work/$name.$(basename "$test" .sh).log" 2>&1; then
      by=$(basename "$test" .sh)
      break
    fi
  done
  git -C "$src" checkout -q --force -- .
  if [[ -n $by ]]; then
    caught=$((caught + 1))
    echo "run_net.sh:   -> caught by $by ($((SECONDS - start)) s)" >&2
    rows+=("| $name | $area | caught | $by | $((SECONDS - start)) |")
  else
    echo "run_net.sh:   -> MISSED: every integration test passed" >&2
    rows+=("| $name | $area | MISSED | | $((SECONDS - start)) |")
  fi
done

{
  echo "| mutant | area | result | caught by | seconds |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "$caught of $total net mutants caught by the integration tests."
} | tee ${table:+"$table"}
[[ $caught -eq $total ]]
