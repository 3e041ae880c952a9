"""WebSocket client for gateway tests, using the `websockets` package (a client nobody here
wrote). Connects over TLS trusting the given CA, sends the given messages and prints one JSON
object: the handshake the upstream saw (its first message) and the echoes, or the HTTP status
that refused the upgrade. The TCP connection goes to loopback whatever the URL's host, which
is still sent as Host and as the TLS server name.

Usage: websocket_client.py [--origin ORIGIN] URL CA_FILE TOKEN_OR_EMPTY MESSAGE...
(--origin: the page a browser would name as the handshake's Origin)"""
import asyncio
import json
import ssl
import sys
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus


async def main():
    arguments = sys.argv[1:]
    origin = None
    if arguments[:1] == ["--origin"]:
        origin, arguments = arguments[1], arguments[2:]
    url, ca_file, token, *messages = arguments
    target = urlsplit(url)
    context = ssl.create_default_context(cafile=ca_file)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with connect(url, ssl=context, server_hostname=target.hostname, additional_headers=headers, origin=origin,
                           open_timeout=10, host="127.0.0.1", port=target.port) as connection:
            handshake = json.loads(await connection.recv())
            echoes = []
            for message in messages:
                payload = message.encode() if message.startswith("binary:") else message
                await connection.send(payload)
                reply = await connection.recv()
                echoes.append(reply.decode() if isinstance(reply, bytes) else reply)
            print(json.dumps({"status": 101, "handshake": handshake, "echoes": echoes,
                              "request_id": connection.response.headers.get("x-request-id")}))
    except InvalidStatus as refused:
        print(json.dumps({"status": refused.response.status_code,
                          "body": refused.response.body.decode(errors="replace")}))
    except Exception as error:  # reported, so the test shows why rather than an empty output
        print(json.dumps({"status": 0, "error": repr(error)}))


asyncio.run(main())
