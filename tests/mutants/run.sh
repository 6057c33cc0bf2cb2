#!/usr/bin/env bash
# Mutation testing: does the simulator catch planted bugs? See docs/testing.md and --help.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mutant_dir="$repo/tests/mutants"

seeds=200
jobs=2
build_jobs=${JOBS:-1}
work="$repo/build-mutants"
mem_mb=4096
timeout_s=600
scenarios_arg=""
table_out=""

usage() {
  cat <<EOF
usage: tests/mutants/run.sh [options] [MUTANT...]

Applies each planted bug of tests/mutants/*.patch (or only the MUTANTs named: a file name, its
stem, or its number such as 07) to a scratch copy of HEAD, builds only \`grape\` and
\`grape_property_tests\`, and runs the simulator alone, never the unit tests:

  1. the property test binary with the CI parameters of tests/CMakeLists.txt
     (RC_PARAMS="seed=20261125 max_success=2000", plus noshrink=1: a caught mutant is reported
     without RapidCheck spending minutes on shrinking), stopping at the first failing property;
  2. \`grape scenario sweep --jobs $jobs --format json\` over every scenario file of the library,
     seed range by seed range (1-5, 6-25, 26-100, 101-200) and file by file within a range,
     stopping at the first failed run.

Then it reverts the patch and goes on with the next mutant. At the end it prints a table (mutant,
area, result, what caught it, the first failing seed, the property named, peak RSS, build and
simulation wall time) and exits 0 only if every mutant was caught.

Results: caught (a property, a scenario check or a core assertion failed), MISSED (the whole
budget passed, or some runs were undecided: the property column then counts those unknown
verdicts), LIMIT (a process hit the memory or time limit without a verdict: not caught),
ERROR (the patch does not apply or the mutant does not build: fix the mutant).

Budget per mutant:
  property test : every property of the binary (RaftProperty x 2, RaftStateful) x 2000
                  cases (about 20 s)
  sweep         : up to $seeds seeds x every scenario file (54 files today: 10,800 runs, 1.5-2.5 min
                  with 2 jobs) for a mutant that is not caught; a caught one stops at once
  build         : one changed file recompiled, two binaries relinked (a few seconds; the first
                  build of the scratch copy is a full one, about 2 min with 1 job)
  limits        : ${mem_mb} MB of address space and ${timeout_s} s per process (memory or time
                  exhausted = LIMIT)
A full run of 35 mutants took 11 min on 2 cores with 1 missed (a full build of the scratch copy
after a merge included); each missed mutant costs 1.5-3 min, a caught one seconds to 30 s.

options:
  --seeds N         highest seed per scenario (default $seeds)
  --jobs N          simulator threads for the sweeps (default $jobs)
  --build-jobs N    build jobs (default \$JOBS or 1)
  --work DIR        scratch clone and build, reused between mutants and runs
                    (default build-mutants/ in the repository)
  --scenarios DIR   scenario library (default the scratch copy's scenarios/)
  --mem-mb N        address-space limit of each test process in MB (default $mem_mb)
  --timeout S       wall-time limit of each test process in seconds (default $timeout_s)
  --table FILE      also write the table (Markdown) to FILE
  --no-baseline-check
                    skip checking that the unmutated copy passes the property test and seeds 1-5
  --list            list the mutants and exit
  -h, --help        this help
EOF
}

names=()
list_only=0
baseline_check=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build-jobs) build_jobs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --scenarios) scenarios_arg=$2; shift 2 ;;
    --mem-mb) mem_mb=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --table) table_out=$2; shift 2 ;;
    --list) list_only=1; shift ;;
    --no-baseline-check) baseline_check=0; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
for n in "$seeds" "$jobs" "$build_jobs" "$mem_mb" "$timeout_s"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: $n is not a positive number" >&2; exit 2; }
done

field() {  # field FILE KEY: the value of a "Key: value" header line of a patch
  sed -n "s/^$2: //p" "$1" | head -n 1
}

# The mutants to run, in file order.
patches=()
if [[ ${#names[@]} -eq 0 ]]; then
  patches=("$mutant_dir"/*.patch)
else
  for name in "${names[@]}"; do
    name=$(basename "$name" .patch)
    matches=("$mutant_dir/$name".patch "$mutant_dir/$name"-*.patch)
    found=""
    for m in "${matches[@]}"; do [[ -f "$m" ]] && { found=$m; break; }; done
    [[ -n "$found" ]] || { echo "run.sh: no mutant $name in tests/mutants" >&2; exit 2; }
    patches+=("$found")
  done
fi
[[ -f "${patches[0]}" ]] || { echo "run.sh: no mutants in $mutant_dir" >&2; exit 2; }
for p in "${patches[@]}"; do
  if [[ -z "$(field "$p" Description)" || -z "$(field "$p" Area)" ]]; then
    echo "run.sh: $(basename "$p") lacks a Description: or Area: line" >&2
    exit 2
  fi
done
if [[ $list_only -eq 1 ]]; then
  for p in "${patches[@]}"; do
    printf '%-40s %-10s %s\n' "$(basename "$p" .patch)" "$(field "$p" Area)" "$(field "$p" Description)"
  done
  exit 0
fi

for tool in git cmake jq /usr/bin/time timeout; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (make deps)" >&2; exit 2; }
done

# --- The scratch copy: a clone of HEAD, reset before each mutant; its build is incremental. ------
src="$work/src"
build="$work/build"
logs="$work/logs"
mkdir -p "$work" "$logs"
head=$(git -C "$repo" rev-parse HEAD) || exit 2
if [[ ! -d "$src/.git" ]]; then
  git clone -q --no-checkout "$repo" "$src" || exit 2
fi
git -C "$src" fetch -q "$repo" HEAD || exit 2
git -C "$src" checkout -q --force --detach "$head" || exit 2
git -C "$src" clean -q -fdx || exit 2
restore() { git -C "$src" checkout -q --force -- . 2>/dev/null; }
trap 'restore; exit 130' INT TERM

scenarios=${scenarios_arg:-$src/scenarios}
mapfile -t scenario_files < <(find "$scenarios" -name '*.yaml' -o -name '*.yml' | sort)
[[ ${#scenario_files[@]} -gt 0 ]] || { echo "run.sh: no scenarios under $scenarios" >&2; exit 2; }

generator=$(command -v ninja >/dev/null && echo Ninja || echo "Unix Makefiles")
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  echo "run.sh: configuring $build" >&2
  cmake -S "$src" -B "$build" -G "$generator" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DGRAPE_WERROR=ON -DGRAPE_BUILD_BENCH=OFF >"$logs/configure.log" 2>&1 ||
    { echo "run.sh: configure failed, see $logs/configure.log" >&2; exit 2; }
fi
build_targets() {
  cmake --build "$build" -j "$build_jobs" --target grape grape_property_tests
}
echo "run.sh: building the unmutated copy at ${head:0:12} (baseline for incremental builds)" >&2
build_targets >"$logs/baseline.build.log" 2>&1 ||
  { echo "run.sh: HEAD does not build, see $logs/baseline.build.log" >&2; exit 2; }

# --- Running one test process under the limits ------------------------------------------------
# run_limited LOG CMD...: runs CMD with stdout+stderr in LOG; sets rc and rss_kb.
run_limited() {
  local log=$1; shift
  local tfile="$log.time"
  (
    ulimit -v $((mem_mb * 1024))
    exec /usr/bin/time -f '%M' -o "$tfile" timeout --kill-after=10 "$timeout_s" "$@"
  ) >"$log" 2>&1
  rc=$?
  rss_kb=$(tail -n 1 "$tfile" 2>/dev/null)
  [[ "$rss_kb" =~ ^[0-9]+$ ]] || rss_kb=0
}

# A crash that is a limit, not a verdict: the time limit, or an allocation refused.
limit_reason() {  # limit_reason LOG
  if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    echo "time limit ${timeout_s} s"
  elif grep -q 'bad_alloc\|Cannot allocate memory\|out of memory' "$1"; then
    echo "memory limit ${mem_mb} MB"
  fi
}

# A core assertion (GRAPE_ASSERT): "grape: assertion failed: COND / at FILE:LINE / MESSAGE".
assertion_of() {  # assertion_of LOG
  local where message
  where=$(grep -m1 -A1 'grape: assertion failed' "$1" | sed -n 's/^ *at .*\/\([^/]*:[0-9]*\)$/\1/p')
  message=$(grep -m1 -A2 'grape: assertion failed' "$1" | sed -n '3s/^ *//p')
  [[ -n "$where" ]] && echo "assertion at $where: ${message:0:80}"
}

# --- One mutant -------------------------------------------------------------------------------
rows=()
all_caught=1
peak_kb=0

track_rss() { ((rss_kb > peak_kb)) && peak_kb=$rss_kb; }

sanitize() { printf '%s' "$1" | tr '|\n' '/ '; }

run_property() {  # sets result by seed property when caught
  local log="$logs/$name.property.log"
  run_limited "$log" env RC_PARAMS="seed=20261125 max_success=2000 noshrink=1" \
    "$build/tests/grape_property_tests" --gtest_fail_fast --gtest_color=no
  track_rss
  [[ $rc -eq 0 ]] && return 1
  local reason; reason=$(limit_reason "$log")
  if [[ -n "$reason" ]]; then
    result=LIMIT; by="property test"; property=$reason; return 0
  fi
  result=caught
  local test; test=$(sed -n 's/^\[  FAILED  \] \([A-Za-z]*\.[A-Za-z]*\).*/\1/p' "$log" | head -n 1)
  by="property ${test:-test}"
  seed=$(grep -o 'Falsifiable after [0-9]* tests' "$log" | head -n 1 | grep -o '[0-9]*')
  [[ -n "$seed" ]] && seed="case $seed"
  property=$(grep -m1 -o '[a-z_][a-z_]* violated at [^(]*' "$log" | sed 's/ violated at.*//')
  local world_seed; world_seed=$(grep -m1 -o 'violated at .*(seed [0-9]*' "$log" | grep -o '[0-9]*$')
  [[ -n "$world_seed" ]] && seed="${seed:+$seed, }world seed $world_seed"
  if [[ -z "$property" ]]; then
    property=$(assertion_of "$log")
    local ws; ws=$(grep -m1 -o 'simulated world: seed [0-9]*' "$log" | grep -o '[0-9]*$')
    [[ -n "$ws" ]] && seed="${seed:+$seed, }world seed $ws"
  fi
  if [[ -z "$property" ]] && grep -q 'RC_ASSERT(committed)\|no new proposal committed' "$log"; then
    property="healed cluster commits (liveness)"
  fi
  [[ -n "$property" ]] || property="exit $rc (see $log)"
  return 0
}

run_sweeps() {  # sets result by seed property when caught
  local from to file base log
  local -a bounds=(1 6 26 101)
  for ((b = 0; b < ${#bounds[@]}; ++b)); do
    from=${bounds[$b]}
    ((from > seeds)) && break
    to=$(( b + 1 < ${#bounds[@]} ? bounds[b + 1] - 1 : seeds ))
    ((to > seeds)) && to=$seeds
    for file in "${scenario_files[@]}"; do
      base=$(basename "$file"); base=${base%.*}
      log="$logs/$name.sweep.log"
      run_limited "$log" "$build/grape" scenario sweep "$file" --seeds $((to - from + 1)) \
        --seed-from "$from" --jobs "$jobs" --format json
      track_rss
      sweep_runs=$((sweep_runs + to - from + 1))
      [[ $rc -eq 0 ]] && continue
      local json; json=$(grep '^{' "$log" | tail -n 1)
      if [[ $rc -eq 3 && -n "$json" ]]; then
        # Undecided runs (a history search that gave up): no verdict, so not caught; go on.
        unknown_runs=$((unknown_runs + $(jq -r '.unknown // 0' <<<"$json" 2>/dev/null || echo 0)))
        continue
      fi
      if [[ $rc -eq 2 ]]; then
        result=ERROR; by="sweep $base"; seed="$from-$to"
        property="bad input: $(grep -m1 '^grape:' "$log")"
        return 0
      fi
      by="sweep $base"
      local reason; reason=$(limit_reason "$log")
      if [[ -n "$reason" ]]; then
        result=LIMIT; seed="$from-$to"; property=$reason; return 0
      fi
      local failed; failed=$(jq -r '.failures | length' <<<"$json" 2>/dev/null)
      if [[ "${failed:-0}" =~ ^[1-9] ]]; then
        result=caught
        seed=$(jq -r '.failures[0].seed' <<<"$json")
        property=$(jq -r '.failures[0].property' <<<"$json")
        return 0
      fi
      property=$(assertion_of "$log")
      if [[ -n "$property" ]]; then
        result=caught
        seed=$(grep -m1 -o 'simulated world: seed [0-9]*' "$log" | grep -o '[0-9]*$')
        seed=${seed:-"$from-$to"}
        return 0
      fi
      result=LIMIT; seed="$from-$to"; property="exit $rc without a verdict (see $log)"
      return 0
    done
  done
  return 1
}

# The unmutated copy must pass the start of the budget, or every mutant would look caught.
if [[ $baseline_check -eq 1 ]]; then
  echo "run.sh: checking the unmutated copy (property test, every scenario with seeds 1-5)" >&2
  name=baseline
  if run_property; then
    echo "run.sh: the unmutated copy fails the property test: $property (see $logs/baseline.property.log)" >&2
    exit 2
  fi
  run_limited "$logs/baseline.sweep.log" "$build/grape" scenario sweep "${scenario_files[@]}" \
    --seeds 5 --jobs "$jobs" --format json
  if [[ $rc -ne 0 && $rc -ne 3 ]]; then  # 3: some runs undecided, none failed
    echo "run.sh: the unmutated copy fails the sweep (see $logs/baseline.sweep.log)" >&2
    exit 2
  fi
fi

for patch in "${patches[@]}"; do
  name=$(basename "$patch" .patch)
  area=$(field "$patch" Area)
  result=MISSED; by="-"; seed="-"; property="-"; peak_kb=0; sweep_runs=0; unknown_runs=0
  build_s=0; sim_s=0
  echo "run.sh: $name ($area): $(field "$patch" Description)" >&2
  restore
  if ! git -C "$src" apply "$patch" 2>"$logs/$name.apply.log"; then
    result=ERROR; by="git apply"; property=$(head -n 1 "$logs/$name.apply.log")
  else
    start=$SECONDS
    if ! build_targets >"$logs/$name.build.log" 2>&1; then
      result=ERROR; by="build"
      property=$(grep -m1 'error' "$logs/$name.build.log" | sed 's/^.*\/\([^/]*:[0-9]*:[0-9]*:\)/\1/')
    fi
    build_s=$((SECONDS - start))
    if [[ $result != ERROR ]]; then
      start=$SECONDS
      run_property || run_sweeps || true
      sim_s=$((SECONDS - start))
    fi
  fi
  restore
  [[ $result == caught ]] || all_caught=0
  if [[ $result == MISSED ]]; then
    summary="property test and $sweep_runs sweep runs passed"
    if ((unknown_runs > 0)); then
      property="$unknown_runs runs unknown (undecided)"
      summary="$summary, $property"
    fi
  else
    summary="by $by, seed $seed: $property"
  fi
  echo "run.sh:   -> $result, $summary; build ${build_s} s, simulator ${sim_s} s" >&2
  rows+=("| $name | $area | $result | $(sanitize "$by") | $(sanitize "$seed") | $(sanitize "$property") | $((peak_kb / 1024)) | $build_s | $sim_s |")
done
restore

caught=0
for row in "${rows[@]}"; do [[ "$row" == *"| caught |"* ]] && caught=$((caught + 1)); done
{
  echo "| mutant | area | result | caught by | first failing seed | property | peak RSS MB | build s | simulator s |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "$caught of ${#rows[@]} mutants caught; budget: property tests (2000 cases each), then up to $seeds seeds x ${#scenario_files[@]} scenario files."
} | tee "$work/table.md" ${table_out:+"$table_out"}
[[ $all_caught -eq 1 ]]
