"""Sign-in through an identity provider in a real browser (Debian's chromium and chromium-driver,
driven by Selenium).

Run by FederatedSignInTests with a gateway whose sign-in host offers the provider `--provider-name`
(django-oauth-toolkit). It opens shipments, is sent to the sign-in host, picks the provider, signs
in on the provider's own form, and must land back on shipments (the demo service's list) with no
Portcullis password asked; then it opens fleet, which single sign-on opens with no form at all.
Screenshots go to --screenshots. Exits non-zero with a message on the first failed expectation.
"""

from sso_browser import Browser, parse_arguments, run_checked


def run(arguments):
    browser = Browser(arguments)
    try:
        browser.open("shipments.localhost", "/v1/shipments")
        link = browser.find("a.provider")
        browser.expect(browser.host == "auth.localhost" and arguments.provider_name in link.text,
                       "the sign-in page offers the provider")
        browser.shot("federation-choice")
        link.click()
        browser.find("input[name=username]")
        browser.expect(browser.host == "127.0.0.1", "the provider's own form")
        browser.shot("federation-provider")
        browser.find("input[name=username]").send_keys(arguments.login)
        browser.find("input[name=password]").send_keys(arguments.password)
        browser.find("button[type=submit]").click()
        browser.wait.until(lambda driver: browser.host == "shipments.localhost")
        browser.expect("SHP-" in browser.text(), "back on shipments after the provider: %s" % browser.text()[:200])
        browser.shot("federation-shipments")
        browser.open("fleet.localhost", "/v1/vehicles")
        browser.wait.until(lambda driver: browser.host == "fleet.localhost")
        browser.expect("VEH-" in browser.text() and not browser.has("input[name=password]"), "fleet by single sign-on")
        print("signed in through the provider in Chromium; fleet opened by single sign-on")
    finally:
        browser.driver.quit()


def main():
    arguments = parse_arguments(__doc__.splitlines()[0], lambda parser: parser.add_argument("--provider-name", required=True))
    run_checked(run, arguments)


if __name__ == "__main__":
    main()
