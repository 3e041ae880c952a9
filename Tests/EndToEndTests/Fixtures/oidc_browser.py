"""A tool's OpenID Connect sign-in with Portcullis as the provider, in a real browser (Debian's
chromium and chromium-driver, driven by Selenium).

Run by OpenIDProviderTests with a Django application on mozilla-django-oidc at --tool-port. The
browser opens the tool's sign-in link, is sent to Portcullis's sign-in form on the sign-in host,
signs in there, and must land back on the tool signed in (the form's CSP allows the redirects
that end on the tool's registered redirect URI, and only those). Then a second visit signs in
with no form at all (the sign-in host's session). Exits non-zero with a message on the first
failed expectation.
"""

import json

from sso_browser import Browser, parse_arguments, run_checked


def run(arguments):
    browser = Browser(arguments)
    tool = "http://127.0.0.1:%d" % arguments.tool_port
    try:
        browser.driver.get(tool + "/oidc/authenticate/")
        browser.find("input[name=login]")
        browser.expect(browser.host == "auth.localhost", "the tool sent the browser to Portcullis's sign-in form")
        browser.shot("oidc-sign-in")
        browser.find("input[name=login]").send_keys(arguments.login)
        browser.find("input[name=password]").send_keys(arguments.password)
        browser.find("button[type=submit]").click()
        browser.wait.until(lambda driver: browser.host == "127.0.0.1" and "authenticated" in browser.text())
        who = json.loads(browser.text())
        browser.expect(who.get("authenticated") is True, "back on the tool, signed in: %s" % who)
        browser.shot("oidc-tool")
        browser.driver.delete_all_cookies()  # the tool's own session only: cookies of this origin
        browser.driver.get(tool + "/oidc/authenticate/")
        browser.wait.until(lambda driver: browser.host == "127.0.0.1" and "authenticated" in browser.text())
        browser.expect(json.loads(browser.text()).get("authenticated") is True and not browser.has("input[name=password]"),
                       "a second sign-in needs no form")
        print("signed in to the tool through Portcullis in Chromium; the second sign-in asked nothing")
    finally:
        browser.driver.quit()


def main():
    arguments = parse_arguments(__doc__.splitlines()[0], lambda parser: parser.add_argument("--tool-port", type=int, required=True))
    run_checked(run, arguments)


if __name__ == "__main__":
    main()
