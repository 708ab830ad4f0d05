"""Third-party plugins, end to end: real distributions pip-installed into a fresh virtualenv.

The fresh venv is created without pip and sees the packages of the interpreter running
the tests (gankit, torch, pytest, pip, hatchling) through one ``.pth`` file that calls
``site.addsitedir`` on its site-packages: nothing is copied or downloaded (torch is 5 GB),
and whatever pip installs into the venv shadows the parent. pip then builds and installs,
offline (``--no-index --no-build-isolation``), four distributions:

- ``examples/gankit-lsgan-mnist`` (model, loss, data set, trainer hook, command);
- a skeleton written by ``gankit new-plugin``, whose own tests must pass as written;
- ``gankit-broken-import``, whose module raises at import;
- ``gankit-broken-hook``, which raises in ``register_models`` and in ``on_step_end``.

gankit then runs in subprocesses of that venv (``python -m gankit``) with no
``GANKIT_LOAD_PLUGINS``, exactly as a user who pip-installed the plugins would.
The last tests do the same failure cases in-process through fake entry points.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import textwrap
import types
import venv as venv_mod
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

import gankit.testing as gt
from gankit import CheckpointError, hookimpl, load_model
from gankit.plugins import Plugins

from kit import ROOT, FakeDist, FakeEP

EXAMPLE = ROOT / "examples" / "gankit-lsgan-mnist"
TINY = ["--steps", "2", "--batch-size", "8", "--set", "ngf=8", "--set", "ndf=8",
        "--log-every", "1", "--sample-every", "2", "--checkpoint-every", "2"]

BROKEN_IMPORT = {
    "pyproject.toml": """\
        [build-system]
        requires = ["hatchling>=1.18"]
        build-backend = "hatchling.build"
        [project]
        name = "gankit-broken-import"
        version = "6.6.6"
        [project.entry-points.gankit]
        broken-import = "gankit_broken_import"
        [tool.hatch.build.targets.wheel]
        packages = ["gankit_broken_import"]
        """,
    "gankit_broken_import/__init__.py": """\
        raise RuntimeError("boom at import")
        """,
}

BROKEN_HOOK = {
    "pyproject.toml": """\
        [build-system]
        requires = ["hatchling>=1.18"]
        build-backend = "hatchling.build"
        [project]
        name = "gankit-broken-hook"
        version = "0.0.1"
        [project.entry-points.gankit]
        broken-hook = "gankit_broken_hook"
        [tool.hatch.build.targets.wheel]
        packages = ["gankit_broken_hook"]
        """,
    "gankit_broken_hook/__init__.py": """\
        from gankit import hookimpl

        @hookimpl
        def register_models(register):
            raise ValueError("no models today")

        @hookimpl
        def on_step_end(trainer, step, losses):
            raise ZeroDivisionError("step hook exploded")
        """,
}


def _write_tree(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _parent_site_dirs() -> list[str]:
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dirs if os.path.isdir(d)]


@dataclass
class Env:
    dir: Path
    python: Path
    purelib: Path
    work: Path
    skeleton: Path

    def environ(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items()
               if k not in ("GANKIT_LOAD_PLUGINS", "GANKIT_DEBUG", "PYTHONHOME")}
        env.update(OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", PIP_NO_INPUT="1",
                   PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.update(extra)
        return env

    def run(self, *args, env=None, cwd=None, timeout=300):
        return subprocess.run([str(self.python), *map(str, args)], capture_output=True,
                              text=True, env=env or self.environ(), cwd=cwd or self.work,
                              timeout=timeout)

    def gankit(self, *args, **kw):
        return self.run("-m", "gankit", *args, **kw)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("third-party")
    env_dir = root / "venv"
    venv_mod.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    lines = "; ".join(f"site.addsitedir({d!r})" for d in _parent_site_dirs())
    (purelib / "_gankit_parent_env.pth").write_text(f"import site; {lines}\n")
    work = root / "work"
    work.mkdir()
    e = Env(env_dir, python, purelib, work, work / "gankit-hello-mlp")

    made = e.gankit("new-plugin", "hello-mlp", "--dir", e.skeleton)
    assert made.returncode == 0, made.stderr
    broken_import = _write_tree(root / "broken-import", BROKEN_IMPORT)
    broken_hook = _write_tree(root / "broken-hook", BROKEN_HOOK)
    pip = e.run("-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                "--no-cache-dir", "--ignore-installed", "--quiet",
                EXAMPLE, e.skeleton, broken_import, broken_hook)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return e


def _json(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Warning: ")]


def test_plugins_are_installed_in_the_fresh_venv_only(env):
    code = ("import importlib.metadata as m, importlib.util as u, gankit_lsgan_mnist, json; "
            "print(json.dumps([m.version('gankit-lsgan-mnist'), m.version('gankit-hello-mlp'), "
            "gankit_lsgan_mnist.__file__, u.find_spec('torch').origin]))")
    version, skel_version, plugin_file, torch_file = _json(env.run("-c", code))
    assert (version, skel_version) == ("0.1.0", "0.1.0")
    assert Path(plugin_file).is_relative_to(env.purelib)  # the built wheel, not the source
    assert not Path(torch_file).is_relative_to(env.dir)  # torch reused, not reinstalled


def test_list_commands_see_the_plugins_and_broken_ones_only_warn(env):
    proc = env.gankit("list-models", "--json")
    models = {m["name"]: m for m in _json(proc)}
    assert models["lsgan-mnist"]["plugin"] == "lsgan-mnist"
    assert models["lsgan-mnist"]["version"] == "1"
    assert "lsgan-digits" in models["lsgan-mnist"]["aliases"]
    assert models["hello-mlp"]["plugin"] == "hello-mlp"
    assert "dcgan" in models  # built-ins unaffected
    ours = ("lsgan-mnist", "hello-mlp", "broken-import", "broken-hook")
    warnings = [w for w in _warnings(proc.stderr) if any(f"'{n}'" in w for n in ours)]
    assert len(warnings) == 2, proc.stderr
    assert any("'broken-import'" in w and "boom at import" in w for w in warnings)
    assert any("'broken-hook'" in w and "no models today" in w for w in warnings)
    assert "Traceback" not in proc.stderr
    datasets = {d["name"]: d for d in _json(env.gankit("list-datasets", "--json"))}
    assert datasets["digits"]["plugin"] == "lsgan-mnist"
    losses = {x["name"]: x for x in _json(env.gankit("list-losses", "--json"))}
    assert losses["lsgan-pearson"]["plugin"] == "lsgan-mnist"


def test_plugins_command_shows_version_hooks_and_errors(env):
    records = {r["name"]: r for r in _json(env.gankit("plugins", "--json"))}
    good = records["lsgan-mnist"]
    assert (good["distribution"], good["version"], good["builtin"], good["error"]) == (
        "gankit-lsgan-mnist", "0.1.0", False, None)
    assert set(good["hooks"]) == {"register_models", "register_losses", "register_datasets",
                                  "on_train_end", "register_commands"}
    bad = records["broken-import"]
    assert (bad["distribution"], bad["version"]) == ("gankit-broken-import", "6.6.6")
    assert bad["error"] == "RuntimeError: boom at import"
    hooky = records["broken-hook"]
    assert hooky["error"] == "ValueError in register_models: no models today"
    assert set(hooky["hooks"]) == {"register_models", "on_step_end"}
    assert records["dcgan"]["builtin"] and records["dcgan"]["error"] is None
    table = env.gankit("plugins")  # the rich table starts too
    assert table.returncode == 0 and "lsgan-mnist" in table.stdout
    assert env.gankit("--help").returncode == 0


def test_train_sample_and_command_use_the_plugin(env):
    out = env.work / "runs"
    proc = env.gankit("train", "lsgan-mnist", "--dataset", "digits", "--loss", "lsgan-pearson",
                      *TINY, "--out", out, "--name", "run")
    assert proc.returncode == 0, proc.stderr
    run = out / "run"
    config = json.loads((run / "config.json").read_text())
    assert (config["model"], config["loss"], config["data"]["name"]) == (
        "lsgan-mnist", "lsgan-pearson", "digits")
    assert config["data"]["channels"] == 1 and config["data"]["size"] == 28
    # the plugin's on_train_end hook drew the loss curve
    assert (run / "loss-curve.png").read_bytes()[:4] == b"\x89PNG"
    # the broken plugin's on_step_end raised on step 1: one warning, then it was skipped
    step_warnings = [w for w in _warnings(proc.stderr) if "on_step_end" in w]
    assert len(step_warnings) == 1 and "'broken-hook'" in step_warnings[0]
    ckpt = run / "checkpoints" / "step-0000002.safetensors"
    from gankit import Checkpoint

    c = Checkpoint(ckpt)
    assert (c.model, c.model_version, c.plugin, c.plugin_version) == (
        "lsgan-mnist", "1", "lsgan-mnist", "0.1.0")

    sample = env.gankit("sample", run, "-n", "4", "--out", env.work / "s.png")
    assert sample.returncode == 0, sample.stderr
    import numpy as np
    from PIL import Image

    with Image.open(env.work / "s.png") as im:
        rgb = np.asarray(im.convert("RGB"))
    assert rgb.shape[0] > 28 and (rgb[..., 0] == rgb[..., 2]).all()  # gray: one-channel model

    curve = env.gankit("loss-curve", run, "--out", env.work / "curve.png")
    assert curve.returncode == 0, curve.stderr
    assert (env.work / "curve.png").stat().st_size > 0


def test_load_plugins_env_var_restricts_third_party_plugins(env):
    none = env.environ(GANKIT_LOAD_PLUGINS="")
    proc = env.gankit("list-models", "--json", env=none)
    names = {m["name"] for m in _json(proc)}
    assert "dcgan" in names and not {"lsgan-mnist", "hello-mlp"} & names
    assert _warnings(proc.stderr) == []  # the broken plugins are not even imported
    records = _json(env.gankit("plugins", "--json", env=none))
    assert all(r["builtin"] for r in records)
    gone = env.gankit("loss-curve", env.work, env=none)
    assert gone.returncode == 2 and "No such command 'loss-curve'" in gone.stderr

    only = env.environ(GANKIT_LOAD_PLUGINS="gankit-lsgan-mnist")  # a distribution name
    proc = env.gankit("list-models", "--json", env=only)
    names = {m["name"] for m in _json(proc)}
    assert "lsgan-mnist" in names and "hello-mlp" not in names
    assert _warnings(proc.stderr) == []


def test_plugins_own_test_suites_pass_installed(env):
    """The example's tests and the untouched `gankit new-plugin` skeleton's tests, run
    against the installed wheels with gankit.testing."""
    proc = env.run("-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", env.work,
                   EXAMPLE / "tests", env.skeleton / "tests", cwd=env.work)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout
    n_example = sum(1 for line in (EXAMPLE / "tests" / "test_lsgan_mnist.py").read_text()
                    .splitlines() if line.startswith("def test_"))
    n_skeleton = sum(1 for p in (env.skeleton / "tests").glob("test_*.py")
                     for line in p.read_text().splitlines() if line.startswith("def test_"))
    assert f"{n_example + n_skeleton} passed" in proc.stdout


# -- the same failures in-process, through fake entry points ---------------------------------


def _example_module():
    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))
    import gankit_lsgan_mnist

    return gankit_lsgan_mnist


def _exploding_module():
    mod = types.ModuleType("fake_exploding")
    calls = mod.calls = []

    def on_step_end(trainer, step, losses):
        calls.append(step)
        raise RuntimeError("observer exploded")

    def on_train_end(trainer, status):
        calls.append(status)

    def register_commands(cli):
        raise KeyError("commands")

    for f in (on_step_end, on_train_end, register_commands):
        setattr(mod, f.__name__, hookimpl(f))
    return mod


def _raise_at_import():
    raise ImportError("No module named 'missing_dependency'")


def _fake_plugins(warnings, monkeypatch):
    monkeypatch.delenv("GANKIT_LOAD_PLUGINS", raising=False)  # conftest sets it to ''
    # the real built-ins, wrapped (EntryPoint.__eq__ cannot compare with other types)
    builtins = [FakeEP(ep.name, ep.dist, ep.load) for ep in metadata.entry_points(group="gankit")
                if ep.dist is not None and ep.dist.name == "gankit"]
    exploding = _exploding_module()
    fakes = [
        FakeEP("lsgan-mnist", FakeDist("gankit-lsgan-mnist", "0.1.0"), _example_module),
        FakeEP("exploding", FakeDist("gankit-exploding", "2.0"), lambda: exploding),
        FakeEP("broken", FakeDist("gankit-broken", "1.0"), _raise_at_import),
    ]
    p = Plugins(entry_points=builtins + fakes, warn=warnings.append)
    p.load_entry_points()
    return p, exploding


def test_fake_broken_plugins_gankit_still_starts_and_plugins_shows_errors(monkeypatch):
    warnings = []
    p, _ = _fake_plugins(warnings, monkeypatch)
    assert warnings == ["plugin 'broken' (gankit-broken 1.0) failed to load: ImportError: "
                        "No module named 'missing_dependency' (run with --debug for the "
                        "traceback)"]
    assert gt.run_cli(["--help"], plugins=p).exit_code == 0
    result = gt.run_cli(["plugins", "--json"], plugins=p)
    assert result.exit_code == 0, result.output
    records = {r["name"]: r for r in json.loads(result.stdout)}
    assert records["broken"]["error"] == "ImportError: No module named 'missing_dependency'"
    assert records["broken"]["version"] == "1.0" and records["broken"]["hooks"] == []
    assert records["exploding"]["error"] == "KeyError in register_commands: 'commands'"
    assert records["lsgan-mnist"]["error"] is None
    assert "loss-curve" in gt.run_cli(["--help"], plugins=p).stdout


def test_fake_plugin_raising_in_a_hook_does_not_stop_training(tmp_path, monkeypatch):
    warnings = []
    p, exploding = _fake_plugins(warnings, monkeypatch)
    result = gt.run_cli(["train", "lsgan-mnist", "--dataset", "digits", *TINY,
                         "--out", tmp_path, "--name", "r"], plugins=p)
    assert result.exit_code == 0, result.output
    # called on step 1, raised, then never again; its other hook still ran
    assert exploding.calls == [1, "completed"]
    raised = [w for w in warnings if "raised in on_step_end" in w]
    assert raised == ["plugin 'exploding' raised in on_step_end: RuntimeError: observer "
                      "exploded; it is not called again in this run"]
    assert (tmp_path / "r" / "loss-curve.png").exists()  # the good plugin's hook ran
    assert (tmp_path / "r" / "checkpoints" / "step-0000002.safetensors").exists()


def test_changed_architecture_version_is_refused_with_one_line(tmp_path):
    """A plugin bumps its model's `version`: old checkpoints are refused, clearly."""
    mod = _example_module()
    p = gt.check_plugin(mod, "lsgan-mnist", light_import=False)
    result = gt.run_cli(["train", "lsgan-mnist", "--dataset", "digits", *TINY,
                         "--out", tmp_path, "--name", "r"], plugins=p)
    assert result.exit_code == 0, result.output
    model = p.models().get("lsgan-mnist")
    model.version = "2"  # as if the new release changed the networks
    try:
        with pytest.raises(CheckpointError, match=r"made with version 1 of model 'lsgan-mnist', "
                                                  r"installed is version 2"):
            load_model(tmp_path / "r", plugins=p)
        result = gt.run_cli(["sample", tmp_path / "r", "--out", tmp_path / "x.png"], plugins=p)
        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ")
        assert "installed is version 2" in lines[0]
    finally:
        del model.version  # back to the class attribute


def test_new_plugin_names_folders_and_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = gt.run_cli(["new-plugin", "gankit-style-gan"])  # the prefix is optional
    assert result.exit_code == 0, result.output
    made = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert made == ["gankit-style-gan/README.md", "gankit-style-gan/gankit_style_gan/__init__.py",
                    "gankit-style-gan/gankit_style_gan/blobs.py",
                    "gankit-style-gan/gankit_style_gan/cli.py",
                    "gankit-style-gan/gankit_style_gan/nets.py", "gankit-style-gan/pyproject.toml",
                    "gankit-style-gan/tests/test_gankit_style_gan.py"]
    init = (tmp_path / "gankit-style-gan" / "gankit_style_gan" / "__init__.py").read_text()
    assert 'name = "style-gan"' in init and "class StyleGan(UnconditionalGAN)" in init

    bad = gt.run_cli(["new-plugin", "My_GAN"])
    assert bad.exit_code == 2
    assert bad.stderr.strip().splitlines() == [
        "Error: new-plugin 'my_gan': use lowercase letters, digits and single hyphens, "
        "starting with a letter (e.g. my-gan)"]
    again = gt.run_cli(["new-plugin", "style-gan"])  # its folder is not empty now
    assert again.exit_code == 1
    assert again.stderr.strip().splitlines() == [
        "Error: --dir gankit-style-gan: already exists and is not empty; choose another folder"]
