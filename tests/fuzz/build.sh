#!/bin/sh
# build.sh — build the libFuzzer harnesses: every libflaskc/*.c (instrumented
# once) + one tests/fuzz/fuzz_<name>.c -> tests/fuzz/out/<name>.
# Usage: tests/fuzz/build.sh [name...]   (default: every harness)
# Environment: CC (default clang; clang-14 with libclang-rt-14-dev works),
#              FUZZ_CFLAGS (extra flags), FUZZ_OUT (output directory,
#              default tests/fuzz/out; set it for out-of-tree builds).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$here/out}
CC=${CC:-clang}
case $CC in *clang*) ;; *) echo "build.sh: CC must be clang (libFuzzer); got '$CC'" >&2; CC=clang ;; esac
command -v "$CC" >/dev/null 2>&1 || {
    echo "build.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
}

SAN="address,undefined"
CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -fno-omit-frame-pointer -fno-sanitize-recover=all ${FUZZ_CFLAGS:-}"
INC="-I$top/include -I$top/libflaskc -I$here"
PKG_CFLAGS=$(pkg-config --cflags libmicrohttpd json-c libpq)
PKG_LIBS=$(pkg-config --libs libmicrohttpd json-c libpq)

if [ $# -eq 0 ]; then
    set --
    for f in "$here"/fuzz_*.c; do
        n=$(basename "$f" .c)
        set -- "$@" "${n#fuzz_}"
    done
fi

mkdir -p "$out/obj"
# the library, instrumented for coverage (fuzzer-no-link) and the sanitizers;
# rebuilt when a source or a header (internal.h, router_int.h, pg_int.h) is newer than its object
objs=""
for src in "$top"/libflaskc/*.c; do
    o="$out/obj/$(basename "$src" .c).o"
    if [ ! -f "$o" ] ||
       [ -n "$(find "$src" "$top"/libflaskc/*.h "$top/include/flaskc.h" -newer "$o")" ]; then
        # shellcheck disable=SC2086
        "$CC" $CFLAGS -fsanitize=fuzzer-no-link,$SAN $INC $PKG_CFLAGS -pthread -c "$src" -o "$o"
    fi
    objs="$objs $o"
done

for name in "$@"; do
    src="$here/fuzz_$name.c"
    [ -f "$src" ] || { echo "build.sh: no harness $src" >&2; exit 1; }
    echo "  FUZZ     $name"
    # shellcheck disable=SC2086
    "$CC" $CFLAGS -fsanitize=fuzzer,$SAN $INC $PKG_CFLAGS -pthread "$src" $objs $PKG_LIBS -lm \
        -o "$out/$name"
done
