"""The admin console in a real browser (Debian's chromium and chromium-driver, driven by Selenium).

Run by ConsoleBrowserTests with a gateway whose policy store holds `shipments.cedar` (dispatchers
may GET /v1/shipments*). As a security administrator with MFA it: logs in (TOTP computed here from
the enrolment secret), opens the policy editor, introduces a type error (the error must appear at
its line, and a push must be refused), fixes it into a rule that also opens /v1/reports*, looks at
the traffic diff (dana's refused GET /v1/reports must be listed as becoming allowed), pushes, tries a
request, and visits the audit and identity pages. A screenshot of every page goes to --screenshots.

The browser trusts exactly the gateway's test certificate: its public key's SHA-256 is passed with
--ignore-certificate-errors-spki-list (honoured with an explicit --user-data-dir), so no other
certificate error is ignored. Exits non-zero with a message on the first failed expectation.
"""

import argparse
import base64
import hashlib
import hmac
import os
import struct
import sys
import tempfile
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

# The policy the administrator first types: `<` between a String and a Long is a type error on line 4.
BROKEN = """@id("shipments.dispatchers-read")
permit (principal in Role::"dispatcher", action == Action::"GET", resource == Route::"shipments")
when {
    context.http.path like "/v1/shipments*" || context.http.path < 3
};
"""
BROKEN_LINE = 4

FIXED = """@id("shipments.dispatchers-read")
permit (principal in Role::"dispatcher", action == Action::"GET", resource == Route::"shipments")
when {
    context.http.path like "/v1/shipments*" || context.http.path like "/v1/reports*"
};
"""


def totp(secret_base32, at=None):
    """RFC 6238 (SHA-1, 6 digits, 30 s) for the current step."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    step = int((at or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1_000_000)


def spki_hash(certificate_file):
    with open(certificate_file, "rb") as handle:
        certificate = x509.load_pem_x509_certificate(handle.read())
    der = certificate.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class Console:
    def __init__(self, arguments):
        self.url = arguments.url.rstrip("/")
        self.screenshots = arguments.screenshots
        os.makedirs(self.screenshots, exist_ok=True)
        for stale in ("console-failure.png", "console-failure.html"):
            if os.path.exists(os.path.join(self.screenshots, stale)):
                os.remove(os.path.join(self.screenshots, stale))
        options = webdriver.ChromeOptions()
        options.binary_location = arguments.chromium
        self.profile = tempfile.mkdtemp(prefix="console-chromium-")
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                     "--user-data-dir=" + self.profile,
                     "--ignore-certificate-errors-spki-list=" + spki_hash(arguments.certificate)):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(executable_path=arguments.chromedriver), options=options)
        self.wait = WebDriverWait(self.driver, 20)

    def close(self):
        self.driver.quit()

    def shot(self, name, focus=None):
        """Saves the window, scrolled so that `focus` (an element) is in the middle of it."""
        if focus is not None:
            self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", focus)
        self.driver.save_screenshot(os.path.join(self.screenshots, "console-%s.png" % name))

    def open(self, path):
        self.driver.get(self.url + path)

    def find(self, css):
        return self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def expect(self, condition, message):
        if not condition:
            self.shot("failure")
            raise AssertionError(message + " (at " + self.driver.current_url + ")")

    def type_into(self, element, text):
        """Replaces a textarea's text the way a person does, so its input events fire."""
        element.click()
        self.driver.execute_script("arguments[0].select();", element)
        element.send_keys(text)


def run(arguments):
    console = Console(arguments)
    try:
        # Log in: the console sends an anonymous browser to the login page with `next`.
        console.open("/.portcullis/admin/")
        console.find("input[name=login]")
        console.expect("/.portcullis/login" in console.driver.current_url and "next=" in console.driver.current_url,
                       "an anonymous visit is sent to the login page")
        console.shot("login")
        console.find("input[name=login]").send_keys(arguments.login)
        console.find("input[name=password]").send_keys(arguments.password)
        console.find("button[type=submit]").click()
        code = console.find("input[name=code]")
        console.shot("mfa")
        code.send_keys(totp(arguments.totp_secret))
        console.find("button[type=submit]").click()
        console.find("section.current")
        console.expect(console.driver.current_url.endswith("/.portcullis/admin/policies"), "after login the console opens on the policies")
        console.shot("policies")

        # The editor: a type error appears at its line, and a push is refused.
        console.find("a[href$='policies/editor']").click()
        area = console.find("textarea[data-file='shipments.cedar']")
        index = area.get_attribute("data-index")
        console.type_into(area, BROKEN)
        error = console.find("#errors-%s li.finding.error" % index)
        console.expect(error.get_attribute("data-line") == str(BROKEN_LINE),
                       "the type error is shown at line %d, not %s: %s" % (BROKEN_LINE, error.get_attribute("data-line"), error.text))
        marked = console.find("#gutter-%s span.mark" % index)
        console.expect(marked.text == str(BROKEN_LINE), "the gutter marks line %d" % BROKEN_LINE)
        console.shot("editor-type-error", area)
        console.find("#push-message").send_keys("a broken change")
        console.find("#push").click()
        console.find("#push-refused")
        console.expect("line" in console.find("#report").text or ":%d:" % BROKEN_LINE in console.find("#report").text,
                       "the refusal shows the report")
        console.shot("push-refused", console.find("#push-refused"))

        # Fix it; the live check turns green; the diff against traffic lists dana's GET /v1/reports.
        area = console.find("textarea[data-file='shipments.cedar']")
        console.type_into(area, FIXED)
        console.wait.until(lambda driver: "test cases pass" in driver.find_element(By.ID, "live-status").text
                           or driver.find_element(By.ID, "live-status").text.startswith("valid"))
        console.expect(not console.driver.find_elements(By.CSS_SELECTOR, "#errors-%s li.finding.error" % index), "the fix clears the errors")
        console.find("#run-diff").click()
        diff = console.find("#diff")
        console.expect("/v1/reports" in diff.text and 'User::"dana"' in diff.text, "the diff lists dana's GET /v1/reports: " + diff.text)
        gained = console.driver.find_elements(By.CSS_SELECTOR, "#diff tr.gain")
        console.expect(any("/v1/reports" in row.text for row in gained), "GET /v1/reports becomes allowed")
        console.shot("diff", diff)

        # Push; the policies page shows the new version in force.
        message = console.find("#push-message")
        message.clear()
        message.send_keys("dispatchers read reports")
        console.find("#push").click()
        current = console.find("section.current")
        console.expect("dispatchers read reports" in current.text and "version 2" in current.text,
                       "the pushed version is in force: " + current.text)
        console.expect("nil" not in console.find("table.history").text, "absent values are not rendered")
        console.shot("policies-pushed")

        # Try a request: the decision and each policy's trace.
        query = urllib.parse.urlencode({"kind": "User", "id": "dana", "roles": "dispatcher", "method": "GET", "route": "shipments",
                                        "path": "/v1/reports"})
        console.open("/.portcullis/admin/policies/try?" + query)
        explanation = console.find("#explanation")
        console.expect("Decision: allow" in explanation.text.replace("Allow", "allow") and "shipments.dispatchers-read" in explanation.text,
                       "the try form explains the decision: " + explanation.text)
        console.shot("try-a-request")

        # Audit: search, one request with its explanation.
        console.open("/.portcullis/admin/audit?" + urllib.parse.urlencode({"principal": 'User::"dana"'}))
        link = console.find("table.events a")
        console.shot("audit")
        link.click()
        console.find("#explanation")
        console.shot("audit-request")

        # Identities.
        for page in ("users", "users/%s" % arguments.login, "roles", "services"):
            console.open("/.portcullis/admin/" + page)
            console.find("main h1")
            console.shot(page.replace("/", "-"))
    except Exception:
        # What the browser showed when it went wrong, beside the other screenshots.
        console.shot("failure")
        with open(os.path.join(console.screenshots, "console-failure.html"), "w") as handle:
            handle.write(console.driver.page_source)
        raise
    finally:
        console.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--certificate", required=True, help="the gateway's certificate (PEM): the only one the browser accepts")
    parser.add_argument("--login", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--totp-secret", required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    arguments = parser.parse_args()
    try:
        run(arguments)
    except Exception as error:  # one line for the Swift test's failure message
        print("console browser test failed: %s: %s" % (type(error).__name__, error), file=sys.stderr)
        sys.exit(1)
    print("console browser test passed")


if __name__ == "__main__":
    main()
