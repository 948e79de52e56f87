#!/bin/sh
# run.sh — run every libFuzzer harness (built by build.sh) for SECONDS each
# on a temporary copy of its seed corpus, print a table of executions and
# coverage, and exit 1 if any harness found a crash, leak, timeout or broken
# invariant (reproducers are kept in tests/fuzz/out/crashes/).
# Usage: tests/fuzz/run.sh [SECONDS] [name...]
# Environment: FUZZ_JOBS (harnesses run at once, default 1),
#              FUZZ_ARGS (extra libFuzzer flags),
#              FUZZ_OUT (where build.sh put the binaries, default tests/fuzz/out;
#              logs go to $FUZZ_OUT/logs, reproducers to $FUZZ_OUT/crashes).
set -u

here=$(cd "$(dirname "$0")" && pwd)
out=${FUZZ_OUT:-$here/out}
secs=${1:-60}
[ $# -gt 0 ] && shift
jobs=${FUZZ_JOBS:-1}

if [ $# -eq 0 ]; then
    for f in "$here"/fuzz_*.c; do
        n=$(basename "$f" .c)
        set -- "$@" "${n#fuzz_}"
    done
fi

max_len() {
    case $1 in
    percent | content_type | match) echo 256 ;;
    cookie | rule) echo 512 ;;
    query) echo 1024 ;;
    urlencoded) echo 2048 ;;
    multipart | request) echo 4096 ;;
    *) echo 1024 ;;
    esac
}

for name in "$@"; do
    [ -x "$out/$name" ] || { echo "run.sh: $out/$name missing: run tests/fuzz/build.sh first" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/flaskc-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$out/crashes" "$out/logs"
touch "$tmp/.start"

run_one() {
    name=$1
    corpus="$tmp/$name"
    mkdir -p "$corpus"
    [ -d "$here/corpus/$name" ] && cp "$here/corpus/$name"/* "$corpus"/ 2>/dev/null
    dict=""
    [ -f "$here/$name.dict" ] && dict="-dict=$here/$name.dict"
    # shellcheck disable=SC2086
    "$out/$name" "$corpus" $dict -max_total_time="$secs" -max_len="$(max_len "$name")" \
        -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/crashes/$name-" ${FUZZ_ARGS:-} >"$out/logs/$name.log" 2>&1
    echo $? >"$tmp/$name.rc"
    find "$corpus" -type f | wc -l | tr -d ' ' >"$tmp/$name.corp"
}

started=0
for name in "$@"; do
    echo "run.sh: fuzzing $name for ${secs}s" >&2
    run_one "$name" &
    started=$((started + 1))
    if [ "$started" -ge "$jobs" ]; then
        wait
        started=0
    fi
done
wait

fail=0
printf '%-13s %12s %9s %6s %7s %7s %8s  %s\n' harness execs exec/s cov ft corpus crashes result
for name in "$@"; do
    log="$out/logs/$name.log"
    rc=$(cat "$tmp/$name.rc" 2>/dev/null || echo 99)
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1)
    [ -n "$done_line" ] && last=$done_line
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(cat "$tmp/$name.corp" 2>/dev/null || echo 0)
    crashes=$(find "$out/crashes" -name "$name-*" -newer "$tmp/.start" | wc -l | tr -d ' ')
    result=ok
    if [ "$rc" != 0 ] || [ -z "$done_line" ]; then
        result="FAIL (exit $rc, see $out/logs/$name.log)"
        fail=1
    fi
    printf '%-13s %12s %9s %6s %7s %7s %8s  %s\n' "$name" "${execs:--}" "${eps:--}" "${cov:--}" \
        "${ft:--}" "$corp" "$crashes" "$result"
done
[ "$fail" = 0 ] || { echo "run.sh: reproducers are in $out/crashes/" >&2; exit 1; }
exit 0
