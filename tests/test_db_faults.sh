#!/bin/sh
# test_db_faults.sh — issue 4 point 4: the films app against a PostgreSQL that
# dies under load. For each build (films: async, films-sync: blocking):
#
#  1. POST /reviews/ from 20 threads; 1.5 s in, the cluster is killed
#     (`pg_ctl stop -m immediate`, tests/pgcluster.sh kill); the load goes on;
#     2 s later the cluster is restarted (tests/pgcluster.sh restart) and the
#     load goes on until 2 s of 200s. The app is never restarted. Expected:
#     only 200 and 503 answers; 503s while the database is down (answered in
#     under 2 s); 200s again after the restart; and, exactly, every POST
#     answered 200 has its row. Each POST carries a unique number (the
#     review's rating), so rows and answers are matched one to one: a 200
#     without its row, a row twice, or a row nobody sent fail the test; a row
#     whose POST was answered 503/timeout (the kill came between COMMIT and the
#     answer) is allowed and reported.
#  2. GET /films/995/ from 20 threads for 3 s while every backend of the
#     films database is killed twice with pg_terminate_backend(): only 200
#     and a few 503 (at most 5% and 100), all 200 in the last second.
#
# The app runs two polling threads, each with its own database connections
# (FLASKC_THREADS=2); the 20 clients' connections are spread over both by the
# kernel, so both threads must lose their connections and recover on their own.
#
# The cluster gets synchronous_commit = on (pgcluster.sh turns it off for
# speed, which makes an immediate stop lose acknowledged commits by design).
#
# Exit: 0 pass, 1 fail, 77 skip (no PostgreSQL server binaries or python3).
set -u
[ -r "${top_srcdir:-.}/tests/lib.sh" ] || { echo "FAIL: no tests/lib.sh in ${top_srcdir:-.} (set top_srcdir)" >&2; exit 1; }
# shellcheck source=tests/lib.sh
. "${top_srcdir:-.}/tests/lib.sh"

fc_need_pg
fc_need_cmds python3
fc_need_built "$builddir/examples/films/films" "$builddir/examples/films/films-sync"
fc_python python3

fc_setup dbfaults
server_pid=
fc_pg_start || exit $?

# pgcluster.sh runs with synchronous_commit = off (fast tests): PostgreSQL
# then acknowledges COMMIT before its WAL is written, and `stop -m immediate`
# loses acknowledged transactions by design. A test of "every 200 has its row"
# needs PostgreSQL's own durability on (fsync = off is fine: the process dies,
# not the machine, so the page cache keeps what was written).
fc_psql -c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" >/dev/null ||
	fc_fail "could not turn synchronous_commit on"

q() { fc_psql -c "$1"; }

cat >"$dir/load.py" <<'EOF'
# load.py post|get BASE OUT PGCLUSTER PGDIR PSQLCMD: the load and the faults, timed here
import http.client, json, subprocess, sys, threading, time

mode, base_port, out, pgcluster, pgdir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
psql = sys.argv[6:]
NTHREADS = 20
lock = threading.Lock()
results = []          # (seq, t_start, t_end, status)
seq = [0]
stop = threading.Event()
t0 = time.monotonic()

def now():
    return time.monotonic() - t0

def worker():
    conn = None
    while not stop.is_set():
        with lock:
            seq[0] += 1
            n = seq[0]
        ts = now()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", base_port, timeout=15)
            if mode == "post":
                body = json.dumps({"film_id": 995, "rating": n})
                conn.request("POST", "/reviews/", body, {"Content-Type": "application/json"})
            else:
                conn.request("GET", "/films/995/")
            r = conn.getresponse()
            r.read()
            st = r.status
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except Exception:
            st = 0
            if conn is not None:
                conn.close()
            conn = None
        with lock:
            results.append((n, ts, now(), st))
        if st != 200:
            time.sleep(0.01)   # a failing app answers fast: don't spin
    if conn is not None:
        conn.close()

ths = [threading.Thread(target=worker) for _ in range(NTHREADS)]
for t in ths:
    t.start()
events = {}
def run(*cmd):
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

if mode == "post":
    time.sleep(1.5)
    events["kill_start"] = now()
    run("sh", pgcluster, "kill", pgdir)
    events["down"] = now()
    time.sleep(2.0)
    events["restart_start"] = now()
    run("sh", pgcluster, "restart", pgdir)
    events["up"] = now()
    # run until 2 s of 200s after the restart (at most 15 s)
    deadline = now() + 15
    while now() < deadline:
        time.sleep(0.2)
        with lock:
            recent = [r for r in results if r[2] > now() - 2 and r[1] > events["up"]]
            good = recent and all(r[3] == 200 for r in recent) and \
                min(r[1] for r in recent) < now() - 1.8
        if good:
            break
else:
    for k in ("terminate1", "terminate2"):
        time.sleep(0.8 if k == "terminate1" else 1.0)
        events[k] = now()
        subprocess.run(psql + ["-c", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = 'films' AND pid <> pg_backend_pid()"],
                       stdout=open(out + ".terminated", "a"), check=True)
    time.sleep(1.3)
stop.set()
for t in ths:
    t.join()
events["end"] = now()
with open(out, "w") as f:
    json.dump({"events": events, "results": results}, f)
EOF

cat >"$dir/check.py" <<'EOF'
# check.py post|get OUT [ROWS_FILE]: judge the run; prints lines "ok ..." / "not ok ..."
import json, sys
mode, out = sys.argv[1], sys.argv[2]
d = json.load(open(out))
ev, res = d["events"], d["results"]
def count(rs):
    c = {}
    for r in rs:
        c[r[3]] = c.get(r[3], 0) + 1
    return " ".join("%s:%d" % kv for kv in sorted(c.items())) or "none"
def say(good, msg):
    print(("ok " if good else "not ok ") + msg)
statuses = set(r[3] for r in res)
say(statuses <= {200, 503}, "only 200 and 503 answers (all: %s)" % count(res))
if mode == "post":
    before = [r for r in res if r[2] < ev["kill_start"]]
    down = [r for r in res if r[1] > ev["down"] + 0.1 and r[2] < ev["restart_start"]]
    after = [r for r in res if r[1] > ev["up"]]
    say(before and all(r[3] == 200 for r in before), "before the kill: %s" % count(before))
    d503 = [r for r in down if r[3] == 503]
    slow = max([r[2] - r[1] for r in d503] or [0])
    say(len(d503) > 0 and len(d503) == len(down) and slow < 2.0,
        "while the database is down: %s, slowest 503 %.3f s" % (count(down), slow))
    last = [r for r in after if r[1] > ev["end"] - 1.5]
    say(last and all(r[3] == 200 for r in last),
        "after the restart (%.1f s): %s; last 1.5 s: %s" % (ev["up"] - ev["restart_start"], count(after), count(last)))
    rows = [int(x) for x in open(sys.argv[3]).read().split()]
    status = {r[0]: r[3] for r in res}
    seen = {}
    for x in rows:
        seen[x] = seen.get(x, 0) + 1
    ok200 = [n for n, s in status.items() if s == 200]
    missing = [n for n in ok200 if n not in seen]
    dup = [n for n, k in seen.items() if k > 1]
    ghost = [n for n in seen if n not in status]
    extra = sorted(n for n in seen if n in status and status[n] != 200)
    say(not missing, "every 200 has its row: %d answered 200, %d rows, %d missing %s"
        % (len(ok200), len(rows), len(missing), missing[:10]))
    say(not dup and not ghost, "no row twice (%d) and none unsent (%d)" % (len(dup), len(ghost)))
    print("info rows committed although answered %s: %d %s" % (
        "/".join(sorted(set(str(status[n]) for n in extra))) or "-", len(extra), extra[:10]))
    print("info timeline: kill at %.2f s (down %.2f), restart at %.2f s (up %.2f), end %.2f s, %d POSTs"
          % (ev["kill_start"], ev["down"], ev["restart_start"], ev["up"], ev["end"], len(res)))
else:
    n503 = sum(1 for r in res if r[3] == 503)
    say(n503 <= max(1, min(100, len(res) // 20)),
        "pg_terminate_backend twice under GET load: %s (%d requests, %d x 503)" % (count(res), len(res), n503))
    last = [r for r in res if r[1] > ev["end"] - 1.0]
    say(last and all(r[3] == 200 for r in last), "recovered: last second %s" % count(last))
EOF

start_server() { # start_server BINARY
	fc_start_server "$dir/server.log" /films/1/ 200 env FLASKC_DEADLINE_MS=10000 FLASKC_THREADS=2 "$1" || return 1
	server_pid=$fc_pid
}

judge() { # judge LINES: turn check.py's lines into ok/notok
	while IFS= read -r line; do
		case $line in
		"not ok "*) notok "${line#not ok }" ;;
		"ok "*) ok "${line#ok }" ;;
		"info "*) echo "# $label: ${line#info }" ;;
		*) notok "checker: $line" ;;
		esac
	done
}

psqlcmd="$pgbin/psql -X -q -tA -h $PGHOST -p $PGPORT -U postgres -d films"

for build in films films-sync; do
	label=$build
	if ! pgcluster_load "$pgdir" "$schema" >/dev/null; then
		notok "loading $schema"
		continue
	fi
	if [ "$(q 'SELECT count(*) FROM review')" != 0 ]; then
		notok "review starts empty"
	fi
	if ! start_server "$builddir/examples/films/$build"; then
		notok "server starts"
		continue
	fi
	# shellcheck disable=SC2086 # psqlcmd is split on purpose
	if ! "$py" "$dir/load.py" post "$port" "$dir/post.json" "$pgcluster" "$pgdir" $psqlcmd; then
		notok "POST load with a kill and a restart ran"
	else
		q 'SELECT rating FROM review' >"$dir/rows" || notok "reading the review table"
		"$py" "$dir/check.py" post "$dir/post.json" "$dir/rows" >"$dir/judge" 2>&1
		judge <"$dir/judge"
	fi
	# shellcheck disable=SC2086
	if ! "$py" "$dir/load.py" get "$port" "$dir/get.json" "$pgcluster" "$pgdir" $psqlcmd; then
		notok "GET load with pg_terminate_backend ran"
	else
		"$py" "$dir/check.py" get "$dir/get.json" >"$dir/judge" 2>&1
		judge <"$dir/judge"
		echo "# $label: backends terminated: $(tr '\n' ' ' <"$dir/get.json.terminated")"
		rm -f "$dir/get.json.terminated"
	fi
	if kill -0 "$server_pid" 2>/dev/null; then
		ok "the app process was never restarted (pid $server_pid)"
	else
		notok "the app died"
	fi
	if fc_stop_server "$server_pid"; then ok "exits 0 on SIGTERM"; else notok "exit status $fc_rc on SIGTERM"; fi
	server_pid=
	if grep -q -i -e 'sanitizer' -e 'assert' -e 'segmentation' "$dir/server.log"; then
		notok "server log: $(grep -i -m 3 -e sanitizer -e assert -e segmentation "$dir/server.log")"
	fi
done

fc_done
