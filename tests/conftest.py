"""Shared fixtures: only built-in plugins load; every test gets a fresh plugin manager.

The functions the fixtures use (and the tests import) are in tests/kit/.
"""

from __future__ import annotations

import os

os.environ["GANKIT_LOAD_PLUGINS"] = ""  # third-party plugins in this venv must not leak in
os.environ.setdefault("OMP_NUM_THREADS", "1")

import json  # noqa: E402

import pytest  # noqa: E402

from gankit import console  # noqa: E402
from gankit.plugins import Plugins, set_plugins  # noqa: E402

from kit import TINY, cli, train_tiny  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_plugins():
    """A freshly loaded plugin manager per test (built-ins only)."""
    p = Plugins()
    p.load_entry_points()
    set_plugins(p)
    console.set_quiet(False)
    console.set_debug(False)
    yield p
    set_plugins(None)


@pytest.fixture
def plugins(fresh_plugins):
    return fresh_plugins


@pytest.fixture
def run_cli(monkeypatch, tmp_path):
    """Run the CLI in-process in tmp_path: returns click's Result (stdout, stderr, exit_code)."""
    monkeypatch.chdir(tmp_path)
    return cli


@pytest.fixture
def tiny():
    """Flags for a tiny DCGAN that trains in well under a second per step on a CPU."""
    return list(TINY)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """``trained_run(**opts)``: the run folder of a tiny DCGAN (``kit.train_tiny(**opts)``),
    trained once per session for each set of options and shared by every test that asks
    for the same options. Read it only: a test that writes into a run folder trains or
    copies its own."""
    cache: dict = {}

    def get(**opts):
        key = json.dumps(opts, sort_keys=True, default=str)
        if key not in cache:
            cache[key] = train_tiny(tmp_path_factory.mktemp("trained"), **opts)
        return cache[key]

    return get


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium for a page test module (skipped without it: see kit.browser)."""
    from kit.browser import CHROMEDRIVER, CHROMIUM, NO_BROWSER, start_chrome

    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(NO_BROWSER)
    pytest.importorskip("selenium.webdriver",
                        reason="selenium is not installed (scripts/install-browser.sh)")
    driver = start_chrome(tmp_path_factory.mktemp("chromium-profile"), CHROMIUM, CHROMEDRIVER)
    yield driver
    driver.quit()
