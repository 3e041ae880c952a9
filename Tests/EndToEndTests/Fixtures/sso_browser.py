"""One sign-in for every tool, in a real browser (Debian's chromium and chromium-driver, driven by Selenium).

Run by SingleSignOnBrowserTests against a gateway in front of the four demo services, with the
sign-in host auth.localhost. As `--login` it: opens shipments and is sent to the sign-in host's form
(the only form of the walk), signs in and lands on shipments; opens fleet, billing and the ops
console with no second form; opens fleet in a second tab, signs out in the first, and finds the
second tab signed out too; signs in again, has an administrator remove the role (`--revoke`, a
command run here) and reloads until the open session gets 403, printing how long that took; and
finds the admin console absent (404) on a tool's host. Screenshots go to --screenshots.

The browser trusts exactly the gateway's test certificate (its public key's SHA-256, as in
console_browser.py). Exits non-zero with a message on the first failed expectation.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from console_browser import spki_hash

TOOLS = [
    ("shipments.localhost", "/v1/shipments"),
    ("fleet.localhost", "/v1/vehicles"),
    ("billing.localhost", "/v1/invoices"),
    ("ops.localhost", "/"),
]


class Browser:
    def __init__(self, arguments):
        self.port = arguments.port
        self.screenshots = arguments.screenshots
        os.makedirs(self.screenshots, exist_ok=True)
        options = webdriver.ChromeOptions()
        options.binary_location = arguments.chromium
        self.profile = tempfile.mkdtemp(prefix="sso-chromium-")
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900",
                     "--user-data-dir=" + self.profile,
                     "--ignore-certificate-errors-spki-list=" + spki_hash(arguments.certificate)):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(executable_path=arguments.chromedriver), options=options)
        self.wait = WebDriverWait(self.driver, 20)
        self.forms_seen = 0

    def url(self, host, path):
        return "https://%s:%d%s" % (host, self.port, path)

    def open(self, host, path):
        self.driver.get(self.url(host, path))

    @property
    def host(self):
        return urllib.parse.urlsplit(self.driver.current_url).hostname

    def has(self, css):
        return len(self.driver.find_elements(By.CSS_SELECTOR, css)) > 0

    def find(self, css):
        return self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(self.screenshots, "sso-%s.png" % name))

    def expect(self, condition, message):
        if not condition:
            self.shot("failure")
            with open(os.path.join(self.screenshots, "sso-failure.html"), "w") as handle:
                handle.write(self.driver.page_source)
            raise AssertionError(message + " (at " + self.driver.current_url + ")")

    def sign_in(self, login, password):
        self.find("input[name=login]").send_keys(login)
        self.find("input[name=password]").send_keys(password)
        self.forms_seen += 1
        self.find("button[type=submit]").click()
        self.wait.until(lambda driver: not self.has("input[name=password]"))


def run(arguments):
    browser = Browser(arguments)
    try:
        # One form, on the sign-in host, the first time a tool is opened.
        browser.open(*TOOLS[0])
        browser.find("input[name=login]")
        browser.expect(browser.host == "auth.localhost", "shipments sends the browser to the sign-in host")
        browser.shot("sign-in")
        browser.sign_in(arguments.login, arguments.password)
        browser.expect(browser.host == "shipments.localhost" and "SHP-" in browser.text(), "back on shipments after signing in")

        # Every other tool: through the sign-in host and back, with no form.
        for host, path in TOOLS[1:]:
            browser.open(host, path)
            browser.wait.until(lambda driver: browser.host == host)
            browser.expect(not browser.has("input[name=password]"), "%s asked for a password again" % host)
            browser.expect("Access denied" not in browser.text() and "unauthenticated" not in browser.text(),
                           "%s refused the signed-in browser: %s" % (host, browser.text()[:200]))
            browser.shot(host.split(".")[0])
        browser.expect(browser.forms_seen == 1, "one sign-in for four tools")
        print("four tools opened with %d sign-in form" % browser.forms_seen)

        # Sign-out in one tab signs the other tab out as well.
        first = browser.driver.current_window_handle
        browser.driver.switch_to.new_window("tab")
        second = browser.driver.current_window_handle
        browser.open("fleet.localhost", "/v1/vehicles")
        browser.expect(browser.host == "fleet.localhost" and not browser.has("input[name=password]"), "fleet open in the second tab")
        browser.driver.switch_to.window(first)
        browser.open("shipments.localhost", "/.portcullis/logout")
        browser.wait.until(lambda driver: browser.host == "auth.localhost")
        browser.find("form[action='/.portcullis/logout'] button").click()
        browser.find("input[name=login]")
        browser.shot("signed-out")
        browser.driver.switch_to.window(second)
        browser.driver.refresh()
        browser.find("input[name=login]")
        browser.expect(browser.host == "auth.localhost", "the second tab is signed out: its reload asks to sign in")

        # An open session follows the identity store: a removed role is refused at once.
        browser.sign_in(arguments.login, arguments.password)
        browser.wait.until(lambda driver: browser.host == "fleet.localhost")
        browser.open("shipments.localhost", "/v1/shipments")
        browser.expect("SHP-" in browser.text(), "shipments open again after signing in")
        subprocess.run(arguments.revoke, check=True, stdout=subprocess.DEVNULL)
        returned = time.monotonic()
        while "Access denied" not in browser.text():
            browser.expect(time.monotonic() - returned < 10, "the removed role still opens shipments after 10 s")
            time.sleep(0.02)
            browser.driver.refresh()
        print("after the role was removed the open session got 403 within %.0f ms of the command returning"
              % ((time.monotonic() - returned) * 1000))
        browser.shot("denied")

        # The console exists on the sign-in host only.
        browser.open("shipments.localhost", "/.portcullis/admin/")
        browser.expect("not_found" in browser.text(), "the admin console answered on a tool's host: %s" % browser.text()[:200])
    finally:
        browser.driver.quit()


def parse_arguments(description, *more):
    """The options every browser walk of the gateway takes, and `more` (functions adding others)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    for name in ("--certificate", "--login", "--password", "--screenshots"):
        parser.add_argument(name, required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    for add in more:
        add(parser)
    return parser.parse_args()


def run_checked(walk, arguments):
    """Runs a walk; a failed expectation exits 1 with its message."""
    try:
        walk(arguments)
    except AssertionError as failure:
        print("FAILED: %s" % failure, file=sys.stderr)
        sys.exit(1)


def main():
    arguments = parse_arguments(
        __doc__.splitlines()[0],
        lambda parser: parser.add_argument("--revoke", nargs=argparse.REMAINDER, required=True, help="the command that removes the role"))
    run_checked(run, arguments)


if __name__ == "__main__":
    main()
