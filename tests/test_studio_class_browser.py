"""The studio's class picker in a real headless browser (skipped without chromium,
chromedriver and selenium, like tests/test_studio_browser.py)."""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest
from PIL import Image

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (scripts/install-browser.sh)")

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="no headless browser: install chromium and chromium-driver "
           "(scripts/install-browser.sh)")


@pytest.fixture(scope="module")
def studio_url(tmp_path_factory):
    from gankit.studio import open_studio
    from studio_runs import cli

    root = tmp_path_factory.mktemp("studio-classes")
    rng = np.random.default_rng(0)
    for k, kind in enumerate(("apple", "kiwi", "plum")):
        (root / "fruit" / kind).mkdir(parents=True)
        for i in range(4):
            a = rng.integers(0, 40, (32, 32), dtype=np.uint8)
            a[4 + 8 * k:12 + 8 * k, 8:24] = 230
            Image.fromarray(a).save(root / "fruit" / kind / f"{i}.png")
    cli("train", "dcgan", "--data", root / "fruit", "--conditional", "--image-size", "32",
        "--set", "ngf=8", "--set", "ndf=8", "--batch-size", "4", "--steps", "2",
        "--out", root / "runs", "--name", "c", "--quiet")
    srv = open_studio(None, root / "runs", device="cpu")
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield srv.url
    srv.shutdown()
    srv.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from browser_kit import start_chrome

    driver = start_chrome(tmp_path_factory.mktemp("chromium-profile"), CHROMIUM, CHROMEDRIVER)
    yield driver
    driver.quit()


def wait_for(driver, script, timeout=30.0):
    end = time.monotonic() + timeout
    while True:
        value = driver.execute_script("return " + script)
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {script!r}")
        time.sleep(0.05)


def test_class_picker_changes_the_samples_and_the_command(browser, studio_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(studio_url)
    wait_for(browser, "window.studio && window.studio.state.gridSeq >= 1")
    row = browser.find_element(By.ID, "class-row")
    assert row.is_displayed()
    options = [o.text for o in Select(browser.find_element(By.ID, "class-a")).options]
    assert options == ["all, in turn", "apple", "kiwi", "plum"]
    before = browser.execute_script("return window.studio.state.images[0]")
    seq = browser.execute_script("return window.studio.state.gridSeq")
    Select(browser.find_element(By.ID, "class-a")).select_by_visible_text("plum")
    wait_for(browser, f"window.studio.state.gridSeq > {seq}")
    after = browser.execute_script("return window.studio.state.images[0]")
    assert after != before
    assert "--class plum" in browser.find_element(By.ID, "command").text
    Select(browser.find_element(By.ID, "class-b")).select_by_visible_text("apple")
    browser.execute_script("const s = document.getElementById('class-mix'); s.value = 0.5; "
                           "s.dispatchEvent(new Event('input'))")
    wait_for(browser, "document.getElementById('command').textContent.includes('class mix')")
    mixed = browser.execute_script("return window.studio.state.images[0]")
    assert mixed not in (before, after)
    assert "class mix" in browser.find_element(By.ID, "command").text
