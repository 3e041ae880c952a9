"""Opens many TLS keep-alive connections to a proxy, one request on each, and holds them idle,
so scripts/bench-gateway (issue 25) can read each proxy's resident memory beside the others'.

    idle_connections.py --port P --count N --ca CA_BUNDLE [--header 'Name: value']

Prints one JSON line {"open": n, "failed": k, "seconds": s} once every connection is open (or
has failed), then holds them until it is killed.
"""

import argparse
import asyncio
import json
import resource
import ssl
import sys
import time


async def open_one(args, context, request, gate, counts, held):
    async with gate:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", args.port, ssl=context, server_hostname=args.host), 30)
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            lines = head.decode("latin-1").lower().split("\r\n")
            if not lines[0].startswith("http/1.1 200"):
                raise RuntimeError(lines[0])
            length = next((int(l.split(":", 1)[1]) for l in lines if l.startswith("content-length:")), None)
            if length is not None:
                await reader.readexactly(length)
            else:
                await reader.readuntil(b"0\r\n\r\n")
            held.append(writer)
            counts["open"] += 1
        except Exception as error:  # noqa: BLE001 - counted and reported, not fatal
            counts["failed"] += 1
            counts["last_error"] = repr(error)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (args.count + 1024, args.count + 1024))
    context = ssl.create_default_context(cafile=args.ca)
    context.set_alpn_protocols(["http/1.1"])
    headers = "".join(h + "\r\n" for h in args.header)
    request = f"GET /v1/shipments HTTP/1.1\r\nHost: {args.host}\r\n{headers}\r\n".encode()
    counts = {"open": 0, "failed": 0}
    held = []
    gate = asyncio.Semaphore(64)
    start = time.monotonic()
    await asyncio.gather(*(open_one(args, context, request, gate, counts, held) for _ in range(args.count)))
    counts["seconds"] = round(time.monotonic() - start, 1)
    print(json.dumps(counts), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
