#!/usr/bin/env python3
"""slow.py PORT PATH N C [TIMEOUT_S]: N requests, C at a time, a new
connection per request (as `ab -c C -n N` makes them), and a report in ab's
format that bench/run parses (Time taken, Complete/Failed requests,
Non-2xx responses, Requests per second, the 50%/99% lines in ms).

Why not ab itself: ab's wall time ends about 2 s after its last answer
(measured: `ab -c100 -n100` on a 2 s endpoint takes 4.0 s while its longest
request took 2.02 s, and `-n300` takes 8.05 s), which alone would put a
perfect server at 97.7% of the theoretical rate over 5000 requests. Here the
wall time ends with the last answer."""
import asyncio
import sys
import time

port, path, n, c = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 60.0
lat, failed, non2xx = [], 0, 0
left = n
req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % (path, port)).encode()


async def one():
    global failed, non2xx
    t0 = time.monotonic()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        w.write(req)
        await w.drain()
        data = await asyncio.wait_for(r.read(), timeout)
        w.close()
    except (OSError, asyncio.TimeoutError):
        failed += 1
        return
    if not data.startswith(b"HTTP/1."):
        failed += 1
        return
    lat.append((time.monotonic() - t0) * 1000.0)
    if not data[9:10] == b"2":
        non2xx += 1


async def worker():
    global left
    while left > 0:
        left -= 1
        await one()


async def main():
    t0 = time.monotonic()
    await asyncio.gather(*[worker() for _ in range(c)])
    wall = time.monotonic() - t0
    lat.sort()
    pct = lambda p: round(lat[min(len(lat) - 1, int(len(lat) * p / 100))]) if lat else 0
    print("Concurrency Level:      %d" % c)
    print("Time taken for tests:   %.3f seconds" % wall)
    print("Complete requests:      %d" % n)
    print("Failed requests:        %d" % failed)
    print("Non-2xx responses:      %d" % non2xx)
    print("Requests per second:    %.2f [#/sec] (mean)" % ((n - failed) / wall))
    print("Percentage of the requests served within a certain time (ms)")
    for p in (50, 66, 75, 80, 90, 95, 98, 99):
        print("  %d%%   %d" % (p, pct(p)))
    print(" 100%%   %d (longest request)" % (round(lat[-1]) if lat else 0))


asyncio.run(main())
