"""The plugin author's test kit: contract checks to run in a plugin's own pytest suite.

Import it as ``gankit.testing`` (``import gankit`` does not import it, and it imports
torch only inside the checks)::

    import gankit.testing as gt
    from gankit import DataSpec

    import gankit_mygan

    def test_plugin_loads():
        gt.check_plugin(gankit_mygan)

    def test_model_contract():
        plugins = gt.check_plugin(gankit_mygan)
        gt.check_model("mygan", plugins=plugins,
                       spec=DataSpec(kind="image", channels=1, size=28),
                       sets={"width": 16})

Every check raises :class:`AssertionError` with a sentence that says what broke and
returns something useful to assert on further. Everything runs on the CPU, in fp32,
on tiny random data, in a temporary folder.

- :func:`check_plugin`: the module loads as a plugin next to gankit's built-ins: its
  hooks validate, registering raises nothing, its names clash neither among themselves
  nor with another installed plugin's (shadowing a built-in name is fine: a note), its
  ``__init__`` does not import torch.
- :func:`check_model`: a model builds, its generator gives samples of the right shape
  and range, one training step runs through the real :class:`gankit.Trainer` (the loop
  ``gankit train`` runs) and changes the generator, and its checkpoint round-trips
  through safetensors: ``gankit.load_model`` (what ``gankit sample`` uses) rebuilds the
  same networks, and the full training state loads back.
- :func:`check_loss`: scalar, finite, differentiable losses for every score shape a
  discriminator may return; a discriminator that is right scores better than one that is
  wrong; the penalty when ``gp_weight > 0``.
- :func:`check_dataset`: the loaded :class:`gankit.Data` has the dtype, layout and
  spec gankit's batcher expects, and loading is deterministic.
- :func:`run_cli`: run ``gankit ARGS...`` in-process with a given plugin manager, to
  test a plugin's commands (or ``train`` with its model) end to end.
- :func:`builtin_plugins`: a fresh plugin manager with gankit's built-ins only.
- :func:`check_loss_stateful`, :func:`assert_broken_plugin_warns`, :func:`plugin_info`
  (added in 0.2): losses that carry state, deliberately broken plugins, and what
  ``gankit plugins --json`` shows for a plugin.

One module per stage (``base``, ``plugin_checks``, ``model_checks``, ``loss_checks``,
``dataset_checks``, ``cli``); the names above, imported from ``gankit.testing``, are the
kit's public API.
"""

from __future__ import annotations

from .base import builtin_plugins
from .cli import run_cli
from .dataset_checks import check_dataset
from .loss_checks import check_loss, check_loss_stateful
from .model_checks import check_model
from .plugin_checks import assert_broken_plugin_warns, check_plugin, plugin_info

__all__ = [
    "builtin_plugins",
    "check_plugin",
    "check_model",
    "check_loss",
    "check_dataset",
    "run_cli",
    # added in gankit 0.2: stateful losses, broken plugins, plugin records
    "check_loss_stateful",
    "assert_broken_plugin_warns",
    "plugin_info",
]
