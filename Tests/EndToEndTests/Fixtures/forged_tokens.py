"""An OpenID provider that serves the id_tokens an attacker would try, for IDTokenVerificationTests.

It serves a discovery document (issuer http://127.0.0.1:<port>) and a JWKS with one key of each
accepted type (RSA `rs`, P-256 `ec`, Ed25519 `ed`), and at /token/<case>?nonce=N&aud=A an id_token
built with PyJWT and `cryptography` (nobody here wrote either): valid ones for each algorithm, and
each kind of forgery or mistake a relying party must refuse. The port goes to --port-file.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwks():
    numbers = RSA_KEY.public_key().public_numbers()
    ec_numbers = EC_KEY.public_key().public_numbers()
    ed_raw = ED_KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"keys": [
        {"kty": "RSA", "kid": "rs", "alg": "RS256", "use": "sig",
         "n": b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")), "e": b64(numbers.e.to_bytes(3, "big"))},
        {"kty": "EC", "kid": "ec", "alg": "ES256", "use": "sig", "crv": "P-256",
         "x": b64(ec_numbers.x.to_bytes(32, "big")), "y": b64(ec_numbers.y.to_bytes(32, "big"))},
        {"kty": "OKP", "kid": "ed", "alg": "EdDSA", "use": "sig", "crv": "Ed25519", "x": b64(ed_raw)},
        # An HMAC key in the set must never be used to verify anything.
        {"kty": "oct", "kid": "hm", "alg": "HS256", "k": b64(b"shared-secret-of-the-attacker")},
    ]}


def token(case, issuer, nonce, audience):
    now = int(time.time())
    claims = {"iss": issuer, "sub": "user-1", "aud": audience, "exp": now + 300, "iat": now, "nonce": nonce,
              "email": "olga@logistics.example", "email_verified": True, "preferred_username": "olga", "groups": ["a"]}
    sign = lambda payload, key=RSA_KEY, alg="RS256", kid="rs": jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})
    if case == "rs256":
        return sign(claims)
    if case == "es256":
        return sign(claims, EC_KEY, "ES256", "ec")
    if case == "eddsa":
        return sign(claims, ED_KEY, "EdDSA", "ed")
    if case == "wrong-audience":
        return sign({**claims, "aud": "another-client"})
    if case == "several-audiences-no-azp":
        return sign({**claims, "aud": [audience, "another-client"]})
    if case == "azp-other":
        return sign({**claims, "azp": "another-client"})
    if case == "wrong-issuer":
        return sign({**claims, "iss": "https://evil.example"})
    if case == "expired":
        return sign({**claims, "exp": now - 3600, "iat": now - 3700})
    if case == "issued-in-the-future":
        return sign({**claims, "iat": now + 3600, "exp": now + 7200})
    if case == "issued-long-ago":
        return sign({**claims, "iat": now - 7200, "exp": now + 3600})
    if case == "not-yet-valid":
        return sign({**claims, "nbf": now + 3600})
    if case == "wrong-nonce":
        return sign({**claims, "nonce": "a-replayed-nonce"})
    if case == "no-nonce":
        return sign({key: value for key, value in claims.items() if key != "nonce"})
    if case == "no-subject":
        return sign({key: value for key, value in claims.items() if key != "sub"})
    if case == "unknown-key":
        return sign(claims, OTHER_RSA_KEY, "RS256", "rs")
    if case == "unknown-kid":
        return sign(claims, OTHER_RSA_KEY, "RS256", "not-in-the-set")
    if case == "alg-none":
        header = b64(json.dumps({"alg": "none", "kid": "rs"}).encode())
        return header + "." + b64(json.dumps(claims).encode()) + "."
    if case == "hs256-with-the-public-key":
        public_pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        signing_input = b64(json.dumps({"alg": "HS256", "kid": "rs"}).encode()) + "." + b64(json.dumps(claims).encode())
        return signing_input + "." + b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())
    if case == "hs256-with-the-oct-key":
        return jwt.encode(claims, b"shared-secret-of-the-attacker", algorithm="HS256", headers={"kid": "hm"})
    if case == "es256-header-on-rsa-key":
        # The RSA key's kid with another algorithm named: algorithm confusion.
        return sign(claims, EC_KEY, "ES256", "rs")
    if case.startswith("logout"):
        # Back-Channel Logout 1.0 §2.4: no nonce, the logout event, a jti (fixed here, so a second
        # request makes a replay).
        logout = {key: value for key, value in claims.items() if key not in ("nonce", "exp")}
        logout.update({"jti": "logout-1", "events": {"http://schemas.openid.net/event/backchannel-logout": {}}})
        if case == "logout":
            return sign(logout)
        if case == "logout-with-nonce":
            return sign({**logout, "nonce": nonce})
        if case == "logout-without-event":
            return sign({key: value for key, value in logout.items() if key != "events"})
        if case == "logout-without-jti":
            return sign({key: value for key, value in logout.items() if key != "jti"})
    if case == "tampered":
        good = sign(claims)
        head, body, signature = good.split(".")
        return head + "." + b64(json.dumps({**claims, "sub": "admin"}).encode()) + "." + signature
    raise KeyError(case)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", required=True)
    arguments = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def reply(self, status, body, content_type="application/json"):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            issuer = "http://127.0.0.1:%d" % self.server.server_port
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if url.path == "/.well-known/openid-configuration":
                self.reply(200, json.dumps({
                    "issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
                    "jwks_uri": issuer + "/jwks", "code_challenge_methods_supported": ["S256"],
                    "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA", "HS256", "none"],
                }))
            elif url.path == "/jwks":
                self.reply(200, json.dumps(jwks()))
            elif url.path.startswith("/token/"):
                try:
                    self.reply(200, token(url.path[len("/token/"):], issuer, query.get("nonce", ""), query.get("aud", "")), "text/plain")
                except KeyError:
                    self.reply(404, "no such case")
            else:
                self.reply(404, "not found")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(arguments.port_file + ".tmp", "w") as handle:
        handle.write(str(server.server_port))
    os.replace(arguments.port_file + ".tmp", arguments.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
