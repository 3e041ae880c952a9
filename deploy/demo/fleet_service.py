"""The fleet's live positions over gRPC (deploy/demo/fleet.proto), a demo upstream behind the Portcullis gateway.

Five trucks, TRK-101 to TRK-105, drive fixed loops from the Rotterdam depot; where each one is
follows from the clock alone, so every replica and every restart agrees. A driver's app uploads
readings with Report; a vehicle's latest accepted reading (under a minute old) is what Locate and
Watch answer until the trackers' own positions take over again.

It listens in plaintext HTTP/2 (h2c) on --host and --port: the gateway terminates TLS and forwards
each call it allows with its signed identity assertion in the `x-portcullis-assertion` metadata.
Every call is refused without a valid one (UNAUTHENTICATED), checked as docs/upstreams.md says
and as logistics-demo does (Sources/LogisticsDemo/Assertions): EdDSA with a key from the identity
service's JWKS (--jwks-url; fetched at start, again for an unknown key id at most once per
--key-refresh-interval, and once older than --key-max-age), `iss` --issuer, `aud` --audience (the
gateway route's id), `exp`, `iat` and at most 300 s of lifetime with 30 s of clock skew, `method`
and `path` the call's own, and each `jti` once. Without any key set, calls get UNAVAILABLE. The
caller (`sub`) is the `reported_by` of uploads and is in the log: one line per call on standard
error, with the gateway's request id (the assertion's `jti`), never a token.

    python deploy/demo/fleet_service.py --port 50061 --jwks-url http://127.0.0.1:8081/.well-known/jwks.json
"""

import argparse
import base64
import contextlib
import hashlib
import json
import logging
import math
import os
import signal
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent import futures

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# The stubs beside this file (deploy/demo/generate-fleet-stubs); Python puts a script's own
# directory on sys.path, and fleet_pb2_grpc imports fleet_pb2 as a top-level module.
import fleet_pb2
import fleet_pb2_grpc

LOG = logging.getLogger("fleet_service")

ASSERTION_METADATA = "x-portcullis-assertion"
CLOCK_SKEW = 30
MAX_LIFETIME = 300
MAX_TOKEN_BYTES = 8 * 1024
MAX_JWKS_BYTES = 256 * 1024
JWKS_TIMEOUT = 5
WORKERS = 32
# A driver's reading is what Locate and Watch show for this long.
REPORT_FRESH_SECONDS = 60
TRACKER = "telematics"

DEPOT = (51.8939, 4.4306)  # Waalhaven, Rotterdam
# Each truck: the places of its loop after the depot (degrees), the loop's duration and the time
# parked at the depot at its start (seconds), and where in the loop it was at the epoch.
FLEET = {
    "TRK-101": {"stops": [(51.9244, 4.4690), (51.9170, 4.3990)], "period": 1800, "parked": 180, "offset": 0},
    "TRK-102": {"stops": [(51.9550, 4.0450), (51.9000, 4.2400)], "period": 4200, "parked": 300, "offset": 700},
    "TRK-103": {"stops": [(51.8567, 4.5347), (51.8133, 4.6901)], "period": 3000, "parked": 240, "offset": 1300},
    "TRK-104": {"stops": [(52.0116, 4.3571)], "period": 2700, "parked": 200, "offset": 400},
    "TRK-105": {"stops": [(51.9569, 4.4375), (51.9270, 4.5170)], "period": 2100, "parked": 150, "offset": 900},
}


# --- The fleet -------------------------------------------------------------------------------------


def distance_km(a, b):
    """Great-circle distance (haversine) between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def tracked_position(vehicle_id, now):
    """Where the truck's own tracker puts it at `now` (unix seconds): a function of the clock alone."""
    truck = FLEET[vehicle_id]
    loop = [DEPOT, *truck["stops"], DEPOT]
    legs = [distance_km(loop[i], loop[i + 1]) for i in range(len(loop) - 1)]
    driving = truck["period"] - truck["parked"]
    speed = sum(legs) / (driving / 3600)
    elapsed = (now + truck["offset"]) % truck["period"] - truck["parked"]
    latitude, longitude, moving = DEPOT[0], DEPOT[1], elapsed > 0
    if moving:
        travelled = speed * elapsed / 3600
        for i, leg in enumerate(legs):
            if travelled <= leg or i == len(legs) - 1:
                share = min(travelled / leg, 1.0) if leg else 1.0
                latitude = loop[i][0] + (loop[i + 1][0] - loop[i][0]) * share
                longitude = loop[i][1] + (loop[i + 1][1] - loop[i][1]) * share
                break
            travelled -= leg
    position = fleet_pb2.Position(
        vehicle_id=vehicle_id, latitude=round(latitude, 6), longitude=round(longitude, 6),
        speed_kmh=round(speed if moving else 0.0, 1), reported_by=TRACKER)
    position.recorded_at.FromMilliseconds(int(now * 1000))
    return position


class Fleet:
    """The trucks' positions: the trackers', unless a driver reported one in the last minute."""

    def __init__(self):
        self._lock = threading.Lock()
        self._reported = {}

    def position(self, vehicle_id, now):
        with self._lock:
            reported = self._reported.get(vehicle_id)
        if reported is not None and now - reported.recorded_at.ToMilliseconds() / 1000 < REPORT_FRESH_SECONDS:
            return reported
        return tracked_position(vehicle_id, now)

    def record(self, position):
        """Keeps the newest reading per vehicle."""
        with self._lock:
            current = self._reported.get(position.vehicle_id)
            if current is None or current.recorded_at.ToMilliseconds() <= position.recorded_at.ToMilliseconds():
                self._reported[position.vehicle_id] = position


def acceptable(position, now):
    """Why an uploaded reading is refused, or None."""
    if position.vehicle_id not in FLEET:
        return "unknown vehicle"
    if not (math.isfinite(position.latitude) and -90 <= position.latitude <= 90):
        return "latitude out of range"
    if not (math.isfinite(position.longitude) and -180 <= position.longitude <= 180):
        return "longitude out of range"
    if not (math.isfinite(position.speed_kmh) and 0 <= position.speed_kmh <= 250):
        return "speed out of range"
    if not position.HasField("recorded_at"):
        return "no recorded_at"
    if position.recorded_at.ToMilliseconds() / 1000 > now + CLOCK_SKEW:
        return "recorded_at in the future"
    return None


class Positions(fleet_pb2_grpc.PositionsServicer):
    """The service. `context.caller` is the verified assertion's claims (see AssertionCheck)."""

    def __init__(self, fleet):
        self.fleet = fleet

    def Locate(self, request, context):
        if request.vehicle_id not in FLEET:
            context.abort(grpc.StatusCode.NOT_FOUND, "no vehicle %r in the fleet" % request.vehicle_id)
        return self.fleet.position(request.vehicle_id, time.time())

    def Watch(self, request, context):
        if request.vehicle_id and request.vehicle_id not in FLEET:
            context.abort(grpc.StatusCode.NOT_FOUND, "no vehicle %r in the fleet" % request.vehicle_id)
        vehicles = [request.vehicle_id] if request.vehicle_id else sorted(FLEET)
        interval = min(max(request.interval_ms or 500, 100), 60_000) / 1000
        ended = threading.Event()
        context.add_callback(ended.set)
        while context.is_active():
            now = time.time()
            for vehicle_id in vehicles:
                yield self.fleet.position(vehicle_id, now)
            if ended.wait(interval):
                break

    def Report(self, request_iterator, context):
        caller = context.caller["sub"]
        accepted = rejected = 0
        for position in request_iterator:
            reason = acceptable(position, time.time())
            if reason is None:
                reading = fleet_pb2.Position()
                reading.CopyFrom(position)
                reading.reported_by = caller
                self.fleet.record(reading)
                accepted += 1
            else:
                rejected += 1
                LOG.info("Report: refused a reading of %r from %s: %s", position.vehicle_id, caller, reason)
        return fleet_pb2.ReportSummary(accepted=accepted, rejected=rejected, reported_by=caller)


# --- The gateway's assertion -------------------------------------------------------------------------


class Rejected(Exception):
    """The caller's problem: UNAUTHENTICATED. `code` is logistics-demo's (docs/upstreams.md)."""

    def __init__(self, code, reason):
        super().__init__("%s (%s)" % (reason, code))
        self.code = code


class KeysUnavailable(Exception):
    """No key set was ever obtained: nothing can be verified (UNAVAILABLE)."""


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_id(raw):
    """The PASERK `k4.pid` of an Ed25519 public key: the `kid` the identity service gives it."""
    paserk = "k4.public." + b64url_encode(raw)
    return "k4.pid." + b64url_encode(hashlib.blake2b(("k4.pid." + paserk).encode(), digest_size=33).digest())


def parse_jwks(document):
    """{kid: Ed25519PublicKey} from a JWKS; anything but Ed25519 signature keys, or a `kid` that is
    not the key's own `k4.pid`, refuses the whole document."""
    keys = {}
    for jwk in json.loads(document)["keys"]:
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise ValueError("JWK must be kty OKP, crv Ed25519")
        if jwk.get("alg", "EdDSA") != "EdDSA" or jwk.get("use", "sig") != "sig":
            raise ValueError("JWK alg must be EdDSA and use sig")
        raw = b64url_decode(jwk["x"])
        if len(raw) != 32:
            raise ValueError("JWK x is not an Ed25519 public key")
        kid = key_id(raw)
        if jwk.get("kid", kid) != kid:
            raise ValueError("JWK kid does not match the key's k4.pid")
        keys[kid] = Ed25519PublicKey.from_public_bytes(raw)
    if not keys:
        raise ValueError("the key set is empty")
    return keys


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Keys come from the configured URL only."""

    def redirect_request(self, *args, **kwargs):
        return None


class KeySet:
    """The identity service's public keys from its JWKS, cached. A failed refresh keeps the cached
    keys; concurrent refreshes share one fetch."""

    def __init__(self, url, refresh_interval, max_age):
        self.url = url
        self.refresh_interval = refresh_interval
        self.max_age = max_age
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirects)
        self._fetch_lock = threading.Lock()
        self._cached = None  # (keys, monotonic time fetched)
        self._last_attempt = None
        self._last_failure = "no fetch attempted"

    def keys(self):
        """The cached keys, fetched first if there are none or they are older than max_age."""
        if not self._fresh():
            with self._fetch_lock:
                if not self._fresh():
                    self._refresh()
        return self._current()

    def keys_after_unknown_key_id(self):
        """Fetched again unless the last fetch was less than refresh_interval ago."""
        with self._fetch_lock:
            if self._cached is None or self._last_attempt is None or time.monotonic() - self._last_attempt >= self.refresh_interval:
                self._refresh()
        return self._current()

    def _fresh(self):
        cached = self._cached
        return cached is not None and time.monotonic() - cached[1] < self.max_age

    def _current(self):
        cached = self._cached
        if cached is None:
            raise KeysUnavailable(self._last_failure)
        return cached[0]

    def _refresh(self):
        try:
            request = urllib.request.Request(self.url, headers={"accept": "application/json"})
            with self._opener.open(request, timeout=JWKS_TIMEOUT) as response:
                if response.status != 200:
                    raise ValueError("answered HTTP %d" % response.status)
                body = response.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError("larger than %d bytes" % MAX_JWKS_BYTES)
            keys = parse_jwks(body)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            self._last_attempt = time.monotonic()
            self._last_failure = "JWKS %s: %s" % (self.url, error)
            LOG.warning("gateway key set not refreshed: %s (cached keys: %d)", self._last_failure, len(self._cached[0]) if self._cached else 0)
            return
        if self._cached is None or set(self._cached[0]) != set(keys):
            LOG.info("gateway key set loaded from %s: %s", self.url, ", ".join(sorted(keys)))
        self._last_attempt = time.monotonic()
        self._cached = (keys, self._last_attempt)


class ReplayGuard:
    """Assertion ids (`jti`) already accepted, kept until they would have expired anyway."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seen = {}
        self._next_sweep = 0.0

    def admit(self, token_id, expires_at, now):
        with self._lock:
            if now >= self._next_sweep:
                self._seen = {key: until for key, until in self._seen.items() if until > now}
                self._next_sweep = now + 10
            if self._seen.get(token_id, 0) > now:
                return False
            self._seen[token_id] = expires_at
            return True


class AssertionVerifier:
    """The gateway's assertion for one call, checked as logistics-demo's AssertionVerifier does."""

    def __init__(self, key_set, issuer, audience):
        self.key_set = key_set
        self.issuer = issuer
        self.audience = audience
        self.seen = ReplayGuard()

    def verify(self, values, method, path):
        """The claims, or Rejected / KeysUnavailable. `values`: every assertion metadata value."""
        if not values:
            raise Rejected("missing_assertion", "no x-portcullis-assertion: calls must come through the Portcullis gateway")
        if len(values) > 1:
            raise Rejected("duplicate_assertion", "more than one x-portcullis-assertion")
        token = values[0]
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
            raise Rejected("invalid_assertion", "not a JWT of at most %d bytes" % MAX_TOKEN_BYTES)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise Rejected("invalid_assertion", "malformed: %s" % error) from None
        if header.get("alg") != "EdDSA":
            raise Rejected("invalid_assertion", "algorithm %r is not EdDSA" % header.get("alg"))
        if "crit" in header:
            raise Rejected("invalid_assertion", "crit header refused")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Rejected("invalid_assertion", "no kid")
        key = self.key_set.keys().get(kid) or self.key_set.keys_after_unknown_key_id().get(kid)
        if key is None:
            raise Rejected("unknown_key", "key id %s is not in the gateway's key set" % kid)
        now = time.time()
        try:
            claims = jwt.decode(
                token, key, algorithms=["EdDSA"], audience=self.audience, issuer=self.issuer, leeway=CLOCK_SKEW,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})
        except jwt.PyJWTError as error:
            raise Rejected("invalid_assertion", str(error) or type(error).__name__) from None
        if not all(type(claims[name]) in (int, float) for name in ("exp", "iat")):
            raise Rejected("invalid_assertion", "exp and iat must be numbers")
        if claims["iat"] > now + CLOCK_SKEW:
            raise Rejected("invalid_assertion", "issued in the future")
        if claims["exp"] - claims["iat"] > MAX_LIFETIME:
            raise Rejected("invalid_assertion", "lifetime longer than %d s" % MAX_LIFETIME)
        asserted = "%s %s" % (claims.get("method", "(no method)"), claims.get("path", "(no path)"))
        received = "%s %s" % (method, urllib.parse.unquote(path))
        if asserted != received:
            raise Rejected("assertion_request_mismatch", "the assertion was minted for %s, not for %s" % (asserted, received))
        if not self.seen.admit(claims["jti"], claims["exp"] + CLOCK_SKEW, now):
            raise Rejected("assertion_replayed", "this assertion was already used (the gateway mints one per call)")
        return claims


class CallContext:
    """The servicer context of a verified call, with `caller`: the assertion's claims."""

    def __init__(self, context, caller):
        self._context = context
        self.caller = caller

    def __getattr__(self, name):
        return getattr(self._context, name)


class AssertionCheck(grpc.ServerInterceptor):
    """Every call, unknown methods included, is verified before the servicer runs (in the worker
    thread, so a JWKS fetch never stalls the server), and logged once when it ends."""

    def __init__(self, verifier):
        self.verifier = verifier

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        handler = continuation(handler_call_details)
        if handler is None:
            return grpc.stream_stream_rpc_method_handler(self._unimplemented(method))
        if handler.request_streaming and handler.response_streaming:
            wrap, behavior = grpc.stream_stream_rpc_method_handler, handler.stream_stream
        elif handler.request_streaming:
            wrap, behavior = grpc.stream_unary_rpc_method_handler, handler.stream_unary
        elif handler.response_streaming:
            wrap, behavior = grpc.unary_stream_rpc_method_handler, handler.unary_stream
        else:
            wrap, behavior = grpc.unary_unary_rpc_method_handler, handler.unary_unary
        run = self._streaming(method, behavior) if handler.response_streaming else self._unary(method, behavior)
        return wrap(run, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)

    def _admit(self, context, method):
        """The verified call's context; aborts the call otherwise."""
        values = [value for key, value in context.invocation_metadata() if key == ASSERTION_METADATA]
        try:
            # gRPC calls are always HTTP/2 POSTs to /package.Service/Method.
            return CallContext(context, self.verifier.verify(values, "POST", method))
        except Rejected as refusal:
            log_call(method, None, "UNAUTHENTICATED", refusal.code)
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "no valid gateway assertion: %s" % refusal)
        except KeysUnavailable as error:
            log_call(method, None, "UNAVAILABLE", "keys_unavailable")
            context.abort(grpc.StatusCode.UNAVAILABLE, "the gateway's keys cannot be loaded, so no call can be verified: %s" % error)

    @contextlib.contextmanager
    def _logged(self, method, context):
        """Admits the call, then logs how it ended (also when the behaviour raised)."""
        call = self._admit(context, method)
        error = None
        try:
            yield call
        except BaseException as raised:
            error = raised
            raise
        finally:
            log_call(method, call.caller, outcome(context, error))

    def _unary(self, method, behavior):
        def run(request, context):
            with self._logged(method, context) as call:
                return behavior(request, call)
        return run

    def _streaming(self, method, behavior):
        def run(request, context):
            with self._logged(method, context) as call:
                yield from behavior(request, call)
        return run

    def _unimplemented(self, method):
        def run(request_iterator, context):
            call = self._admit(context, method)
            log_call(method, call.caller, "UNIMPLEMENTED")
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "no method %s" % method)
            yield  # a generator, as a response-streaming behaviour is
        return run


def outcome(context, error):
    """The status name a call ended with, as far as the servicer knows it."""
    code = context.code()
    if code is not None and code != grpc.StatusCode.OK:
        return code.name
    if isinstance(error, GeneratorExit) or not context.is_active():
        return "CANCELLED"
    return "OK" if error is None else "UNKNOWN"


def log_call(method, caller, status, reason=None):
    LOG.info(
        "%s caller=%s status=%s request_id=%s%s", method.rsplit("/", 1)[-1], caller["sub"] if caller else "-", status,
        caller["jti"] if caller else "-", " reason=" + reason if reason else "")


# --- The server ------------------------------------------------------------------------------------


def watch_parent(stop):
    """Sets `stop` once the process that started us is gone (we were handed to another parent)."""
    parent = os.getppid()
    while not stop.wait(1.0):
        if os.getppid() != parent:
            LOG.info("the process that started us (%d) ended; stopping", parent)
            stop.set()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="the port to listen on (default: a free one, see --port-file)")
    parser.add_argument("--port-file", help="write the port here once the server accepts calls")
    parser.add_argument("--jwks-url", default="http://127.0.0.1:8081/.well-known/jwks.json", help="the identity service's JWKS")
    parser.add_argument("--audience", default="fleet-positions", help="the gateway route's id, the assertions' aud")
    parser.add_argument("--issuer", default="portcullis-gateway", help="the assertions' iss")
    parser.add_argument("--key-refresh-interval", type=float, default=10, help="seconds between refetches for unknown key ids")
    parser.add_argument("--key-max-age", type=float, default=300, help="seconds after which the key set is fetched again")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the process that started this one ends")
    arguments = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s fleet_service %(message)s")

    key_set = KeySet(arguments.jwks_url, arguments.key_refresh_interval, arguments.key_max_age)
    # Fetched at start so a wrong URL shows in the log at once; not fatal (the identity service
    # may start later): calls fetch again.
    threading.Thread(target=prefetch, args=(key_set,), daemon=True).start()
    verifier = AssertionVerifier(key_set, arguments.issuer, arguments.audience)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="fleet"), interceptors=[AssertionCheck(verifier)],
        maximum_concurrent_rpcs=WORKERS)
    fleet_pb2_grpc.add_PositionsServicer_to_server(Positions(Fleet()), server)
    host = "[%s]" % arguments.host if ":" in arguments.host else arguments.host
    try:
        port = server.add_insecure_port("%s:%d" % (host, arguments.port))
    except RuntimeError as error:
        port, reason = 0, error
    else:
        reason = "in use?"
    if not port:
        sys.exit("fleet_service: cannot listen on %s:%d (%s)" % (host, arguments.port, reason))
    server.start()
    LOG.info("listening on %s:%d (h2c); aud %s, iss %s, keys from %s", host, port, arguments.audience, arguments.issuer, arguments.jwks_url)
    if arguments.port_file:
        with open(arguments.port_file + ".tmp", "w") as handle:
            handle.write(str(port))
        os.replace(arguments.port_file + ".tmp", arguments.port_file)

    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    if arguments.exit_with_parent:
        threading.Thread(target=watch_parent, args=(stop,), daemon=True).start()
    while not stop.wait(1.0):
        pass
    server.stop(grace=2).wait()
    LOG.info("stopped")


def prefetch(key_set):
    try:
        key_set.keys()
    except KeysUnavailable:
        pass  # logged by the key set


if __name__ == "__main__":
    main()
