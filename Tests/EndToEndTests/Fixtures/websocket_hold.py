"""Holds a WebSocket open through the gateway (the `websockets` package) until the gateway or the
upstream closes it. Prints `open` once connected, then one JSON line: the close code and reason
and how long after --mark-file appeared it came (the test writes that file when it revokes).

Usage: websocket_hold.py URL CA_FILE TOKEN MARK_FILE"""
import asyncio
import json
import os
import ssl
import sys
import time
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


async def main():
    url, ca_file, token, mark = sys.argv[1:]
    target = urlsplit(url)
    context = ssl.create_default_context(cafile=ca_file)
    async with connect(url, ssl=context, server_hostname=target.hostname, additional_headers={"Authorization": f"Bearer {token}"},
                       open_timeout=10, host="127.0.0.1", port=target.port) as connection:
        await connection.recv()  # the upstream's handshake echo
        print("open", flush=True)
        marked = None
        try:
            for _ in range(600):
                if marked is None and os.path.exists(mark):
                    marked = time.monotonic()
                try:
                    await asyncio.wait_for(connection.recv(), timeout=0.05)
                except asyncio.TimeoutError:
                    continue
            print(json.dumps({"closed": False}), flush=True)
        except ConnectionClosed as closed:
            after = None if marked is None else round(time.monotonic() - marked, 3)
            print(json.dumps({"closed": True, "code": closed.rcvd.code if closed.rcvd else None,
                              "reason": closed.rcvd.reason if closed.rcvd else "", "seconds_after_revocation": after}), flush=True)


asyncio.run(main())
