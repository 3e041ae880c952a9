"""The company's identity provider of the demo and of the federation tests: django-oauth-toolkit, OpenID Connect on.

One Django project in this file, on a SQLite database under --state (kept between runs): the people of
--users (a JSON list of {"username", "password", "email", "groups": [...]}, created or brought up to
date at each start) and one confidential client (--client-id, its secret from --client-secret-file,
the --redirect-uri values) that skips the consent page, with PKCE required, id_tokens signed RS256
with a key made at each start, and the claims email, email_verified, preferred_username and groups.
The issuer is http://127.0.0.1:<port>/o.

It listens on 127.0.0.1, on --port or a free port, written to --port-file once it accepts
connections. For the offboarding tests, POST /test/deactivate/<username> (from loopback) disables a
user the way an administrator would (and revokes its tokens); POST /test/redirect-uris (the body:
space-separated URIs) registers the client's redirect URIs once the gateway knows its port.
`portcullis up --identity-provider` (scripts/demo --identity-provider) runs it for docs/quickstart.md.
"""

import argparse
import json
import os
import socketserver
import sys
import tempfile
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
from django.conf import settings

LOGIN_TEMPLATE = """<!doctype html><html><head><title>Provider sign-in</title></head><body>
<h1>Sign in to the provider</h1>
<form method="post">{% csrf_token %}{{ form.as_p }}
<input type="hidden" name="next" value="{{ next }}"><button type="submit">Sign in</button></form>
</body></html>"""


def configure(arguments, private_key):
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.urandom(32).hex(),
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[
            "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions", "oauth2_provider",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(arguments.state, "provider.sqlite3")}},
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": False,
            "OPTIONS": {"loaders": [
                ("django.template.loaders.locmem.Loader", {"registration/login.html": LOGIN_TEMPLATE}),
                "django.template.loaders.app_directories.Loader",
            ], "context_processors": ["django.template.context_processors.request"]},
        }],
        LOGIN_URL="/accounts/login/",
        # PBKDF2 with fewer rounds than Django's default: this provider stands in for the
        # company's (tests run dozens of sign-ins and token requests on two cores); its
        # passwords and client secrets protect nothing real.
        PASSWORD_HASHERS=[__name__ + ".QuickPBKDF2"],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        OAUTH2_PROVIDER={
            "OIDC_ENABLED": True,
            "OIDC_RSA_PRIVATE_KEY": private_key,
            "PKCE_REQUIRED": True,
            "SCOPES": {"openid": "OpenID Connect", "profile": "Profile", "email": "E-mail", "groups": "Groups"},
            "DEFAULT_SCOPES": ["openid"],
            "OAUTH2_VALIDATOR_CLASS": __name__ + ".Validator",
            "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
            "ACCESS_TOKEN_EXPIRE_SECONDS": 300,
        },
    )
    django.setup()


def rsa_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def quick_hasher():
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    class QuickPBKDF2(PBKDF2PasswordHasher):
        algorithm = "pbkdf2_sha256_quick"
        iterations = 10_000

    return QuickPBKDF2


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--state", default=None)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret-file", required=True, help="the client secret (a file: never on a command line)")
    parser.add_argument("--port", type=int, default=0, help="the port to listen on (default: a free one)")
    parser.add_argument("--redirect-uri", action="append", default=[])
    parser.add_argument("--users", required=True, help="JSON file: a list of users")
    parser.add_argument("--key-file", help="write the signing key here (PEM), for tests that sign as the provider")
    arguments = parser.parse_args()
    arguments.state = arguments.state or tempfile.mkdtemp(prefix="oidc-provider-")
    os.makedirs(arguments.state, exist_ok=True)
    key = rsa_key()
    if arguments.key_file:
        with open(arguments.key_file, "w") as handle:
            handle.write(key)
    configure(arguments, key)
    install_urls_and_validator()

    from django.core.management import call_command
    call_command("migrate", verbosity=0, interactive=False)

    from django.contrib.auth.models import Group, User
    from oauth2_provider.models import Application
    with open(arguments.users) as handle:
        for entry in json.load(handle):
            user, _ = User.objects.get_or_create(username=entry["username"])
            user.email = entry.get("email", "")
            user.set_password(entry["password"])
            user.save()
            user.groups.set([Group.objects.get_or_create(name=name)[0] for name in entry.get("groups", [])])
    with open(arguments.client_secret_file) as handle:
        secret = handle.read().strip()
    Application.objects.filter(client_id=arguments.client_id).delete()
    Application.objects.create(
        name="portcullis", client_id=arguments.client_id, client_secret=secret,
        client_type=Application.CLIENT_CONFIDENTIAL, authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(arguments.redirect_uri), algorithm=Application.RS256_ALGORITHM, skip_authorization=True)

    from django.core.wsgi import get_wsgi_application
    server = make_server("127.0.0.1", arguments.port, get_wsgi_application(), server_class=ThreadingServer, handler_class=QuietHandler)
    with open(arguments.port_file + ".tmp", "w") as handle:
        handle.write(str(server.server_port))
    os.replace(arguments.port_file + ".tmp", arguments.port_file)
    server.serve_forever()


def install_urls_and_validator():
    """The URLconf (ROOT_URLCONF is this module) and the validator, defined once Django is set up."""
    from django.contrib.auth import views as auth_views
    from django.contrib.auth.models import User
    from django.http import HttpResponse, HttpResponseForbidden
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt
    from oauth2_provider.oauth2_validators import OAuth2Validator

    class Validator(OAuth2Validator):
        """Every claim goes into the id_token and userinfo, whatever the scopes asked."""
        oidc_claim_scope = None

        def get_additional_claims(self, request):
            user = request.user
            return {
                "email": user.email, "email_verified": True, "preferred_username": user.username,
                "groups": sorted(group.name for group in user.groups.all()),
            }

    @csrf_exempt
    def deactivate(request, username):
        if request.method != "POST" or request.META.get("REMOTE_ADDR") != "127.0.0.1":
            return HttpResponseForbidden()
        # As an administrator's offboarding does: the account is disabled and its grants revoked.
        from oauth2_provider.models import AccessToken, RefreshToken
        User.objects.filter(username=username).update(is_active=False)
        RefreshToken.objects.filter(user__username=username).delete()
        AccessToken.objects.filter(user__username=username).delete()
        return HttpResponse("deactivated\n")

    @csrf_exempt
    def redirect_uris(request):
        """The test registers the gateway's callback once the gateway has its port."""
        if request.method != "POST" or request.META.get("REMOTE_ADDR") != "127.0.0.1":
            return HttpResponseForbidden()
        from oauth2_provider.models import Application
        Application.objects.all().update(redirect_uris=request.body.decode())
        return HttpResponse("registered\n")

    module = sys.modules[__name__]
    module.Validator = Validator
    module.QuickPBKDF2 = quick_hasher()
    module.urlpatterns = [
        path("accounts/login/", auth_views.LoginView.as_view()),
        path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
        path("test/deactivate/<str:username>", deactivate),
        path("test/redirect-uris", redirect_uris),
    ]


urlpatterns = []

if __name__ == "__main__":
    main()
