"""The suite's shared kit: the CLI in-process, image folders, tiny trained runs.

Every test folder imports it as ``from kit import ...`` (pyproject's ``pythonpath``
puts tests/ on the path). The page tests' browser is in ``kit.browser``, the studio's
tiny runs in ``kit.studio``, the hostile checkpoint variants in ``kit.checkpoints``.
The cached run is the ``trained_run`` fixture of tests/conftest.py, made by
``train_tiny`` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: the repository's root (docs/, benchmarks/, gankit/ ...) and the plugin packages the
#: suite installs (tests/fixtures/): tests find files from these, never from their own path
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"

#: flags for a tiny DCGAN that trains in well under a second per step on a CPU
TINY = ["--image-size", "32", "--set", "ngf=8", "--set", "ndf=8", "--batch-size", "8"]
#: the same for CycleGAN (two residual blocks, two images a batch)
CYCLE_TINY = ["--image-size", "32", "--set", "ngf=8", "--set", "ndf=8", "--set", "n_blocks=2",
              "--batch-size", "2"]
#: no sample grids, a metrics line every step
QUICK = ["--sample-every", "0", "--log-every", "1"]


@dataclass
class FakeDist:
    """The distribution an entry point comes from (name and version), as
    ``importlib.metadata`` gives it."""

    name: str
    version: str


class FakeEP:
    """An entry point of the "gankit" group whose ``load()`` calls ``loader``: a plugin
    package without installing one (``monkeypatch`` it into the entry-point lookup)."""

    def __init__(self, name, dist, loader):
        self.name, self.value, self.dist, self._loader = name, f"gankit_{name}", dist, loader

    def load(self):
        return self._loader()


def import_fixture(monkeypatch, folder: Path, package: str):
    """Import plugin ``package`` fresh from the fixture ``folder`` (tests/fixtures/...),
    for this test only."""
    import importlib
    import sys

    monkeypatch.syspath_prepend(str(folder))
    for name in [m for m in sys.modules if m.startswith(package)]:
        monkeypatch.delitem(sys.modules, name)
    return importlib.import_module(package)


def run_fixture_tests(folder: Path):
    """Run a fixture plugin's own tests in a child process against this gankit (the
    fixture first on the path, then this interpreter's, third-party plugins off)."""
    import os
    import subprocess
    import sys

    path = os.pathsep.join([str(folder), *[q for q in sys.path if q]])
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1",
           "GANKIT_LOAD_PLUGINS": ""}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=600)


def cli(*args, quiet: bool = False, env=None, check: bool = False, **invoke):
    """Run gankit in-process through click's CliRunner; returns its Result (``stdout``,
    ``stderr``, ``exit_code``). ``quiet`` passes ``-q``; ``check`` fails the test with
    the command's stderr unless it exits 0."""
    from click.testing import CliRunner

    from gankit.cli import make_cli

    argv = (["-q"] if quiet else []) + [str(a) for a in args]
    res = CliRunner().invoke(make_cli(), argv, catch_exceptions=False, env=env, **invoke)
    if check:
        assert res.exit_code == 0, res.stderr
    return res


def cli_ok(*args, **kw):
    """``cli`` that fails the test with the command's stderr unless it exits 0."""
    return cli(*args, check=True, **kw)


def refused(result, *needles, code=None) -> str:
    """Exactly one stderr line, 'Error: ...', containing every needle; no traceback."""
    assert "Traceback" not in result.output, result.output
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])
    return lines[0]


def accepted(result) -> list[str]:
    """Exit 0 without a traceback; returns the non-empty stderr lines."""
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 0, result.output
    return [ln for ln in result.stderr.splitlines() if ln.strip()]


def noise(w: int, h: int, seed=0, mode: str = "RGB"):
    """A PIL image of uniform noise (RGB or, with ``mode="L"``, grey)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))


def noise_pngs(folder: Path, n: int, size: int = 40, seed: int = 0,
               names="{i:03d}.png", mode: str = "RGB") -> Path:
    """``n`` noise PNGs of ``size`` px in ``folder`` (made if missing); image ``i`` is
    seeded by ``(seed, i)`` and named ``names.format(i=i)`` (or ``names[i]``: a list)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        name = names[i] if isinstance(names, (list, tuple)) else names.format(i=i)
        noise(size, size, seed=[seed, i], mode=mode).save(folder / name)
    return folder


def prepare(options, *, sets: dict | None = None, explicit=(), resume=None,
            override: bool = False, plugins=None):
    """A trainer in one call, as many tests build it: the plan, then ``Trainer.from_plan``."""
    from gankit.train import Trainer, plan

    return Trainer.from_plan(plan(options, plugins, sets=sets, explicit=explicit,
                                  resume=resume, override=override))


def train_tiny(root: Path, *, settle: bool = False, sets: dict | None = None,
               **options) -> Path:
    """A tiny DCGAN (32 px, ngf=ndf=8, batch 8, on the CPU) trained in ``root``; returns
    its run folder. ``options`` are ``TrainOptions`` fields (``steps``, ``sample_every``,
    ...). With ``settle`` the batch-norm statistics are re-estimated on 256 latents
    after training and the last checkpoint rewritten: a few steps leave them near their
    initial values, which makes every eval-mode sample look alike."""
    import torch

    from gankit.plugins import Plugins
    from gankit.train import TrainOptions

    plugins = Plugins()
    plugins.load_entry_points()
    options = {"model": "dcgan", "image_size": 32, "batch_size": 8, "name": "tiny",
               "device": "cpu", **options, "out": str(root)}
    t = prepare(TrainOptions(**options), sets=sets or {"ngf": "8", "ndf": "8"},
                plugins=plugins)
    t.fit()
    if settle:
        G = t.nets["G"]
        for m in G.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None  # a plain average over the batches below
        G.train()
        with torch.no_grad():
            G(torch.randn(256, 100, generator=torch.Generator().manual_seed(1)))
        G.eval()
        t.save_checkpoint()  # rewrites the last step
    return t.run_dir
