"""Fuzzing: real checkpoints mutated at random must be refused in one line or work.

Each round copies a tiny run, applies one to three random mutations to its newest
checkpoint (a tensor's shape, dtype or values, a tensor gone, a reference pointing at
another tensor; a metadata field truncated, deleted, or one of its JSON values replaced
by a value of another type or a huge number) and runs ``gankit train --resume`` (one
more step) or ``gankit sample`` on it. Every round must end alive, without a traceback,
either accepted (exit 0: a harmless mutation) or refused with exactly one ``Error:`` line
naming the file (exit 1 or 2). The rounds run through click's CliRunner inside one child
process (a death by a signal is caught and the child restarted), and a few as real
``gankit`` processes.

``GANKIT_FUZZ_SEED=N`` replays a schedule; the seed is printed with every failure.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest
import torch

from kit.checkpoints import (Parts, check_survived, lines_of, newest, run_jobs, train_cyclegan,
                            train_dcgan)

SEED = int(os.environ.get("GANKIT_FUZZ_SEED", "1234"))
RESUME_ROUNDS, SAMPLE_ROUNDS, PROCESS_ROUNDS = 40, 40, 3
DTYPES = [torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int8,
          torch.uint8, torch.bool]
HOSTILE = ["x", "", None, True, False, [], {}, [1, 2], {"a": 1}, 0, -1, 10**30, -(10**30),
           2**63, 1e308, -1e308, 1e-320, float("inf"), float("nan"), 3.5, "1e999", "\u2603"]


# -- mutations -------------------------------------------------------------------------------


def new_shape(rng, shape):
    shape = list(shape)
    op = rng.choice(["grow", "shrink", "add", "drop", "scalar", "empty"])
    if op in ("grow", "shrink") and shape:
        i = rng.randrange(len(shape))
        shape[i] = max(0, shape[i] + (rng.randint(1, 3) if op == "grow" else -rng.randint(1, 3)))
    elif op == "add":
        shape.insert(rng.randrange(len(shape) + 1), rng.randint(1, 3))
    elif op == "drop" and shape:
        shape.pop(rng.randrange(len(shape)))
    elif op == "scalar":
        shape = []
    else:
        shape = [0]
    return shape


def poke(rng, t):
    t = t.clone()
    flat = t.view(-1)
    if flat.numel() == 0:
        return t
    i = rng.randrange(flat.numel())
    if t.is_floating_point():
        flat[i] = rng.choice([float("nan"), float("inf"), -float("inf"), 1e30, -1.0, 0.0])
    elif t.dtype == torch.bool:
        flat[i] = not bool(flat[i])
    else:
        info = torch.iinfo(t.dtype)
        v = rng.choice([info.min, info.max, -1, 0, int(flat[i]) + 1, flat.numel()])
        flat[i] = min(info.max, max(info.min, v))
        if rng.random() < 0.3:  # a whole run of damage, e.g. a generator state zeroed
            flat[: rng.randint(1, flat.numel())] = rng.choice([0, info.max])
    return t


def json_leaves(node, path=()):
    """Paths to every value in a JSON document (dicts, lists and their leaves)."""
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from json_leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from json_leaves(v, path + (i,))


def json_set(doc, path, value):
    if not path:
        return value
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


def hostile_value(rng, old):
    if isinstance(old, (int, float)) and not isinstance(old, bool) and rng.random() < 0.5:
        return rng.choice([10 ** rng.randint(6, 40), -(10 ** rng.randint(1, 30)),
                           float(f"1e{rng.randint(30, 308)}"), old * 1000 + 7])
    return rng.choice(HOSTILE)


def mutate(rng, p: Parts) -> list[str]:
    """One to three random mutations of ``p``; returns what was done."""
    done = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["shape", "dtype", "values", "values", "drop", "swap",
                           "meta-json", "meta-json", "meta-truncate", "meta-delete"])
        names = sorted(p.tensors)
        name = rng.choice(names)
        if kind == "shape":
            old = p.tensors[name]
            shape = new_shape(rng, old.shape)
            p.tensors[name] = torch.zeros(shape, dtype=old.dtype)
            done.append(f"shape {name} {list(old.shape)} -> {shape}")
        elif kind == "dtype":
            dt = rng.choice(DTYPES)
            p.tensors[name] = p.tensors[name].to(dt)
            done.append(f"dtype {name} -> {dt}")
        elif kind == "values":
            p.tensors[name] = poke(rng, p.tensors[name])
            done.append(f"values {name}")
        elif kind == "drop":
            del p.tensors[name]
            done.append(f"drop {name} (the skeleton still names it)")
        elif kind == "swap":
            other = rng.choice(names)
            p.tensors[name] = p.tensors[other].clone()
            done.append(f"swap {name} <- {other}")
        else:
            field = rng.choice(sorted(k for k in p.meta if k.startswith("gankit.")))
            if field == "gankit.state":
                p.meta[field] = json.dumps(p.skel)
            raw = p.meta[field]
            if kind == "meta-truncate":
                p.meta[field] = raw[: rng.randrange(max(1, len(raw)))]
                done.append(f"truncate {field}")
            elif kind == "meta-delete":
                del p.meta[field]
                done.append(f"delete {field}")
            else:
                try:
                    doc = json.loads(raw)
                except ValueError:
                    doc = raw
                path = rng.choice(list(json_leaves(doc)))
                old = doc
                for k in path:
                    old = old[k]
                new = hostile_value(rng, old)
                doc = json_set(doc, path, new)
                p.meta[field] = doc if isinstance(doc, str) else json.dumps(doc)
                done.append(f"{field}{list(path)} {str(old)[:30]} -> {str(new)[:30]}")
            if field == "gankit.state" and field in p.meta:
                try:
                    p.skel = json.loads(p.meta[field])
                except ValueError:
                    p.skel = p.meta[field]  # written back as it is
    return done


def write(p: Parts, path):
    from safetensors.torch import save_file

    meta = dict(p.meta)
    if "gankit.state" in meta:
        meta["gankit.state"] = p.skel if isinstance(p.skel, str) else json.dumps(p.skel)
    save_file({k: v.contiguous() for k, v in p.tensors.items()}, str(path), metadata=meta)


# -- the test --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt-fuzz")
    return {"root": root, "dcgan": train_dcgan(root), "cyclegan": train_cyclegan(root)}


def make_rounds(runs, rng, root, n_resume, n_sample):
    import shutil

    rounds = []
    plan = ["resume"] * n_resume + ["sample"] * n_sample
    for i, cmd in enumerate(plan):
        model = "cyclegan" if cmd == "resume" and i % 4 == 3 else "dcgan"
        dest = root / f"{i:03d}-{cmd}-{model}"
        shutil.copytree(runs[model], dest)
        ck = newest(dest)
        p = Parts(ck)
        done = mutate(rng, p)
        write(p, ck)
        args = (["train", "--resume", ck, "--steps", "5"] if cmd == "resume" else
                ["sample", ck, "-n", "4", "--out", dest / "s.png"])
        rounds.append({"id": dest.name, "args": [str(a) for a in args], "done": done,
                       "where": f"{dest.name}/checkpoints/{ck.name}"})
    return rounds


def judge(res, rnd) -> str | None:
    """None when the round behaved, else why not."""
    try:
        check_survived(res, rnd["where"])
    except AssertionError as exc:
        # the divergence guard refusing weights that train to NaN is a clear error too
        lines = lines_of(res.get("stderr", ""))
        if (res.get("exit_code") == 1 and len(lines) == 1
                and lines[0].startswith("Error: training diverged")):
            return None
        return f"{exc}"
    return None


def test_fuzzed_checkpoints(runs):
    rng = random.Random(SEED)
    rounds = make_rounds(runs, rng, runs["root"] / "rounds", RESUME_ROUNDS, SAMPLE_ROUNDS)
    results = run_jobs([{"id": r["id"], "args": r["args"]} for r in rounds], runs["root"])
    failures = []
    for rnd in rounds:
        why = judge(results.get(rnd["id"], {"died": "no result", "stderr": ""}), rnd)
        if why:
            failures.append(f"{rnd['id']}: {'; '.join(rnd['done'])}\n    {why[:600]}")
    outcomes = [results[r["id"]].get("exit_code") for r in rounds if r["id"] in results]
    assert not failures, (f"GANKIT_FUZZ_SEED={SEED}: {len(failures)} of {len(rounds)} rounds "
                          "misbehaved:\n" + "\n".join(failures))
    assert outcomes.count(0) < len(rounds), "every mutation accepted: the fuzzer does nothing"


def test_fuzzed_checkpoints_real_processes(runs):
    """A few rounds as real ``gankit`` processes: a signal shows as a negative code."""
    rng = random.Random(SEED + 1)
    rounds = make_rounds(runs, rng, runs["root"] / "real", PROCESS_ROUNDS - 1, 1)
    bad = []
    for rnd in rounds:
        proc = subprocess.run([sys.executable, "-m", "gankit", "-q", *rnd["args"]],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        res = {"exit_code": proc.returncode, "stderr": proc.stderr, "stdout": proc.stdout,
               "exception": None}
        if proc.returncode < 0:
            res = {"died": proc.returncode, "stderr": proc.stderr}
        why = judge(res, rnd)
        if why:
            bad.append(f"{rnd['id']}: {'; '.join(rnd['done'])}\n    {why[:600]}")
    assert not bad, f"GANKIT_FUZZ_SEED={SEED}:\n" + "\n".join(bad)

