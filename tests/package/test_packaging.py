"""The wheel ships the core and every built-in plugin, found through entry points."""

from __future__ import annotations

import configparser
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from kit import ROOT



def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_plugin_dirs_match_pyproject_and_installed_metadata():
    py = _pyproject()
    on_disk = {p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists()}
    eps = py["project"]["entry-points"]["gankit"]
    packages = py["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert set(eps.values()) == on_disk
    assert {Path(p).name for p in packages if p.startswith("plugins/")} == on_disk
    installed = {ep.name: ep.value for ep in metadata.distribution("gankit").entry_points
                 if ep.group == "gankit"}
    assert installed == eps, "entry points changed: run `pip install -e .` again"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    res = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    (whl,) = out.glob("gankit-*.whl")
    return whl


def test_wheel_holds_plugins_and_entry_points(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        ep_file = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        eps = configparser.ConfigParser()
        eps.read_string(z.read(ep_file).decode())
    for pkg in ("gankit", "gankit_dcgan", "gankit_datasets", "gankit_losses", "gankit_vanilla",
                "gankit_wgan_gp", "gankit_cyclegan"):
        assert f"{pkg}/__init__.py" in names, pkg
    assert not any(n.startswith("plugins/") for n in names)
    assert eps["console_scripts"]["gankit"] == "gankit.cli:main"
    assert dict(eps["gankit"]) == _pyproject()["project"]["entry-points"]["gankit"]


def test_wheel_holds_the_plugin_guide_and_the_new_plugin_templates(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        guide = z.read("gankit/guide/plugins.md")
    assert guide == (ROOT / "docs" / "plugins.md").read_bytes()  # `gankit docs plugins`
    from gankit.cli.new_plugin import PARTS, TEMPLATES

    for part in PARTS:
        assert f"gankit/templates/new_plugin/{part}/init.py.tmpl" in names, part
    every = {f"gankit/templates/new_plugin/{p.relative_to(TEMPLATES).as_posix()}"
             for p in TEMPLATES.rglob("*") if p.is_file()}
    assert every <= names, every - names  # register.txt, cond_nets.py.tmpl, ...


def test_wheel_holds_the_pages_static_folders(wheel):
    """The shared folder (gankit/static) ships beside the studio's and the export's."""
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    for folder in ("gankit/static", "gankit/studio/static", "gankit/export/static"):
        on_disk = {f"{folder}/{p.name}" for p in (ROOT / folder).iterdir() if p.is_file()}
        assert on_disk and on_disk <= names, folder
    assert "gankit/static/gankit-common.js" in names
