#!/bin/sh
# Integration test of examples/films over HTTP, for both builds: films (async
# handlers) and films-sync (blocking handlers). A private PostgreSQL cluster
# gets examples/films/schema.sql; each server runs on a free port and is
# checked with curl against what psql says: film JSON, 404/308 routing, the
# film list, query and body validation, FK errors, 503 while the database is
# down and recovery after a restart, and no lost writes under concurrency.
# Exit: 0 pass, 1 fail, 77 skip (no PostgreSQL server binaries, curl or python3).
set -u
[ -r "${top_srcdir:-.}/tests/lib.sh" ] || { echo "FAIL: no tests/lib.sh in ${top_srcdir:-.} (set top_srcdir)" >&2; exit 1; }
# shellcheck source=tests/lib.sh
. "${top_srcdir:-.}/tests/lib.sh"

fc_need_files "$schema"
fc_need_pg
fc_need_cmds curl python3
fc_need_built "$builddir/examples/films/films" "$builddir/examples/films/films-sync"
fc_python python3

fc_setup films-http
server_pid=
fc_pg_start || exit $?
pgcluster_load "$pgdir" "$schema" >/dev/null || fc_fail "loading $schema"

# ---- helpers ----

q() { fc_psql -c "$1"; }

# JSON helpers in Python (standard library only).
cat >"$dir/j.py" <<'EOF'
import json, sys, threading, urllib.request, urllib.error

def load(path):
    # objects as lists of pairs (key order counts), floats kept apart from ints
    with open(path, encoding="utf-8") as f:
        return json.loads(f.read(), object_pairs_hook=list,
                          parse_float=lambda s: ("float", s))

cmd = sys.argv[1]
if cmd == "same":          # same A B: equal JSON, key order and number kinds included
    sys.exit(0 if load(sys.argv[2]) == load(sys.argv[3]) else 1)
elif cmd == "keys":        # keys FILE: the top-level object's keys, comma-separated
    print(",".join(k for k, _ in load(sys.argv[2])))
elif cmd == "error":       # error FILE STATUS: a JSON error body; prints its message
    v = load(sys.argv[2])
    d = dict(v) if isinstance(v, list) and all(isinstance(p, tuple) for p in v) else {}
    if [k for k, _ in v] != ["error", "status", "message"] or d["status"] != int(sys.argv[3]) \
            or not isinstance(d["error"], str) or not isinstance(d["message"], str):
        sys.exit(1)
    print(d["message"])
elif cmd == "post":        # post URL N THREADS BODY: N POSTs from THREADS threads
    url, n, nthreads, body = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].encode()
    codes, lock, it = {}, threading.Lock(), iter(range(n))
    def worker():
        while True:
            with lock:
                if next(it, None) is None:
                    return
            req = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    r.read()
                    code = r.status
            except urllib.error.HTTPError as e:
                code = e.code
            except Exception:
                code = 0
            with lock:
                codes[code] = codes.get(code, 0) + 1
    ts = [threading.Thread(target=worker) for _ in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(codes.get(200, 0), " ".join("%s:%s" % kv for kv in sorted(codes.items())))
else:
    sys.exit(2)
EOF
j() { "$py" "$dir/j.py" "$@"; }

# http METHOD PATH [curl args]: sets $status, $secs and $body (also in $dir/body);
# the headers are in $dir/headers.
http() {
	h_m=$1 h_p=$2
	shift 2
	h_out=$(curl -sS -o "$dir/body" -D "$dir/headers" -w '%{http_code} %{time_total}' -m 10 \
		-X "$h_m" "$@" "$base$h_p" 2>"$dir/curl.err") || h_out="000 $(head -c 200 "$dir/curl.err")"
	status=${h_out%% *}
	secs=${h_out#* }
	body=$(cat "$dir/body" 2>/dev/null)
}
post_json() { # post_json BODY [curl args]
	p_b=$1
	shift
	http POST /reviews/ -H 'Content-Type: application/json' --data-binary "$p_b" "$@"
}
header() { # header NAME: the response header's value
	tr -d '\r' <"$dir/headers" | grep -i "^$1:" | tail -n 1 | sed 's/^[^:]*:[[:space:]]*//'
}

# expect NAME STATUS: $status must be STATUS
expect() {
	if [ "$status" = "$2" ]; then
		ok "$1"
		return 0
	fi
	notok "$1: expected $2, got $status: $(printf '%s' "$body" | head -c 300)"
	return 1
}
# expect_error NAME STATUS [WORD]: a JSON error body with STATUS whose message names WORD
expect_error() {
	if [ "$status" != "$2" ]; then
		notok "$1: expected $2, got $status: $(printf '%s' "$body" | head -c 300)"
		return
	fi
	if ! msg=$(j error "$dir/body" "$2" 2>/dev/null); then
		notok "$1: $2 but not a JSON error {error,status,message}: $(printf '%s' "$body" | head -c 300)"
		return
	fi
	case ${3:-} in
	'') ok "$1 ($msg)" ;;
	*)
		case $msg in
		*"$3"*) ok "$1 ($msg)" ;;
		*) notok "$1: message '$msg' does not name '$3'" ;;
		esac
		;;
	esac
}

start_server() { # start_server BINARY
	fc_start_server "$dir/server.log" /films/1/ any "$1" || return 1
	server_pid=$fc_pid
}

stop_server() { # SIGTERM must stop it cleanly within 10 s
	fc_stop_server "$server_pid"
	case $fc_rc in
	0) ok "stops on SIGTERM with status 0" ;;
	hung) notok "stops on SIGTERM: still running after 10 s" ;;
	*) notok "stops on SIGTERM: exit status $fc_rc" ;;
	esac
	server_pid=
}

reviews() { q "SELECT count(*) FROM review"; }

# ---- the checks, for one build ----

check_build() {
	label=$1
	if ! start_server "$2"; then
		notok "server starts"
		return
	fi
	ok "server answers on port $port"

	# one film: exactly the row psql returns
	q "SELECT format('{\"film_id\":%s,\"release_year\":%s,\"title\":%s}', film_id, release_year, to_json(title::text))
	   FROM film WHERE film_id = 995" >"$dir/expected"
	http GET /films/995/
	if [ "$status" = 200 ] && [ "$body" = "$(cat "$dir/expected")" ]; then
		ok "GET /films/995/ is 200 $body"
	else
		notok "GET /films/995/: expected 200 $(cat "$dir/expected"), got $status $body"
	fi
	case $(header Content-Type) in
	application/json*) ok "film is application/json" ;;
	*) notok "film Content-Type: '$(header Content-Type)'" ;;
	esac

	http GET /films/5000/
	if [ "$status" = 404 ] && [ "$body" = '{"error":"Not Found","status":404,"message":"film 5000 not found"}' ]; then
		ok "GET /films/5000/ is 404 $body"
	else
		notok "GET /films/5000/: expected 404 {\"error\":\"Not Found\",\"status\":404,\"message\":\"film 5000 not found\"}, got $status $body"
	fi
	http GET /films/abc/
	expect "GET /films/abc/ is 404 (no route)" 404
	http GET /films/995
	loc=$(header Location)
	if [ "$status" = 308 ]; then
		case $loc in
		*/films/995/) ok "GET /films/995 is 308 to $loc" ;;
		*) notok "GET /films/995: 308 with Location '$loc'" ;;
		esac
	else
		notok "GET /films/995: expected 308, got $status (Location '$loc')"
	fi

	# the list: exactly psql's films newer than 2000, in id order
	q "SELECT json_object_agg(film_id, json_build_object('release_year', release_year, 'title', title)
	   ORDER BY film_id) FROM film WHERE release_year > 2000" >"$dir/expected"
	http GET /films/
	if expect "GET /films/ is 200" 200; then
		keys=$(j keys "$dir/body" 2>&1)
		want=$(q "SELECT string_agg(film_id::text, ',' ORDER BY film_id) FROM film WHERE release_year > 2000")
		nkeys=$(printf '%s\n' "$keys" | tr ',' '\n' | grep -c .)
		if [ "$keys" = "$want" ] && [ "$nkeys" = 500 ]; then
			ok "GET /films/ has the 500 films newer than 2000 in id order (first ${keys%%,*})"
		else
			notok "GET /films/ keys: $nkeys, '$(printf '%s' "$keys" | head -c 80)...', expected 500, '$(printf '%s' "$want" | head -c 80)...'"
		fi
		if j same "$dir/body" "$dir/expected"; then
			ok "GET /films/ values equal psql's"
		else
			notok "GET /films/ values differ from psql's: $(printf '%s' "$body" | head -c 200)"
		fi
	fi
	http GET '/films/?year.gt=2005'
	if expect "GET /films/?year.gt=2005 is 200" 200; then
		got=$(j keys "$dir/body" | tr ',' '\n' | grep -c .)
		want=$(q "SELECT count(*) FROM film WHERE release_year > 2005")
		if [ "$got" = "$want" ]; then ok "year.gt=2005 gives $want films"; else notok "year.gt=2005 gives $got films, psql $want"; fi
	fi
	http GET '/films/?year.gt=abc'
	expect_error "GET /films/?year.gt=abc is a 400 JSON error" 400 year.gt

	# reviews
	before=$(reviews)
	post_json '{"film_id": 995, "rating": 4}'
	if [ "$status" = 200 ] && [ "$body" = '{"film_id":995,"rating":4}' ]; then
		ok "POST /reviews/ is 200 $body"
	else
		notok "POST /reviews/: expected 200 {\"film_id\":995,\"rating\":4}, got $status $body"
	fi
	got=$(q "SELECT count(*) FROM review")
	if [ "$got" = $((before + 1)) ] && [ "$(q "SELECT film_id || ',' || rating FROM review ORDER BY ctid DESC LIMIT 1")" = 995,4 ]; then
		ok "the review is in the table"
	else
		notok "review table: $before rows before, $got after"
	fi

	before=$(reviews)
	post_json '{"film_id": 995}'
	expect_error "POST without rating is 400" 400 rating
	post_json '{"rating": 4}'
	expect_error "POST without film_id is 400" 400 film_id
	post_json '{"film_id": 995, "rating": "4"}'
	expect_error "POST with a string rating is 400" 400 rating
	post_json '{"film_id": "995", "rating": 4}'
	expect_error "POST with a string film_id is 400" 400 film_id
	post_json '{"film_id": 995, "rating": 4.5}'
	expect_error "POST with a float rating is 400" 400 rating
	post_json '{"film_id": 995.0, "rating": 4}'
	expect_error "POST with film_id 995.0 is 400" 400 film_id
	post_json '{"film_id": 995, "rating": null}'
	expect_error "POST with a null rating is 400" 400 rating
	post_json '{"film_id": 995, "rating": true}'
	expect_error "POST with a boolean rating is 400" 400 rating
	post_json '{"film_id": 995, "rating": 99999999999}'
	expect_error "POST with a rating out of INTEGER range is 400" 400 rating
	post_json '[995, 4]'
	expect_error "POST with an array body is 400" 400
	post_json 'null'
	expect_error "POST with a null body is 400" 400
	post_json '{"film_id": 995, "rating": 4'
	expect_error "POST with invalid JSON is 400" 400
	post_json ''
	expect_error "POST with an empty body is 400" 400
	http POST /reviews/ -H 'Content-Type: text/plain' --data-binary '{"film_id": 995, "rating": 4}'
	expect_error "POST as text/plain is 415" 415
	post_json '{"film_id": 99999, "rating": 4}'
	if [ "$status" = 404 ] && [ "$body" = '{"error":"Not Found","status":404,"message":"film 99999 not found"}' ]; then
		ok "POST for unknown film 99999 is 404 $body"
	else
		notok "POST for film 99999: expected 404 {\"error\":\"Not Found\",\"status\":404,\"message\":\"film 99999 not found\"}, got $status $body"
	fi
	got=$(reviews)
	if [ "$got" = "$before" ]; then ok "rejected POSTs wrote nothing"; else notok "rejected POSTs: $before rows before, $got after"; fi
	http GET /reviews/
	expect "GET /reviews/ is 405" 405

	# the database goes away and comes back; the app keeps running
	if pgcluster_stop "$pgdir" >/dev/null; then
		http GET /films/995/
		if [ "$status" = 503 ] && "$py" -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2 else 1)" "$secs"; then
			ok "database down: GET /films/995/ is 503 in ${secs}s"
		else
			notok "database down: GET /films/995/ expected 503 within 2 s, got $status in ${secs}s: $body"
		fi
		expect_error "database down: the 503 is a JSON error" 503
		post_json '{"film_id": 995, "rating": 4}'
		expect_error "database down: POST /reviews/ is 503" 503
		http GET /films/
		expect_error "database down: GET /films/ is 503" 503
	else
		notok "could not stop the cluster"
	fi
	if pgcluster_restart "$pgdir" >/dev/null; then
		n=0
		while :; do
			http GET /films/995/
			[ "$status" = 200 ] && break
			n=$((n + 1))
			[ $n -ge 100 ] && break
			sleep 0.1
		done
		if [ "$status" = 200 ]; then
			ok "database back: GET /films/995/ is 200 again (after $n retries)"
		else
			notok "database back: GET /films/995/ still $status after 10 s: $body"
		fi
		post_json '{"film_id": 995, "rating": 4}'
		expect "database back: POST /reviews/ is 200" 200
	else
		notok "could not restart the cluster"
		cat "$pgdir/postgres.log" >&2
	fi

	# no lost writes under concurrency
	before=$(reviews)
	res=$(j post "$base/reviews/" 200 20 '{"film_id": 995, "rating": 4}')
	n200=${res%% *}
	after=$(reviews)
	if [ "$n200" = 200 ]; then ok "200 concurrent POSTs all 200"; else notok "200 concurrent POSTs: answers $res"; fi
	if [ $((after - before)) -eq "$n200" ]; then
		ok "review count grew by exactly the $n200 answered 200"
	else
		notok "review count grew by $((after - before)), but $n200 answers were 200"
	fi

	http GET /films/995/
	expect "still serving after all that" 200
	stop_server
	if grep -q -i -e 'sanitizer' -e 'assert' -e 'segmentation' "$dir/server.log"; then
		notok "server log is clean: $(grep -i -m 3 -e sanitizer -e assert -e segmentation "$dir/server.log")"
	fi
}

check_build async "$builddir/examples/films/films"
check_build sync "$builddir/examples/films/films-sync"

fc_done
