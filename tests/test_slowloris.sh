#!/bin/sh
# test_slowloris.sh — issue 4 point 3: 1,000 slowloris connections do not
# starve normal clients. examples/hello runs with FLASKC_THREADS=2,
# FLASKC_MAX_CONNECTIONS=5000 and the default 30 s header timeout. Normal
# load is `wrk -t2 -c50 -d5s`. Three rounds alternate: baseline, with slowloris,
# (and so on); the best of each kind counts (less noise), and
# with slowloris must reach >= 90% of the baseline. The slowloris client
# (python3, one thread, a selector over non-blocking sockets, so its own CPU
# stays small beside the server and wrk) holds 1,000 connections, each
# sending one header byte per second and never finishing its headers (a
# connection the server closes is opened again).
#
# Slow (about 45 s) and load-sensitive, so `make check` skips it (exit 77)
# unless FC_SLOW_TESTS=1 (not in CI while it fails: see tests/run-all).
#
# FC_SLOWLORIS_CONNS changes the 1,000.
# Exit: 0 pass, 1 fail, 77 skip (not asked for, or no wrk/python3).
set -u

builddir=${top_builddir:-.}
hello="$builddir/examples/hello/hello"
nslow=${FC_SLOWLORIS_CONNS:-1000}

if [ "${FC_SLOW_TESTS:-0}" != 1 ]; then
	echo "SKIP: slow test; run with FC_SLOW_TESTS=1" >&2
	exit 77
fi
for prog in wrk python3; do
	if ! command -v "$prog" >/dev/null 2>&1; then
		echo "SKIP: $prog is not installed" >&2
		exit 77
	fi
done
if [ ! -x "$hello" ]; then
	echo "FAIL: $hello is not built (set top_builddir)" >&2
	exit 1
fi
py=$(python3 -c 'import sys; print(sys.executable)') && [ -x "$py" ] || py=python3
ulimit -n 4096 2>/dev/null

dir=$(mktemp -d "${TMPDIR:-/tmp}/flaskc-slowloris.XXXXXX") || exit 1
server_pid=
slow_pid=
# shellcheck disable=SC2317
cleanup() {
	for p in $slow_pid $server_pid; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf -- "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$dir/slowloris.py" <<'EOF'
# slowloris.py PORT N STATUSFILE: hold N connections that send one header
# byte a second and never finish their headers. One thread, one selector,
# non-blocking sockets: the client must stay cheap, since it shares the two
# cores with the server and wrk, and its CPU would count against the server.
import errno, selectors, socket, sys, time
port, n, status = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sel = selectors.DefaultSelector()
conns = {}          # socket -> [index, bytes sent, connected]
reopened = 0
answers = {}
pending = list(range(n))

def payload_byte(i, k):
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow-%d: " % i
    return head[k:k + 1] if k < len(head) else b"a"

def connect(i):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    err = s.connect_ex(("127.0.0.1", port))
    if err not in (0, errno.EINPROGRESS):
        s.close()
        return False
    conns[s] = [i, 0, err == 0]
    sel.register(s, selectors.EVENT_READ if err == 0 else selectors.EVENT_WRITE)
    return True

def drop(s):
    global reopened
    i = conns.pop(s)[0]
    sel.unregister(s)
    s.close()
    reopened += 1
    pending.append(i)

next_report = next_tick = time.monotonic()
while True:
    now = time.monotonic()
    while pending:                           # open what is missing
        if not connect(pending[0]):
            break
        pending.pop(0)
    if now >= next_tick:                     # one byte per connection per second
        next_tick = now + 1.0
        for s, st in list(conns.items()):
            if not st[2]:
                continue
            try:
                if s.send(payload_byte(st[0], st[1])) == 1:
                    st[1] += 1
            except BlockingIOError:
                pass
            except OSError:
                drop(s)
    if now >= next_report:
        next_report = now + 0.5
        held = sum(1 for st in conns.values() if st[2])
        with open(status, "w") as f:
            f.write("%d %d %s\n" % (held, reopened,
                    " ".join("%s:%d" % kv for kv in sorted(answers.items()))))
    for key, ev in sel.select(timeout=0.1):
        s = key.fileobj
        st = conns.get(s)
        if st is None:
            continue
        if not st[2]:                        # the connect finished
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                drop(s)
            else:
                st[2] = True
                sel.modify(s, selectors.EVENT_READ)
            continue
        try:                                 # an answer (408/503...) or a close
            data = s.recv(64)
        except OSError:
            data = b""
        if data.startswith(b"HTTP/1."):
            code = data[9:12].decode(errors="replace")
            answers[code] = answers.get(code, 0) + 1
        drop(s)
EOF

port=$("$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
FLASKC_HOST=127.0.0.1 FLASKC_PORT=$port FLASKC_THREADS=2 FLASKC_MAX_CONNECTIONS=5000 FLASKC_HEADER_TIMEOUT=30 \
	"$hello" >"$dir/server.log" 2>&1 &
server_pid=$!
n=0
until curl -s -o /dev/null -m 1 "http://127.0.0.1:$port/" 2>/dev/null; do
	n=$((n + 1))
	if [ $n -ge 100 ] || ! kill -0 "$server_pid" 2>/dev/null; then
		echo "FAIL: hello did not start: $(cat "$dir/server.log")" >&2
		exit 1
	fi
	sleep 0.1
done

run_wrk() { # prints requests/s; errors go to $dir/wrk.last
	wrk -t2 -c50 -d5s "http://127.0.0.1:$port/" >"$dir/wrk.last" 2>&1
	awk '/^Requests\/sec:/ {print int($2)}' "$dir/wrk.last"
}
wrk_errors() { grep -E 'Non-2xx|Socket errors' "$dir/wrk.last" | tr -s ' ' | tr '\n' ';'; }

start_slow() {
	"$py" "$dir/slowloris.py" "$port" "$nslow" "$dir/slow.status" &
	slow_pid=$!
	n=0
	while [ $n -lt 100 ]; do
		sleep 0.2
		held=$(cut -d' ' -f1 "$dir/slow.status" 2>/dev/null)
		[ "${held:-0}" -ge "$nslow" ] && return 0
		n=$((n + 1))
	done
	echo "# only ${held:-0} of $nslow slowloris connections open after 20 s" >&2
	return 1
}
stop_slow() {
	kill "$slow_pid" 2>/dev/null
	wait "$slow_pid" 2>/dev/null
	slow_pid=
	sleep 1
}

failed=0
best_base=0
best_slow=0
wrk_errs=
for round in 1 2 3; do
	b=$(run_wrk)
	be=$(wrk_errors)
	echo "# round $round baseline: ${b:-?} req/s $be"
	[ "${b:-0}" -gt $best_base ] && best_base=$b
	if ! start_slow; then
		failed=1
	fi
	s=$(run_wrk)
	se=$(wrk_errors)
	wrk_errs="$wrk_errs$se"
	st=$(cat "$dir/slow.status")
	echo "# round $round with $nslow slowloris: ${s:-?} req/s $se (slowloris: open, reopened, answers: $st)"
	[ "${s:-0}" -gt $best_slow ] && best_slow=$s
	stop_slow
done

pct=$((best_slow * 100 / (best_base > 0 ? best_base : 1)))
echo "# best baseline $best_base req/s, best with $nslow slowloris $best_slow req/s: $pct%"
if [ $best_base -gt 0 ] && [ $((best_slow * 10)) -ge $((best_base * 9)) ]; then
	echo "ok - throughput with $nslow slowloris connections is $pct% of the baseline (>= 90%)"
else
	echo "not ok - throughput with $nslow slowloris connections is $pct% of the baseline (< 90%)"
	failed=1
fi
if [ -n "$wrk_errs" ]; then
	echo "not ok - wrk saw errors with slowloris: $wrk_errs"
	failed=1
else
	echo "ok - no wrk errors or non-2xx answers with slowloris"
fi
if kill -0 "$server_pid" 2>/dev/null; then echo "ok - hello still running"; else echo "not ok - hello died"; failed=1; fi
exit $failed
