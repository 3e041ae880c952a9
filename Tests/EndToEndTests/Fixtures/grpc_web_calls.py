"""A gRPC-Web client for gateway tests, as a browser's gRPC-Web library calls: sonora (PyPI,
nobody here wrote it) makes binary calls (application/grpc-web+proto) over HTTP/1.1; the text
form (application/grpc-web-text, base64 bodies) is sent with urllib3, its request body encoded in
two separately padded segments, and its answer read with sonora's own frame and trailer parser.
Calls the `test.Echo` service of grpc_upstream.py through the gateway and prints one JSON list of
{"name", "code", "details", "messages", "trailing_metadata", "content_type"}.

With --hold it instead holds a never-ending server stream open (printing "open" at its first
message) until the gateway ends it, then prints {"closed", "code", "details"}.

Usage: grpc_web_calls.py --url https://grpc.localhost:PORT --ca FILE [--token T] [--hold]"""
import argparse
import base64
import io
import json

import grpc
import urllib3
from sonora import client, protocol

import loopback


def identity(message):
    return message


def binary_calls(arguments, pool, metadata):
    # sonora's "insecure" channel is plain only in name: the pool it is given verifies TLS.
    channel = client.insecure_web_channel(arguments.url + "/")
    channel._session = pool
    results = []

    def run(name, call):
        try:
            messages, trailers = call()
            results.append({"name": name, "code": "OK", "details": "", "messages": messages,
                            "trailing_metadata": dict(trailers or [])})
        except grpc.RpcError as error:
            results.append({"name": name, "code": error.code().name, "details": error.details() or "",
                            "messages": [], "trailing_metadata": {}})

    def unary(request):
        answer, call = channel.unary_unary("/test.Echo/Unary", identity, identity).with_call(
            request, metadata=metadata, timeout=30)
        return [answer.decode()], call.trailing_metadata()

    def server_stream():
        call = channel.unary_stream("/test.Echo/ServerStream", identity, identity)(
            json.dumps({"count": 5}).encode(), metadata=metadata, timeout=30)
        messages = [message.decode() for message in call]
        return messages, call.trailing_metadata()

    def fail():
        channel.unary_unary("/test.Echo/Fail", identity, identity)(b"NOT_FOUND", metadata=metadata, timeout=30)
        return [], []

    run("unary", lambda: unary(b"hello"))
    run("metadata", lambda: unary(b"metadata"))
    run("server-stream", server_stream)
    run("fail", fail)
    return results


def hold(arguments, pool, metadata):
    channel = client.insecure_web_channel(arguments.url + "/")
    channel._session = pool
    call = channel.unary_stream("/test.Echo/ServerStream", identity, identity)(
        # sonora reads through a 16 KiB buffer: messages of 4 KiB show the stream is open at once.
        json.dumps({"count": 0, "interval": 0.02, "size": 4096}).encode(), metadata=metadata, timeout=60)
    try:
        for index, _ in enumerate(call):
            if index == 0:
                print("open", flush=True)
        return {"closed": True, "code": "OK", "details": ""}
    except grpc.RpcError as error:
        return {"closed": True, "code": error.code().name, "details": error.details() or ""}


def decode_segments(text):
    """Base64 that may be separately padded segments (a server may encode each frame apart):
    decoded four characters at a time, as gRPC-Web clients do."""
    return b"".join(base64.b64decode(text[start:start + 4]) for start in range(0, len(text), 4))


def text_call(arguments, pool, metadata, name, method, message):
    frame = protocol.wrap_message(False, False, message)
    body = base64.b64encode(frame[:4]) + base64.b64encode(frame[4:])
    headers = {"content-type": "application/grpc-web-text", "accept": "application/grpc-web-text",
               "x-grpc-web": "1", **dict(metadata)}
    response = pool.request("POST", arguments.url + "/test.Echo/" + method, body=body, headers=headers, timeout=30)
    messages, trailers = [], {}
    for is_trailer, _, payload in protocol.unwrap_message_stream(io.BytesIO(decode_segments(response.data))):
        if is_trailer:
            trailers = dict(protocol.unpack_trailers(payload))
        else:
            messages.append(payload.decode())
    status = trailers.get("grpc-status", response.headers.get("grpc-status"))
    code = grpc.StatusCode.UNKNOWN.name if status is None else next(c.name for c in grpc.StatusCode if c.value[0] == int(status))
    return {"name": name, "code": code, "details": trailers.get("grpc-message", ""), "messages": messages,
            "trailing_metadata": trailers, "content_type": response.headers.get("content-type")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--token")
    parser.add_argument("--hold", action="store_true")
    arguments = parser.parse_args()
    loopback.install()
    pool = urllib3.PoolManager(ca_certs=arguments.ca, cert_reqs="CERT_REQUIRED")
    metadata = [("authorization", "Bearer " + arguments.token)] if arguments.token else []
    if arguments.hold:
        print(json.dumps(hold(arguments, pool, metadata)), flush=True)
        return
    results = binary_calls(arguments, pool, metadata)
    for name, method, message in [("text-unary", "Unary", b"hello"), ("text-server-stream", "ServerStream", b'{"count": 3}')]:
        try:
            results.append(text_call(arguments, pool, metadata, name, method, message))
        except (ValueError, urllib3.exceptions.HTTPError) as error:  # an answer that is not gRPC-Web text
            results.append({"name": name, "code": "NOT_GRPC_WEB", "details": str(error), "messages": [], "trailing_metadata": {}})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
