#!/bin/sh
# test_exports.sh — the shared library exports exactly the checked-in list
# (libflaskc.sym): nothing internal leaks, nothing public goes missing.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
so=$(ls "$top_builddir"/.libs/libflaskc.so.* 2>/dev/null | head -n1)
[ -n "$so" ] || { echo "no libflaskc.so built"; exit 1; }
actual=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^_' | sort)
expected=$(grep -v '^#' "$top_srcdir/libflaskc.sym" | sort)
if [ "$actual" != "$expected" ]; then
    echo "exported symbols differ from libflaskc.sym (< expected, > actual):"
    printf '%s\n' "$expected" > exports.expected.tmp
    printf '%s\n' "$actual" > exports.actual.tmp
    diff exports.expected.tmp exports.actual.tmp
    rm -f exports.expected.tmp exports.actual.tmp
    exit 1
fi
# every exported symbol is declared in the public header
for s in $actual; do
    grep -q "\\b$s\\b" "$top_srcdir/include/flaskc.h" || { echo "$s is exported but not in flaskc.h"; exit 1; }
done
echo "$(printf '%s\n' "$actual" | wc -l) symbols, as listed"
