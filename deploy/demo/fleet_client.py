"""Calls the fleet's gRPC positions service (deploy/demo/fleet.proto) through the Portcullis gateway.

It connects over TLS to --gateway, trusting only --ca (the demo's internal CA), and names the route
by --authority (the gateway picks the route from it, and it must be a name on the gateway's
certificate); the bearer token (--token, or the environment's PORTCULLIS_TOKEN) goes in the
`authorization` metadata, as in docs/quickstart.md:

    TOKEN=...   # step 1 of docs/quickstart.md, e.g. drew's
    .venv/bin/python deploy/demo/fleet_client.py --token $TOKEN locate TRK-101
    .venv/bin/python deploy/demo/fleet_client.py --token $TOKEN watch --vehicle TRK-101 --count 5
    .venv/bin/python deploy/demo/fleet_client.py --token $TOKEN report --vehicle TRK-101 --count 3

Positions are printed one a line. A call that fails prints its gRPC status and details on standard
error (`UNAUTHENTICATED: ...`, `PERMISSION_DENIED: ...`) and exits 1.
"""

import argparse
import ipaddress
import os
import sys
import time

import grpc

# The stubs beside this file; Python puts a script's own directory on sys.path.
import fleet_pb2
import fleet_pb2_grpc

DEPOT = (51.8939, 4.4306)


def show(position):
    recorded = position.recorded_at.ToDatetime().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    print(
        "%-8s %10.6f, %10.6f  %6.1f km/h  %s  by %s" % (
            position.vehicle_id, position.latitude, position.longitude, position.speed_kmh, recorded,
            position.reported_by or "?"),
        flush=True)


def locate(stub, arguments, metadata):
    show(stub.Locate(fleet_pb2.LocateRequest(vehicle_id=arguments.vehicle_id), metadata=metadata, timeout=arguments.timeout))


def watch(stub, arguments, metadata):
    request = fleet_pb2.WatchRequest(vehicle_id=arguments.vehicle or "", interval_ms=arguments.interval_ms)
    responses = stub.Watch(request, metadata=metadata)
    shown = 0
    try:
        for position in responses:
            show(position)
            shown += 1
            if arguments.count and shown >= arguments.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        responses.cancel()


def readings(vehicle_id, start, count):
    """A driver's app: one reading every 5 s up to now, heading north-east from `start` at 54 km/h."""
    now = time.time()
    for index in range(count):
        position = fleet_pb2.Position(
            vehicle_id=vehicle_id, latitude=start[0] + 0.0005 * index, longitude=start[1] + 0.0008 * index, speed_kmh=54.0)
        position.recorded_at.FromMilliseconds(int((now - 5 * (count - 1 - index)) * 1000))
        yield position


def report(stub, arguments, metadata):
    start = tuple(float(part) for part in arguments.at.split(",")) if arguments.at else DEPOT
    summary = stub.Report(readings(arguments.vehicle, start, arguments.count), metadata=metadata, timeout=arguments.timeout)
    print("accepted %d, rejected %d (reported by %s)" % (summary.accepted, summary.rejected, summary.reported_by), flush=True)


def target(gateway):
    """grpcio's target for HOST:PORT, and the port."""
    host, _, port = gateway.rpartition(":")
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "dns:///%s:%s" % (host, port), int(port)
    return ("ipv4:%s:%s" if address.version == 4 else "ipv6:[%s]:%s") % (host, port), int(port)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="127.0.0.1:8443", help="the gateway's HOST:PORT (default 127.0.0.1:8443)")
    parser.add_argument("--authority", default="grpc.localhost", help="the route's host name (default grpc.localhost)")
    parser.add_argument("--ca", default=".portcullis/certs/ca-bundle.crt", help="CA certificates to trust (PEM)")
    parser.add_argument("--token", default=os.environ.get("PORTCULLIS_TOKEN"), help="bearer token (default: $PORTCULLIS_TOKEN)")
    parser.add_argument("--timeout", type=float, default=10, help="seconds allowed for locate and report")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("locate", help="where one vehicle is now")
    command.add_argument("vehicle_id")
    command.set_defaults(run=locate)
    command = commands.add_parser("watch", help="live positions until Ctrl-C or --count")
    command.add_argument("--vehicle", help="one vehicle (default: all)")
    command.add_argument("--count", type=int, default=0, help="stop after this many positions")
    command.add_argument("--interval-ms", type=int, default=500)
    command.set_defaults(run=watch)
    command = commands.add_parser("report", help="upload readings as a driver's app does")
    command.add_argument("--vehicle", default="TRK-101")
    command.add_argument("--count", type=int, default=3)
    command.add_argument("--at", help="LAT,LON of the first reading (default: the depot)")
    command.set_defaults(run=report)
    arguments = parser.parse_args()

    try:
        with open(arguments.ca, "rb") as handle:
            credentials = grpc.ssl_channel_credentials(root_certificates=handle.read())
    except OSError as error:
        sys.exit("fleet_client: cannot read the CA certificates: %s" % error)
    address, port = target(arguments.gateway)
    options = [
        ("grpc.ssl_target_name_override", arguments.authority),
        ("grpc.default_authority", "%s:%d" % (arguments.authority, port)),
    ]
    metadata = [("authorization", "Bearer " + arguments.token)] if arguments.token else []
    with grpc.secure_channel(address, credentials, options=options) as channel:
        try:
            arguments.run(fleet_pb2_grpc.PositionsStub(channel), arguments, metadata)
        except grpc.RpcError as error:
            print("%s: %s" % (error.code().name, error.details()), file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
