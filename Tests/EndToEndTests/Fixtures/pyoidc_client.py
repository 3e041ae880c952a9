"""An OpenID Connect client on pyoidc (`oic`, the Roland Hedberg library), signing in with Portcullis.

With the sign-in host's session cookie of a person already signed in: pyoidc reads the discovery
document, builds the authorization request (state, nonce), parses and checks the answer (state,
`iss`), exchanges the code with client_secret_basic, verifies the id_token against the JWKS it
fetched (signature, iss, aud, nonce, exp) and asks userinfo. Prints one JSON object.
"""

import argparse
import json
import sys
from urllib.parse import urlparse

import requests
from oic import rndstr
from oic.oic import Client
from oic.oic.message import AuthorizationResponse, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD
from oic.utils.settings import OicClientSettings

import loopback

loopback.install()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", required=True)
    parser.add_argument("--cookie", required=True)
    arguments = parser.parse_args()
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD, settings=OicClientSettings(verify_ssl=arguments.ca))
    client.provider_config(arguments.issuer)
    client.store_registration_info(RegistrationResponse(
        client_id=arguments.client_id, client_secret=arguments.client_secret, redirect_uris=[arguments.redirect_uri]))
    state, nonce = rndstr(), rndstr()
    request = client.construct_AuthorizationRequest(request_args={
        "client_id": arguments.client_id, "response_type": "code", "scope": ["openid", "profile", "email"], "nonce": nonce,
        "redirect_uri": arguments.redirect_uri, "state": state})
    url = request.request(client.authorization_endpoint)
    browser = requests.Session()
    browser.trust_env = False
    browser.verify = arguments.ca
    browser.cookies.set("__Host-portcullis", arguments.cookie, domain=urlparse(arguments.issuer).hostname)
    location = browser.get(url, allow_redirects=False).headers.get("location", "")
    result = {"authorize_location": location}
    answer = client.parse_response(AuthorizationResponse, info=urlparse(location).query, sformat="urlencoded")
    result["state_matches"] = answer["state"] == state
    tokens = client.do_access_token_request(state=state, request_args={"code": answer["code"]}, authn_method="client_secret_basic")
    id_token = tokens["id_token"]
    result["id_token"] = {key: id_token[key] for key in ("iss", "sub", "aud", "nonce", "preferred_username") if key in id_token}
    result["nonce_matches"] = id_token["nonce"] == nonce
    result["userinfo"] = client.do_user_info_request(state=state).to_dict()
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
