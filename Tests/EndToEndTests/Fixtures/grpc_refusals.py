"""A gRPC client (grpcio, nobody here wrote it) calling through the gateway: what status each call
ends with when the gateway refuses it. Prints a JSON list of {"authority", "code", "details"}."""

import argparse
import json

import grpc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--call", action="append", default=[], help="authority,token (token may be empty)")
    arguments = parser.parse_args()
    with open(arguments.ca, "rb") as handle:
        credentials = grpc.ssl_channel_credentials(root_certificates=handle.read())
    results = []
    for call in arguments.call:
        authority, token = call.split(",", 1)
        options = [("grpc.ssl_target_name_override", authority), ("grpc.default_authority", "%s:%d" % (authority, arguments.port))]
        with grpc.secure_channel("ipv4:127.0.0.1:%d" % arguments.port, credentials, options=options) as channel:
            locate = channel.unary_unary("/logistics.Tracking/Locate")
            metadata = [("authorization", "Bearer " + token)] if token else []
            try:
                locate(b"", metadata=metadata, timeout=10)
                results.append({"authority": authority, "code": "OK", "details": ""})
            except grpc.RpcError as error:
                results.append({"authority": authority, "code": error.code().name, "details": error.details()})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
