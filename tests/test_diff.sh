#!/bin/sh
# Randomised differential test against Flask (issue 19): the rules of
# tests/diff/routes.txt served by libflaskc (tests/diff/diff_app) and by Flask
# (tests/diff/diff_app.py) side by side on loopback; tests/diff/gen.py sends
# both the same seeded random raw requests and compares status, Location,
# Allow, media type and what each handler parsed. Differences listed in
# gen.py (deliberate ones, and ones other branches are fixing) are counted;
# any other is a failure, printed with the raw request and both answers.
#
# A fresh seed each run, printed; replay one with DIFF_SEED=N (and the same
# DIFF_REQUESTS), or a single request with gen.py --seed N --only I.
#   DIFF_REQUESTS  requests per run (3000; 300 when FC_VALGRIND is set)
#   DIFF_SEED      the seed (default: a random one)
#   PYTHON         the Python that has Flask 3 (python3)
# Exit: 0 pass, 1 fail, 77 skip (no Flask 3 for $PYTHON).
set -u
[ -r "${top_srcdir:-.}/tests/lib.sh" ] || { echo "FAIL: no tests/lib.sh in ${top_srcdir:-.} (set top_srcdir)" >&2; exit 1; }
# shellcheck source=tests/lib.sh
. "${top_srcdir:-.}/tests/lib.sh"
diff_py="$srcdir/tests/diff/diff_app.py"
gen_py="$srcdir/tests/diff/gen.py"
routes="$srcdir/tests/diff/routes.txt"
diff_c=${DIFF_APP:-$builddir/tests/diff/diff_app}
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -W ignore -c "import flask; assert flask.__version__.startswith('3')" >/dev/null 2>&1; then
	fc_skip "$PYTHON has no Flask 3.x (the oracle)"
fi
fc_need_files "$diff_py" "$gen_py" "$routes"
fc_need_built "$diff_c"
fc_python "$PYTHON"

if [ -n "${FC_VALGRIND:-}" ]; then
	requests=${DIFF_REQUESTS:-300}
else
	requests=${DIFF_REQUESTS:-3000}
fi
seed=${DIFF_SEED:-$("$py" -c 'import random; print(random.SystemRandom().randrange(10**9))')}
echo "test_diff: seed $seed, $requests requests (replay: DIFF_SEED=$seed DIFF_REQUESTS=$requests make check TESTS=tests/test_diff.sh)"

fc_setup diff

flask_port=$(fc_free_port) || exit 1
fc_spawn "$dir/flask.log" "$py" "$diff_py" "$routes" "$flask_port"
flask_pid=$fc_pid
c_port=$(fc_free_port) || exit 1
if [ -n "${FC_VALGRIND:-}" ]; then
	# diff_app is a libtool wrapper: valgrind the program, not the shell
	# shellcheck disable=SC2086
	fc_spawn "$dir/c.log" env FLASKC_HOST=127.0.0.1 FLASKC_PORT="$c_port" FLASKC_ACCESS_LOG=0 \
		"$builddir/libtool" --mode=execute $FC_VALGRIND "$diff_c" "$routes"
else
	fc_spawn "$dir/c.log" env FLASKC_HOST=127.0.0.1 FLASKC_PORT="$c_port" FLASKC_ACCESS_LOG=0 \
		"$diff_c" "$routes"
fi
c_pid=$fc_pid

if ! fc_wait_up "$flask_pid" "$flask_port" /leaf 200 || ! fc_wait_up "$c_pid" "$c_port" /leaf 200; then
	echo "FAIL: the servers did not start" >&2
	echo "--- flask:" >&2
	cat "$dir/flask.log" >&2
	echo "--- libflaskc:" >&2
	cat "$dir/c.log" >&2
	exit 1
fi

"$py" "$gen_py" --routes "$routes" --seed "$seed" --requests "$requests" \
	--flask-port "$flask_port" --ours-port "$c_port"
rc=$?

# both servers must have lived through it
for pid in "$flask_pid" "$c_pid"; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "FAIL: a server died during the run (seed $seed):" >&2
		cat "$dir/flask.log" "$dir/c.log" >&2
		rc=1
	fi
done
if ! fc_stop_server "$c_pid"; then
	echo "FAIL: diff_app did not stop cleanly (status $fc_rc):" >&2
	tail -n 20 "$dir/c.log" >&2
	rc=1
fi
[ $rc -eq 0 ] || echo "test_diff: FAIL (seed $seed)" >&2
exit $rc
