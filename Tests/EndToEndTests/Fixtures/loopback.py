"""Shared by the OpenID client fixtures: `*.localhost` resolves to loopback (RFC 6761) in this
process, as curl and browsers do by themselves and not every system resolver does, and requests'
environment CA bundle cannot replace the CA a fixture was given."""

import os
import socket

_resolve = socket.getaddrinfo


def _loopback_localhost(host, *args, **kwargs):
    if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
        host = "127.0.0.1"
    return _resolve(host, *args, **kwargs)


def install():
    socket.getaddrinfo = _loopback_localhost
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ.pop(name, None)
