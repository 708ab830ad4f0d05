"""Checkpoints are validated whole before anything is loaded (gankit/train/validate.py).

Hostile variants of real tiny dcgan and cyclegan checkpoints, one kind of damage each
(a tensor of the wrong shape or dtype, values out of range, NaN), placed in a copy of
their run folder; every command that reads them (``train --resume``, ``sample``,
``interpolate``, ``evaluate``, ``translate``) must refuse them with one ``Error:`` line
naming the file and the tensor, exit 1 or 2, no traceback, no death by a signal, and
``--resume`` must leave the run folder as it was. The commands run in a child process
(see kit.checkpoints.run_jobs); a few also run as real ``gankit`` processes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from kit.checkpoints import (check_refused, lines_of, newest, run_jobs, snapshot,
                            train_cyclegan, train_dcgan, variant)

NAN, INF = float("nan"), float("inf")


# -- edits ---------------------------------------------------------------------------------


def shape(name, *dims):
    def edit(p):
        p.tensors[name] = torch.zeros(dims, dtype=p.tensors[name].dtype)
    return edit


def dtype(name, dt):
    def edit(p):
        p.tensors[name] = p.tensors[name].to(dt)
    return edit


def value(name, index, v):
    def edit(p):
        t = p.tensors[name].clone()
        t.view(-1)[index] = v
        p.tensors[name] = t
    return edit


def tensor(name, t):
    def edit(p):
        p.tensors[name] = t
    return edit


def copy_value(name, src, dst):
    def edit(p):
        t = p.tensors[name].clone()
        t[dst] = t[src]
        p.tensors[name] = t
    return edit


def prefix(name, n):
    def edit(p):
        p.tensors[name] = p.tensors[name][:n].clone()
    return edit


def skel(path, v):
    return lambda p: p.set(path, v)


def drop(path):
    return lambda p: p.drop(path)


def rename(path, new):
    return lambda p: p.rename_key(path, new)


def lst(*items, is_tuple=False):
    return {"__l__": list(items), "tuple": is_tuple}


def both(*edits):
    def edit(p):
        for e in edits:
            e(p)
    return edit


def extra_tensor(net):
    def edit(p):
        name = f"s.nets.{net}.bogus"
        p.tensors[name] = torch.zeros(3)
        p.set(["nets", net, "bogus"], {"__t__": name})
    return edit


def meta(field, key, v):
    def edit(p):
        doc = json.loads(p.meta[field])
        doc[key] = v
        p.meta[field] = json.dumps(doc)
    return edit


def dangling(name):
    def edit(p):
        del p.tensors[name]
    return edit


# readers of a generator's tensors (dcgan) and of cyclegan's
G = ("resume", "sample", "interpolate", "evaluate")
T = ("resume", "translate")
R = ("resume",)

# id: (model, edit, commands, words in the error line)
CASES = {
    # networks
    "net-G-dtype": ("dcgan", dtype("s.nets.G.1.weight", torch.float64), G,
                    ["'s.nets.G.1.weight'", "dtype float64", "needs float32"]),
    "net-G-int": ("dcgan", dtype("s.nets.G.2.running_var", torch.int64), G,
                  ["'s.nets.G.2.running_var'", "dtype int64"]),
    "net-G-nan": ("dcgan", value("s.nets.G.4.weight", 5, NAN), G,
                  ["'s.nets.G.4.weight'", "non-finite"]),
    "net-G-inf": ("dcgan", value("s.nets.G.10.weight", 0, -INF), G,
                  ["'s.nets.G.10.weight'", "non-finite"]),
    "net-G-shape": ("dcgan", shape("s.nets.G.2.bias", 33), G, ["G.2.bias", "[33]"]),
    "net-D-nan": ("dcgan", value("s.nets.D.0.weight", 0, NAN), R,
                  ["'s.nets.D.0.weight'", "non-finite"]),
    "net-D-counter": ("dcgan", dtype("s.nets.D.3.num_batches_tracked", torch.float32), R,
                      ["'s.nets.D.3.num_batches_tracked'", "dtype float32", "int64"]),
    "net-D-unexpected": ("dcgan", extra_tensor("D"), R, ["'s.nets.D.bogus'", "not part of"]),
    # optimizer moments, step counts and parameter groups
    "moment-bigger": ("dcgan", shape("s.opts.D.state.0.exp_avg", 16, 3, 4, 4), R,
                      ["tensor 's.opts.D.state.0.exp_avg' has shape [16, 3, 4, 4], the "
                       "optimizer needs [8, 3, 4, 4]"]),
    "moment-smaller": ("dcgan", shape("s.opts.G.state.0.exp_avg_sq", 100, 32, 4, 2), R,
                       ["'s.opts.G.state.0.exp_avg_sq'", "[100, 32, 4, 4]"]),
    "moment-flat": ("dcgan", shape("s.opts.D.state.7.exp_avg", 512), R,
                    ["'s.opts.D.state.7.exp_avg'", "[512]", "[1, 32, 4, 4]"]),
    "moment-int": ("dcgan", dtype("s.opts.G.state.1.exp_avg", torch.int64), R,
                   ["'s.opts.G.state.1.exp_avg'", "float dtype"]),
    "moment-nan": ("dcgan", value("s.opts.G.state.3.exp_avg", 2, NAN), R,
                   ["'s.opts.G.state.3.exp_avg'", "non-finite"]),
    "moment-sq-negative": ("dcgan", value("s.opts.D.state.2.exp_avg_sq", 0, -1.0), R,
                           ["'s.opts.D.state.2.exp_avg_sq'", "below 0"]),
    "moment-missing": ("dcgan", drop(["opts", "D", "state", 0, "exp_avg_sq"]), R,
                       ["'s.opts.D.state.0.exp_avg_sq' is missing"]),
    "step-vector": ("dcgan", shape("s.opts.G.state.0.step", 3), R,
                    ["'s.opts.G.state.0.step'", "scalar"]),
    "step-negative": ("dcgan", tensor("s.opts.G.state.5.step", torch.tensor(-1.0)), R,
                      ["'s.opts.G.state.5.step'", "below 0"]),
    "step-nan": ("dcgan", tensor("s.opts.D.state.1.step", torch.tensor(NAN)), R,
                 ["'s.opts.D.state.1.step'", "non-finite"]),
    "state-unknown-param": ("dcgan", rename(["opts", "D", "state", 0], 42), R,
                            ["'s.opts.D.state.42'", "no parameter 42"]),
    "group-params": ("dcgan", skel(["opts", "D", "param_groups", 0, "params"],
                                   lst(1, 0, 2, 3, 4, 5, 6, 7)), R,
                     ["'s.opts.D.param_groups.0.params'"]),
    "group-lr-string": ("dcgan", skel(["opts", "G", "param_groups", 0, "lr"], "fast"), R,
                        ["'s.opts.G.param_groups.0.lr'", "finite number"]),
    "group-lr-inf": ("dcgan", skel(["opts", "G", "param_groups", 0, "lr"], INF), R,
                     ["'s.opts.G.param_groups.0.lr'", "finite number"]),
    "group-lr-missing": ("dcgan", drop(["opts", "D", "param_groups", 0, "lr"]), R,
                         ["'s.opts.D.param_groups.0.lr' is missing"]),
    "group-betas-short": ("dcgan", skel(["opts", "D", "param_groups", 0, "betas"],
                                        lst(0.5, is_tuple=True)), R,
                          ["'s.opts.D.param_groups.0.betas'", "2 numbers"]),
    "group-beta-one": ("dcgan", skel(["opts", "D", "param_groups", 0, "betas"],
                                     lst(1.0, 0.999, is_tuple=True)), R, ["[0, 1)"]),
    "group-flags-clash": ("dcgan", skel(["opts", "G", "param_groups", 0, "foreach"], True), R,
                          ["'s.opts.G.param_groups.0'", "cannot run with"]),
    "groups-two": ("dcgan", lambda p: p.node("opts", "G", "param_groups")["__l__"].append(
        p.node("opts", "G", "param_groups", 0)), R, ["'s.opts.G.param_groups' has 2 groups"]),
    "opt-missing": ("dcgan", drop(["opts", "G"]), R, ["'s.opts.G' is missing"]),
    # random generators
    "rng-short": ("dcgan", shape("s.rng.cpu", 100), R, ["'s.rng.cpu'", "[100]", "[5056]"]),
    "rng-dtype": ("dcgan", dtype("s.rng.cpu", torch.int64), R, ["'s.rng.cpu'", "dtype int64"]),
    "rng-garbage": ("dcgan", tensor("s.rng.cpu", torch.full((5056,), 255, dtype=torch.uint8)),
                    R, ["'s.rng.cpu'", "not a valid random generator state"]),
    "rng-missing": ("dcgan", drop(["rng", "cpu"]), R, ["'s.rng.cpu' is missing"]),
    "batcher-gen-garbage": ("dcgan", tensor("s.batcher.gen", torch.zeros(5056, dtype=torch.uint8)),
                            R, ["'s.batcher.gen'", "not a valid random generator state"]),
    # the batcher's permutation and position
    "perm-duplicate": ("dcgan", copy_value("s.batcher.perm", 0, 1), R,
                       ["'s.batcher.perm'", "not a permutation", "appears 2 times"]),
    "perm-index-n": ("dcgan", value("s.batcher.perm", 0, 16), R,
                     ["'s.batcher.perm'", "index 16", "0..15"]),
    "perm-negative": ("dcgan", value("s.batcher.perm", 3, -1), R,
                      ["'s.batcher.perm'", "index -1"]),
    "perm-int32": ("dcgan", dtype("s.batcher.perm", torch.int32), R,
                   ["'s.batcher.perm'", "int64 permutation"]),
    "perm-length": ("dcgan", prefix("s.batcher.perm", 15), R,
                    ["'s.batcher.perm' orders 15 samples", "now has 16"]),
    "pos-beyond-n": ("dcgan", skel(["batcher", "pos"], 17), R,
                     ["'s.batcher.pos' is 17", "[0, 16]"]),
    "pos-negative": ("dcgan", skel(["batcher", "pos"], -8), R, ["'s.batcher.pos' is -8"]),
    "pos-string": ("dcgan", skel(["batcher", "pos"], "8"), R, ["'s.batcher.pos'", "an int"]),
    "epoch-negative": ("dcgan", skel(["batcher", "epoch"], -1), R, ["'s.batcher.epoch' is -1"]),
    # the global step
    "state-step-negative": ("dcgan", skel(["step"], -1), R, ["'s.step' is -1"]),
    "state-step-float": ("dcgan", skel(["step"], 4.5), R, ["'s.step'", "an int"]),
    "state-step-mismatch": ("dcgan", skel(["step"], 5), R, ["'s.step' is 5", "gankit.step 4"]),
    # the fixed noise
    "noise-shape": ("dcgan", shape("s.fixed_noise", 64, 99), R,
                    ["'s.fixed_noise'", "[64, 99]", "[N, 100]"]),
    "noise-nan": ("dcgan", value("s.fixed_noise", 7, NAN), R, ["'s.fixed_noise'", "non-finite"]),
    "noise-dtype": ("dcgan", dtype("s.fixed_noise", torch.float16), R,
                    ["'s.fixed_noise'", "dtype float16"]),
    # the skeleton names a tensor the file lacks
    "dangling": ("dcgan", dangling("s.fixed_noise"), R, ["tensor 's.fixed_noise' is missing"]),
    # metadata that would make a command allocate what the run never did
    "config-D-huge": ("dcgan", meta("gankit.config", "ndf", 8007), ("sample",),
                      ["weights do not fit", "D."]),
    "saved-grid-huge": ("dcgan", meta("gankit.train", "grid", 10**9), R, ["grid 1000000000"]),
    "saved-image-size": ("dcgan", meta("gankit.train", "image_size", 4096), R,
                         ["image_size 4096", "32-pixel images"]),
    "saved-seed-huge": ("dcgan", meta("gankit.train", "seed", 10**30), R, ["seed 1" + "0" * 30]),
    "saved-grayscale": ("dcgan", meta("gankit.train", "grayscale", ""), R, ["grayscale ''"]),
    "saved-log-every": ("dcgan", meta("gankit.train", "log_every", 0), R, ["--log-every 0"]),
    # cyclegan: pools, its generators, schedulers, the second batcher
    "cg-pool-shape": ("cyclegan", shape("s.extra.pool_a.images", 8, 1, 32, 32), R,
                      ["'s.extra.pool_a.images'", "[8, 1, 32, 32]", "[N, 3, 32, 32]"]),
    "cg-pool-nan": ("cyclegan", value("s.extra.pool_b.images", 100, NAN), R,
                    ["'s.extra.pool_b.images'", "non-finite"]),
    "cg-pool-gen": ("cyclegan", tensor("s.extra.pool_gen", torch.full((5056,), 7, dtype=torch.uint8)),
                    R, ["'s.extra.pool_gen'", "not a valid random generator state"]),
    "cg-crop-gen-shape": ("cyclegan", shape("s.extra.crop_gen", 10), R,
                          ["'s.extra.crop_gen'", "[10]", "[5056]"]),
    "cg-perm-b": ("cyclegan", copy_value("s.batcher_b.perm", 0, 4), R,
                  ["'s.batcher_b.perm'", "not a permutation"]),
    "cg-sched-lr": ("cyclegan", skel(["scheds", "D_A", "base_lrs"], lst("x")), R,
                    ["'s.scheds.D_A.base_lrs.0'", "finite number"]),
    "cg-sched-groups": ("cyclegan", skel(["scheds", "G_BA", "base_lrs"], lst(0.1, 0.2)), R,
                        ["'s.scheds.G_BA.base_lrs' has 2 entries"]),
    "cg-sched-epoch": ("cyclegan", skel(["scheds", "G_AB", "last_epoch"], "four"), R,
                       ["'s.scheds.G_AB.last_epoch'", "an int"]),
    "cg-moment": ("cyclegan", shape("s.opts.D_B.state.0.exp_avg", 8, 3, 4, 5), R,
                  ["'s.opts.D_B.state.0.exp_avg'", "[8, 3, 4, 4]"]),
    "cg-G-nan": ("cyclegan", value("s.nets.G_AB.model.1.weight", 9, NAN), T,
                 ["'s.nets.G_AB.model.1.weight'", "non-finite"]),
    "cg-G-dtype": ("cyclegan", dtype("s.nets.G_AB.model.1.bias", torch.bfloat16), T,
                   ["'s.nets.G_AB.model.1.bias'", "dtype bfloat16"]),
}


def commands(cmd: str, ck, out, image) -> list:
    return {
        "resume": ["train", "--resume", ck, "--steps", "5"],
        "sample": ["sample", ck, "-n", "4", "--out", out / "s.png"],
        "interpolate": ["interpolate", ck, "--steps", "3", "--out", out / "interp"],
        "evaluate": ["evaluate", ck, "-n", "10", "--json"],
        "translate": ["translate", ck, image, "--out", out / "translated"],
    }[cmd]


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt-validation")
    return {"root": root, "dcgan": train_dcgan(root), "cyclegan": train_cyclegan(root)}


@pytest.fixture(scope="module")
def results(runs):
    """Every case's variant, every command it applies to, run once in a child process."""
    root = runs["root"]
    jobs, made = [], {}
    image = next((root / "photos").glob("*.png"))
    for case, (model, edit, cmds, _words) in CASES.items():
        ck = variant(runs[model], root / "variants" / case, edit)
        out = root / "out" / case
        out.mkdir(parents=True)
        made[case] = {"ck": ck, "run": ck.parent.parent, "out": out,
                      "before": snapshot(ck.parent.parent)}
        for cmd in cmds:
            jobs.append({"id": f"{case}/{cmd}", "args": [str(a) for a in
                                                        commands(cmd, ck, out, image)]})
    res = run_jobs(jobs, root)
    return {"jobs": res, "made": made}


# -- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case, cmd", [(c, cmd) for c, v in CASES.items() for cmd in v[2]])
def test_hostile_checkpoint_refused(case, cmd, results):
    made = results["made"][case]
    res = results["jobs"][f"{case}/{cmd}"]
    ck = made["ck"]
    where = f"{made['run'].name}/checkpoints/{ck.name}"
    check_refused(res, where, *CASES[case][3])
    if cmd == "resume":  # refused before from_plan writes anything: the folder as it was
        assert snapshot(made["run"]) == made["before"]
    else:
        assert not any(made["out"].iterdir()), list(made["out"].iterdir())


def test_untouched_copies_resume_and_sample(runs):
    """No false alarms: the same checkpoints, rewritten without a change, still resume
    (one more step each) and sample."""
    root = runs["root"]
    jobs = []
    for model in ("dcgan", "cyclegan"):
        ck = variant(runs[model], root / "clean" / model, lambda p: None)
        jobs.append({"id": f"{model}/resume",
                     "args": ["train", "--resume", str(ck), "--steps", "5"]})
    ck = newest(root / "clean" / "dcgan")
    jobs.append({"id": "dcgan/sample", "args": ["sample", str(ck), "-n", "4", "--out",
                                                str(root / "clean" / "s.png")]})
    res = run_jobs(jobs, root)
    for job in jobs:
        r = res[job["id"]]
        assert "died" not in r and r["exception"] is None, r
        assert r["exit_code"] == 0, r["stderr"]
    for model in ("dcgan", "cyclegan"):
        assert newest(root / "clean" / model).name == "step-0000005.safetensors"
    assert (root / "clean" / "s.png").is_file()


def test_validator_runs_before_anything_is_loaded(runs, monkeypatch):
    """The order: a refused checkpoint never reaches Trainer.resume_from."""
    from gankit.errors import CheckpointError
    from gankit.train import loop, plan
    from gankit.train.options import TrainOptions

    ck = variant(runs["dcgan"], runs["root"] / "order", shape("s.opts.D.state.0.exp_avg", 4))
    called = []
    monkeypatch.setattr(loop.Trainer, "resume_from", lambda self, c: called.append(c))
    p = plan(TrainOptions(steps=5), resume=str(ck), explicit={"steps"})
    with pytest.raises(CheckpointError, match=r"s\.opts\.D\.state\.0\.exp_avg"):
        loop.Trainer.from_plan(p)
    assert called == []
    assert not p.run.lock_path.exists()  # the lock is given back


@pytest.mark.parametrize("case, args", [
    ("moment-bigger", lambda ck, out, img: ["train", "--resume", ck, "--steps", "5"]),
    ("net-G-nan", lambda ck, out, img: ["sample", ck, "-n", "4", "--out", out / "real.png"]),
    ("cg-G-dtype", lambda ck, out, img: ["translate", ck, img, "--out", out / "real"]),
])
def test_real_gankit_process(case, args, results, runs):
    """The same refusals through the installed command in its own process."""
    made = results["made"][case]
    img = next((runs["root"] / "photos").glob("*.png"))
    proc = subprocess.run([sys.executable, "-m", "gankit", "-q",
                           *map(str, args(made["ck"], made["out"], img))],
                          capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode in (1, 2), (proc.returncode, proc.stderr)  # < 0: a signal
    assert "Traceback" not in proc.stderr
    lines = lines_of(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert f"{made['run'].name}/checkpoints/{made['ck'].name}" in lines[0]
    assert all(w in lines[0] for w in CASES[case][3]), lines[0]
