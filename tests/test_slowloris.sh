#!/bin/sh
# test_slowloris.sh — issue 4 point 3: 1,000 slowloris connections do not
# starve normal clients. examples/hello runs with FLASKC_THREADS=2,
# FLASKC_MAX_CONNECTIONS=5000 and the default 30 s header timeout. Normal
# load is `wrk -t2 -c50` in slices of FC_SLOWLORIS_SLICE seconds (4). The
# slowloris client (python3, one thread, a selector over non-blocking
# sockets, so its own CPU stays small beside the server and wrk) holds 1,000
# connections, each sending one header byte per second and never finishing
# its headers (a connection the server closes is opened again).
#
# The machine is shared and noisy: its speed drifts by 20% over tens of
# seconds (a fresh server measured 106k req/s in its first slices and 88k
# after, on an otherwise idle machine; a restarted one did not get the 106k
# back). So slices are taken in ABBA order (baseline, slowloris, slowloris,
# baseline, ...), each slowloris slice is compared with the baseline slice
# next to it, and the median of those ratios is judged (a best-of-each
# comparison failed CI at 82% when the very first baseline slice met a fast
# moment). It takes 4 pairs; if their median is below 90% it takes 4 more
# and judges all 8. It passes when the median reaches >= 90%, with no wrk
# error, every slowloris connection held, and the server alive. It also prints the
# server's CPU time per request in each condition (utime+stime from
# /proc/PID/stat over the slice), the cost the idle connections would add.
#
# About 50 s (90 s when it takes the second half), so `make check` skips
# it (exit 77) unless FC_SLOW_TESTS=1; tests/run-all sets it.
#
# FC_SLOWLORIS_CONNS changes the 1,000, FC_SLOWLORIS_SLICE the 4 s.
# Exit: 0 pass, 1 fail, 77 skip (not asked for, or no wrk/python3).
set -u

builddir=${top_builddir:-.}
hello="$builddir/examples/hello/hello"
nslow=${FC_SLOWLORIS_CONNS:-1000}
slice=${FC_SLOWLORIS_SLICE:-4}

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

ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)

# one slice of wrk: prints "requests/s cpu-ns-per-request"; output in $dir/wrk.last
run_wrk() {
	t0=$(ticks)
	wrk -t2 -c50 -d"${slice}s" "http://127.0.0.1:$port/" >"$dir/wrk.last" 2>&1
	t1=$(ticks)
	awk -v dt=$((t1 - t0)) -v hz="$hz" -v s="$slice" '/^Requests\/sec:/ {
		r = int($2); printf "%d %d\n", r, (r > 0 ? dt * 1e9 / hz / (r * s) : 0) }' "$dir/wrk.last"
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
ratios=
last_base=0
last_slow=0
best_base=0
best_slow=0
wrk_errs=
base_cpu=
slow_cpu=
slice_n=0
measure() { # $1 = base | slow
	set -- "$1" $(run_wrk)
	e=$(wrk_errors)
	slice_n=$((slice_n + 1))
	if [ "$1" = slow ]; then
		st=$(cat "$dir/slow.status")
		held=${st%% *}
		if [ "${held:-0}" -lt "$nslow" ]; then
			echo "# slice $slice_n: only ${held:-0} of $nslow slowloris connections held" >&2
			failed=1
		fi
		wrk_errs="$wrk_errs$e"
		echo "# slice $slice_n with $nslow slowloris: ${2:-?} req/s, ${3:-?} ns CPU/request $e (slowloris: open, reopened, answers: $st)"
		[ "${2:-0}" -gt $best_slow ] && best_slow=$2
		slow_cpu="$slow_cpu ${3:-0}"
		last_slow=${2:-0}
	else
		echo "# slice $slice_n baseline: ${2:-?} req/s, ${3:-?} ns CPU/request $e"
		[ "${2:-0}" -gt $best_base ] && best_base=$2
		base_cpu="$base_cpu ${3:-0}"
		last_base=${2:-0}
	fi
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR ? v[int((NR + 1) / 2)] : 0)}'; }
# each slowloris slice against the baseline slice next to it, in per mille
pair() { ratios="$ratios $((last_slow * 1000 / (last_base > 0 ? last_base : 1)))"; }
# shellcheck disable=SC2086
meets() { [ "$(median $ratios)" -ge 900 ]; }

# ABBA: base slow | slow base | base slow | slow base (slowloris held across
# the two slow slices in a row)
half() {
	for round in 1 2; do
		measure base
		start_slow || failed=1
		measure slow
		pair
		measure slow
		stop_slow
		measure base
		pair
	done
}
# warm-up, not measured: the first seconds under load run faster than the
# machine's sustained speed (seen: 106k req/s, then 88k on an idle machine,
# with or without slowloris), and the first 1,000 connections are the first
# to fault in their connection memory
start_slow || failed=1
wrk -t2 -c50 -d"${slice}s" "http://127.0.0.1:$port/" >/dev/null 2>&1
stop_slow
wrk -t2 -c50 -d"${slice}s" "http://127.0.0.1:$port/" >/dev/null 2>&1
half
if ! meets; then
	echo "# below 90% after 4 slices of each: 4 more of each"
	half
fi

# shellcheck disable=SC2086
m=$(median $ratios)
pct=$((m / 10)).$((m % 10))
# shellcheck disable=SC2086
echo "# median server CPU per request: baseline $(median $base_cpu) ns, with slowloris $(median $slow_cpu) ns"
echo "# best baseline $best_base req/s, best with $nslow slowloris $best_slow req/s (for information)"
echo "# slowloris slice / adjacent baseline slice, per mille:$ratios; median $m"
if meets; then
	echo "ok - throughput with $nslow slowloris connections is $pct% of the baseline (median of adjacent pairs, >= 90%)"
else
	echo "not ok - throughput with $nslow slowloris connections is $pct% of the baseline (median of adjacent pairs, < 90%)"
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
