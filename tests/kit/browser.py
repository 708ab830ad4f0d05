"""Headless Chromium for the page tests (Debian's chromium and chromedriver)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request

CHROME_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--window-size=1280,1000")


def start_chrome(profile_dir, chromium: str, chromedriver: str):
    """A selenium driver on the system browser, with a fresh profile and nothing fetched."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium fetch a driver
    os.environ.setdefault("SE_AVOID_STATS", "true")
    opts = webdriver.ChromeOptions()
    for arg in (*CHROME_ARGS, f"--user-data-dir={profile_dir}"):
        opts.add_argument(arg)
    opts.binary_location = chromium
    driver = webdriver.Chrome(options=opts, service=Service(chromedriver))
    driver.set_script_timeout(30)
    return driver


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_folder(folder, ready: str = "run.json", timeout: float = 20):
    """A static folder served on 127.0.0.1 (``python -m http.server``) while the block
    runs; yields its URL once ``ready`` answers."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
         "--directory", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    end = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url + ready, timeout=2).read()
            break
        except OSError:
            if time.monotonic() > end or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.1)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(10)
