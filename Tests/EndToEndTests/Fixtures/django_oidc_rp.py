"""A Django application that signs people in with mozilla-django-oidc, Portcullis being its provider.

It runs the application on --port, then plays the browser of a person already signed in on
Portcullis's sign-in host (--cookie): the application's /oidc/authenticate/ sends it to
Portcullis, Portcullis back with a code, and mozilla-django-oidc exchanges it (PKCE, client
secret), verifies the RS256 id_token with the JWKS, reads userinfo and creates the Django user.
Prints one JSON object: where each hop went and who the application says is signed in.
With --serve instead of --cookie it only serves (for a real browser, oidc_browser.py) until killed.
"""

import argparse
import json
import os
import socketserver
import sys
import tempfile
import threading
from urllib.parse import urlparse
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
from django.conf import settings

import loopback

loopback.install()


class Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--port", type=int, required=True, help="the port of the registered redirect URI")
    parser.add_argument("--cookie")
    parser.add_argument("--serve", action="store_true", help="serve until killed; no browser of our own")
    arguments = parser.parse_args()
    state = tempfile.mkdtemp(prefix="django-rp-")
    oidc = arguments.issuer + "/.portcullis/oidc/"
    settings.configure(
        DEBUG=False, SECRET_KEY=os.urandom(32).hex(), ALLOWED_HOSTS=["127.0.0.1"], ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions", "mozilla_django_oidc"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware", "django.contrib.auth.middleware.AuthenticationMiddleware"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(state, "rp.sqlite3")}},
        AUTHENTICATION_BACKENDS=["mozilla_django_oidc.auth.OIDCAuthenticationBackend"],
        OIDC_RP_CLIENT_ID=arguments.client_id, OIDC_RP_CLIENT_SECRET=arguments.client_secret, OIDC_RP_SIGN_ALGO="RS256",
        OIDC_OP_AUTHORIZATION_ENDPOINT=oidc + "authorize", OIDC_OP_TOKEN_ENDPOINT=oidc + "token", OIDC_OP_USER_ENDPOINT=oidc + "userinfo",
        OIDC_OP_JWKS_ENDPOINT=oidc + "jwks", OIDC_RP_SCOPES="openid email profile", OIDC_USE_PKCE=True, OIDC_VERIFY_SSL=arguments.ca,
        LOGIN_REDIRECT_URL="/whoami", LOGIN_REDIRECT_URL_FAILURE="/failed", USE_TZ=True, DEFAULT_AUTO_FIELD="django.db.models.AutoField")
    django.setup()
    from django.core.management import call_command
    from django.http import HttpResponse, JsonResponse
    from django.urls import include, path
    call_command("migrate", verbosity=0, interactive=False)

    def whoami(request):
        user = request.user
        return JsonResponse({"authenticated": user.is_authenticated, "username": getattr(user, "username", ""),
                             "email": getattr(user, "email", "")})

    module = sys.modules[__name__]
    module.urlpatterns = [path("oidc/", include("mozilla_django_oidc.urls")), path("whoami", whoami),
                          path("failed", lambda request: HttpResponse("sign-in failed", status=401))]
    from django.core.wsgi import get_wsgi_application
    server = make_server("127.0.0.1", arguments.port, get_wsgi_application(), server_class=ThreadingServer, handler_class=Quiet)
    if arguments.serve:
        print("serving on %d" % arguments.port, flush=True)
        server.serve_forever()
        return
    threading.Thread(target=server.serve_forever, daemon=True).start()

    import requests
    app = "http://127.0.0.1:%d" % arguments.port
    browser = requests.Session()
    browser.trust_env = False
    browser.verify = arguments.ca
    browser.cookies.set("__Host-portcullis", arguments.cookie, domain=urlparse(arguments.issuer).hostname)
    hops = []
    answer = browser.get(app + "/oidc/authenticate/", allow_redirects=False)
    for _ in range(6):
        location = answer.headers.get("location")
        hops.append({"status": answer.status_code, "location": location})
        if not location:
            break
        answer = browser.get(location if location.startswith("http") else app + location, allow_redirects=False)
    result = {"hops": hops, "final_status": answer.status_code}
    try:
        result["whoami"] = answer.json()
    except ValueError:
        result["body"] = answer.text[:500]
    print(json.dumps(result))
    server.shutdown()


urlpatterns = []

if __name__ == "__main__":
    sys.exit(main())
