"""Steady HTTPS load for gateway reload tests: THREADS keep-alive connections each send GETs
for SECONDS and count answers by status; connection errors are counted too. Prints one JSON
object {"statuses": {...}, "errors": N, "requests": N}.

Usage: keepalive_load.py HOST PORT CA_FILE TOKEN PATH SECONDS THREADS"""
import http.client
import json
import ssl
import sys
import threading
import time

host, port, ca_file, token, path, seconds, threads = sys.argv[1:]
deadline = time.monotonic() + float(seconds)
context = ssl.create_default_context(cafile=ca_file)
lock = threading.Lock()
statuses, errors = {}, [0]


class Connection(http.client.HTTPConnection):
    """HTTPS to loopback with the route's host name for SNI and certificate checks."""

    def connect(self):
        super().connect()
        self.sock = context.wrap_socket(self.sock, server_hostname=host)


def worker():
    connection = None
    while time.monotonic() < deadline:
        try:
            if connection is None:
                connection = Connection("127.0.0.1", int(port), timeout=10)
            connection.request("GET", path, headers={"Host": host, "Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            response.read()
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
        except Exception:
            with lock:
                errors[0] += 1
            connection = None


workers = [threading.Thread(target=worker) for _ in range(int(threads))]
for thread in workers:
    thread.start()
for thread in workers:
    thread.join()
print(json.dumps({"statuses": statuses, "errors": errors[0], "requests": sum(statuses.values()) + errors[0]}))
