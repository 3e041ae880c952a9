"""Interop helper for Tests/TokensTests: exercises Portcullis tokens with pyseto and PyJWT.

Usage: python tokens_interop.py MODE < request.json > response.json
Every mode reads one JSON object from stdin and writes one JSON object to stdout. Failures
exit non-zero with the exception on stderr, so the Swift test sees them.
"""
import base64
import json
import sys

import jwt
import pyseto
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def private_pem(seed_hex):
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_key_from_paserk(paserk):
    prefix = "k4.public."
    assert paserk.startswith(prefix)
    return Ed25519PublicKey.from_public_bytes(b64u_decode(paserk[len(prefix):]))


def pyseto_verify_public(req):
    key = pyseto.Key.from_paserk(req["paserk"])
    decoded = pyseto.decode(key, req["token"], implicit_assertion=req.get("implicit", "").encode())
    return {"payload": decoded.payload.decode(), "footer": decoded.footer.decode()}


def pyseto_decrypt_local(req):
    key = pyseto.Key.new(version=4, purpose="local", key=bytes.fromhex(req["key_hex"]))
    decoded = pyseto.decode(key, req["token"], implicit_assertion=req.get("implicit", "").encode())
    return {"payload": decoded.payload.decode(), "footer": decoded.footer.decode()}


def pyseto_sign_public(req):
    key = pyseto.Key.new(version=4, purpose="public", key=private_pem(req["seed_hex"]))
    token = pyseto.encode(key, req["payload"].encode(), footer=req["footer"].encode(),
                          implicit_assertion=req.get("implicit", "").encode())
    public = pyseto.Key.new(version=4, purpose="public",
                            key=Ed25519PrivateKey.from_private_bytes(bytes.fromhex(req["seed_hex"]))
                            .public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo))
    return {"token": token.decode(), "paserk": public.to_paserk(), "pid": public.to_paserk_id()}


def pyseto_encrypt_local(req):
    key = pyseto.Key.new(version=4, purpose="local", key=bytes.fromhex(req["key_hex"]))
    token = pyseto.encode(key, req["payload"].encode(), footer=req["footer"].encode(),
                          implicit_assertion=req.get("implicit", "").encode())
    return {"token": token.decode(), "lid": key.to_paserk_id()}


def pyjwt_verify(req):
    header = jwt.get_unverified_header(req["token"])
    claims = jwt.decode(req["token"], public_key_from_paserk(req["paserk"]), algorithms=["EdDSA"],
                        audience=req["audience"], issuer=req["issuer"])
    return {"header": header, "claims": claims}


def pyjwt_sign(req):
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(req["seed_hex"]))
    token = jwt.encode(req["claims"], key, algorithm="EdDSA", headers={"kid": req["kid"]})
    return {"token": token}


def pyjwt_sign_hs256_with_public_key(req):
    # Classic algorithm confusion: HMAC keyed with the verifier's public key bytes.
    secret = b64u_decode(req["paserk"][len("k4.public."):])
    token = jwt.encode(req["claims"], secret, algorithm="HS256", headers={"kid": req["kid"]})
    return {"token": token}


def pyjwt_sign_none(req):
    token = jwt.encode(req["claims"], None, algorithm="none", headers={"kid": req["kid"]})
    return {"token": token}


MODES = {
    "pyseto-verify-public": pyseto_verify_public,
    "pyseto-decrypt-local": pyseto_decrypt_local,
    "pyseto-sign-public": pyseto_sign_public,
    "pyseto-encrypt-local": pyseto_encrypt_local,
    "pyjwt-verify": pyjwt_verify,
    "pyjwt-sign": pyjwt_sign,
    "pyjwt-sign-hs256-public-key": pyjwt_sign_hs256_with_public_key,
    "pyjwt-sign-none": pyjwt_sign_none,
}

if __name__ == "__main__":
    request = json.load(sys.stdin)
    json.dump(MODES[sys.argv[1]](request), sys.stdout)
