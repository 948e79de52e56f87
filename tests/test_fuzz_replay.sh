#!/bin/sh
# test_fuzz_replay.sh — replay every seed corpus (tests/fuzz/corpus/<name>/)
# and every crash reproducer (tests/fuzz/regressions/<name>-*.bin) through the
# plain replay program of its harness (tests/fuzz/replay_<name>, built by
# `make check` with the ordinary compiler, no libFuzzer), so fixed fuzz bugs
# stay fixed. Runs under $FC_VALGRIND when set. Exit 0 pass, 1 fail, 77 skip.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
fz="$top_srcdir/tests/fuzz"
ran=0
fail=0
for src in "$fz"/fuzz_*.c; do
    name=$(basename "$src" .c)
    name=${name#fuzz_}
    prog="$top_builddir/tests/fuzz/replay_$name"
    if [ ! -x "$prog" ]; then
        echo "missing $prog"
        fail=1
        continue
    fi
    set --
    [ -d "$fz/corpus/$name" ] && set -- "$fz/corpus/$name"
    for r in "$fz"/regressions/"$name"-*; do
        [ -f "$r" ] && set -- "$@" "$r"
    done
    [ $# -gt 0 ] || continue
    # shellcheck disable=SC2086
    if ${FC_VALGRIND:-} "$prog" "$@" >"replay_$name.log" 2>&1; then
        echo "ok   $name: $(tail -n1 "replay_$name.log")"
        rm -f "replay_$name.log"
    else
        echo "FAIL $name (see replay_$name.log):"
        tail -n 20 "replay_$name.log"
        fail=1
    fi
    ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || { echo "no fuzz harnesses found under $fz"; exit 77; }
exit $fail
