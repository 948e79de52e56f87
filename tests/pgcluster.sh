#!/bin/sh
# pgcluster.sh - a private, throw-away PostgreSQL cluster for tests, benches
# and the README's serve command. Nothing here touches a system service.
#
#   tests/pgcluster.sh start   DIR          create/initdb if needed, start, create db
#                                           "films", write DIR/env, print the URL
#   tests/pgcluster.sh stop    DIR          pg_ctl stop -m fast (immediate fallback)
#   tests/pgcluster.sh kill    DIR          pg_ctl stop -m immediate (fault tests)
#   tests/pgcluster.sh restart DIR          stop if running, start on the same port
#   tests/pgcluster.sh load    DIR SQLFILE  psql -v ON_ERROR_STOP=1 -f SQLFILE films
#   tests/pgcluster.sh status  DIR          exit 0 if running, 3 if not
#
# Exit status: 0 ok, 1 error, 2 usage, 77 PostgreSQL not installed (automake skip).
#
# DIR gets: data/ (the cluster), postgres.log, port, env. DIR/env holds
# shell-sourceable export lines: PGHOST PGPORT PGUSER PGDATABASE
# FLASKC_DATABASE_URL (Unix socket, db films) and FLASKC_DATABASE_URL_TCP
# (127.0.0.1). The server listens on the Unix socket in DIR and on
# 127.0.0.1:<free port>; auth is trust, user postgres.
#
# As root, initdb/pg_ctl run as the `postgres` user (PostgreSQL refuses root):
# DIR is chowned to it, and every parent of DIR must be traversable by it. A
# parent that is not (e.g. /root, mode 700) gets o+x (traverse only, no
# listing) with a notice on stderr; set PGCLUSTER_NO_CHMOD=1 to get an error
# instead. As any other user the cluster runs as that user.
#
# Sourcing: `PGCLUSTER_LIB=1 . tests/pgcluster.sh` only defines the functions
# pgcluster_start/stop/kill/restart/load/status DIR [...] (they return, never
# exit). Sourcing without PGCLUSTER_LIB from a script not named pgcluster.sh
# does the same.
#
# Environment: PGBIN (default /usr/lib/postgresql/15/bin), PGCLUSTER_USER
# (default postgres), PGCLUSTER_STOP_TIMEOUT (default 30 s),
# PGCLUSTER_START_TIMEOUT (default 60 s), PGCLUSTER_NO_CHMOD.

pgc_bin=${PGBIN:-/usr/lib/postgresql/15/bin}
pgc_user=${PGCLUSTER_USER:-postgres}

pgc_say() { printf 'pgcluster: %s\n' "$*" >&2; }

# Run a server-side command (initdb, pg_ctl) as the cluster's owner, from /
# so a cwd the postgres user cannot enter does not produce warnings.
pgc_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u "$pgc_user" -- "$@")
	else
		(cd / && "$@")
	fi
}

# 77 when the server binaries or the postgres user are missing.
pgc_check_install() {
	if [ ! -x "$pgc_bin/initdb" ] || [ ! -x "$pgc_bin/pg_ctl" ] || [ ! -x "$pgc_bin/psql" ]; then
		pgc_say "SKIP: PostgreSQL server binaries not found in $pgc_bin (apt-get install postgresql-15, or set PGBIN)"
		return 77
	fi
	if [ "$(id -u)" -eq 0 ]; then
		if ! id -u "$pgc_user" >/dev/null 2>&1; then
			pgc_say "SKIP: running as root but there is no '$pgc_user' user to run the server as"
			return 77
		fi
		if ! command -v runuser >/dev/null 2>&1; then
			pgc_say "SKIP: running as root but runuser(1) is not available"
			return 77
		fi
	fi
	return 0
}

# Absolute, normalised path of DIR (creating it if $2 = create).
pgc_absdir() {
	if [ "${2:-}" = create ]; then
		mkdir -p -- "$1" || return 1
	fi
	[ -d "$1" ] || return 1
	(cd -P -- "$1" && pwd -P)
}

# Make DIR usable by the server's owner: chown it, and make sure every parent
# directory is traversable.
pgc_prepare_dir() {
	pgc_d=$1
	[ "$(id -u)" -eq 0 ] || return 0
	chown "$pgc_user:" "$pgc_d" || return 1
	if runuser -u "$pgc_user" -- test -x "$pgc_d" -a -w "$pgc_d"; then
		return 0
	fi
	# Walk from / down to DIR's parent, fixing what blocks traversal.
	pgc_p=
	pgc_rest=${pgc_d#/}
	while [ -n "$pgc_rest" ]; do
		pgc_comp=${pgc_rest%%/*}
		case $pgc_rest in */*) pgc_rest=${pgc_rest#*/} ;; *) pgc_rest= ;; esac
		pgc_p=$pgc_p/$pgc_comp
		[ "$pgc_p" = "$pgc_d" ] && break
		if ! runuser -u "$pgc_user" -- test -x "$pgc_p"; then
			if [ -n "${PGCLUSTER_NO_CHMOD:-}" ]; then
				pgc_say "error: the '$pgc_user' user cannot traverse $pgc_p, so the cluster in $pgc_d is unreachable."
				pgc_say "  Use a directory under /tmp (e.g. \$(mktemp -d)), or run: chmod o+x $pgc_p"
				return 1
			fi
			pgc_say "notice: granting o+x (traverse only) on $pgc_p so the '$pgc_user' user can reach $pgc_d"
			chmod o+x "$pgc_p" || return 1
		fi
	done
	if ! runuser -u "$pgc_user" -- test -x "$pgc_d" -a -w "$pgc_d"; then
		pgc_say "error: the '$pgc_user' user still cannot use $pgc_d (check its permissions and mount options)"
		return 1
	fi
	return 0
}

# 0 if the cluster in $1 is running.
pgc_running() {
	[ -f "$1/data/PG_VERSION" ] || return 1
	[ -x "$pgc_bin/pg_ctl" ] || return 1
	pgc_as_owner "$pgc_bin/pg_ctl" status -D "$1/data" >/dev/null 2>&1
}

# Port of the running cluster in $1 (4th line of postmaster.pid), else DIR/port.
pgc_port_of() {
	pgc_pt=
	if [ -r "$1/data/postmaster.pid" ]; then
		pgc_pt=$(sed -n 4p "$1/data/postmaster.pid" 2>/dev/null)
	fi
	if [ -z "$pgc_pt" ] && [ -r "$1/port" ]; then
		pgc_pt=$(cat "$1/port")
	fi
	case $pgc_pt in '' | *[!0-9]*) return 1 ;; esac
	printf '%s\n' "$pgc_pt"
}

# 0 if nothing listens on TCP port $1 (best effort: postgres' own bind is the
# real test, and start retries on EADDRINUSE).
pgc_port_free() {
	if command -v ss >/dev/null 2>&1; then
		[ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]
	else
		return 0
	fi
}

# A free TCP port on 127.0.0.1.
pgc_free_port() {
	if command -v python3 >/dev/null 2>&1; then
		pgc_pt=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null)
		case $pgc_pt in '' | *[!0-9]*) ;; *) printf '%s\n' "$pgc_pt"; return 0 ;; esac
	fi
	# Fallback: scan upwards from a pid-dependent point in 20000..29999.
	pgc_pt=$((20000 + ($$ * 7919 + $(date +%S)) % 10000))
	pgc_n=0
	while [ $pgc_n -lt 2000 ]; do
		if pgc_port_free "$pgc_pt"; then
			printf '%s\n' "$pgc_pt"
			return 0
		fi
		pgc_pt=$((pgc_pt + 1))
		[ $pgc_pt -gt 29999 ] && pgc_pt=20000
		pgc_n=$((pgc_n + 1))
	done
	return 1
}

# Percent-encode a path for a libpq URI query parameter.
pgc_urlenc() {
	printf '%s' "$1" | sed -e 's/%/%25/g' -e 's/ /%20/g' -e 's/&/%26/g' -e 's/#/%23/g' \
		-e 's/?/%3F/g' -e 's/=/%3D/g' -e 's/+/%2B/g' -e "s/'/%27/g" -e 's/"/%22/g'
}

# Single-quote for the shell.
pgc_shq() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

pgc_url() {
	printf 'postgresql:///films?host=%s&port=%s&user=postgres\n' "$(pgc_urlenc "$1")" "$2"
}

pgc_write_env() {
	pgc_d=$1 pgc_pt=$2
	printf '%s\n' "$pgc_pt" >"$pgc_d/port.tmp" && mv -f "$pgc_d/port.tmp" "$pgc_d/port" || return 1
	{
		echo "# written by tests/pgcluster.sh; source with: . $pgc_d/env"
		echo "export PGHOST=$(pgc_shq "$pgc_d")"
		echo "export PGPORT=$pgc_pt"
		echo "export PGUSER=postgres"
		echo "export PGDATABASE=films"
		echo "export FLASKC_DATABASE_URL=$(pgc_shq "$(pgc_url "$pgc_d" "$pgc_pt")")"
		echo "export FLASKC_DATABASE_URL_TCP='postgresql://postgres@127.0.0.1:$pgc_pt/films'"
	} >"$pgc_d/env.tmp" && mv -f "$pgc_d/env.tmp" "$pgc_d/env"
}

# Run a client program from PGBIN with libpq variables that could redirect or
# alter the connection cleared (host and port are always given explicitly).
pgc_client() {
	(
		unset PGHOSTADDR PGSERVICE PGSERVICEFILE PGOPTIONS PGSSLMODE PGREQUIRESSL \
			PGTARGETSESSIONATTRS PGPASSWORD PGPASSFILE PGCONNECT_TIMEOUT
		pgc_prog=$1
		shift
		exec "$pgc_bin/$pgc_prog" "$@"
	)
}

pgc_psql() {
	pgc_d=$1 pgc_pt=$2 pgc_db=$3
	shift 3
	pgc_client psql -X -q -h "$pgc_d" -p "$pgc_pt" -U postgres -d "$pgc_db" "$@"
}

pgc_wait_ready() {
	pgc_d=$1 pgc_pt=$2
	pgc_n=0
	while [ $pgc_n -lt 300 ]; do
		if pgc_client pg_isready -q -h "$pgc_d" -p "$pgc_pt" -U postgres -d postgres; then
			return 0
		fi
		sleep 0.1
		pgc_n=$((pgc_n + 1))
	done
	pgc_say "error: server in $pgc_d not ready after 30 s; see $pgc_d/postgres.log"
	return 1
}

pgc_create_db() {
	pgc_d=$1 pgc_pt=$2
	pgc_have=$(pgc_psql "$pgc_d" "$pgc_pt" postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = 'films'") || return 1
	[ "$pgc_have" = 1 ] && return 0
	pgc_out=$(pgc_psql "$pgc_d" "$pgc_pt" postgres -c 'CREATE DATABASE films' 2>&1) && return 0
	case $pgc_out in *"already exists"*) return 0 ;; esac # a concurrent start won
	printf '%s\n' "$pgc_out" >&2
	return 1
}

pgc_initdb() {
	pgc_d=$1
	[ -f "$pgc_d/data/PG_VERSION" ] && return 0
	if [ -e "$pgc_d/data" ]; then
		# A half-made data directory from an interrupted initdb.
		pgc_say "removing incomplete $pgc_d/data"
		rm -rf -- "$pgc_d/data" || return 1
	fi
	if ! pgc_as_owner "$pgc_bin/initdb" -D "$pgc_d/data" -A trust -U postgres --no-sync \
		-E UTF8 --locale=C --no-instructions >"$pgc_d/initdb.log" 2>&1; then
		cat "$pgc_d/initdb.log" >&2
		pgc_say "error: initdb failed (log above, also in $pgc_d/initdb.log)"
		return 1
	fi
	printf "\n# added by tests/pgcluster.sh\ninclude_if_exists = 'pgcluster.conf'\n" >>"$pgc_d/data/postgresql.conf"
}

# Write DIR/data/pgcluster.conf for port $2.
pgc_write_conf() {
	pgc_d=$1 pgc_pt=$2
	pgc_qd=$(printf '%s' "$pgc_d" | sed "s/'/''/g")
	cat >"$pgc_d/data/pgcluster.conf" <<EOF
# written by tests/pgcluster.sh on every start
port = $pgc_pt
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pgc_qd'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 128MB
EOF
	[ "$(id -u)" -eq 0 ] && chown "$pgc_user:" "$pgc_d/data/pgcluster.conf"
	return 0
}

# One start attempt on port $2. Returns 0 ok, 98 port in use, 1 other failure.
pgc_try_start() {
	pgc_d=$1 pgc_pt=$2
	pgc_write_conf "$pgc_d" "$pgc_pt" || return 1
	pgc_before=0
	[ -f "$pgc_d/postgres.log" ] && pgc_before=$(wc -l <"$pgc_d/postgres.log")
	if pgc_as_owner "$pgc_bin/pg_ctl" start -D "$pgc_d/data" -l "$pgc_d/postgres.log" \
		-w -t "${PGCLUSTER_START_TIMEOUT:-60}" >/dev/null 2>"$pgc_d/pg_ctl.err"; then
		return 0
	fi
	# pg_ctl may time out with the server still coming up; don't leave it behind.
	pgc_as_owner "$pgc_bin/pg_ctl" stop -D "$pgc_d/data" -m immediate -w >/dev/null 2>&1
	if tail -n +"$((pgc_before + 1))" "$pgc_d/postgres.log" 2>/dev/null |
		grep -q -e 'could not bind' -e 'could not create any TCP/IP sockets' -e 'Address already in use'; then
		return 98
	fi
	cat "$pgc_d/pg_ctl.err" >&2
	tail -n +"$((pgc_before + 1))" "$pgc_d/postgres.log" >&2 2>/dev/null
	pgc_say "error: the server in $pgc_d did not start (log: $pgc_d/postgres.log)"
	return 1
}

# pgcluster_start DIR [same-port]
pgcluster_start() {
	[ -n "${1:-}" ] || { pgc_say "usage: pgcluster.sh start DIR"; return 2; }
	pgc_check_install || return $?
	pgc_d=$(pgc_absdir "$1" create) || { pgc_say "error: cannot create $1"; return 1; }
	# Unix socket paths are limited to 107 bytes: DIR + "/.s.PGSQL.NNNNN".
	if [ ${#pgc_d} -gt 90 ]; then
		pgc_say "error: $pgc_d is too long for a Unix socket directory (max 90 characters)"
		return 1
	fi
	pgc_prepare_dir "$pgc_d" || return 1

	if pgc_running "$pgc_d"; then
		pgc_pt=$(pgc_port_of "$pgc_d") || { pgc_say "error: cluster in $pgc_d runs but its port is unknown"; return 1; }
	else
		pgc_initdb "$pgc_d" || return 1
		pgc_want=
		[ -r "$pgc_d/port" ] && pgc_want=$(cat "$pgc_d/port")
		case $pgc_want in *[!0-9]*) pgc_want= ;; esac
		pgc_tries=0
		while :; do
			if [ "${2:-}" = same-port ]; then
				[ -n "$pgc_want" ] || { pgc_say "error: no recorded port in $pgc_d/port"; return 1; }
				pgc_pt=$pgc_want
			elif [ -n "$pgc_want" ] && [ $pgc_tries -eq 0 ] && pgc_port_free "$pgc_want"; then
				pgc_pt=$pgc_want # prefer the port this cluster had before
			else
				pgc_pt=$(pgc_free_port) || { pgc_say "error: no free TCP port found"; return 1; }
			fi
			pgc_try_start "$pgc_d" "$pgc_pt"
			pgc_rc=$?
			[ $pgc_rc -eq 0 ] && break
			[ $pgc_rc -eq 98 ] || return 1
			pgc_tries=$((pgc_tries + 1))
			if [ $pgc_tries -ge 10 ]; then
				pgc_say "error: could not bind a TCP port after $pgc_tries tries (last $pgc_pt); see $pgc_d/postgres.log"
				return 1
			fi
			pgc_say "port $pgc_pt is in use, retrying"
			[ "${2:-}" = same-port ] && sleep 1
		done
	fi
	pgc_wait_ready "$pgc_d" "$pgc_pt" || return 1
	pgc_create_db "$pgc_d" "$pgc_pt" || { pgc_say "error: could not create database films"; return 1; }
	pgc_write_env "$pgc_d" "$pgc_pt" || { pgc_say "error: cannot write $pgc_d/env"; return 1; }
	pgc_url "$pgc_d" "$pgc_pt"
}

# pgcluster_stop DIR [fast|immediate]
pgcluster_stop() {
	[ -n "${1:-}" ] || { pgc_say "usage: pgcluster.sh stop DIR"; return 2; }
	pgc_mode=${2:-fast}
	pgc_d=$(pgc_absdir "$1") || return 0 # no DIR: nothing runs there
	if ! pgc_running "$pgc_d"; then
		return 0
	fi
	if pgc_as_owner "$pgc_bin/pg_ctl" stop -D "$pgc_d/data" -m "$pgc_mode" -w \
		-t "${PGCLUSTER_STOP_TIMEOUT:-30}" >/dev/null 2>&1; then
		return 0
	fi
	pgc_running "$pgc_d" || return 0
	if [ "$pgc_mode" != immediate ]; then
		pgc_say "fast shutdown of $pgc_d timed out; using immediate"
		pgc_as_owner "$pgc_bin/pg_ctl" stop -D "$pgc_d/data" -m immediate -w -t 30 >/dev/null 2>&1
	fi
	if pgc_running "$pgc_d"; then
		pgc_say "error: the server in $pgc_d does not stop"
		return 1
	fi
	return 0
}

pgcluster_kill() {
	[ -n "${1:-}" ] || { pgc_say "usage: pgcluster.sh kill DIR"; return 2; }
	pgcluster_stop "$1" immediate
}

pgcluster_restart() {
	[ -n "${1:-}" ] || { pgc_say "usage: pgcluster.sh restart DIR"; return 2; }
	pgc_check_install || return $?
	if [ ! -r "$1/port" ]; then
		pgc_say "error: $1 has no recorded port; use start first"
		return 1
	fi
	pgcluster_stop "$1" || return 1
	pgcluster_start "$1" same-port
}

pgcluster_status() {
	[ -n "${1:-}" ] || { pgc_say "usage: pgcluster.sh status DIR"; return 2; }
	pgc_d=$(pgc_absdir "$1") || return 3
	pgc_running "$pgc_d" || return 3
}

pgcluster_load() {
	if [ -z "${1:-}" ] || [ -z "${2:-}" ]; then
		pgc_say "usage: pgcluster.sh load DIR SQLFILE"
		return 2
	fi
	pgc_check_install || return $?
	[ -r "$2" ] || { pgc_say "error: cannot read $2"; return 1; }
	pgc_d=$(pgc_absdir "$1") || { pgc_say "error: no cluster directory $1"; return 1; }
	if ! pgc_running "$pgc_d"; then
		pgc_say "error: the cluster in $pgc_d is not running (start it first)"
		return 1
	fi
	pgc_pt=$(pgc_port_of "$pgc_d") || { pgc_say "error: unknown port for $pgc_d"; return 1; }
	pgc_psql "$pgc_d" "$pgc_pt" films -v ON_ERROR_STOP=1 -f "$2"
}

pgcluster_main() {
	pgc_cmd=${1:-}
	[ $# -gt 0 ] && shift
	case $pgc_cmd in
	start) pgcluster_start "${1:-}" ;;
	stop) pgcluster_stop "${1:-}" ;;
	kill) pgcluster_kill "${1:-}" ;;
	restart) pgcluster_restart "${1:-}" ;;
	load) pgcluster_load "${1:-}" "${2:-}" ;;
	status) pgcluster_status "${1:-}" ;;
	*)
		pgc_say "usage: pgcluster.sh {start|stop|kill|restart|status} DIR | load DIR SQLFILE"
		return 2
		;;
	esac
}

if [ -z "${PGCLUSTER_LIB:-}" ]; then
	case ${0##*/} in
	pgcluster.sh)
		pgcluster_main "$@"
		exit $?
		;;
	esac
fi
