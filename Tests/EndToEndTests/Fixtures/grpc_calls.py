"""A gRPC client (grpcio, nobody here wrote it) calling the `test.Echo` service of grpc_upstream.py,
through the gateway or directly. Each subcommand prints one JSON document on stdout (`hold` prints
`open` first); a failed call is reported by its status code, never by a crash.

  calls                          every kind of call once: a list of {"name", "code", "details",
                                 "messages", "initial_metadata", "trailing_metadata"}
  big --mib N [--download]       streams N MiB up to ClientStream (or down from ServerStream)
  hold --mark FILE [--upload]    holds a never-ending ServerStream (or, --upload, a ClientStream that
                                 is answered only at its end) open until it is closed; reports how
                                 long after FILE appeared that was
  timeout --seconds S --deadline D [--method M]   calls Slow(S) (or M) with a client deadline of D seconds
  bench --calls N --concurrency C    N small unary calls from C threads sharing one channel

Usage: grpc_calls.py --port P [--authority HOST] [--ca FILE] [--token T] [--cert FILE --key FILE]
SUBCOMMAND ... Without --ca the channel is plaintext (h2c, for the upstream directly)."""
import argparse
import base64
import hashlib
import json
import os
import queue
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc

MAX_MESSAGE = 8 * 1024 * 1024
MIB = 1024 * 1024
TIMEOUT = 30


def connect(arguments):
    options = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE),
               ("grpc.enable_http_proxy", 0)]
    if arguments.authority:
        options.append(("grpc.default_authority", "%s:%d" % (arguments.authority, arguments.port)))
    target = "ipv4:127.0.0.1:%d" % arguments.port
    if not arguments.ca:
        return grpc.insecure_channel(target, options=options)
    if arguments.authority:
        options.append(("grpc.ssl_target_name_override", arguments.authority))
    key = certificate = None
    if arguments.cert:
        with open(arguments.key, "rb") as handle:
            key = handle.read()
        with open(arguments.cert, "rb") as handle:
            certificate = handle.read()
    with open(arguments.ca, "rb") as handle:
        credentials = grpc.ssl_channel_credentials(root_certificates=handle.read(), private_key=key, certificate_chain=certificate)
    return grpc.secure_channel(target, credentials, options=options)


def method(channel, kind, name):
    return getattr(channel, kind)("/test.Echo/" + name)


def as_dict(metadata):
    return {key: base64.b64encode(value).decode() if isinstance(value, bytes) else value for key, value in metadata or ()}


def outcome(name, call, messages):
    """A finished call (grpc.Call, or the RpcError it ended with) as a JSON-ready record."""
    return {"name": name, "code": call.code().name, "details": call.details() or "", "messages": messages,
            "initial_metadata": as_dict(call.initial_metadata()), "trailing_metadata": as_dict(call.trailing_metadata())}


def single(name, function, request, metadata, decode=lambda answer: [answer.decode()]):
    try:
        answer, call = function.with_call(request, metadata=metadata, timeout=TIMEOUT)
        return outcome(name, call, decode(answer))
    except grpc.RpcError as error:
        return outcome(name, error, [])


def streamed(name, call, next_message=None):
    """Reads a response stream to its end; `next_message` (if given) is called before each read."""
    messages = []
    try:
        while not next_message or next_message(len(messages)):
            messages.append(next(call).decode())
        for rest in call:  # nothing more expected; this waits for the end of the stream
            messages.append(rest.decode())
    except StopIteration:
        pass
    except grpc.RpcError as error:
        return outcome(name, error, messages)
    return outcome(name, call, messages)


def calls(channel, metadata, arguments):
    unary = method(channel, "unary_unary", "Unary")
    results = [single("unary", unary, b"hello", metadata),
               single("metadata", unary, b"metadata", metadata, decode=json.loads)]
    request = json.dumps({"count": 5, "interval": 0, "size": 0}).encode()
    results.append(streamed("server-stream", method(channel, "unary_stream", "ServerStream")(request, metadata=metadata, timeout=TIMEOUT)))
    results.append(single("client-stream", method(channel, "stream_unary", "ClientStream"), iter([b"c" * 1000] * 10), metadata))
    outgoing = queue.Queue()
    call = method(channel, "stream_stream", "Bidi")(iter(outgoing.get, None), metadata=metadata, timeout=TIMEOUT)

    def send_next(echoed):  # the next message goes out only once the previous one came back
        outgoing.put(b"bidi-%d" % echoed if echoed < 5 else None)
        return echoed < 5
    results.append(streamed("bidi", call, send_next))
    outgoing.put(None)  # in case the call failed early
    results.append(single("fail", method(channel, "unary_unary", "Fail"), b"NOT_FOUND", metadata))
    return results


def big(channel, metadata, arguments):
    started = time.monotonic()
    if arguments.download:
        request = json.dumps({"count": arguments.mib, "interval": 0, "size": MIB}).encode()
        call = method(channel, "unary_stream", "ServerStream")(request, metadata=metadata, timeout=600)
        received = 0
        try:
            for message in call:
                received += len(message)
            code = call.code().name
        except grpc.RpcError as error:
            code = error.code().name
        return {"code": code, "received_bytes": received, "seconds": round(time.monotonic() - started, 3)}
    digest, sent = hashlib.sha256(), [0]
    generator = random.Random(1)

    def chunks():
        for _ in range(arguments.mib):
            chunk = generator.randbytes(MIB)
            digest.update(chunk)
            sent[0] += len(chunk)
            yield chunk
    try:
        answer = json.loads(method(channel, "stream_unary", "ClientStream")(chunks(), metadata=metadata, timeout=600))
        code = "OK"
    except grpc.RpcError as error:
        answer, code = None, error.code().name
    return {"code": code, "sent_bytes": sent[0], "sha256_sent": digest.hexdigest(), "answer": answer,
            "seconds": round(time.monotonic() - started, 3)}


def hold(channel, metadata, arguments):
    marked, gave_up, done = [], threading.Event(), threading.Event()
    if arguments.upload:
        # Client streaming: a message every 0.1 s, and the answer only at the end (the upstream
        # sends nothing before it), so the call is open with no response yet.
        def messages():
            while not done.is_set():
                yield b"x"
                time.sleep(0.1)
        call = method(channel, "stream_unary", "ClientStream").future(messages(), metadata=metadata)
        time.sleep(0.5)
        print("open", flush=True)
    else:
        request = json.dumps({"count": 0, "interval": 0.1, "size": 0}).encode()
        call = method(channel, "unary_stream", "ServerStream")(request, metadata=metadata)

    def watch():  # notes when the mark file appears, and gives up after 60 s
        deadline = time.monotonic() + 60
        while not done.is_set():
            if not marked and os.path.exists(arguments.mark):
                marked.append(time.monotonic())
            if time.monotonic() > deadline:
                gave_up.set()
                call.cancel()
                return
            time.sleep(0.01)
    threading.Thread(target=watch, daemon=True).start()
    opened, ended = arguments.upload, call
    try:
        if arguments.upload:
            call.result()
        for _ in [] if arguments.upload else call:
            if not opened:
                print("open", flush=True)
                opened = True
    except grpc.RpcError as error:
        ended = error
    closed_at = time.monotonic()
    done.set()
    if gave_up.is_set():
        return {"closed": False}
    if not marked and os.path.exists(arguments.mark):
        marked.append(closed_at)
    return {"closed": True, "code": ended.code().name, "details": ended.details() or "",
            "trailing_metadata": as_dict(ended.trailing_metadata()),
            "seconds_after_mark": round(closed_at - marked[0], 3) if marked else None}


def timeout(channel, metadata, arguments):
    started = time.monotonic()
    try:
        _, call = method(channel, "unary_unary", arguments.method).with_call(
            str(arguments.seconds).encode(), metadata=metadata, timeout=arguments.deadline)
        code, details = "OK", ""
    except grpc.RpcError as error:
        code, details, call = error.code().name, error.details() or "", error
    return {"code": code, "details": details, "seconds": round(time.monotonic() - started, 3),
            "trailing_metadata": as_dict(call.trailing_metadata())}


def bench(channel, metadata, arguments):
    unary, payload = method(channel, "unary_unary", "Unary"), b"b" * 100

    def run(count):
        errors = 0
        for _ in range(count):
            try:
                unary(payload, metadata=metadata, timeout=TIMEOUT)
            except grpc.RpcError:
                errors += 1
        return errors
    run(50)
    shares = [arguments.calls // arguments.concurrency + (1 if index < arguments.calls % arguments.concurrency else 0)
              for index in range(arguments.concurrency)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=arguments.concurrency) as pool:
        errors = sum(pool.map(run, shares))
    seconds = time.monotonic() - started
    return {"calls": arguments.calls, "seconds": round(seconds, 3), "calls_per_second": round(arguments.calls / seconds, 1),
            "errors": errors}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--authority", help="the :authority and TLS name, e.g. grpc.localhost")
    parser.add_argument("--ca", help="CA bundle to trust; without it the channel is plaintext")
    parser.add_argument("--token", help="sent as authorization: Bearer TOKEN")
    parser.add_argument("--cert", help="client certificate (mTLS)")
    parser.add_argument("--key", help="client certificate's key")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("calls").set_defaults(run=calls)
    command = commands.add_parser("big")
    command.add_argument("--mib", type=int, required=True)
    command.add_argument("--download", action="store_true")
    command.set_defaults(run=big)
    command = commands.add_parser("hold")
    command.add_argument("--mark", required=True)
    command.add_argument("--upload", action="store_true", help="hold a client-streaming call instead")
    command.set_defaults(run=hold)
    command = commands.add_parser("timeout")
    command.add_argument("--seconds", type=float, required=True)
    command.add_argument("--deadline", type=float, required=True)
    command.add_argument("--method", default="Slow", help="the test.Echo method to call")
    command.set_defaults(run=timeout)
    command = commands.add_parser("bench")
    command.add_argument("--calls", type=int, required=True)
    command.add_argument("--concurrency", type=int, required=True)
    command.set_defaults(run=bench)
    arguments = parser.parse_args()
    if arguments.cert and not (arguments.key and arguments.ca):
        parser.error("--cert needs --key and --ca")
    metadata = [("authorization", "Bearer " + arguments.token)] if arguments.token else []
    with connect(arguments) as channel:
        result = arguments.run(channel, metadata, arguments)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
