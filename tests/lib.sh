# shellcheck shell=sh
# tests/lib.sh - what the shell tests share. POSIX sh, sourced (not run) as
#
#   [ -r "${top_srcdir:-.}/tests/lib.sh" ] || { echo "FAIL: ..." >&2; exit 1; }
#   . "${top_srcdir:-.}/tests/lib.sh"
#
# `make check` exports top_srcdir and top_builddir (AM_TESTS_ENVIRONMENT in
# Makefile.am); run by hand from the top of the source tree they default to
# ".". In a VPATH build or `make distcheck` top_srcdir is the read-only source
# tree: nothing here writes there (temporary files go to $TMPDIR, else /tmp).
# It sources tests/pgcluster.sh for the private PostgreSQL cluster
# (pgcluster_start/stop/kill/restart/load DIR, in this shell) and defines:
#
#   srcdir builddir pgbin pgcluster schema   paths every test uses
#   fc_skip MSG / fc_fail MSG       print "SKIP: MSG" / "FAIL: MSG", exit 77 / 1
#   fc_need_files FILE...           fail (1) unless each source file is readable
#   fc_need_built PROG...           fail (1) unless each program is built
#   fc_need_cmds CMD...             skip (77) unless each command is on PATH
#   fc_need_pg                      skip (77) without PostgreSQL server binaries
#   fc_python CMD                   $py = the interpreter CMD (e.g. python3) runs
#   fc_setup NAME                   $dir = a new temp dir, $pgdir = $dir/pg, and
#                                   the traps: on EXIT (INT 130, TERM 143,
#                                   HUP 129) fc_cleanup runs
#   fc_cleanup                      kill -9 the servers still running, stop the
#                                   cluster if one was started, remove $dir
#   fc_pg_start                     start the cluster in $pgdir, source its env
#                                   (PGHOST PGPORT FLASKC_DATABASE_URL ...);
#                                   returns 0, 77 (no PostgreSQL) or 1 (said why)
#   fc_psql ARGS...                 psql -tA, ON_ERROR_STOP, on database films
#   fc_free_port                    print a free TCP port on 127.0.0.1
#   fc_spawn LOG CMD [ARGS...]      CMD in the background, output to LOG; its pid
#                                   in $fc_pid, killed by fc_cleanup
#   fc_answers PORT PATH STATUS     0 if GET http://127.0.0.1:PORT PATH answers
#                                   with STATUS (a number, or any)
#   fc_wait_up PID PORT PATH STATUS wait up to 10 s for fc_answers; 1 if PID
#                                   exits first, 2 on time-out
#   fc_start_server LOG PATH STATUS CMD [ARGS...]
#                                   a free port ($port, $base), CMD run with
#                                   FLASKC_HOST=127.0.0.1 FLASKC_PORT=$port,
#                                   waited for (fc_wait_up); its pid in $fc_pid.
#                                   On failure: why and LOG on stderr, the
#                                   process gone, return 1
#   fc_stop_server PID              SIGTERM, wait up to 10 s (then kill -9);
#                                   $fc_rc = exit status or "hung"; returns 0
#                                   if it exited with status 0
#   ok MSG / notok MSG              "ok - [$label: ]MSG" / "not ok - ...", counted
#                                   in $passed / $failed
#   fc_done                         print "N passed, N failed", exit 0 or 1
#
# Its internal variables start with fc_ (pgcluster.sh's with pgc_).

# shellcheck disable=SC2034 # the variables are for the tests that source this
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}
pgcluster="$srcdir/tests/pgcluster.sh"
schema="$srcdir/examples/films/schema.sql"
dir=
pgdir=
fc_pids=
fc_pg_used=0
passed=0
failed=0
label=

fc_skip() {
	echo "SKIP: $*" >&2
	exit 77
}

fc_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

fc_need_files() {
	for fc_f in "$@"; do
		[ -r "$fc_f" ] || fc_fail "missing $fc_f (set top_srcdir)"
	done
}

fc_need_built() {
	for fc_f in "$@"; do
		[ -x "$fc_f" ] || fc_fail "$fc_f is not built (set top_builddir)"
	done
}

fc_need_cmds() {
	for fc_f in "$@"; do
		command -v "$fc_f" >/dev/null 2>&1 || fc_skip "$fc_f is not installed"
	done
}

fc_need_pg() {
	[ -x "$pgbin/initdb" ] || fc_skip "no PostgreSQL server binaries in $pgbin"
}

fc_need_files "$pgcluster"
PGCLUSTER_LIB=1 # define pgcluster.sh's functions only (not exported: `sh "$pgcluster"` still runs it)
# shellcheck source=tests/pgcluster.sh
. "$pgcluster"

# the interpreter itself, not a wrapper (pyenv's shims take a second per call)
fc_python() {
	py=$("$1" -c 'import sys; print(sys.executable)' 2>/dev/null) && [ -x "$py" ] || py=$1
}

fc_setup() {
	trap fc_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	dir=$(mktemp -d "${TMPDIR:-/tmp}/flaskc-$1.XXXXXX") || exit 1
	pgdir=$dir/pg
}

# shellcheck disable=SC2317 # called by the EXIT trap
fc_cleanup() {
	for fc_p in $fc_pids; do
		kill -9 "$fc_p" 2>/dev/null
	done
	for fc_p in $fc_pids; do
		wait "$fc_p" 2>/dev/null
	done
	fc_pids=
	if [ "$fc_pg_used" = 1 ]; then
		pgcluster_stop "$pgdir" >/dev/null 2>&1 || pgcluster_kill "$pgdir" >/dev/null 2>&1
	fi
	if [ -n "$dir" ]; then
		rm -rf -- "$dir"
	fi
}

fc_pg_start() {
	chmod 755 "$dir" # as root the cluster's owner must reach $pgdir
	fc_pg_used=1
	pgcluster_start "$pgdir" >/dev/null
	fc_rc=$?
	if [ $fc_rc -eq 77 ]; then
		return 77
	elif [ $fc_rc -ne 0 ]; then
		echo "FAIL: could not start a PostgreSQL cluster in $pgdir" >&2
		cat "$pgdir/postgres.log" >&2 2>/dev/null
		return 1
	fi
	# shellcheck source=/dev/null
	. "$pgdir/env"
}

fc_psql() {
	"$pgbin/psql" -X -q -tA -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U postgres -d films "$@"
}

fc_free_port() {
	pgc_free_port
}

fc_spawn() {
	fc_spawn_log=$1
	shift
	"$@" >"$fc_spawn_log" 2>&1 &
	fc_pid=$!
	fc_pids="$fc_pids $fc_pid"
}

# fc_forget PID: fc_cleanup need not kill PID any more (it was waited for)
fc_forget() {
	fc_keep=
	for fc_p in $fc_pids; do
		[ "$fc_p" = "$1" ] || fc_keep="$fc_keep $fc_p"
	done
	fc_pids=$fc_keep
}

fc_answers() {
	"${py:-python3}" -c 'import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=2)
c.request("GET", sys.argv[2])
sys.exit(0 if sys.argv[3] in ("any", str(c.getresponse().status)) else 1)' "$@" 2>/dev/null
}

fc_wait_up() {
	fc_n=0
	while [ $fc_n -lt 100 ]; do
		kill -0 "$1" 2>/dev/null || return 1
		fc_answers "$2" "$3" "$4" && return 0
		sleep 0.1
		fc_n=$((fc_n + 1))
	done
	return 2
}

fc_start_server() {
	fc_log=$1 fc_path=$2 fc_want=$3
	shift 3
	for fc_prog in "$@"; do :; done # the last word: the program, for messages
	port=$(fc_free_port) || {
		echo "no free TCP port for $fc_prog" >&2
		return 1
	}
	base=http://127.0.0.1:$port
	fc_spawn "$fc_log" env FLASKC_HOST=127.0.0.1 FLASKC_PORT="$port" "$@"
	fc_wait_up "$fc_pid" "$port" "$fc_path" "$fc_want"
	case $? in
	0) return 0 ;;
	1)
		wait "$fc_pid"
		echo "server $fc_prog exited with status $? before answering:" >&2
		;;
	*)
		echo "server $fc_prog did not answer on port $port within 10 s:" >&2
		kill -9 "$fc_pid" 2>/dev/null
		wait "$fc_pid" 2>/dev/null
		;;
	esac
	fc_forget "$fc_pid"
	cat "$fc_log" >&2
	return 1
}

fc_stop_server() {
	kill -TERM "$1" 2>/dev/null
	fc_n=0
	while kill -0 "$1" 2>/dev/null && [ $fc_n -lt 100 ]; do
		sleep 0.1
		fc_n=$((fc_n + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -9 "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		fc_rc=hung
	else
		wait "$1"
		fc_rc=$?
	fi
	fc_forget "$1"
	[ "$fc_rc" = 0 ]
}

ok() {
	echo "ok - ${label:+$label: }$1"
	passed=$((passed + 1))
}

notok() {
	echo "not ok - ${label:+$label: }$1"
	failed=$((failed + 1))
}

fc_done() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] || exit 1
	exit 0
}
