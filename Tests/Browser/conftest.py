"""Shared pieces of the browser tests: a real gateway process, a free port, polling, headless Chromium."""
import contextlib
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

# Requests the tests make themselves carry a browser's user agent: Python's own ("Python-urllib") is on the
# crawler list, and the gateway drops crawlers' events.
_opener = urllib.request.build_opener()
_opener.addheaders = [("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")]
urllib.request.install_opener(_opener)

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLARM = ROOT / ".build" / "debug" / "clarm"
SITE = "shop.example.com"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, data, options=()):
        self.data = data
        self.port = free_port()
        self.options = list(options)
        self.process = None

    def start(self):
        self.process = subprocess.Popen([str(CLARM), "serve", "--port", str(self.port), "--data", self.data, "--loops", "1"] + self.options,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert b"listening on" in self.process.stdout.readline()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=15) == 0

    def timeline(self, visitor):
        url = "http://127.0.0.1:%d/api/visitors/%s?site=%s" % (self.port, visitor, SITE)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise


def post_json(gateway, path, body):
    """POSTs `body` as JSON to the gateway and returns its decoded answer."""
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (gateway.port, path), data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@contextlib.contextmanager
def running_gateway(prefix, options=()):
    """A gateway on a new data directory (`gateway.data`, inside a temporary folder of its own), stopped and removed
    afterwards."""
    work = tempfile.mkdtemp(prefix=prefix)
    gateway = Gateway(os.path.join(work, "data"), options)
    gateway.start()
    try:
        yield gateway
    finally:
        if gateway.process.poll() is None:
            gateway.stop()
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def browser():
    """Headless Chromium (see `chromium`), quit afterwards."""
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)



def chromium(width=1280, height=1600):
    options = Options()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=%d,%d" % (width, height)]:
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    # The console, for the tests that check a page logs no errors (a CSP violation is one).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(20)
    # Headless Chromium says "HeadlessChrome", which the gateway drops as a crawler (it is one, to sites): the
    # tests play a visitor's Chromium, so they send the user agent a headed one sends.
    agent = driver.execute_script("return navigator.userAgent").replace("HeadlessChrome", "Chrome")
    driver.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": agent})
    return driver
