"""A stand-in internal service for gateway tests: answers every request with a JSON echo of
what it received (method, target, headers, body) and appends the same record to a log file,
so tests can check both what an allowed request looked like upstream and that a refused one
never arrived. Usage: echo_upstream.py PORT_FILE LOG_FILE (it binds port 0 and writes the port)."""
import http.server
import json
import sys


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(length) if length else b""
        record = {"method": self.command, "target": self.path,
                  "headers": [[name.lower(), value] for name, value in self.headers.items()],
                  "body_bytes": len(body)}
        with open(sys.argv[2], "a") as log:
            log.write(json.dumps(record) + "\n")
        out = json.dumps(record).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.send_header("connection", "x-upstream-secret")
        self.send_header("x-upstream-secret", "must not reach the client")
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = answer

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
with open(sys.argv[1], "w") as port_file:
    port_file.write(str(server.server_address[1]))
server.serve_forever()
