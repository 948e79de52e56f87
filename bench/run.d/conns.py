"""conns.py - hold N concurrent keep-alive connections to a hello server and
measure what they cost it (part of bench/run).

    /usr/bin/python3 conns.py PORT N SERVER_PID [HOLD_S]

Samples the RSS of SERVER_PID's process tree (sum of VmRSS), opens N
connections (at most 500 connecting at a time), sends one GET / on each and
reads the answer, keeps them all open, samples RSS again, waits HOLD_S
seconds, sends a second GET / on every connection still open (are they
really kept alive?), then closes them. Prints one line of key=value pairs:
opened ok1 err1 ok2 dropped rss_before_kib rss_after_kib per_conn_bytes seconds.
"""
import asyncio
import os
import resource
import sys
import time

REQ = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def tree(root):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rss_kib(root):
    total = 0
    for p in tree(root):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


async def get(reader, writer):
    writer.write(REQ)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ValueError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    length = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
        elif k.strip().lower() == b"transfer-encoding" and b"chunked" in v.lower():
            chunked = True
    if chunked:
        await reader.readuntil(b"0\r\n\r\n")
    elif length is not None:
        await reader.readexactly(length)
    else:
        raise ValueError("no length")


async def main():
    port, n, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    hold = float(sys.argv[4]) if len(sys.argv) > 4 else 5
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    t0 = time.monotonic()
    before = rss_kib(pid)
    gate = asyncio.Semaphore(500)
    conns = []
    errors = {}

    async def one():
        async with gate:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
            except Exception as e:  # noqa: BLE001
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                return
        try:
            await asyncio.wait_for(get(r, w), 30)
            conns.append((r, w))
        except Exception as e:  # noqa: BLE001
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            w.close()

    await asyncio.gather(*(one() for _ in range(n)))
    ok1 = len(conns)
    await asyncio.sleep(1)
    after = rss_kib(pid)
    await asyncio.sleep(hold)

    async def again(rw):
        try:
            await asyncio.wait_for(get(*rw), 30)
            return True
        except Exception:  # noqa: BLE001
            return False

    ok2 = sum(await asyncio.gather(*(again(c) for c in conns)))
    for _, w in conns:
        w.close()
    per = (after - before) * 1024 // ok1 if ok1 else 0
    errs = ";".join(f"{k}:{v}" for k, v in sorted(errors.items())) or "none"
    print(f"opened={n} ok1={ok1} err1={n - ok1} ok2={ok2} dropped={ok1 - ok2} rss_before_kib={before} "
          f"rss_after_kib={after} per_conn_bytes={per} seconds={time.monotonic() - t0:.1f} error_kinds={errs}")


asyncio.run(main())
