"""gankit 0.1.0's ``prepare`` (a plan and its trainer in one call), kept for existing
imports (each use warns): write ``Trainer.from_plan(plan(options, ...))``."""

from __future__ import annotations

from .compat import moved

__getattr__ = moved(__name__, {
    "prepare": "gankit.legacy:prepare",
    "resolve_resume": "gankit.legacy:resolve_resume",
    "TrainOptions": "gankit.train:TrainOptions",
    "Run": "gankit.run:Run",
    "DEFAULT_STEPS": "gankit.train.plan:DEFAULT_STEPS",
    "check_numbers": "gankit.train.plan:check_numbers",
    "load_data": "gankit.train.plan:load_data",
    "plan": "gankit.train.plan:plan",
}, hints={
    "prepare": "gankit.train.Trainer.from_plan(gankit.train.plan(options, ...))",
    "resolve_resume": "gankit.run.Run.for_resume(target)",
})
