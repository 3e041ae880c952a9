"""One HTTP/2 request sent exactly as given, for header shapes curl will not produce (a `host`
field without `:authority`, or beside a different one): h2's own checks and normalization of
outgoing headers are off, so the fields go on the wire as listed.

Usage: h2_request.py PORT SERVER_NAME CA_FILE FIELDS_JSON [--unfinished-body] [--body TEXT --trailers JSON]
FIELDS_JSON is a list of [name, value] pairs, pseudo-header fields first. With
--unfinished-body the stream stays open after one byte of body, as a slow client's would. With
--body and --trailers the body is sent, then the trailer fields (a list of [name, value]) end it.
Prints one JSON object: {"status": <int or null>, "reset": <error code or null>, "body": <text>,
"reset_after": <seconds from the response's end to the stream's reset, or null>}; waits at
most 10 s for the stream to end."""
import json
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events


def main():
    port, server_name, ca_file, fields = int(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    context = ssl.create_default_context(cafile=ca_file)
    context.set_alpn_protocols(["h2"])
    options = sys.argv[5:]
    unfinished = "--unfinished-body" in options
    body_text = options[options.index("--body") + 1] if "--body" in options else None
    trailers = json.loads(options[options.index("--trailers") + 1]) if "--trailers" in options else None
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname=server_name)
    assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
    config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False,
                                       split_outbound_cookies=False)
    connection = h2.connection.H2Connection(config=config)
    connection.initiate_connection()
    stream = connection.get_next_available_stream_id()
    connection.send_headers(stream, [(name, value) for name, value in fields], end_stream=not unfinished and body_text is None)
    if unfinished:
        connection.send_data(stream, b"x")
    elif body_text is not None:
        connection.send_data(stream, body_text.encode(), end_stream=trailers is None)
        if trailers is not None:
            connection.send_headers(stream, [(name, value) for name, value in trailers], end_stream=True)
    sock.sendall(connection.data_to_send())
    result = {"status": None, "reset": None, "body": "", "reset_after": None}
    body = b""
    done = False
    response_ended = None
    while not done:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        if not data:
            break
        for event in connection.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                result["status"] = int(dict(event.headers)[b":status"])
            elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream:
                body += event.data
                connection.acknowledge_received_data(event.flow_controlled_length, stream)
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream:
                response_ended = time.monotonic()
                done = not unfinished
            elif isinstance(event, h2.events.StreamReset) and event.stream_id == stream:
                result["reset"] = int(event.error_code)
                if response_ended is not None:
                    result["reset_after"] = round(time.monotonic() - response_ended, 2)
                done = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                result["reset"] = int(event.error_code)
                done = True
        sock.sendall(connection.data_to_send())
    result["body"] = body.decode("utf-8", "replace")
    print(json.dumps(result))


main()
