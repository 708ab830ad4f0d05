"""The trainer's state is one ordered list of parts (gankit/train/parts.py), which
collect, restore and the resume checks loop over; what models and hooks may use of the
trainer is one documented list (gankit/train/protocol.py)."""

from __future__ import annotations

import ast
import re

import pytest
import torch

from gankit import CheckpointError
from gankit.checkpoints import Checkpoint
from gankit.train import TrainOptions, Trainer, parts, plan, protocol

from kit import ROOT

SETS = {"ngf": "8", "ndf": "8"}


def _options(tmp_path, name="r", **kw):
    base = dict(model="dcgan", image_size=32, batch_size=8, steps=2, out=str(tmp_path / "runs"),
                name=name, sample_every=0, checkpoint_every=2, log_every=2, grid=4, seed=1,
                device="cpu")
    return TrainOptions(**{**base, **kw})


def _trainer(tmp_path, **kw):
    return Trainer.from_plan(plan(_options(tmp_path, **kw), sets=SETS))


def _flat(state, prefix="s"):
    """name -> tensor or value, as a checkpoint names them."""
    if isinstance(state, dict):
        out = {}
        for k, v in state.items():
            out.update(_flat(v, f"{prefix}.{k}"))
        return out
    if isinstance(state, (list, tuple)):
        out = {}
        for i, v in enumerate(state):
            out.update(_flat(v, f"{prefix}.{i}"))
        return out
    return {prefix: state}


@pytest.fixture
def trained(tmp_path):
    t = _trainer(tmp_path)
    t.fit()
    return t


def test_every_checkpoint_entry_is_one_part(trained):
    keys = [p.key for p in trained.state_parts()]
    assert len(keys) == len(set(keys))
    s = trained.state()
    assert sorted(s) == sorted(k for k in keys if k in s)  # collect: the parts' entries
    # in the order earlier versions saved them (the file's metadata is unchanged)
    assert list(s) == ["step", "nets", "opts", "scheds", "rng", "extra", "batcher",
                       "fixed_noise", "ema", "augment"]
    # the tensor names every checkpoint of a run with EMA has (old ones resume by them)
    assert {"nets", "opts", "scheds", "batcher", "fixed_noise", "ema", "rng", "extra",
            "step"} <= set(s)
    assert keys[-1] == "step" and keys.index("rng") > keys.index("batcher")
    for part in trained.state_parts():
        for method in ("state_dict", "load_state_dict", "check_state"):
            assert callable(getattr(part, method)), (part.key, method)


def test_parts_restore_what_they_saved(trained, tmp_path):
    saved = trained.state()
    flat = _flat(saved)
    other = _trainer(tmp_path, name="other", seed=5)
    first = lambda t: next(iter(t.nets["G"].parameters()))  # noqa: E731
    assert not torch.equal(first(other), first(trained))
    other.load_state(saved)
    again = _flat(other.state())
    assert set(again) == set(flat)
    for k, v in flat.items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(again[k], v), k
        else:
            assert again[k] == v, k
    other.run.unlock()


class _Counter(parts.Part):
    """A piece of state a future gankit might add: one more part, nothing else."""

    key = "counter"
    loaded = []

    def state_dict(self):
        return {"n": torch.tensor([3.0, 4.0])}

    def load_state_dict(self, saved) -> None:
        _Counter.loaded.append(saved)

    def check_state(self, check, saved, fresh) -> None:
        if saved is parts.ABSENT:
            check.fail("'s.counter' is missing")
        check.like(saved["n"], fresh["n"], "s.counter.n", "the counter")


def test_a_new_part_is_saved_checked_and_restored(tmp_path, monkeypatch):
    """Collect, restore and the resume checks are loops over the list: one more part is
    saved under its key, checked before a resume and given back."""
    real = parts.parts
    monkeypatch.setattr(parts, "parts", lambda t: [*real(t), _Counter(t)])
    from gankit.train import state as train_state

    monkeypatch.setattr(train_state, "parts", parts.parts)
    t = _trainer(tmp_path)
    t.fit()
    ck = Checkpoint(t.run.checkpoint_path(2))
    assert "counter.n" in ck.tensor_info("s.")
    _Counter.loaded.clear()
    resumed = Trainer.from_plan(plan(TrainOptions(model=None, steps=4), resume=str(t.run_dir),
                                     explicit={"steps"}))
    assert len(_Counter.loaded) == 1 and torch.equal(_Counter.loaded[0]["n"],
                                                     torch.tensor([3.0, 4.0]))
    resumed.run.unlock()
    monkeypatch.setattr(_Counter, "state_dict", lambda self: {"n": torch.zeros(3)})
    with pytest.raises(CheckpointError, match=r"s\.counter\.n.*shape \[2\].*needs \[3\]"):
        Trainer.from_plan(plan(TrainOptions(model=None, steps=4), resume=str(t.run_dir),
                               explicit={"steps"}))


# -- the trainer protocol ------------------------------------------------------------------


def test_protocol_names_exist_on_a_trainer(trained):
    missing = [n for n in protocol.PUBLIC if not hasattr(trained, n)]
    assert not missing, f"the trainer has no {missing}"
    assert all(callable(getattr(trained, n)) for n in protocol.CALL)


def test_protocol_is_the_documented_table():
    doc = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = doc.split("### The trainer's public names", 1)[1].split("\n### ", 1)[0]
    documented = re.findall(r"^\| `trainer\.(\w+)` \|", section, flags=re.M)
    assert documented == list(protocol.PUBLIC)


def _trainer_names(fn) -> set:
    """The parameters of ``fn`` that hold a trainer: ``trainer``, and a method's ``t``."""
    args = [a.arg for a in fn.args.args]
    names = {"trainer"} & set(args)
    if args[:1] == ["self"] and "t" in args:
        names.add("t")
    return names


def _uses(tree) -> list:
    """(line, name) of every trainer attribute the functions of ``tree`` read."""
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        names = _trainer_names(fn)
        for node in ast.walk(fn):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in names):
                found.append((node.lineno, node.attr))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in ("getattr", "hasattr") and node.args
                  and isinstance(node.args[0], ast.Name) and node.args[0].id in names):
                name = node.args[1] if len(node.args) > 1 else None
                found.append((node.lineno, name.value if isinstance(name, ast.Constant)
                              else f"{node.func.id}()"))
    return found


def test_builtin_plugins_use_only_the_protocol():
    files = [*sorted((ROOT / "plugins").rglob("*.py")), ROOT / "gankit" / "models.py",
             *sorted((ROOT / "examples").rglob("*.py"))]
    bad = [f"{p.relative_to(ROOT)}:{line}: trainer.{name}"
           for p in files for line, name in _uses(ast.parse(p.read_text(encoding="utf-8")))
           if name not in protocol.PUBLIC]
    assert not bad, "outside the trainer protocol (gankit/train/protocol.py): " + "; ".join(bad)


def test_the_scan_sees_a_private_use():
    tree = ast.parse("def on_log(trainer, step, metrics):\n    trainer._tick()\n"
                     "class M:\n    def train_step(self, t):\n"
                     "        return getattr(t, '_rank', 0) + getattr(t, name)\n")
    assert sorted(n for _, n in _uses(tree)) == ["_rank", "_tick", "getattr()"]
