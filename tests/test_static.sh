#!/bin/sh
# test_static.sh — issue 4 point 8: cppcheck and clang-tidy are clean on
# libflaskc/. cppcheck: warning, performance and portability checks, inline
# suppressions honoured (/* cppcheck-suppress id */ on the line above).
# clang-tidy: the checks in .clang-tidy (analyzer + bugprone), warnings are
# errors; NOLINT / NOLINTNEXTLINE(check) comments suppress a false positive.
# Each tool is skipped when missing; exit 77 when both are.
# Exit: 0 clean, 1 findings (listed), 77 skip.
set -u
srcdir=${top_srcdir:-.}
cd "$srcdir" || exit 1
ran=0
failed=0
if command -v cppcheck >/dev/null 2>&1; then
	ran=1
	if cppcheck --quiet --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
		--std=c11 -D_GNU_SOURCE -Iinclude -Ilibflaskc libflaskc/ 2>cppcheck.log.tmp; then
		echo "ok - cppcheck $(cppcheck --version | cut -d' ' -f2): libflaskc/ clean"
	else
		echo "not ok - cppcheck findings:"
		sed 's/^/    /' cppcheck.log.tmp
		failed=1
	fi
	rm -f cppcheck.log.tmp
else
	echo "# SKIP cppcheck: not installed"
fi
if command -v clang-tidy >/dev/null 2>&1 && command -v pkg-config >/dev/null 2>&1 &&
	cflags=$(pkg-config --cflags libmicrohttpd json-c libpq 2>/dev/null); then
	ran=1
	# one file per process, two at a time; each prints its own findings
	# shellcheck disable=SC2016,SC2086
	out=$(ls libflaskc/*.c | xargs -P "${FC_STATIC_JOBS:-2}" -n 1 sh -c \
		'clang-tidy --quiet "$0" -- -std=gnu11 -D_GNU_SOURCE -Iinclude -Ilibflaskc '"$cflags"' 2>/dev/null' |
		grep -E '(warning|error):' | sort -u)
	if [ -z "$out" ]; then
		echo "ok - clang-tidy $(clang-tidy --version | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -1): libflaskc/ clean (.clang-tidy checks)"
	else
		echo "not ok - clang-tidy findings ($(printf '%s\n' "$out" | wc -l)):"
		printf '%s\n' "$out" | sed 's/^/    /'
		failed=1
	fi
else
	echo "# SKIP clang-tidy: not installed (or pkg-config cannot find the libraries)"
fi
[ $ran = 1 ] || exit 77
exit $failed
