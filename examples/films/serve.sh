#!/bin/sh
# serve.sh - run the films example on http://127.0.0.1:5000 from a fresh
# checkout (Debian 12), in one command from the repository's root:
#
#     sh examples/films/serve.sh
#
# It installs the build dependencies if they are missing (apt-get; as root or
# through sudo), builds the project (out of tree, in _build/serve), starts a
# private PostgreSQL cluster in ./var/pg (no system service is touched), loads
# examples/films/schema.sql when the film table is missing, and runs
# examples/films/films in the foreground. Ctrl-C stops the app and the cluster.
#
# Environment: FLASKC_HOST (127.0.0.1), FLASKC_PORT (5000), PGBIN
# (/usr/lib/postgresql/15/bin); other FLASKC_* settings pass through.
set -u

say() { printf 'serve.sh: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

if [ ! -f examples/films/schema.sql ] || [ ! -f tests/pgcluster.sh ]; then
	die "run me from the repository's root: sh examples/films/serve.sh"
fi

pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}
pgdir=var/pg

# ---- 1. build dependencies ----
missing=
for c in cc make autoreconf automake libtoolize pkg-config curl; do
	command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
if command -v pkg-config >/dev/null 2>&1; then
	for p in libmicrohttpd json-c libpq; do
		pkg-config --exists "$p" || missing="$missing $p"
	done
fi
[ -x "$pgbin/initdb" ] || missing="$missing postgresql"
if [ -n "$missing" ]; then
	say "installing build dependencies (missing:$missing)"
	if [ "$(id -u)" -eq 0 ]; then
		sudo=
	elif command -v sudo >/dev/null 2>&1; then
		sudo=sudo
	else
		die "missing:$missing; install them as root: apt-get install build-essential autoconf automake libtool pkg-config libmicrohttpd-dev libjson-c-dev libpq-dev postgresql curl"
	fi
	$sudo apt-get update || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends \
		build-essential autoconf automake libtool pkg-config libmicrohttpd-dev \
		libjson-c-dev libpq-dev postgresql curl || die "apt-get install failed"
	[ -x "$pgbin/initdb" ] || die "no PostgreSQL server binaries in $pgbin (set PGBIN to their directory)"
fi

# ---- 2. build (out of tree in _build/serve, unless the tree is configured in place) ----
if [ -f Makefile ]; then
	build=.
else
	build=_build/serve
	[ -x configure ] || autoreconf -fi || die "autoreconf failed"
	if [ ! -f "$build/Makefile" ]; then
		mkdir -p "$build" && (cd "$build" && ../../configure) || die "configure failed"
	fi
fi
say "building libflaskc and the examples in $build"
make -C "$build" -j2 >/dev/null || die "make failed"

# ---- 3. database ----
server_pid=
# shellcheck disable=SC2317 # called by the traps
cleanup() {
	trap - EXIT INT TERM HUP
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	say "stopping the PostgreSQL cluster in $pgdir"
	sh tests/pgcluster.sh stop "$pgdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

say "starting a private PostgreSQL cluster in $pgdir"
sh tests/pgcluster.sh start "$pgdir" >/dev/null || die "could not start PostgreSQL (see $pgdir/postgres.log)"
# shellcheck source=/dev/null
. "./$pgdir/env"
have=$("$pgbin/psql" -X -q -tA -h "$PGHOST" -p "$PGPORT" -U postgres -d films \
	-c "SELECT to_regclass('public.film') IS NOT NULL") || die "cannot query the films database"
if [ "$have" != t ]; then
	say "loading examples/films/schema.sql"
	sh tests/pgcluster.sh load "$pgdir" examples/films/schema.sql >/dev/null || die "loading the schema failed"
fi

# ---- 4. serve ----
FLASKC_HOST=${FLASKC_HOST:-127.0.0.1}
FLASKC_PORT=${FLASKC_PORT:-5000}
export FLASKC_HOST FLASKC_PORT FLASKC_DATABASE_URL
say "films on http://$FLASKC_HOST:$FLASKC_PORT/films/995/ (Ctrl-C stops it and the database)"
# In the background so that the traps run however the shell is stopped.
"$build/examples/films/films" &
server_pid=$!
wait "$server_pid"
rc=$?
server_pid=
exit $rc
