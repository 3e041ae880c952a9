"""An OpenID Connect client (relying party) built on Authlib, signing in to a tool with Portcullis.

Given the sign-in host's session cookie of a person already signed in (the browser's part), it
does what a tool does: discovery, the authorization request (PKCE S256, state, nonce), the code
exchange with client_secret_basic, id_token verification with the provider's JWKS (signature,
iss, aud, exp, nonce, at_hash), userinfo, a refresh, and then the attacks a tool's traffic invites:
the code replayed (refused, and the grant it made revoked) and a rotated refresh token reused.
Prints one JSON object with what it saw; exits 0 even when the provider refused (the test reads why).
"""

import argparse
import json
import secrets
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

import loopback

loopback.install()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret")
    parser.add_argument("--redirect-uri", required=True)
    parser.add_argument("--cookie", required=True, help="the sign-in host's __Host-portcullis cookie value")
    parser.add_argument("--scope", default="openid profile email groups")
    arguments = parser.parse_args()
    result = {}

    # trust_env off: a REQUESTS_CA_BUNDLE in the environment would replace the CA given here.
    browser = requests.Session()
    browser.trust_env = False
    browser.verify = arguments.ca
    browser.cookies.set("__Host-portcullis", arguments.cookie, domain=arguments.issuer.split("//")[1].split(":")[0])
    discovery = browser.get(arguments.issuer + "/.well-known/openid-configuration").json()
    result["discovery_issuer"] = discovery["issuer"]
    keys = JsonWebKey.import_key_set(browser.get(discovery["jwks_uri"]).json())

    client = OAuth2Session(
        arguments.client_id, arguments.client_secret, scope=arguments.scope, redirect_uri=arguments.redirect_uri,
        code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic" if arguments.client_secret else "none")
    client.trust_env = False
    client.verify = arguments.ca
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = client.create_authorization_url(discovery["authorization_endpoint"], nonce=nonce, code_verifier=verifier)
    answer = browser.get(url, allow_redirects=False)
    result["authorize_status"] = answer.status_code
    location = answer.headers.get("location", "")
    result["authorize_location"] = location
    if not location.startswith(arguments.redirect_uri) or "code=" not in location:
        print(json.dumps(result))
        return

    token = client.fetch_token(discovery["token_endpoint"], authorization_response=location, code_verifier=verifier, state=state)
    claims = jwt.decode(
        token["id_token"], keys, claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": discovery["issuer"]}, "aud": {"essential": True, "value": arguments.client_id},
                        "nonce": {"essential": True, "value": nonce}},
        claims_params={"nonce": nonce, "access_token": token["access_token"]})
    claims.validate()
    result["id_token"] = dict(claims)
    result["id_token_alg"] = json.loads(jwt_header(token["id_token"]))["alg"]
    result["access_token_header"] = json.loads(jwt_header(token["access_token"]))
    result["userinfo"] = client.get(discovery["userinfo_endpoint"]).json()

    # The code again: refused, and what it granted is revoked (RFC 6749 §4.1.2).
    replay = requests.post(
        discovery["token_endpoint"], verify=arguments.ca, auth=(arguments.client_id, arguments.client_secret or ""),
        data={"grant_type": "authorization_code", "code": location.split("code=")[1].split("&")[0], "redirect_uri": arguments.redirect_uri,
              "code_verifier": verifier})
    result["code_replay"] = {"status": replay.status_code, "body": replay.json()}
    refresh = requests.post(
        discovery["token_endpoint"], verify=arguments.ca, auth=(arguments.client_id, arguments.client_secret or ""),
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    result["refresh_after_replay"] = {"status": refresh.status_code, "body": refresh.json()}
    userinfo = requests.get(discovery["userinfo_endpoint"], verify=arguments.ca, headers={"authorization": "Bearer " + token["access_token"]})
    result["userinfo_after_replay"] = userinfo.status_code

    # A second grant: its refresh token rotates; presenting the old one again revokes the grant.
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(discovery["authorization_endpoint"], nonce=nonce, code_verifier=verifier)
    location = browser.get(url, allow_redirects=False).headers.get("location", "")
    second = client.fetch_token(discovery["token_endpoint"], authorization_response=location, code_verifier=verifier, state=state)
    rotated = client.refresh_token(discovery["token_endpoint"], refresh_token=second["refresh_token"])
    result["refreshed"] = {"new_refresh_token": rotated["refresh_token"] != second["refresh_token"], "id_token": "id_token" in rotated}
    reused = requests.post(
        discovery["token_endpoint"], verify=arguments.ca, auth=(arguments.client_id, arguments.client_secret or ""),
        data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
    result["refresh_reuse"] = {"status": reused.status_code, "body": reused.json()}
    after = requests.post(
        discovery["token_endpoint"], verify=arguments.ca, auth=(arguments.client_id, arguments.client_secret or ""),
        data={"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]})
    result["refresh_after_reuse"] = after.status_code
    print(json.dumps(result))


def jwt_header(token):
    import base64
    head = token.split(".")[0]
    return base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode()


if __name__ == "__main__":
    sys.exit(main())
