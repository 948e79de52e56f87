"""report.py - bench/run's report: markdown tables and gnuplot charts from the raw CSV.

    /usr/bin/python3 report.py RUN.csv OUT.md IMG_DIR COMMANDS.txt key=value...
"""
import csv
import os
import platform
import statistics
import subprocess
import sys
import time

csv_path, md_path, img_dir, commands_path = sys.argv[1:5]
meta = dict(a.split("=", 1) for a in sys.argv[5:])
rows = list(csv.DictReader(open(csv_path)))

LABEL = {
    "flaskc_films": "libflaskc async (films)",
    "flaskc_films_sync": "libflaskc sync, FC_BLOCKING (films-sync)",
    "flask_films": "Flask + psycopg2, gunicorn eventlet",
    "quart_films": "Quart + asyncpg, Hypercorn uvloop",
    "fastapi_films": "FastAPI + asyncpg, uvicorn",
    "fastapi_gunicorn_films": "FastAPI + asyncpg, gunicorn + uvicorn workers",
    "flaskc_hello": "libflaskc",
    "bare_mhd": "bare libmicrohttpd",
    "ulfius": "Ulfius",
    "flask_sync": "Flask, gunicorn sync",
    "flask_gevent": "Flask, gunicorn gevent",
    "fastapi_hello": "FastAPI, uvicorn",
    "fastapi_gunicorn_hello": "FastAPI, gunicorn + uvicorn workers",
    "aiohttp": "aiohttp, gunicorn aiohttp uvloop worker",
    "gevent": "gevent.pywsgi (pre-forked)",
    "flaskc_slow": "libflaskc async (fc_after)",
    "flaskc_slow_blocking": "libflaskc FC_ROUTE_BLOCKING sleep(2), 32 workers",
    "flask_gevent_slow": "Flask, gunicorn gevent, time.sleep",
    "fastapi_slow": "FastAPI, uvicorn, asyncio.sleep",
}
SHORT = {
    "flaskc_films": "libflaskc", "flaskc_films_sync": "libflaskc-sync", "flask_films": "Flask",
    "quart_films": "Quart", "fastapi_films": "FastAPI/uvicorn", "fastapi_gunicorn_films": "FastAPI/gunicorn",
    "flaskc_hello": "libflaskc", "bare_mhd": "bare MHD", "ulfius": "Ulfius", "flask_sync": "Flask sync",
    "flask_gevent": "Flask gevent", "fastapi_hello": "FastAPI/uvicorn", "fastapi_gunicorn_hello": "FastAPI/gunicorn",
    "aiohttp": "aiohttp", "gevent": "gevent", "flaskc_slow": "libflaskc async",
    "flaskc_slow_blocking": "libflaskc blocking", "flask_gevent_slow": "Flask gevent", "fastapi_slow": "FastAPI",
}
ROUTES = [("get_film", "GET /films/995/"), ("list_films", "GET /films/"), ("add_review", "POST /reviews/")]


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def sel(scenario, server=None, conns=None):
    return [r for r in rows if r["scenario"] == scenario and (server is None or r["server"] == server)
            and (conns is None or r["connections"] == str(conns))]


def med(rs, key):
    vals = [num(r[key]) for r in rs if num(r[key]) == num(r[key])]
    return statistics.median(vals) if vals else float("nan")


def tot(rs, key):
    return sum(num(r[key]) for r in rs if num(r[key]) == num(r[key]))


def servers(scenario):
    seen = []
    for r in rows:
        if r["scenario"] == scenario and r["server"] not in seen:
            seen.append(r["server"])
    return seen


def f0(x):
    return "n/a" if x != x else f"{x:,.0f}"


def f2(x):
    return "n/a" if x != x else f"{x:.2f}"


def ratio(a, b):
    return "n/a" if not b or a != a or b != b else f"{a / b:.2f}x"


def extra(r):
    return dict(kv.split("=", 1) for kv in r["extra"].split(";") if "=" in kv)


out = []
w = out.append
date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
w(f"# Side-by-side benchmarks: libflaskc and its peers ({date})\n")
w("Written by `bench/run` (issue 5); raw CSV: `bench/results/" + os.path.basename(csv_path) + "`.\n")
if meta.get("quick") == "1":
    w("**This is a `--quick` run (CI smoke test): cells of a few seconds, one repetition. "
      "Do not read the figures as results.**\n")
w("## Setup\n")
w(f"- Command: `{meta.get('cmdline')}`")
w(f"- Machine: {os.cpu_count()} cores (nproc), {cpu}, Linux {platform.release()}; "
  f"server, PostgreSQL 15 and the load generator share these cores (loopback). Other engineers' jobs ran on "
  f"the same machine: load average (1/5/15 min) before **{meta.get('load_before')}**, after "
  f"**{meta.get('load_after')}**. Read the figures as ratios within this run, and expect noise.")
w(f"- Every server: {meta.get('workers')} worker processes (Python) or event-loop threads (C); database pool 20 per "
  "process (psycopg2 ThreadedConnectionPool / asyncpg pool / FLASKC_DB_POOL); access logs off; idle keep-alive "
  "timeout 60 s; backlog 4096. Python: Debian 12's /usr/bin/python3 and packages (Flask 2.2, Quart 0.18, "
  "FastAPI 0.92, uvicorn 0.17 + httptools + uvloop, Hypercorn 0.13, gunicorn 20.1, aiohttp 3.8, gevent 22.10, "
  "eventlet 0.33, asyncpg 0.27, psycopg2 2.9).")
w(f"- films and hello: `wrk -t2 -c<N> -d{meta.get('duration')}s --latency` after a {meta.get('warmup')} s warm-up; "
  f"median of {meta.get('runs')} runs, servers alternated (A B C .. A B C ..). POST uses bench/films-post.lua. "
  "slow: `bench/run.d/slow.py PORT PATH <n> 100` (ab's method: 100 at a time, a new connection per request; ab itself ends its clock about 2 s after its last answer); " + f"{meta.get('slow_runs')} run(s). "
  f"Connections: bench/run.d/conns.py opens {meta.get('nconns')} keep-alive connections (500 connecting at a time), "
  f"one GET / each, holds them, samples the server's RSS, waits {meta.get('hold')} s, sends a second GET / on each.")
w("- Server CPU s = utime+stime of the server's whole process tree (/proc/PID/stat) during the cell; peak RSS = VmHWM "
  "(reset through /proc/PID/clear_refs before the cell) summed over the tree (gunicorn/uvicorn/hypercorn masters "
  "included).")
w(f"- pgbench ceilings: `pgbench -n -M prepared -c 20 -j 2 -T {meta.get('pgbench_t')}` over the Unix socket, "
  "one custom script per statement (single-row SELECT with `\\set id random(1, 1000)`, the 500-row SELECT "
  "`WHERE release_year > 2000 ORDER BY film_id`, the INSERT); PostgreSQL runs with fsync off, "
  "synchronous_commit off (tests/pgcluster.sh).")
w("- Answers verified before and after each cell: /films/995/ and /films/ byte-identical to libflaskc's after "
  "`json.dumps(json.loads(body))` (key order kept, so the id order of /films/ is checked); POST /reviews/ must "
  "echo `{\"film_id\":995,\"rating\":4}` and add exactly one row; after the POST load, rows added are counted "
  "against wrk's 2xx answers (lost = 2xx answers with no row).\n")

ceil = {}
pg = sel("pgbench")
if pg:
    w("## PostgreSQL ceilings (pgbench)\n")
    w("| statement | transactions/s (median) | latency avg ms |")
    w("|---|---:|---:|")
    for k, name in ROUTES:
        rs = [r for r in pg if r["server"] == k]
        ceil[k] = med(rs, "requests_per_s")
        w(f"| {name} | {f0(ceil[k])} | {f2(med(rs, 'p50_ms'))} |")
    w("")

if sel("get_film") or sel("list_films"):
    w("## films (wrk -c20)\n")
    for k, name in ROUTES:
        rs_all = sel(k)
        if not rs_all:
            continue
        base = med(sel(k, "flaskc_films"), "requests_per_s")
        quart = med(sel(k, "quart_films"), "requests_per_s")
        w(f"### {name}\n")
        w("| server | requests/s | p50 ms | p99 ms | non-2xx | errors | peak RSS MiB | CPU s | CPU us/req "
          "| vs libflaskc | % of pgbench |" + (" rows added / 2xx / lost |" if k == "add_review" else ""))
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---|" if k == "add_review" else ""))
        for s in servers(k):
            rs = sel(k, s)
            rps = med(rs, "requests_per_s")
            cpu_s, nreq = tot(rs, "cpu_s"), tot(rs, "requests")
            line = (f"| {LABEL.get(s, s)} | {f0(rps)} | {f2(med(rs, 'p50_ms'))} | {f2(med(rs, 'p99_ms'))} | "
                    f"{tot(rs, 'non2xx'):.0f} | {tot(rs, 'errors'):.0f} | {max(num(r['peak_rss_kib']) for r in rs) / 1024:.1f} | "
                    f"{f2(med(rs, 'cpu_s'))} | {f0(cpu_s * 1e6 / nreq) if nreq else 'n/a'} | {ratio(rps, base)} | "
                    f"{'n/a' if not ceil.get(k) else f'{100 * rps / ceil[k]:.0f}%'} |")
            if k == "add_review":
                ex = [extra(r) for r in rs]
                line += (f" {sum(int(e.get('rows', 0)) for e in ex)} / {sum(int(e.get('ok2xx', 0)) for e in ex)} / "
                         f"{sum(int(e.get('lost', 0)) for e in ex)} |")
            w(line)
        w(f"\nlibflaskc async / Quart+asyncpg: **{ratio(base, quart)}**; libflaskc async / pgbench: "
          f"**{'n/a' if not ceil.get(k) else f'{100 * base / ceil[k]:.0f}%'}**.\n")

if sel("hello"):
    w("## hello (wrk, GET / → {\"message\":\"hello\"})\n")
    for c in (100, 500):
        base = med(sel("hello", "flaskc_hello", c), "requests_per_s")
        w(f"### {c} connections\n")
        w("| server | requests/s | p50 ms | p99 ms | non-2xx | errors | peak RSS MiB | CPU s | CPU us/req | vs libflaskc |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in servers("hello"):
            rs = sel("hello", s, c)
            if not rs:
                continue
            rps = med(rs, "requests_per_s")
            cpu_s, nreq = tot(rs, "cpu_s"), tot(rs, "requests")
            w(f"| {LABEL.get(s, s)} | {f0(rps)} | {f2(med(rs, 'p50_ms'))} | {f2(med(rs, 'p99_ms'))} | "
              f"{tot(rs, 'non2xx'):.0f} | {tot(rs, 'errors'):.0f} | {max(num(r['peak_rss_kib']) for r in rs) / 1024:.1f} | "
              f"{f2(med(rs, 'cpu_s'))} | {f0(cpu_s * 1e6 / nreq) if nreq else 'n/a'} | {ratio(rps, base)} |")
        bare = med(sel("hello", "bare_mhd", c), "requests_per_s")
        ulf = med(sel("hello", "ulfius", c), "requests_per_s")
        w(f"\nlibflaskc / bare libmicrohttpd: **{ratio(base, bare)}** (target ≥ 0.90x); libflaskc / Ulfius: "
          f"**{ratio(base, ulf)}** (target ≥ 1.5x).\n")

if sel("slow"):
    w("## The 2 s endpoint (100 clients, a new connection per request)\n")
    w("Theoretical ceiling with 100 clients: 100 / 2 s = 50 requests/s.\n")
    w("| server | requests | requests/s | % of 50/s | p50 ms | p99 ms | failed | non-2xx | wall s | peak RSS MiB | CPU s | vs libflaskc |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = med(sel("slow", "flaskc_slow"), "requests_per_s")
    for s in servers("slow"):
        rs = sel("slow", s)
        rps = med(rs, "requests_per_s")
        w(f"| {LABEL.get(s, s)} | {tot(rs, 'requests'):.0f} | {f2(rps)} | {100 * rps / 50:.1f}% | "
          f"{f0(med(rs, 'p50_ms'))} | {f0(med(rs, 'p99_ms'))} | {tot(rs, 'errors'):.0f} | {tot(rs, 'non2xx'):.0f} | "
          f"{f2(med(rs, 'duration_s'))} | {max(num(r['peak_rss_kib']) for r in rs) / 1024:.1f} | {f2(med(rs, 'cpu_s'))} | "
          f"{ratio(rps, base)} |")
    w("")

if sel("conns"):
    n = sel("conns")[0]["connections"]
    w(f"## {n} concurrent keep-alive connections (hello)\n")
    w("| server | answered | failed | still alive after hold | RSS before MiB | RSS with all open MiB | "
      "bytes per connection | peak RSS MiB | CPU s | error kinds |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in servers("conns"):
        r = sel("conns", s)[0]
        e = extra(r)
        w(f"| {LABEL.get(s, s)} | {r['requests']} | {r['errors']} | {e.get('ok2', '?')} | "
          f"{num(e.get('rss_before_kib')) / 1024:.1f} | {num(e.get('rss_after_kib')) / 1024:.1f} | "
          f"{e.get('per_conn_bytes', '?')} | {num(r['peak_rss_kib']) / 1024:.1f} | {r['cpu_s']} | "
          f"{e.get('errors', '')}{'' if e.get('server_alive') != 'no' else ', SERVER DIED'} |")
    w("")


w("## Notes and deviations\n")
w("- **Flask + psycopg2** runs under gunicorn's eventlet worker as the seed did, with eventlet's psycopg2 patcher, "
  "and now **commits the INSERT** (the seed's version never committed: psycopg2 rolled every review back when the "
  "connection went back to the pool, so its POST figure counted writes that were lost). Its pool is "
  "`ThreadedConnectionPool(20, 20)`: with minconn 1, psycopg2 *closes* every returned connection once one is "
  "idle, so each request opened a new PostgreSQL connection (≈50 requests/s; an easy trap for a Flask user, "
  "noted so nobody re-creates it).")
w("- Pools are 20 connections *per worker process* (what a user writes in the code); with 20 wrk connections at most "
  "20 are busy at once.")
w("- Quart 0.18 has no gunicorn worker: Hypercorn with `-k uvloop`. aiohttp runs under gunicorn's "
  "`aiohttp.GunicornUVLoopWebWorker` (aiohttp's documented deployment); gevent.pywsgi binds once and forks "
  "(WORKERS processes). uvicorn uses httptools (python3-httptools) and uvloop.")
w("- gunicorn's sync worker does not keep connections alive: in the connection test it answers every request and "
  "then closes, so \"still alive\" is 0 by design, not an error.")
w("- `GET /films/` returns the **500** films with release_year > 2000 (the schema has 50 films per year 1991..2010), "
  "not 1000 rows; the pgbench script runs that same statement.")
w("- The 2 s endpoint: one repetition (5000 requests at 50/s take 100 s per server); the blocking route gets "
  "fewer requests (32 pool threads serve at most 16 requests/s). The client (bench/run.d/slow.py) opens a new connection per request, as ab does.")
w("- The machine's load average is recorded above; PostgreSQL, the load generator and the server compete for the "
  "same 2 cores, so the DB-bound ratios are the figures to read, not the absolute numbers.\n")

# ---- charts ----
def chart(name, title, ylabel, clusters, series, values, logscale=False):
    """clusters: x labels; series: [(id, label)]; values[(cluster, id)] -> number."""
    if not any(v == v for v in values.values()):
        return None  # nothing measured
    dat = os.path.join(img_dir, f"{name}.dat")
    with open(dat, "w") as f:
        f.write("cluster " + " ".join(f'"{lab}"' for _, lab in series) + "\n")
        for c in clusters:
            f.write(f'"{c}" ' + " ".join(
                ("%g" % values.get((c, sid), float("nan"))).replace("nan", "NaN") for sid, _ in series) + "\n")
    png = os.path.join(img_dir, f"{name}.png")
    plot = ", ".join(f"'{dat}' using {i + 2}:xtic(1) title columnheader({i + 2})" for i in range(len(series)))
    script = f"""set terminal pngcairo size 1000,520 font ',10'
set output '{png}'
set title '{title}'
set ylabel '{ylabel}'
set style data histograms
set linetype 9 lc rgb '#8c564b'
set linetype 10 lc rgb '#7f7f7f'
set linetype cycle 10
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key outside right top
set grid ytics
set yrange [{'1' if logscale else '0'}:*]
{'set logscale y' if logscale else ''}
plot {plot}
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True)
        os.remove(dat)
        return os.path.basename(png)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report.py: gnuplot failed for {name}: {e}", file=sys.stderr)
        os.remove(dat)
        return None


os.makedirs(img_dir, exist_ok=True)
img_rel = os.path.relpath(img_dir, os.path.dirname(os.path.abspath(md_path)))
charts = []
fs = servers("get_film")
if fs:
    vals = {(name, s): med(sel(k, s), "requests_per_s") for k, name in ROUTES for s in fs}
    for k, name in ROUTES:
        if ceil.get(k):
            vals[(name, "pgbench")] = ceil[k]
    ser = [(s, SHORT.get(s, s)) for s in fs] + ([("pgbench", "pgbench ceiling")] if ceil else [])
    charts.append(("films", chart("bench-films", "films routes, wrk -c20 (requests/s, log scale)", "requests/s",
                                  [n for _, n in ROUTES], ser, vals, logscale=True)))
hs = servers("hello")
if hs:
    vals = {(f"{c} conns", s): med(sel("hello", s, c), "requests_per_s") for c in (100, 500) for s in hs}
    charts.append(("hello", chart("bench-hello", "hello, wrk (requests/s)", "requests/s", ["100 conns", "500 conns"],
                                  [(s, SHORT.get(s, s)) for s in hs], vals)))
ss = servers("slow")
if ss:
    vals = {("2 s endpoint", s): med(sel("slow", s), "requests_per_s") for s in ss}
    charts.append(("slow", chart("bench-slow", "2 s endpoint, 100 clients (requests/s; ceiling 50)", "requests/s",
                                 ["2 s endpoint"], [(s, SHORT.get(s, s)) for s in ss], vals)))
cs = servers("conns")
if cs:
    vals = {("KiB per connection", s): num(extra(sel("conns", s)[0]).get("per_conn_bytes")) / 1024 for s in cs}
    charts.append(("conns", chart("bench-conns", f"RSS per idle keep-alive connection ({sel('conns')[0]['connections']} open)",
                                  "KiB", ["KiB per connection"], [(s, SHORT.get(s, s)) for s in cs], vals)))
if charts:
    w("## Charts\n")
    for what, png in charts:
        if png:
            w(f"![{what}]({img_rel}/{png})\n")

w("## Server commands (PORT and the database URL filled in by bench/run)\n")
w("```")
w(open(commands_path).read().rstrip())
w("```\n")

with open(md_path, "w") as f:
    f.write("\n".join(out) + "\n")
print("\n".join(out))
