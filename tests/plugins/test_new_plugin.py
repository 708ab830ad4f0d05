"""`gankit new-plugin --with PARTS` and `gankit docs plugins`: the skeleton's parts, its
own tests passing as written, and the guide shipped inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gankit.cli.new_plugin import (DEFAULT_PARTS, PARTS, TEMPLATES, class_name, files_for,
                                   parse_parts)
from kit import ROOT



def _count_tests(folder: Path) -> int:
    return sum(1 for p in folder.glob("test_*.py") for line in p.read_text().splitlines()
               if line.startswith("def test_"))


def _files(skel: Path) -> list[str]:
    return sorted(str(p.relative_to(skel)) for p in skel.rglob("*") if p.is_file())


def _passes_its_own_tests(skel: Path) -> int:
    """Run a skeleton's tests by pytest in a fresh interpreter that imports the package
    from the folder (no install); the number of tests, every one passed."""
    path = os.pathsep.join([str(skel), *[q for q in sys.path if q]])  # this gankit
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1",
           "GANKIT_LOAD_PLUGINS": ""}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests"], cwd=skel, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    n = _count_tests(skel / "tests")
    assert f"{n} passed" in proc.stdout, proc.stdout[-3000:]
    return n


def test_skeleton_with_every_part_passes_its_own_tests(run_cli, tmp_path):
    res = run_cli("new-plugin", "spectral-gan", "--dir", tmp_path / "skel")
    assert res.exit_code == 0, res.output
    skel = tmp_path / "skel"
    assert _files(skel) == ["README.md", "gankit_spectral_gan/__init__.py",
                            "gankit_spectral_gan/blobs.py", "gankit_spectral_gan/cli.py",
                            "gankit_spectral_gan/nets.py", "pyproject.toml",
                            "tests/test_gankit_spectral_gan.py"]
    # every part is exercised through gankit's public test kit
    assert _passes_its_own_tests(skel) >= 14


@pytest.mark.parametrize("parts, more_files, at_least", [
    ("conditional", [], 5),
    ("all,conditional", ["blobs.py", "cli.py", "nets.py"], 18),
])
def test_skeleton_with_a_conditional_model_passes_its_own_tests(run_cli, tmp_path, parts,
                                                                more_files, at_least):
    res = run_cli("new-plugin", "kinds", "--dir", tmp_path / "skel", "--with", parts)
    assert res.exit_code == 0, res.output
    skel = tmp_path / "skel"
    package = sorted(["__init__.py", "cond_nets.py", *more_files])
    assert _files(skel) == sorted(["README.md", "pyproject.toml", "tests/test_gankit_kinds.py",
                                   *(f"gankit_kinds/{f}" for f in package)])
    init = (skel / "gankit_kinds" / "__init__.py").read_text()
    assert init.count("def register_models(") == 1  # one hook registers every model
    assert _passes_its_own_tests(skel) >= at_least


@pytest.mark.parametrize("parts", ["model", "conditional", "loss", "dataset", "hook",
                                   "command", "loss,command", "model,conditional,hook"])
def test_each_part_alone(parts):
    files = files_for("tiny", parts.split(","))
    init = files["gankit_tiny/__init__.py"]
    test = files["tests/test_gankit_tiny.py"]
    compile(init, "__init__.py", "exec")
    compile(test, "test.py", "exec")
    has = {p: p in parts.split(",") for p in PARTS}
    assert ("class Tiny(UnconditionalGAN)" in init) == has["model"]
    assert ("gankit_tiny/nets.py" in files) == has["model"]
    assert ("class TinyCond(UnconditionalGAN)" in init) == has["conditional"]
    assert ("gankit_tiny/cond_nets.py" in files) == has["conditional"]
    assert init.count("def register_models(") == int(has["model"] or has["conditional"])
    assert ("class TinyLoss(Loss)" in init) == has["loss"]
    assert ("class TinyBlobs(Dataset)" in init) == has["dataset"]
    assert ("gankit_tiny/blobs.py" in files) == has["dataset"]
    assert ("def on_log(" in init) == has["hook"]
    assert ("def register_commands(" in init) == has["command"]
    assert ("gankit_tiny/cli.py" in files) == has["command"]
    # no import is left unused, none is missing (every name imported is used)
    for text in (init, test):
        for line in text.splitlines():
            if line.startswith("from gankit import "):
                for name in line.removeprefix("from gankit import ").split(", "):
                    assert text.count(name) >= 2, (name, parts)


def test_class_names_come_from_the_plugin_name():
    assert class_name("my-gan") == "MyGan"
    assert class_name("sngan2") == "Sngan2"
    init = files_for("my-gan")["gankit_my_gan/__init__.py"]
    for cls in ("class MyGan(", "class MyGanConfig", "class MyGanLoss(", "class MyGanBlobs("):
        assert cls in init
    assert "GANGAN" not in init and "GanGAN" not in init


def test_readme_points_to_the_installed_guide():
    readme = files_for("tiny")["README.md"]
    assert "`gankit docs plugins`" in readme
    assert "gankit tiny-summary" in readme and "--loss tiny-loss" in readme


def test_templates_are_files():
    for part in PARTS:
        for name in ("init.py.tmpl", "test.py.tmpl", "readme.md.tmpl", "hooks.txt"):
            assert (TEMPLATES / part / name).is_file(), (part, name)
    source = (ROOT / "gankit" / "cli" / "new_plugin.py").read_text()
    assert "class Generator" not in source and "def test_" not in source


def test_bad_parts_are_one_usage_error(run_cli):
    res = run_cli("new-plugin", "x", "--with", "model,modle")
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "Error: --with model,modle: choose one or more of model,conditional,loss,dataset,hook,"
        "command (comma-separated)"]
    assert not Path("gankit-x").exists()


def test_the_conditional_model_is_written_only_when_asked():
    assert DEFAULT_PARTS == ("model", "loss", "dataset", "hook", "command")
    assert parse_parts(None) == parse_parts("all") == DEFAULT_PARTS
    assert parse_parts("all,conditional") == PARTS
    assert parse_parts("cond,loss") == ("conditional", "loss")
    assert "gankit_tiny/cond_nets.py" not in files_for("tiny")


def test_with_writes_only_the_parts_asked(run_cli, tmp_path):
    res = run_cli("new-plugin", "only-loss", "--with", "loss")
    assert res.exit_code == 0, res.output
    made = sorted(p.name for p in (tmp_path / "gankit-only-loss").rglob("*") if p.is_file())
    assert made == ["README.md", "__init__.py", "pyproject.toml", "test_gankit_only_loss.py"]


# -- the conditional model as written, trained on the sushi kinds ----------------------------


def test_the_written_conditional_model_trains_on_labels_and_samples_a_class(tmp_path,
                                                                           monkeypatch):
    """`--with conditional`'s model: two steps of `gankit train --conditional` on the
    built-in sushi set's five labelled kinds, then `gankit sample --class`."""
    import importlib
    import json

    import numpy as np

    import gankit.testing as gt

    for rel, text in files_for("kinds", ["conditional"]).items():
        (tmp_path / "skel" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "skel" / rel).write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "skel"))
    for module in ("gankit_kinds", "gankit_kinds.cond_nets"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    plugins = gt.check_plugin(importlib.import_module("gankit_kinds"), "kinds")
    res = gt.run_cli(["train", "kinds-cond", "--conditional", "--dataset", "sushi", "--set",
                      "data.count=32", "--image-size", "16", "--set", "hidden=32", "--set",
                      "z_dim=8", "--batch-size", "8", "--steps", "2", "--sample-every", "2",
                      "--no-cache", "--out", tmp_path, "--name", "c", "--quiet"],
                     plugins=plugins)
    assert res.exit_code == 0, res.output
    run = tmp_path / "c"
    kinds = ["salmon", "tuna", "tamago", "shrimp", "eel"]
    assert json.loads((run / "config.json").read_text())["data"]["classes"] == kinds

    def sample(kind):
        out = tmp_path / f"{kind}.npy"
        res = gt.run_cli(["sample", run, "--class", kind, "-n", "3", "--out", out],
                         plugins=plugins)
        assert res.exit_code == 0, res.output
        return np.load(out)

    tuna = sample("tuna")
    assert tuna.shape[0] == 3 and np.isfinite(tuna).all()
    assert np.array_equal(sample("1"), tuna)  # a name or its index
    assert not np.array_equal(sample("eel"), tuna)  # the class asked for matters


# -- the guide inside the package ----------------------------------------------------------


def test_packaged_guide_is_docs_plugins_md():
    """docs/plugins.md is the source; gankit/guide/plugins.md is its copy in the package
    (refresh it with `cp docs/plugins.md gankit/guide/plugins.md`)."""
    assert (ROOT / "gankit" / "guide" / "plugins.md").read_bytes() == \
        (ROOT / "docs" / "plugins.md").read_bytes()


def test_gankit_docs_plugins_prints_the_guide(run_cli):
    res = run_cli("docs", "plugins")
    assert res.exit_code == 0
    assert res.stdout == (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert run_cli("docs").stdout.split() == ["plugins"]
    bad = run_cli("docs", "plugin")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == "Error: docs plugin: no such guide; did you mean 'plugins'?"
