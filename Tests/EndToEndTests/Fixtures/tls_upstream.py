"""An internal HTTPS service that requires a client certificate from the internal CA (Python's
ssl module, i.e. OpenSSL, does the verification): the upstream end of gateway mTLS tests. It
answers every request with JSON naming the SPIFFE ID of the client certificate it verified.

Usage: tls_upstream.py PORT_FILE CERT KEY CA_BUNDLE (binds port 0, writes the port)."""
import http.server
import json
import os
import ssl
import sys

port_file, cert, key, ca_bundle = sys.argv[1:]


class Answer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        peer = self.connection.getpeercert() or {}
        uris = [value for kind, value in peer.get("subjectAltName", ()) if kind == "URI"]
        body = json.dumps({"peer_spiffe_ids": uris, "target": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
context.load_verify_locations(ca_bundle)
context.verify_mode = ssl.CERT_REQUIRED
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as out:
    out.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
