"""Runtime lookup of registered models, losses and data sets by name.

``gankit.get_model("dcgan")`` returns the object a plugin registered under that name (or
alias), from the process-wide plugin manager (loaded on first use, exactly as the
command line loads it). An unknown name raises :class:`gankit.UnknownNameError` with a
"did you mean"; when a plugin failed to load and may be the one providing the name,
the message says so.
"""

from __future__ import annotations


def _registry(kind: str, plugins=None):
    if plugins is None:
        from .plugins import get_plugins  # the plugin manager (pluggy): not at `import gankit`

        plugins = get_plugins()
    return plugins.registry(kind)


def get_model(name: str, plugins=None):
    """The registered :class:`gankit.GANModel` called ``name`` (or one of its aliases)."""
    return _registry("model", plugins).get(name)


def get_loss(name: str, plugins=None):
    """The registered :class:`gankit.Loss` called ``name`` (or one of its aliases)."""
    return _registry("loss", plugins).get(name)


def get_dataset(name: str, plugins=None):
    """The registered :class:`gankit.Dataset` called ``name`` (or one of its aliases)."""
    return _registry("dataset", plugins).get(name)
