"""A gRPC-Web server for gateway tests: sonora's WSGI application (PyPI, nobody here wrote it)
serving `test.Echo` over HTTP/1.1 (wsgiref), as a service that speaks gRPC-Web itself does.
  Unary         answers the request unchanged
  ServerStream  request JSON {"count"}: `count` messages JSON {"seq": i}
  Fail          ends with the status named in the request (e.g. b"NOT_FOUND"), "failed on purpose"
Prints "port N" once listening on 127.0.0.1, then serves until killed.

Usage: grpc_web_upstream.py"""
import json
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from socketserver import ThreadingMixIn

import grpc
from sonora.wsgi import grpcWSGI


def unary(request, context):
    return request


def server_stream(request, context):
    for sequence in range(json.loads(request).get("count", 1)):
        yield json.dumps({"seq": sequence}).encode()


def fail(request, context):
    context.abort(grpc.StatusCode[request.decode().strip()], "failed on purpose")


class Quiet(WSGIRequestHandler):
    def log_message(self, *arguments):
        pass


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main():
    application = grpcWSGI(None)
    raw = {"request_deserializer": bytes, "response_serializer": bytes}  # messages are raw bytes
    application.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, **raw),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, **raw),
        "Fail": grpc.unary_unary_rpc_method_handler(fail, **raw),
    }),))
    server = make_server("127.0.0.1", 0, application, server_class=ThreadingServer, handler_class=Quiet)
    print("port %d" % server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
