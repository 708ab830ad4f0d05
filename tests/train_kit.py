"""A trainer in one call, as many tests build it: the plan, then ``Trainer.from_plan``."""

from __future__ import annotations

from gankit.train import Trainer, plan


def prepare(options, *, sets: dict | None = None, explicit=(), resume=None,
            override: bool = False, plugins=None):
    return Trainer.from_plan(plan(options, plugins, sets=sets, explicit=explicit,
                                  resume=resume, override=override))
