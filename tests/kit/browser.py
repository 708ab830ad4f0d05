"""Headless Chromium for the page tests (Debian's chromium and chromedriver)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
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


# -- what every page test shares: the browser, its skip mark, waiting, a studio server --------

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
NO_BROWSER = ("no headless browser: install chromium and chromium-driver "
              "(scripts/install-browser.sh)")


def needs_browser():
    """The skip mark of a page test module (``pytestmark = needs_browser()``): selenium,
    chromium and chromedriver must all be there."""
    import importlib.util

    import pytest

    if importlib.util.find_spec("selenium") is None:
        return pytest.mark.skip(reason="selenium is not installed (scripts/install-browser.sh)")
    return pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason=NO_BROWSER)


def wait_for(driver, script, timeout=30.0, stop_on_error=False):
    """Poll a JavaScript expression until it is truthy; return its value. The page's status
    line (``#status``) goes into the failure message; ``stop_on_error`` fails as soon as
    the status line shows an error."""
    status = "return (document.getElementById('status') || {}).textContent"
    errored = "return (document.getElementById('status') || {}).className"
    end = time.monotonic() + timeout
    while True:
        value = driver.execute_script("return " + script)
        if value:
            return value
        failed = stop_on_error and "error" in (driver.execute_script(errored) or "")
        if failed or time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {script!r} "
                                 f"(status line: {driver.execute_script(status)!r})")
        time.sleep(0.05)


#: the pixels of an image URL (a data URL or a page's URL), read back through a canvas
DECODE = """
const done = arguments[arguments.length - 1];
const img = new Image();
img.onload = () => {
  const c = document.createElement("canvas");
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext("2d");
  ctx.drawImage(img, 0, 0);
  done([c.width, c.height, Array.from(ctx.getImageData(0, 0, c.width, c.height).data)]);
};
img.onerror = () => done(null);
img.src = arguments[0];
"""


def pixels(driver, url):
    """The image at ``url`` as the browser decodes it: an int array (height, width, 4)."""
    import numpy as np

    data = driver.execute_async_script(DECODE, url)
    assert data is not None, f"the browser could not decode the image {url[:60]!r}"
    w, h, rgba = data
    return np.array(rgba, dtype=int).reshape(h, w, 4)


def draw(driver, points, pad_id="pad"):
    """A stroke with the mouse through ``points`` (fractions of the drawing pad's size)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    pad = driver.find_element(By.ID, pad_id)
    w, h = pad.size["width"], pad.size["height"]
    at = [(int((x - 0.5) * w), int((y - 0.5) * h)) for x, y in points]
    chain = ActionChains(driver).move_to_element_with_offset(pad, *at[0]).click_and_hold()
    for p, q in zip(at, at[1:]):
        chain = chain.move_by_offset(q[0] - p[0], q[1] - p[1])
    chain.release().perform()


@contextlib.contextmanager
def serve_studio(runs, target=None, **kwargs):
    """``gankit studio`` over the runs folder ``runs`` in a thread; yields the server
    (``.url``) and shuts it down after."""
    from gankit.studio import open_studio

    srv = open_studio(target, runs, device="cpu", **kwargs)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.close()
