"""A stand-in internal service for gateway tests: answers every request with a JSON echo of
what it received (method, target, headers, body, trailers of a chunked body) and appends the same record to a log file,
so tests can check both what an allowed request looked like upstream and that a refused one
never arrived. A target containing `sleep=N` is answered after N seconds (for drain tests and
timeouts). Each record names the client port the request came from (to see connection reuse)
and the SHA-256 of the body. `mirror=1` answers with the request body itself, chunked, in
64 KiB pieces; `close=1` closes the connection after answering without announcing it (an
upstream dropping a kept-alive connection); `acao=1` adds CORS fields open to every origin.

It also runs a WebSocket echo service (the `websockets` package): the first message it sends
is a JSON record of the handshake it received (path, headers); then it echoes every message.

Usage: echo_upstream.py PORT_FILE LOG_FILE. Both servers bind port 0; PORT_FILE receives
"HTTP_PORT WS_PORT"."""
import asyncio
import hashlib
import http.server
import json
import os
import re
import sys
import threading
import time

from websockets.asyncio.server import serve


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        trailers = []
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    # Trailer fields, if any, then the empty line that ends the message.
                    while (line := self.rfile.readline().strip()):
                        name, _, value = line.decode("latin-1").partition(":")
                        trailers.append([name.strip().lower(), value.strip()])
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(length) if length else b""
        delay = re.search(r"sleep=([0-9.]+)", self.path)
        if delay:
            time.sleep(float(delay.group(1)))
        record = {"method": self.command, "target": self.path,
                  "headers": [[name.lower(), value] for name, value in self.headers.items()],
                  "body_bytes": len(body), "body_sha256": hashlib.sha256(body).hexdigest(), "trailers": trailers,
                  "peer_port": self.client_address[1]}
        with open(sys.argv[2], "a") as log:
            log.write(json.dumps(record) + "\n")
        if "mirror=1" in self.path:
            self.send_response(200)
            self.send_header("content-type", "application/octet-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 65536):
                piece = body[start:start + 65536]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        out = json.dumps(record).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.send_header("connection", "x-upstream-secret")
        self.send_header("x-upstream-secret", "must not reach the client")
        if "acao=1" in self.path:  # an upstream with CORS of its own, wide open
            self.send_header("access-control-allow-origin", "*")
            self.send_header("access-control-allow-credentials", "true")
        self.end_headers()
        self.wfile.write(out)
        if "close=1" in self.path:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = answer

    def log_message(self, *args):
        pass


async def websocket_echo(connection):
    handshake = {"path": connection.request.path,
                 "headers": [[name.lower(), value] for name, value in connection.request.headers.raw_items()]}
    await connection.send(json.dumps(handshake))
    async for message in connection:
        await connection.send(message)


async def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    async with serve(websocket_echo, "127.0.0.1", 0) as websocket_server:
        ws_port = websocket_server.sockets[0].getsockname()[1]
        with open(sys.argv[1] + ".tmp", "w") as port_file:
            port_file.write(f"{server.server_address[1]} {ws_port}")
        os.replace(sys.argv[1] + ".tmp", sys.argv[1])
        await asyncio.get_running_loop().create_future()


asyncio.run(main())
