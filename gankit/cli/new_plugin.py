"""`gankit new-plugin NAME [--dir PATH]`: the skeleton of a third-party plugin package."""

from __future__ import annotations

import re
from pathlib import Path

import click

from .. import __version__, console
from ..checkpoints import atomic_write
from ..errors import GankitError, UsageError

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

PYPROJECT = '''\
[build-system]
requires = ["hatchling>=1.18"]
build-backend = "hatchling.build"

[project]
name = "gankit-{name}"
version = "0.1.0"
description = "The {name} GAN for gankit"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["gankit>={gankit_version}"]

[project.optional-dependencies]
test = ["pytest>=7"]

# This table is what makes gankit find the plugin: group "gankit", name = plugin name.
[project.entry-points.gankit]
{name} = "{package}"

[tool.hatch.build.targets.wheel]
packages = ["{package}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

INIT = '''\
"""The {name} GAN: a gankit plugin.

gankit imports this module to list models, so it must stay light: no torch here. The
networks live in nets.py, imported inside build().
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gankit import GankitError, UnconditionalGAN, hookimpl


@dataclass
class Config:
    """Architecture options, set with `gankit train {name} --set KEY=VALUE`."""

    z_dim: int = field(default=64, metadata={{"help": "latent size"}})
    hidden: int = field(default=256, metadata={{"help": "width of the hidden layers"}})


class {cls}(UnconditionalGAN):
    name = "{name}"
    summary = "a two-layer MLP GAN (edit me)"
    # Bump when the networks' tensors change: gankit then refuses old checkpoints with a
    # clear message instead of loading weights into the wrong shapes.
    version = "1"
    Config = Config
    defaults = {{"image_size": 32, "batch_size": 64, "lr": 2e-4, "betas": (0.5, 0.999),
                "loss": "bce", "dataset": "sushi", "steps": 2000}}

    def check(self, config, spec):
        for key in ("z_dim", "hidden"):
            if getattr(config, key) < 1:
                raise GankitError(f"--set {{key}}={{getattr(config, key)}}: must be at least 1")

    def build(self, config, spec, loss=None):
        from .nets import build

        return build(config, spec)


@hookimpl
def register_models(register):
    register({cls}())
'''

NETS = '''\
"""The {name} networks (torch is imported here, not in __init__)."""

from __future__ import annotations

import math

from torch import nn


class Generator(nn.Module):
    def __init__(self, z_dim: int, hidden: int, shape):
        super().__init__()
        self.shape = tuple(shape)
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, math.prod(self.shape)), nn.Tanh(),  # samples in [-1, 1]
        )

    def forward(self, z):
        return self.net(z).view(z.shape[0], *self.shape)


class Discriminator(nn.Module):
    def __init__(self, hidden: int, shape):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(shape), hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),  # a raw score (logit): the loss applies any sigmoid
        )

    def forward(self, x):
        return self.net(x)


def build(config, spec):
    return {{
        "G": Generator(config.z_dim, config.hidden, spec.shape),
        "D": Discriminator(config.hidden, spec.shape),
    }}
'''

TEST = '''\
"""The contract tests gankit.testing provides, run on the {name} plugin."""

import json

import pytest

import gankit.testing as gt
from gankit import DataSpec, GankitError

import {package}


def test_plugin_loads():
    plugins = gt.check_plugin({package}, "{name}")
    assert "{name}" in plugins.models()


def test_model_contract(tmp_path):
    plugins = gt.check_plugin({package}, "{name}")
    result = gt.check_model(
        "{name}", plugins=plugins, spec=DataSpec(kind="image", channels=3, size=16),
        sets={{"hidden": 32, "z_dim": 8}}, workdir=tmp_path,
    )
    assert set(result["metrics"]) == {{"loss_d", "loss_g"}}


def test_model_contract_on_vectors():
    plugins = gt.check_plugin({package}, "{name}", light_import=False)
    gt.check_model("{name}", plugins=plugins, spec=DataSpec(kind="vector", dim=2),
                   sets={{"hidden": 16}})


def test_listed_by_gankit():
    plugins = gt.check_plugin({package}, "{name}", light_import=False)
    result = gt.run_cli(["list-models", "--json"], plugins=plugins)
    assert result.exit_code == 0, result.output
    models = {{m["name"]: m for m in json.loads(result.stdout)}}
    assert models["{name}"]["plugin"] == "{name}"


def test_bad_option_is_one_clear_error():
    model = {package}.{cls}()
    with pytest.raises(GankitError, match="--set hidden=0: must be at least 1"):
        model.check(model.Config(hidden=0), DataSpec(kind="image", channels=3, size=32))
'''

README = '''\
# gankit-{name}

A [gankit](https://pypi.org/project/gankit/) plugin that adds the `{name}` model.

```bash
pip install -e .               # registers the "gankit" entry point
gankit list-models             # {name} is listed
gankit plugins                 # with its version and hooks
gankit train {name} --steps 500 --image-size 32
gankit sample                  # from the newest run
```

Options: `gankit list-models --options` (set them with `--set KEY=VALUE`).

## Develop

```bash
pip install -e ".[test]"
python -m pytest               # gankit.testing's contract checks
```

The networks are in `{package}/nets.py`. When you change their tensors (layers, shapes),
bump `version` in `{package}/__init__.py`, so checkpoints of the old architecture are
refused with a clear message instead of failing to load. See gankit's plugin guide
(docs/plugins.md) for every hook and the rest of the contract.
'''


def files_for(name: str) -> dict[str, str]:
    """Relative path -> text of the skeleton for plugin ``name``."""
    package = "gankit_" + name.replace("-", "_")
    cls = "".join(part.capitalize() for part in name.split("-")) + "GAN"
    major_minor = ".".join(__version__.split(".")[:2])
    fmt = {"name": name, "package": package, "cls": cls, "gankit_version": major_minor}
    return {
        "pyproject.toml": PYPROJECT.format(**fmt),
        "README.md": README.format(**fmt),
        f"{package}/__init__.py": INIT.format(**fmt),
        f"{package}/nets.py": NETS.format(**fmt),
        f"tests/test_{package}.py": TEST.format(**fmt),
    }


@click.command("new-plugin")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Folder to create (default: ./gankit-NAME).")
def new_plugin(name, directory):
    """Write the skeleton of a plugin package for model NAME.

    The package has a pyproject.toml with the "gankit" entry point, one model (an MLP
    GAN in NAME's own module), a README and tests using gankit.testing that pass as
    written. Then: cd gankit-NAME && pip install -e ".[test]" && python -m pytest.
    """
    name = name.strip().lower()
    if name.startswith("gankit-"):
        name = name[len("gankit-"):]
    if not NAME_RE.match(name):
        raise UsageError(
            f"new-plugin {name!r}: use lowercase letters, digits and single hyphens, starting "
            "with a letter (e.g. my-gan)"
        )
    target = Path(directory) if directory else Path(f"gankit-{name}")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise GankitError(f"--dir {target}: already exists and is not empty; choose another folder")
    files = files_for(name)
    try:
        for rel, text in files.items():
            atomic_write(target / rel,
                         lambda tmp, text=text: Path(tmp).write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise GankitError(f"--dir {target}: cannot write ({exc.strerror or exc})") from None
    for rel in files:
        console.info(f"  {target / rel}")
    console.info(f"wrote plugin '{name}' in {target}; next: cd {target} && "
                 'pip install -e ".[test]" && python -m pytest')


COMMANDS = [new_plugin]
