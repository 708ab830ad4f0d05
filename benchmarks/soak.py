"""Crash-safety soak test: SIGKILL a training run again and again, resume it each time.

A tiny dcgan run (32 px, ngf=ndf=8, batch 8, a checkpoint every 2 steps, a metrics
line every step) is started as a subprocess and killed with SIGKILL, then resumed
with ``gankit train --resume RUN`` (no other flag), over and over. Kills come in
three kinds, in turn:

``write``   the moment a checkpoint temp file (``checkpoints/.step-*.tmp``) appears,
            i.e. inside ``checkpoints.save`` (counted: how many left the temp behind)
``random``  at a random step while training
``early``   at a random time after launch (imports, data loading, resume, trimming)

After every kill it checks that every checkpoint on disk loads (metadata and every
tensor), that no more steps were lost than one checkpoint interval, and that the
temp files a kill left behind are gone once the next run trains. Then SIGTERM and
SIGINT must each write a final checkpoint at the step reached (nothing lost) and
exit with 143 and 130. Finally the run must finish at exactly the asked step count,
``metrics.jsonl`` must hold one untorn line for each step 1..N (none twice), no temp
file may remain, and (``--compare``) the weights must equal bit for bit those of
the same run trained without interruption.

    python benchmarks/soak.py                          # long form: 24 kills + compare
    python benchmarks/soak.py --kills 3 --no-compare   # the short form of tests/training/test_soak.py

Prints one line per event and a summary; exits 1 if any check fails. No timing is
asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKPOINT_EVERY = 2
TINY = ["--image-size", "32", "--set", "ngf=8", "--set", "ndf=8", "--batch-size", "8"]
KINDS = ("write", "random", "early")


class SoakFailure(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise SoakFailure(message)


def gankit(*args) -> list[str]:
    return [sys.executable, "-m", "gankit", *map(str, args)]


def child_env() -> dict:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["GANKIT_LOAD_PLUGINS"] = ""  # built-in plugins only
    env.pop("GANKIT_DEBUG", None)
    return env


def make_data(folder: Path, n: int = 16) -> Path:
    """A small folder of noise PNGs (decoded once, then read from gankit's cache)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return folder


def metrics_steps(run: Path) -> tuple[list[int], int]:
    """(steps of the complete JSON lines, number of torn or invalid lines)."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return [], 0
    steps, torn = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True):
        try:
            rec = json.loads(line)
            if not line.endswith("\n") or not isinstance(rec, dict):
                raise ValueError
            steps.append(int(rec["step"]))
        except (ValueError, KeyError, TypeError):
            torn += 1
    return steps, torn


def temps(run: Path) -> list[Path]:
    found = []
    for d in (run, run / "checkpoints", run / "samples"):
        if d.is_dir():
            found += [p for p in d.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    return found


def newest_step(run: Path) -> int:
    from gankit import checkpoints as ckpt

    c = ckpt.latest_loadable(run)
    return c.step if c is not None else 0


def verify_checkpoints(run: Path) -> int:
    """Every checkpoint on disk parses and every tensor of it reads back."""
    from gankit import checkpoints as ckpt

    paths = ckpt.list_checkpoints(run)
    for p in paths:
        try:
            c = ckpt.Checkpoint(p)
            state = c.state()
        except Exception as exc:  # noqa: BLE001
            raise SoakFailure(f"{p.name} does not load after a kill: {exc}") from None
        check(state["step"] == c.step, f"{p.name}: state step {state['step']} != {c.step}")
    return len(paths)


class Soak:
    def __init__(self, workdir: Path, *, kills: int, steps: int | None, seed: int,
                 log=print, timeout: float = 120.0):
        self.workdir = Path(workdir)
        self.kills = kills
        self.k = CHECKPOINT_EVERY
        # each phase trains at most ~3 intervals before it is stopped, so the run
        # cannot finish early; the final phase trains the rest
        self.steps = steps or (kills + 2) * 4 * self.k + 10
        self.rng = random.Random(seed)
        self.seed = seed
        self.log = log
        self.timeout = timeout
        self.data = make_data(self.workdir / "data")
        self.out = self.workdir / "runs"
        self.run = self.out / "soak"
        self.startup = 4.0  # seconds from launch to the first step, measured as we go
        self.stats = {"seed": seed, "kills": 0, "kinds": {k: 0 for k in KINDS},
                      "kills_inside_write": 0, "temps_left": 0, "max_steps_lost": 0,
                      "steps_lost": 0, "checkpoints_verified": 0, "launches": 0}

    # -- processes --------------------------------------------------------------------
    def command(self, quiet=True):
        from gankit import checkpoints as ckpt

        q = ["-q"] if quiet else []
        if ckpt.list_checkpoints(self.run):
            return gankit(*q, "train", "--resume", self.run)
        # nothing to resume yet (killed before the first checkpoint): start again
        return gankit(*q, "train", "dcgan", "--data", self.data, *TINY, "--steps", self.steps,
                      "--checkpoint-every", self.k, "--log-every", 1, "--sample-every", 0,
                      "--keep-last", 3, "--seed", 1, "--out", self.out, "--name", "soak")

    def launch(self, quiet=True):
        self.stats["launches"] += 1
        self.stderr = open(self.workdir / f"stderr-{self.stats['launches']:03d}.txt", "w+")
        return subprocess.Popen(self.command(quiet), stdout=subprocess.DEVNULL,
                                stderr=self.stderr, env=child_env(), cwd=self.workdir)

    def wait_for_step(self, proc, step: int, deadline: float) -> bool:
        """Poll until metrics.jsonl reaches ``step`` (True) or the process exits."""
        path = self.run / "metrics.jsonl"
        last_size = -1
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                size = path.stat().st_size
            except OSError:
                size = -1
            if size != last_size:
                last_size = size
                steps, _ = metrics_steps(self.run)
                if steps and steps[-1] >= step:
                    return True
            time.sleep(0.002)
        proc.kill()
        raise SoakFailure(f"no progress to step {step} within {self.timeout:.0f} s")

    def kill_inside_write(self, proc, give_up_step: int, deadline: float) -> bool:
        """SIGKILL as soon as a checkpoint temp file exists; True if one was seen."""
        ck = self.run / "checkpoints"
        polls = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                names = os.listdir(ck)
            except OSError:
                names = []
            if any(n.startswith(".step-") and n.endswith(".tmp") for n in names):
                proc.send_signal(signal.SIGKILL)
                return True
            polls += 1
            if polls % 64 == 0:
                steps, _ = metrics_steps(self.run)
                if steps and steps[-1] >= give_up_step:
                    break
            time.sleep(0.0005)
        proc.send_signal(signal.SIGKILL)
        return False

    # -- phases -----------------------------------------------------------------------
    def one_kill(self, i: int, kind: str) -> None:
        prev = max(metrics_steps(self.run)[0] or [0])
        start = max(prev, newest_step(self.run))  # progress beyond it is the new run's
        left_before = set(temps(self.run))
        proc = self.launch()
        deadline = time.monotonic() + self.timeout
        seen = None
        if kind == "early":  # anywhere from imports to the first steps
            at = time.monotonic() + self.rng.uniform(0.0, 1.3 * self.startup)
            while time.monotonic() < at and proc.poll() is None:
                steps, _ = metrics_steps(self.run)
                if steps and steps[-1] > start + 2 * self.k:
                    break
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
        else:
            t0 = time.monotonic()
            check(self.wait_for_step(proc, start + 1, deadline),
                  f"kill {i}: the run exited ({proc.poll()}) before training: "
                  + self._stderr_tail())
            self.startup = 0.5 * self.startup + 0.5 * (time.monotonic() - t0)
            # the new run trains: the temps an earlier kill left must be gone
            stale = [p.name for p in left_before if p.exists()]
            check(not stale, f"kill {i}: temp files not cleaned up on resume: {stale}")
            if kind == "write":
                seen = self.kill_inside_write(proc, start + 3 * self.k, deadline)
            else:
                self.wait_for_step(proc, start + self.rng.randint(1, 2 * self.k + 1), deadline)
                time.sleep(self.rng.uniform(0.0, 0.03))  # somewhere inside a step
                proc.send_signal(signal.SIGKILL)
        rc = proc.wait()
        check(rc == -signal.SIGKILL, f"kill {i}: the run ended by itself (exit {rc}) "
              "before the kill; raise --steps")
        self.stats["kills"] += 1
        self.stats["kinds"][kind] += 1
        left = temps(self.run)
        ck_temps = [p for p in left if p.parent.name == "checkpoints" and p not in left_before]
        if ck_temps:
            self.stats["kills_inside_write"] += 1
        self.stats["temps_left"] += len(set(left) - left_before)
        steps, _torn = metrics_steps(self.run)
        reached = max(steps) if steps else 0
        n = verify_checkpoints(self.run)
        self.stats["checkpoints_verified"] += n
        kept = newest_step(self.run)
        lost = max(0, reached - kept)
        self.stats["max_steps_lost"] = max(self.stats["max_steps_lost"], lost)
        self.stats["steps_lost"] += lost
        check(lost <= self.k, f"kill {i}: {lost} steps lost (reached {reached}, newest "
              f"checkpoint {kept}), more than one checkpoint interval ({self.k})")
        self.log(f"kill {i + 1:2d} {kind:6s} reached step {reached:4d}, newest checkpoint "
                 f"{kept:4d} (lost {lost}), {n} checkpoints load"
                 + (", killed inside a checkpoint write (temp left)" if ck_temps else "")
                 + (" [no temp seen]" if seen is False else ""))

    def one_signal(self, sig: int) -> None:
        start = max(max(metrics_steps(self.run)[0] or [0]), newest_step(self.run))
        proc = self.launch(quiet=False)
        deadline = time.monotonic() + self.timeout
        check(self.wait_for_step(proc, start + 1, deadline), "the run exited before training: "
              + self._stderr_tail())
        self.wait_for_step(proc, start + self.rng.randint(1, self.k + 1), deadline)
        proc.send_signal(sig)
        try:
            rc = proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise SoakFailure(f"{signal.Signals(sig).name} did not stop the run") from None
        name = signal.Signals(sig).name
        check(rc == 128 + sig, f"{name}: exit code {rc}, expected {128 + sig}: "
              + self._stderr_tail())
        steps, _ = metrics_steps(self.run)
        kept = newest_step(self.run)
        check(steps and kept == max(steps),
              f"{name}: the final checkpoint is at step {kept} but the run reached {max(steps)}")
        err = Path(self.stderr.name).read_text()
        check(f"interrupted at step {kept}" in err, f"{name}: no 'interrupted at step' line")
        verify_checkpoints(self.run)
        self.log(f"{name} at step {kept}: final checkpoint written, exit {rc}")

    def finish(self) -> None:
        proc = self.launch()
        rc = proc.wait(timeout=self.timeout * 3)
        check(rc == 0, f"the final resume failed (exit {rc}): " + self._stderr_tail())
        from gankit import checkpoints as ckpt

        final = ckpt.latest_loadable(self.run)
        check(final is not None and final.step == self.steps,
              f"the run ended at step {final.step if final else None}, asked {self.steps}")
        verify_checkpoints(self.run)
        steps, torn = metrics_steps(self.run)
        check(torn == 0, f"metrics.jsonl has {torn} torn line(s)")
        dup = sorted({s for s in steps if steps.count(s) > 1})
        check(not dup, f"metrics.jsonl has steps more than once: {dup[:10]}")
        check(steps == list(range(1, self.steps + 1)),
              f"metrics.jsonl steps are not exactly 1..{self.steps}")
        left = temps(self.run)
        check(not left, f"temp files left after the final run: {[p.name for p in left]}")
        self.log(f"finished at step {final.step}; metrics.jsonl has {len(steps)} lines, "
                 "none torn or repeated; no temp files")

    def compare(self) -> None:
        """The killed-and-resumed run equals an uninterrupted one, bit for bit."""
        import torch

        from gankit import checkpoints as ckpt

        ref = self.workdir / "runs" / "reference"
        cmd = gankit("-q", "train", "dcgan", "--data", self.data, *TINY, "--steps", self.steps,
                     "--checkpoint-every", 0, "--log-every", 1, "--sample-every", 0,
                     "--seed", 1, "--out", self.out, "--name", "reference")
        p = subprocess.run(cmd, capture_output=True, text=True, env=child_env(),
                           cwd=self.workdir, timeout=self.timeout * 3)
        check(p.returncode == 0, f"reference run failed: {p.stderr[-500:]}")
        a = ckpt.latest_loadable(ref).tensors()
        b = ckpt.latest_loadable(self.run).tensors()
        check(a.keys() == b.keys(), "the checkpoints hold different tensors")
        differ = [k for k in a if not torch.equal(a[k], b[k])]
        check(not differ, f"{len(differ)} of {len(a)} tensors differ from the uninterrupted "
              f"run (first: {differ[:3]})")
        self.log(f"the final state (weights, optimizer moments, data order, RNG: {len(a)} "
                 "tensors) equals the uninterrupted run's bit for bit")

    def _stderr_tail(self) -> str:
        try:
            return Path(self.stderr.name).read_text()[-600:]
        except OSError:
            return ""

    def run_all(self, compare: bool = True) -> dict:
        kinds = [KINDS[i % len(KINDS)] for i in range(self.kills)]
        self.log(f"soak: {self.kills} SIGKILLs, {self.steps} steps, checkpoint every {self.k}, "
                 f"seed {self.seed}, in {self.workdir}")
        t0 = time.monotonic()
        for i, kind in enumerate(kinds):
            self.one_kill(i, kind)
        self.one_signal(signal.SIGTERM)
        self.one_signal(signal.SIGINT)
        self.finish()
        if compare:
            self.compare()
        self.stats["steps"] = self.steps
        self.stats["seconds"] = round(time.monotonic() - t0, 1)
        return self.stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=24, help="SIGKILLs (default 24)")
    ap.add_argument("--steps", type=int, help="steps of the run (default: enough for the kills)")
    ap.add_argument("--seed", type=int, default=None, help="kill schedule seed (default: random)")
    ap.add_argument("--dir", type=Path, help="work folder (default: a temp folder, removed)")
    ap.add_argument("--no-compare", action="store_true",
                    help="skip the bit-for-bit comparison with an uninterrupted run")
    ap.add_argument("--json", type=Path, help="write the summary here")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    with tempfile.TemporaryDirectory(prefix="gankit-soak-") as tmp:
        soak = Soak(args.dir or Path(tmp), kills=args.kills, steps=args.steps, seed=seed)
        try:
            stats = soak.run_all(compare=not args.no_compare)
        except SoakFailure as exc:
            print(f"SOAK FAILED (seed {seed}): {exc}", file=sys.stderr)
            return 1
    print(json.dumps(stats, indent=2))
    if args.json:
        args.json.write_text(json.dumps(stats, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
