"""A stand-in gRPC upstream (grpcio, nobody here wrote it) for gateway tests: service `test.Echo`,
served without protobuf (generic handlers, raw bytes, JSON where structure is needed).

  Unary         answers the request unchanged; the request b"metadata" is answered with JSON
                {"metadata": {key: value}, "peer": ...} of the metadata it received (-bin values
                base64, repeated keys joined with ", "). Initial metadata x-echo-initial: yes.
  ServerStream  request JSON {"count", "interval", "size"}: `count` messages of `size` bytes
                (JSON {"seq": i} when size is 0), `interval` seconds apart; count 0 streams until
                the call is cancelled.
  ClientStream  answers JSON {"messages", "bytes", "sha256"} of what it received.
  Bidi          echoes each message as soon as it arrives.
  Fail          ends with the status named in the request (e.g. b"NOT_FOUND"), "failed on purpose".
  Slow          answers b"late" after the number of seconds in the request (gives up if cancelled).

Every method sets trailing metadata x-echo-trailer (unary, server-stream, client-stream, bidi, fail;
Slow sets "slow").

Usage: grpc_upstream.py PORT_FILE [--tls-cert CERT --tls-key KEY]. Binds 127.0.0.1 port 0 for h2c
and, with a certificate, another for TLS; PORT_FILE receives "H2C_PORT H2_PORT" (H2_PORT 0 without
TLS) once serving. Runs until killed."""
import argparse
import base64
import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import grpc

MAX_MESSAGE = 8 * 1024 * 1024


def trailer(context, value):
    context.set_trailing_metadata((("x-echo-trailer", value),))


def unary(request, context):
    context.send_initial_metadata((("x-echo-initial", "yes"),))
    trailer(context, "unary")
    if request != b"metadata":
        return request
    received = {}
    for key, value in context.invocation_metadata():
        text = base64.b64encode(value).decode() if key.endswith("-bin") else str(value)
        received[key] = received[key] + ", " + text if key in received else text
    return json.dumps({"metadata": received, "peer": context.peer()}).encode()


def server_stream(request, context):
    trailer(context, "server-stream")
    asked = json.loads(request)
    count, interval, size = asked.get("count", 1), asked.get("interval", 0), asked.get("size", 0)
    sent = 0
    while (count == 0 or sent < count) and context.is_active():
        if sent and interval:
            time.sleep(interval)
        yield b"p" * size if size else json.dumps({"seq": sent}).encode()
        sent += 1


def client_stream(request_iterator, context):
    trailer(context, "client-stream")
    digest, messages, total = hashlib.sha256(), 0, 0
    for message in request_iterator:
        digest.update(message)
        messages += 1
        total += len(message)
    return json.dumps({"messages": messages, "bytes": total, "sha256": digest.hexdigest()}).encode()


def bidi(request_iterator, context):
    trailer(context, "bidi")
    for message in request_iterator:
        yield message


def fail(request, context):
    trailer(context, "fail")
    context.abort(grpc.StatusCode[request.decode().strip()], "failed on purpose")


def slow(request, context):
    trailer(context, "slow")
    until = time.monotonic() + float(request.decode())
    while time.monotonic() < until:
        if not context.is_active():
            return b""
        time.sleep(min(0.05, max(0.0, until - time.monotonic())))
    return b"late"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port_file")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    arguments = parser.parse_args()
    server = grpc.server(ThreadPoolExecutor(max_workers=32), options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
    }),))
    h2c_port = server.add_insecure_port("127.0.0.1:0")
    h2_port = 0
    if arguments.tls_cert:
        with open(arguments.tls_key, "rb") as key, open(arguments.tls_cert, "rb") as cert:
            credentials = grpc.ssl_server_credentials(((key.read(), cert.read()),))
        h2_port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    with open(arguments.port_file + ".tmp", "w") as out:
        out.write("%d %d" % (h2c_port, h2_port))
    os.replace(arguments.port_file + ".tmp", arguments.port_file)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
