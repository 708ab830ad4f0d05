"""The 0.1 names (gankit.trainer, gankit.training, gankit.runs, atomic_write from
gankit.checkpoints) still work for outside callers, each use with a DeprecationWarning
naming the new import; gankit's own code, its plugins, tests and benchmarks use the new
homes (the only test module that imports the old names is this one)."""

from __future__ import annotations

import ast
import importlib
import warnings
from pathlib import Path

import pytest

from kit import ROOT

OLD_MODULES = ("gankit.trainer", "gankit.training", "gankit.runs")

MOVED = [
    ("gankit.trainer", "TrainOptions", "gankit.train", "TrainOptions"),
    ("gankit.trainer", "Trainer", "gankit.train", "Trainer"),
    ("gankit.trainer", "Interrupted", "gankit.train", "Interrupted"),
    ("gankit.trainer", "Batcher", "gankit.train", "Batcher"),
    ("gankit.trainer", "LR_BACKOFF", "gankit.train", "LR_BACKOFF"),
    ("gankit.trainer", "steps_for_epochs", "gankit.train.plan", "steps_for_epochs"),
    ("gankit.trainer", "writable_dir", "gankit.run", "writable_dir"),
    ("gankit.trainer", "_LossSums", "gankit.train.logbook", "LossSums"),
    ("gankit.trainer", "plugin_version", "gankit.train.state", "plugin_version"),
    ("gankit.training", "plan", "gankit.train", "plan"),
    ("gankit.training", "load_data", "gankit.train", "load_data"),
    ("gankit.training", "check_numbers", "gankit.train.plan", "check_numbers"),
    ("gankit.training", "DEFAULT_STEPS", "gankit.train.plan", "DEFAULT_STEPS"),
    ("gankit.training", "prepare", "gankit.legacy", "prepare"),
    ("gankit.training", "resolve_resume", "gankit.legacy", "resolve_resume"),
    ("gankit.runs", "load_model", "gankit.loading", "load_model"),
    ("gankit.runs", "check_fits", "gankit.loading", "check_fits"),
    ("gankit.runs", "DEFAULT_RUNS", "gankit.run", "DEFAULT_ROOT"),
    ("gankit.runs", "newest_run", "gankit.legacy", "newest_run"),
    ("gankit.runs", "open_checkpoint", "gankit.legacy", "open_checkpoint"),
    ("gankit.checkpoints", "atomic_write", "gankit.files", "atomic_write"),
]


@pytest.mark.parametrize("old, name, home, new", MOVED)
def test_an_outside_caller_is_warned_and_gets_the_same_object(old, name, home, new):
    mod = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} is deprecated") as rec:
        value = getattr(mod, name)
    assert value is getattr(importlib.import_module(home), new)
    assert rec[0].filename == __file__  # the warning points at the caller's line


def test_from_import_warns_at_the_callers_line():
    with pytest.warns(DeprecationWarning, match="from gankit.train import TrainOptions") as rec:
        from gankit.trainer import TrainOptions
    assert TrainOptions is not None
    assert rec[0].filename == __file__


def test_gankit_itself_is_not_warned():
    code = "from gankit.trainer import TrainOptions\nfrom gankit.runs import load_model\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(compile(code, "<inside>", "exec"), {"__name__": "gankit.somewhere"})


def test_unknown_names_are_attribute_errors():
    import gankit.trainer

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        gankit.trainer.nothing  # noqa: B018


def test_checkpoints_run_folder_names_still_work(tmp_path):
    from gankit import checkpoints
    from gankit.run import Run

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert checkpoints.checkpoint_path(tmp_path, 3) == Run(tmp_path).checkpoint_path(3)
        assert checkpoints.list_checkpoints(tmp_path) == []


def _old_imports(src: str, module: tuple = ()) -> list:
    """The old names the source ``src`` of module ``module`` (its dotted parts) uses."""
    tree = ast.parse(src)
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bad += [a.name for a in node.names if a.name in OLD_MODULES]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # inside gankit: resolve against the file's package
                pkg = module[:-node.level]
                mod = ".".join([*pkg, *([mod] if mod else [])])
            names = {a.name for a in node.names}
            if mod in OLD_MODULES:
                bad.append(mod)
            elif mod == "gankit" and names & {"trainer", "training", "runs"}:
                bad.append(f"gankit: {sorted(names & {'trainer', 'training', 'runs'})}")
            elif mod == "gankit.checkpoints" and "atomic_write" in names:
                bad.append("atomic_write from gankit.checkpoints")
        elif (isinstance(node, ast.Attribute) and node.attr == "atomic_write"
              and isinstance(node.value, ast.Name) and node.value.id in ("ckpt", "checkpoints")):
            bad.append("checkpoints.atomic_write")
    return bad


def test_nothing_of_gankit_uses_the_old_names():
    shims = {ROOT / "gankit" / f"{n}.py" for n in ("trainer", "training", "runs", "compat", "legacy")}
    files = [p for d in ("gankit", "plugins", "tests", "benchmarks", "examples", "scripts")
             for p in sorted((ROOT / d).rglob("*.py"))
             if p not in shims and p != Path(__file__) and "fixtures" not in p.parts]
    bad = [f"{p.relative_to(ROOT)}: {b}" for p in files
           for b in _old_imports(p.read_text(encoding="utf-8"),
                                 p.relative_to(ROOT).with_suffix("").parts)]
    assert not bad, bad


def test_the_scan_sees_old_imports():
    src = ("from gankit.trainer import TrainOptions\nimport gankit.runs\n"
           "from gankit.checkpoints import atomic_write\nckpt.atomic_write(1, 2)\n"
           "from .training import prepare\nfrom . import trainer\n")
    assert sorted(_old_imports(src, ("gankit", "x"))) == sorted([
        "gankit.trainer", "gankit.runs", "atomic_write from gankit.checkpoints",
        "checkpoints.atomic_write", "gankit.training", "gankit: ['trainer']"])
