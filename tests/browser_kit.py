"""Headless Chromium for the page tests (Debian's chromium and chromedriver)."""

from __future__ import annotations

import os

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
