"""Cross-origin calls from a real browser (Debian's chromium and chromium-driver, driven by
Selenium) to a gateway route that lists web origins. A small page server (http.server) serves a
blank page on 127.0.0.1; Chromium opens it as http://app.localhost:PORT (a listed origin) and as
http://other.localhost:PORT (not listed), and from each page calls the route with fetch() and a
bearer token, which makes the browser send a CORS preflight first. Prints one JSON object:
{"listed": RESULT, "other": RESULT}, each RESULT {"ok", "status", "body"} or {"ok": false,
"error"} when the browser blocked the call.

The browser trusts exactly the gateway's test certificate (its public key's SHA-256).

Usage: cors_browser.py --page-port-file FILE --certificate FILE [--chromium PATH --chromedriver PATH]
Serves the page and writes its port to FILE (the gateway's configuration lists the origin), then
waits for FILE + ".go": JSON {"url", "token"}, the route's URL and the token to call it with."""
import argparse
import json
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from console_browser import spki_hash

CALL = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {headers: {"authorization": "Bearer " + arguments[1]}})
  .then(response => response.text().then(body => done({ok: true, status: response.status, body: body})))
  .catch(error => done({ok: false, error: String(error)}));
"""


class Page(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>dispatch</title><p>dispatch board</p>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *arguments):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--page-port-file", "--certificate"):
        parser.add_argument(name, required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    arguments = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with open(arguments.page_port_file + ".tmp", "w") as out:
        out.write(str(server.server_port))
    os.replace(arguments.page_port_file + ".tmp", arguments.page_port_file)
    deadline = time.monotonic() + 120
    while not os.path.exists(arguments.page_port_file + ".go"):
        if time.monotonic() > deadline:
            raise SystemExit("the gateway never came up")
        time.sleep(0.05)
    with open(arguments.page_port_file + ".go") as handle:
        call = json.load(handle)

    options = webdriver.ChromeOptions()
    options.binary_location = arguments.chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--user-data-dir=" + tempfile.mkdtemp(prefix="cors-chromium-"),
                 "--ignore-certificate-errors-spki-list=" + spki_hash(arguments.certificate)):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=arguments.chromedriver), options=options)
    driver.set_script_timeout(20)
    results = {}
    try:
        for name, host in (("listed", "app.localhost"), ("other", "other.localhost")):
            driver.get("http://%s:%d/" % (host, server.server_port))
            results[name] = driver.execute_async_script(CALL, call["url"], call["token"])
    finally:
        driver.quit()
        server.shutdown()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
