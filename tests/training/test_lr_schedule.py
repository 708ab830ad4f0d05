"""``gankit.nn.linear_decay``: the one learning-rate schedule the built-in models share
(``--decay-from N``, ``gankit.nn.DECAY_FROM``)."""

from __future__ import annotations

import pytest
import torch

from gankit import UsageError
from gankit import nn as gnn
from gankit.train import TrainOptions


def _rates(steps, **kwargs):
    net = torch.nn.Linear(2, 2)
    opts = {"G": torch.optim.Adam(net.parameters(), lr=1.0),
            "D": torch.optim.Adam(net.parameters(), lr=0.5)}
    sch = gnn.linear_decay(opts, TrainOptions(steps=steps, **kwargs.pop("o", {})), **kwargs)
    if not sch:
        return None
    assert sch.keys() == opts.keys()
    seen = []
    for _ in range(steps):
        seen.append((opts["G"].param_groups[0]["lr"], opts["D"].param_groups[0]["lr"]))
        for k in opts:
            opts[k].step()
            sch[k].step()
    return seen, opts["G"].param_groups[0]["lr"]


def test_constant_then_linear_to_zero_at_the_last_step():
    seen, last = _rates(6, o={"extra": {"decay_from": 2}})
    assert [g for g, _ in seen] == pytest.approx([1.0, 1.0, 1.0, 0.75, 0.5, 0.25])
    assert [d for _, d in seen] == pytest.approx([0.5, 0.5, 0.5, 0.375, 0.25, 0.125])
    assert last == 0.0


def test_default_applies_only_without_the_flag():
    assert _rates(4) is None  # no flag, no default: constant rates, no schedulers
    seen, _ = _rates(4, default=2)
    assert [g for g, _ in seen] == pytest.approx([1.0, 1.0, 1.0, 0.5])
    seen, _ = _rates(4, default=2, o={"extra": {"decay_from": 0}})
    assert [g for g, _ in seen] == pytest.approx([1.0, 0.75, 0.5, 0.25])


@pytest.mark.parametrize("start", [-1, 7])
def test_out_of_range_names_the_flag(start):
    with pytest.raises(UsageError, match=rf"--decay-from {start}: must be between 0 and --steps 6"):
        _rates(6, o={"extra": {"decay_from": start}})


def test_every_model_with_the_flag_shares_the_one_definition(plugins):
    users = [m.name for m in plugins.models() if gnn.DECAY_FROM in m.train_flags]
    assert {"cyclegan", "pix2pix", "vanilla", "projected"} <= set(users)
