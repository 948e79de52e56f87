#!/bin/sh
# test_settings.sh — the settings table (libflaskc/settings.h) is the one place
# settings are described: README.md's and flaskc.h's tables are what
# tools/gen_settings writes from it, every FLASKC_ name the library's sources
# mention is in it, and its setters are exactly the fc_app_set_* of flaskc.h.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
gen="$top_builddir/tools/gen_settings"
[ -x "$gen" ] || { echo "no $gen built"; exit 1; }
fail=0

# 1. the generated tables are up to date
"$gen" --check "$top_srcdir/README.md" "$top_srcdir/include/flaskc.h" || fail=1

# 2. every FLASKC_ name in libflaskc/ and include/ is a setting, apart from the
# include guards (the names of #ifndef lines)
tmp=${TMPDIR:-/tmp}/test_settings.$$
trap 'rm -f "$tmp".*' EXIT
"$gen" --names | sort -u > "$tmp.table"
grep -rhoE 'FLASKC_[A-Z0-9_]*[A-Z0-9]' "$top_srcdir/libflaskc" "$top_srcdir/include" | sort -u > "$tmp.used"
grep -rhE '^#ifndef FLASKC_[A-Z0-9_]+' "$top_srcdir/libflaskc" "$top_srcdir/include" |
    awk '{print $2}' | sort -u > "$tmp.guards"
missing=$(comm -23 "$tmp.used" "$tmp.table" | comm -23 - "$tmp.guards")
if [ -n "$missing" ]; then
    echo "FLASKC_ names used in libflaskc/ or include/ but not in libflaskc/settings.h:"
    echo "$missing"
    fail=1
fi

# 3. the table's setters are the header's fc_app_set_* functions
"$gen" --setters | sort -u > "$tmp.setters"
grep -oE '\bfc_app_set_[a-z0-9_]+' "$top_srcdir/include/flaskc.h" | sort -u > "$tmp.declared"
if ! cmp -s "$tmp.setters" "$tmp.declared"; then
    echo "setters in libflaskc/settings.h (<) and fc_app_set_* in flaskc.h (>) differ:"
    diff "$tmp.setters" "$tmp.declared"
    fail=1
fi

[ $fail -eq 0 ] && echo "$(wc -l < "$tmp.table") settings; README.md and flaskc.h tables as generated"
exit $fail
