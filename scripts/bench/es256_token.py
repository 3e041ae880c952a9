"""Mints the ES256 bearer JWT HAProxy verifies in scripts/bench-gateway (issue 25), with PyJWT.

    es256_token.py PRIVATE_KEY_PEM  → the token on stdout (iss bench-issuer, aud shipments, 2 h)
"""

import sys
import time

import jwt

with open(sys.argv[1], "rb") as f:
    key = f.read()
now = int(time.time())
claims = {"iss": "bench-issuer", "aud": "shipments", "sub": "bench", "iat": now, "exp": now + 7200}
print(jwt.encode(claims, key, algorithm="ES256"))
