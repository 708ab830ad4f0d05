"""Shared fixtures: only built-in plugins load; every test gets a fresh plugin manager."""

from __future__ import annotations

import os

os.environ["GANKIT_LOAD_PLUGINS"] = ""  # third-party plugins in this venv must not leak in
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

from gankit import console  # noqa: E402
from gankit.plugins import Plugins, set_plugins  # noqa: E402

TINY = ["--image-size", "32", "--set", "ngf=8", "--set", "ndf=8", "--batch-size", "8"]


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
    from click.testing import CliRunner

    from gankit.cli import make_cli

    monkeypatch.chdir(tmp_path)

    def run(*args):
        runner = CliRunner()
        return runner.invoke(make_cli(), [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture
def tiny():
    """Flags for a tiny DCGAN that trains in well under a second per step on a CPU."""
    return list(TINY)
