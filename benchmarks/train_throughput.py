#!/usr/bin/env python
"""Training throughput: gankit's trainer against a bare PyTorch loop, side by side.

Everything is measured in one process, interleaved A B A B ..., so the ratios hold
even on a busy machine (absolute images/s do not). Sections:

  train     steady-state images/s of gankit's ``Trainer.fit()`` (built with
            ``gankit.train.plan`` + ``Trainer.from_plan`` from the options ``gankit train``
            would make, sampling and checkpoints off) and of bare loops of the same networks, loss
            and optimizer written here, with the levers toggled per variant; paired
            ratios per round, FLOPs per image, and the fraction of a peak measured here
  peak      fp32 and bf16 matmul and conv microbenchmarks (the "peak" above)
  data      the data pipeline alone: image folder decode -> cache, then the Batcher
            (index -> uint8 to float -> flips -> channels_last) against the step
  startup   ``gankit --help``, ``gankit list-models``, ``gankit sample -n 1000`` (subprocesses)

Variants (repeat the flags; each becomes one column of the A B A B interleave):
  --gankit default | KEY=VALUE[,KEY=VALUE]   TrainOptions fields: precision, channels_last,
                                             fused, compile, flip, ema (kimg, 0 = off),
                                             augment (a policy or none), e.g. precision=fp32;
                                             "default" has the EMA generator and (below
                                             5,000 images) DiffAugment, which the bare loops
                                             lack: ema=0,augment=none is gankit with the
                                             bare loops' work
  --bare none | examples | all | LEVER[+LEVER...] | all-LEVER
      none      the pytorch/examples dcgan/main.py loop: D ends in a Sigmoid with
                nn.BCELoss, separate real/fake backward, default Adam, NCHW, fp32, five
                .item() per step, D's weight grads computed in the G step; data from memory
      examples  "none" fed by torchvision FakeData through a DataLoader (2 workers) as
                main.py --dataset fake does
      plain     gankit's step shape (one D backward on real + fake, a logits loss) with
                no lever: fp32, NCHW, default Adam, .item() per step
      all       every lever gankit uses, at the precision of the first gankit variant
      levers    (each on top of "plain")
                channels_last, fused (Adam fused=True), foreach (Adam foreach=True),
                nosync (losses read every 25 steps), freeze (no D weight grads in the
                G step), bf16 / fp16 (autocast), compile (nn.Module.compile), threadsN

Examples:
  python benchmarks/train_throughput.py                              # dcgan 64px batch 64
  python benchmarks/train_throughput.py --gankit precision=fp32 --gankit precision=bf16
  python benchmarks/train_throughput.py --bare none --bare channels_last --bare fused \\
      --bare nosync --bare freeze --bare bf16 --bare all --sections train
  python benchmarks/train_throughput.py --image-size 32,64,128 --batch-size 64 --sections train
  python benchmarks/train_throughput.py --short                      # CI smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LEVER_NAMES = ("channels_last", "fused", "foreach", "nosync", "freeze", "bf16", "fp16",
               "compile")
ALL_LEVERS = ("channels_last", "fused", "nosync", "freeze")
SECTIONS = ("train", "peak", "data", "startup")
GANKIT = [sys.executable, "-m", "gankit"]


def gankit_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("gankit")
    return [str(exe)] if exe.exists() else list(GANKIT)


# -- small helpers ------------------------------------------------------------------


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}" if x >= 10 else f"{x:,.2f}"


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return "-"
    med = statistics.median(values)
    return f"±{100 * (max(values) - min(values)) / 2 / med:.0f}%"


def median(values):
    return statistics.median(values) if values else float("nan")


# -- variants -----------------------------------------------------------------------


def parse_gankit_variant(text: str) -> dict:
    if text in ("", "default"):
        return {}
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise SystemExit(f"--gankit {text}: expected default or KEY=VALUE[,KEY=VALUE]")
        k, v = part.split("=", 1)
        k = k.strip().replace("-", "_")
        if k not in ("precision", "channels_last", "fused", "compile", "flip", "ema", "augment"):
            raise SystemExit(f"--gankit {text}: unknown option {k}")
        if k == "ema":
            v = float(v)
        elif k not in ("precision", "augment"):
            v = v.strip().lower() in ("1", "true", "yes", "on")
        out[k] = v
    return out


def parse_bare_variant(text: str, precision: str, channels_last: bool = True) -> tuple[str, set]:
    """'none' | 'examples' | 'all' | 'a+b' | 'all-a+b' -> (label, levers). ``all`` takes
    gankit's precision, and channels_last only where gankit's trainer uses it."""
    import re

    levers: set = set()
    tokens = re.findall(r"([+-]?)([A-Za-z_0-9]+)", text)
    if not tokens:
        raise SystemExit(f"--bare {text}: empty")
    for sign, name in tokens:
        if name == "none":
            group = set()
        elif name == "examples":
            group = {"examples"}
        elif name == "plain":
            group = {"plain"}
        elif name == "all":
            group = set(ALL_LEVERS) | ({precision} if precision in ("bf16", "fp16") else set())
            if not channels_last:
                group.discard("channels_last")
        elif name in LEVER_NAMES or re.fullmatch(r"threads\d+", name):
            group = {name}
        else:
            raise SystemExit(f"--bare {text}: unknown lever {name}; choose from none, examples, "
                             f"all, {', '.join(LEVER_NAMES)}, threadsN")
        if sign == "-":
            levers -= group
        else:
            levers |= group
    return text, levers


# -- gankit's side --------------------------------------------------------------------


class StepClock:
    """An observer plugin: wall time at the first and last step of a timed window."""

    def __init__(self):
        self.first = self.last = None
        self.t_first = self.t_last = None
        self.device = None

    def arm(self, first: int, last: int, device) -> None:
        self.first, self.last, self.device = first, last, device
        self.t_first = self.t_last = None

    def make_plugin(self):
        from gankit import hookimpl

        clock = self

        class _Plugin:
            @hookimpl
            def on_step_end(self, trainer, step, losses):  # noqa: ARG002
                if step == clock.first:
                    sync(clock.device)
                    clock.t_first = time.perf_counter()
                elif step == clock.last:
                    sync(clock.device)
                    clock.t_last = time.perf_counter()

        return _Plugin()


class GankitRunner:
    """gankit's trainer as ``gankit train`` builds it; timed through ``fit()`` in chunks."""

    count = 0

    def __init__(self, args, size: int, batch: int, overrides: dict, out: Path, label: str):
        from gankit.config import parse_sets
        from gankit.plugins import get_plugins
        from gankit.train import Trainer, TrainOptions, plan

        self.label = label
        plugins = get_plugins()
        self.clock = StepClock()
        GankitRunner.count += 1
        self.plugin_name = f"bench-clock-{GankitRunner.count}"
        self.plugins = plugins
        plugins.add_plugin(self.clock.make_plugin(), self.plugin_name)
        opts = TrainOptions(
            model=args.model, dataset=args.dataset, data=args.data, image_size=size,
            # as many steps as any benchmark times: each chunk is fit(until=...), so the
            # timed window never reaches the last step's checkpoint and samples
            batch_size=batch, steps=10 ** 9,
            precision=overrides.get("precision", args.precision),
            device=args.device, out=str(out), name=f"run-{id(self)}", sample_every=0,
            checkpoint_every=0, log_every=args.log_every, seed=args.seed,
            compile=overrides.get("compile", args.compile),
            ema=overrides.get("ema"), augment=overrides.get("augment"),
            extra={"download": False, "cache": True},
        )
        for k in ("channels_last", "fused", "flip"):
            if k in overrides:
                setattr(opts, k, overrides[k])
        explicit = {"image_size", "batch_size", "steps", "precision", "out", "name",
                    "sample_every", "checkpoint_every", "log_every"}
        if args.dataset:
            explicit.add("dataset")
        with quiet(not args.progress):
            self.trainer = Trainer.from_plan(plan(opts, plugins, sets=parse_sets(args.set),
                                                  explicit=explicit))
        t = self.trainer
        self.precision = t.precision
        self.channels_last = t.channels_last
        self.batch = t.batch_size
        self.compile_s = None
        self._progress = bool(args.progress)

    def levers(self) -> str:
        t = self.trainer
        out = [t.precision]
        if t.channels_last:
            out.append("channels_last")
        opt = next(iter(t.opts.values()), None)
        if opt is not None:
            d = opt.defaults
            out.append("fused Adam" if d.get("fused") else "foreach Adam" if d.get("foreach")
                       else "Adam")
        out.append(f"log every {t.options.log_every}")
        if t.batcher.flip:
            out.append("flips on device")
        if t.options.compile:
            out.append("compile")
        if t.ema:
            out.append(f"EMA {t.options.ema:g} kimg")
        if t.augment is not None:
            out.append(f"DiffAugment {t.options.augment}")
        return ", ".join(out)

    def run(self, steps: int) -> float | None:
        """Train ``steps`` more steps; images/s over steps 2..steps of the chunk."""
        t = self.trainer
        start = t.step
        self.clock.arm(start + 1, start + steps, t.device)
        with quiet(not self._progress):
            t.fit(until=start + steps)
        if steps < 2:
            return None
        if self.clock.t_first is None or self.clock.t_last is None:
            raise RuntimeError("the step clock did not fire (is its plugin registered?)")
        return (steps - 1) * self.batch / (self.clock.t_last - self.clock.t_first)

    def close(self) -> None:
        self.plugins.remove_plugin(self.plugin_name)

    def real_images_per_step(self) -> int:
        loss = self.trainer.loss
        n_critic = max(1, int(getattr(loss, "n_critic", 1) or 1))
        return self.batch * n_critic


@contextlib.contextmanager
def quiet(on: bool):
    from gankit import console

    was = console.is_quiet()
    console.set_quiet(on or was)
    try:
        yield
    finally:
        console.set_quiet(was)


# -- the bare loops -------------------------------------------------------------------


def timed_steps(step, steps: int, nets, device, threads: int | None, batch: int) -> float:
    """Run ``step`` ``steps`` times (with ``threads`` torch threads if given); images/s
    over steps 2..steps, the first one being a warm-up inside the chunk."""
    import torch

    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        for m in nets:
            m.train()
        t_first = None
        for i in range(steps):
            step()
            if i == 0:
                sync(device)
                t_first = time.perf_counter()
        sync(device)
        t_last = time.perf_counter()
    finally:
        if threads:
            torch.set_num_threads(old_threads)
    return (steps - 1) * batch / (t_last - t_first)


class BareUnconditional:
    """A plain PyTorch loop of the same G and D (built by the same plugin, same seed)."""

    def __init__(self, trainer, levers: set, label: str, seed: int):
        import torch
        from torch import nn

        self.label, self.levers = label, set(levers)
        self.device = trainer.device
        self.batch = trainer.batch_size
        model, config, spec, loss = trainer.model, trainer.config, trainer.spec, trainer.loss
        self.loss_name = getattr(loss, "name", "bce") or "bce"
        self.n_critic = max(1, int(getattr(loss, "n_critic", 1) or 1))
        self.gp_weight = float(getattr(loss, "gp_weight", 0.0) or 0.0)
        self.loss = loss
        torch.manual_seed(seed)
        nets = model.build(config, spec, loss)
        self.G, self.D = nets["G"].to(self.device), nets["D"].to(self.device)
        self.image = spec.kind == "image"
        self.cl = "channels_last" in levers and self.image
        if self.cl:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        if "compile" in levers:
            self.G.compile()
            self.D.compile()
        self.model, self.config = model, config
        self.examples = not (levers - {"examples"}) and self.loss_name in ("bce", "minimax")
        self.D_out = nn.Sequential(self.D, nn.Sigmoid()) if self.examples else self.D
        self.criterion = nn.BCELoss()
        kw = dict(lr=trainer.options.lr, betas=tuple(trainer.options.betas))
        if "fused" in levers:
            kw["fused"] = True
        elif "foreach" in levers:
            kw["foreach"] = True
        self.optD = torch.optim.Adam(self.D.parameters(), **kw)
        self.optG = torch.optim.Adam(self.G.parameters(), **kw)
        self.dtype = (torch.bfloat16 if "bf16" in levers else
                      torch.float16 if "fp16" in levers else None)
        self.scaler = torch.amp.GradScaler(self.device.type) if "fp16" in levers else None
        self.threads = next((int(x[7:]) for x in levers if x.startswith("threads")), None)
        samples = trainer.data.samples
        if self.image:
            samples = samples.float().mul_(1 / 127.5).sub_(1.0)
        self.X = samples.to(self.device)
        self.gen = torch.Generator().manual_seed(seed)
        self.perm, self.pos = torch.randperm(len(self.X), generator=self.gen), 0
        self.loader = None
        if "examples" in levers:
            self.loader = self._examples_loader(spec)
        self.label_buf = torch.full((self.batch,), 1.0, device=self.device)
        self.sums = None
        self.count = 0
        self.precision = ("bf16" if self.dtype == torch.bfloat16 else
                          "fp16" if self.dtype == torch.float16 else "fp32")

    def _examples_loader(self, spec):
        import torch
        import torchvision.datasets as dset
        import torchvision.transforms as T

        ds = dset.FakeData(size=max(4096, 8 * self.batch),
                           image_size=(spec.channels, spec.size, spec.size),
                           transform=T.Compose([T.Resize(spec.size), T.CenterCrop(spec.size),
                                                T.ToTensor(),
                                                T.Normalize((0.5,) * spec.channels,
                                                            (0.5,) * spec.channels)]))
        loader = torch.utils.data.DataLoader(ds, batch_size=self.batch, shuffle=True,
                                             num_workers=2, drop_last=True,
                                             persistent_workers=True)
        self._loader_src = loader
        return iter(loader)

    def levers_text(self) -> str:
        rest = sorted(self.levers - {"bf16", "fp16", "plain"} - (set() if self.image
                                                                  else {"channels_last"}))
        if self.examples:
            return "fp32, pytorch/examples loop" + (" + DataLoader" if self.loader else "")
        return self.precision + ", " + (", ".join(rest) if rest else "no lever")

    def real_images_per_step(self) -> int:
        return self.batch * self.n_critic

    def _batch(self):
        import torch

        if self.loader is not None:
            try:
                x, _ = next(self.loader)
            except StopIteration:
                self.loader = iter(self._loader_src)
                x, _ = next(self.loader)
            x = x.to(self.device)
        else:
            if self.pos + self.batch > len(self.X):
                self.perm, self.pos = torch.randperm(len(self.X), generator=self.gen), 0
            x = self.X[self.perm[self.pos:self.pos + self.batch].to(self.X.device)]
            self.pos += self.batch
        if self.cl:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _z(self, n):
        return self.model.latent(self.config, n, device=self.device)

    def _autocast(self):
        import torch

        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def _backward(self, opt, loss):
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            opt.step()

    # the loss, written out here rather than taken from gankit
    def _d_loss(self, real_s, fake_s):
        import torch.nn.functional as F

        name = self.loss_name
        real_s, fake_s = real_s.float(), fake_s.float()
        if name in ("bce", "minimax"):
            return (F.binary_cross_entropy_with_logits(real_s, self.label_buf[:len(real_s)])
                    + F.binary_cross_entropy_with_logits(fake_s, 0 * self.label_buf[:len(fake_s)]))
        if name == "hinge":
            return F.relu(1 - real_s).mean() + F.relu(1 + fake_s).mean()
        if name == "lsgan":
            return 0.5 * ((real_s - 1) ** 2).mean() + 0.5 * (fake_s ** 2).mean()
        if name.startswith("wgan"):
            return fake_s.mean() - real_s.mean()
        return self.loss.d_loss(real_s, fake_s)

    def _g_loss(self, fake_s):
        import torch.nn.functional as F

        name = self.loss_name
        fake_s = fake_s.float()
        if name == "bce":
            return F.binary_cross_entropy_with_logits(fake_s, self.label_buf[:len(fake_s)])
        if name == "minimax":
            return -F.softplus(fake_s).mean()
        if name == "lsgan":
            return 0.5 * ((fake_s - 1) ** 2).mean()
        if name == "hinge" or name.startswith("wgan"):
            return -fake_s.mean()
        return self.loss.g_loss(fake_s)

    def _penalty(self, real, fake):
        import torch

        a = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
        x = (a * real + (1 - a) * fake).requires_grad_(True)
        s = self.D(x)
        (g,) = torch.autograd.grad(s.sum(), x, create_graph=True)
        return ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()

    def step_examples(self):
        """pytorch/examples dcgan/main.py, one iteration (its prints' .item() included)."""
        import torch

        D, G, crit = self.D_out, self.G, self.criterion
        real = self._batch()
        b = real.shape[0]
        D.zero_grad()
        label = torch.full((b,), 1.0, device=self.device)
        output = D(real).view(-1)
        errD_real = crit(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        noise = self._z(b)
        fake = G(noise)
        label.fill_(0.0)
        output = D(fake.detach()).view(-1)
        errD_fake = crit(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        self.optD.step()
        G.zero_grad()
        label.fill_(1.0)
        output = D(fake).view(-1)
        errG = crit(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        self.optG.step()
        return (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2)

    def step_levers(self):
        import torch

        G, D = self.G, self.D
        freeze = "freeze" in self.levers
        fake = None
        for _ in range(self.n_critic):
            real = self._batch()
            z = self._z(real.shape[0])
            with self._autocast():
                if self.n_critic == 1:
                    fake = G(z)
                    fake_in = fake.detach()
                else:
                    with torch.no_grad():
                        fake_in = G(z)
                loss_d = self._d_loss(D(real), D(fake_in))
            if self.gp_weight:
                loss_d = loss_d + self.gp_weight * self._penalty(real, fake_in.float())
            self.optD.zero_grad(set_to_none=True)
            self._backward(self.optD, loss_d)
        if freeze:
            D.requires_grad_(False)
        with self._autocast():
            if fake is None:
                fake = G(self._z(self.batch))
            loss_g = self._g_loss(D(fake))
        self.optG.zero_grad(set_to_none=True)
        self._backward(self.optG, loss_g)
        if freeze:
            D.requires_grad_(True)
        if "nosync" in self.levers:
            v = torch.stack([loss_d.detach(), loss_g.detach()])
            self.sums = v if self.sums is None else self.sums + v
            self.count += 1
            if self.count % 25 == 0:
                self.sums.tolist()
                self.sums = None
            return None
        return (loss_d.item(), loss_g.item())

    def run(self, steps: int) -> float:
        step = self.step_examples if self.examples else self.step_levers
        return timed_steps(step, steps, [self.G, self.D], self.device, self.threads, self.batch)


class BareCycleGAN:
    """The reference pytorch-CycleGAN-and-pix2pix ``optimize_parameters`` loop, written out:
    one Adam over both generators and one over both discriminators, the discriminators
    frozen in the generator step, LSGAN (MSE) targets, cycle and identity L1, an image
    pool of 50, random crops from the load size; each D backpropagated on its own. Its
    losses are read every 100 steps as the reference prints them. Levers: channels_last,
    fused / foreach Adam, bf16 / fp16 autocast, compile, threadsN ("all" adds the first
    three at gankit's precision; the reference already freezes D and reads no losses
    per step)."""

    def __init__(self, trainer, levers: set, label: str, seed: int):
        import random

        import torch
        from torch import nn

        self.label, self.levers = label, set(levers)
        self.device = trainer.device
        self.batch = trainer.batch_size
        self.size = trainer.spec.size
        cfg = trainer.config
        self.lc, self.li = float(cfg.lambda_cycle), float(cfg.lambda_identity)
        self.pool_size = int(cfg.pool_size)
        torch.manual_seed(seed)
        nets = trainer.model.build(cfg, trainer.spec, trainer.loss)
        self.nets = {k: v.to(self.device) for k, v in nets.items()}
        self.cl = "channels_last" in levers
        if self.cl:
            for n in self.nets.values():
                n.to(memory_format=torch.channels_last)
        if "compile" in levers:
            for n in self.nets.values():
                n.compile()
        kw = dict(lr=trainer.options.lr, betas=tuple(trainer.options.betas))
        if "fused" in levers:
            kw["fused"] = True
        elif "foreach" in levers:
            kw["foreach"] = True
        n = self.nets
        self.optG = torch.optim.Adam(list(n["G_AB"].parameters()) + list(n["G_BA"].parameters()), **kw)
        self.optD = torch.optim.Adam(list(n["D_A"].parameters()) + list(n["D_B"].parameters()), **kw)
        self.mse, self.l1 = nn.MSELoss(), nn.L1Loss()
        self.dtype = (torch.bfloat16 if "bf16" in levers else
                      torch.float16 if "fp16" in levers else None)
        self.precision = ("bf16" if self.dtype == torch.bfloat16 else
                          "fp16" if self.dtype == torch.float16 else "fp32")
        self.threads = next((int(x[7:]) for x in levers if x.startswith("threads")), None)
        self.A = trainer.data.samples.float().mul_(1 / 127.5).sub_(1.0).to(self.device)
        self.B = trainer.data_b.samples.float().mul_(1 / 127.5).sub_(1.0).to(self.device)
        self.rng = random.Random(seed)
        self.pools = ([], [])
        self.count = 0

    def levers_text(self) -> str:
        rest = sorted(self.levers - {"bf16", "fp16"})
        return self.precision + ", " + (", ".join(rest) if rest else "reference loop")

    def real_images_per_step(self) -> int:
        return self.batch

    def _batch(self, X):
        import torch

        rng, s = self.rng, self.size
        out = []
        for _ in range(self.batch):
            x = X[rng.randrange(len(X))]
            oy, ox = rng.randint(0, x.shape[-2] - s), rng.randint(0, x.shape[-1] - s)
            x = x[:, oy:oy + s, ox:ox + s]
            out.append(x.flip(-1) if rng.random() < 0.5 else x)
        x = torch.stack(out)
        return x.contiguous(memory_format=torch.channels_last) if self.cl else x

    def _query(self, pool, images):
        import torch

        if self.pool_size == 0:
            return images
        out = []
        for img in images.detach().split(1):
            if len(pool) < self.pool_size:
                pool.append(img)
                out.append(img)
            elif self.rng.uniform(0, 1) > 0.5:
                i = self.rng.randint(0, self.pool_size - 1)
                out.append(pool[i].clone())
                pool[i] = img
            else:
                out.append(img)
        x = torch.cat(out)
        return x.contiguous(memory_format=torch.channels_last) if self.cl else x

    def _autocast(self):
        import torch

        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def step(self):
        import torch

        n = self.nets
        G_AB, G_BA, D_A, D_B = n["G_AB"], n["G_BA"], n["D_A"], n["D_B"]
        real_a, real_b = self._batch(self.A), self._batch(self.B)
        mse, l1 = self.mse, self.l1

        def adv(scores, target):
            scores = scores.float()
            return mse(scores, torch.full_like(scores, target))

        for d in (D_A, D_B):
            d.requires_grad_(False)
        self.optG.zero_grad()
        with self._autocast():
            fake_b = G_AB(real_a)
            rec_a = G_BA(fake_b)
            fake_a = G_BA(real_b)
            rec_b = G_AB(fake_a)
            loss_g = adv(D_B(fake_b), 1.0) + adv(D_A(fake_a), 1.0)
            loss_g = loss_g + self.lc * (l1(rec_a.float(), real_a) + l1(rec_b.float(), real_b))
            if self.li > 0:
                w = self.lc * self.li
                loss_g = loss_g + w * (l1(G_BA(real_a).float(), real_a)
                                       + l1(G_AB(real_b).float(), real_b))
        loss_g.backward()
        self.optG.step()
        for d in (D_A, D_B):
            d.requires_grad_(True)
        self.optD.zero_grad()
        losses = []
        for D, real, fake, pool in ((D_A, real_a, fake_a, self.pools[0]),
                                    (D_B, real_b, fake_b, self.pools[1])):
            fake = self._query(pool, fake)
            with self._autocast():
                loss_d = 0.5 * (adv(D(real), 1.0) + adv(D(fake.detach()), 0.0))
            loss_d.backward()
            losses.append(loss_d.detach())
        self.optD.step()
        self.count += 1
        if self.count % 100 == 0:
            torch.stack(losses + [loss_g.detach()]).tolist()

    def run(self, steps: int) -> float:
        return timed_steps(self.step, steps, self.nets.values(), self.device, self.threads,
                           self.batch)


def own_step(model) -> bool:
    """True when ``model`` trains with a step of its own, not UnconditionalGAN's."""
    from gankit import UnconditionalGAN

    return (isinstance(model, UnconditionalGAN)
            and type(model).train_step is not UnconditionalGAN.train_step)


def make_bare(trainer, levers: set, label: str, seed: int):
    if own_step(trainer.model):
        raise SystemExit(f"model '{trainer.model.name}' has its own training step; the bare "
                         "loops reproduce the built-in one only: run with --no-bare")
    if trainer.model.kind == "unconditional" and {"G", "D"} <= set(trainer.nets):
        return BareUnconditional(trainer, levers, label, seed)
    if {"G_AB", "G_BA", "D_A", "D_B"} <= set(trainer.nets) and trainer.data_b is not None:
        return BareCycleGAN(trainer, levers - {"nosync", "freeze"}, label, seed)
    raise SystemExit(f"no bare loop written for model '{trainer.model.name}' "
                     f"({trainer.model.kind}) yet; run with --no-bare")


# -- measurements ---------------------------------------------------------------------


def measure_train(args, size: int, batch: int, out: Path) -> dict:
    """Interleave every variant chunk by chunk; paired ratios per round."""
    runners: list = []
    for i, spec in enumerate(args.gankit):
        label = "gankit" + ("" if spec in ("", "default") else f" [{spec}]")
        runners.append(GankitRunner(args, size, batch, parse_gankit_variant(spec), out, label))
    first = runners[0]
    bare_specs = [] if args.no_bare else args.bare
    if bare_specs and not args.bare_given and own_step(first.trainer.model):
        print(f"note: model '{first.trainer.model.name}' has its own training step, which "
              "the bare loops do not reproduce; timing gankit only", file=sys.stderr)
        bare_specs = []
    for spec in bare_specs:
        label, levers = parse_bare_variant(spec, first.precision, first.channels_last)
        bare = make_bare(first.trainer, levers, f"bare [{label}]", args.seed)
        bare.parsed = levers
        runners.append(bare)
    t = first.trainer
    info = {
        "model": t.model.name, "image_size": t.spec.size if t.spec.kind == "image" else None,
        "batch_size": t.batch_size, "device": str(t.device), "loss": getattr(t.loss, "name", None),
        "dataset": t.spec.name, "n_critic": max(1, int(getattr(t.loss, "n_critic", 1) or 1)),
    }
    flops = count_flops(first) if args.flops else None
    steps, rounds, warm = args.steps, args.rounds, args.warmup
    rates = {r.label: [] for r in runners}
    for rnd in range(warm + rounds):
        order = runners if rnd % 2 == 0 else list(reversed(runners))
        for r in order:
            t0 = time.perf_counter()
            rate = r.run(steps)
            if rnd == 0 and isinstance(r, GankitRunner) and r.trainer.options.compile:
                r.compile_s = time.perf_counter() - t0
            if rnd >= warm and rate:
                rates[r.label].append(rate)
        if args.verbose:
            print(f"  round {rnd + 1}/{warm + rounds}: " + "  ".join(
                f"{r.label} {fmt_rate(rates[r.label][-1]) if rates[r.label] and rnd >= warm else '-'}"
                for r in runners), file=sys.stderr, flush=True)
    ref = next((r for r in runners if not isinstance(r, GankitRunner)), runners[0])
    rows = []
    for r in runners:
        vals = rates[r.label]
        pair = [a / b for a, b in zip(vals, rates[ref.label])]
        row = {
            "label": r.label,
            "levers": r.levers() if isinstance(r, GankitRunner) else r.levers_text(),
            "precision": r.precision,
            "images_per_s": median(vals),
            "real_images_per_s": median(vals) * (r.real_images_per_step() / r.batch),
            "rates": vals,
            "vs_ref": median(pair),
        }
        if isinstance(r, GankitRunner) and r.compile_s is not None:
            row["first_chunk_s_with_compile"] = r.compile_s
        rows.append(row)
    result = {**info, "ref": ref.label, "rows": rows, "flops_per_image": flops,
              "steps_per_chunk": steps, "rounds": rounds}
    # gankit vs a bare loop with the same levers
    gk = [r for r in runners if isinstance(r, GankitRunner)]
    same = []
    for g in gk:
        if g.trainer.ema or g.trainer.augment is not None:
            continue  # the bare loops have no EMA generator or augmentation to compare with
        for b in runners:
            if isinstance(b, GankitRunner):
                continue
            if b.parsed == parse_bare_variant("all", g.precision, g.channels_last)[1]:
                pair = [x / y for x, y in zip(rates[g.label], rates[b.label])]
                same.append({"gankit": g.label, "bare": b.label, "ratio": median(pair)})
    result["same_levers"] = same
    result["_runners"] = runners
    return result


def count_flops(runner) -> float | None:
    """FLOPs per image of one training step (G and D, forward and backward)."""
    try:
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError:
        return None
    t = runner.trainer
    if t.options.compile:
        return None
    try:
        with FlopCounterMode(display=False) as fc:
            t.model.train_step(t)
        total = fc.get_total_flops()
    except RuntimeError:
        # FlopCounterMode's module hooks reject autograd.grad(create_graph=True) (a
        # gradient penalty): count with the same per-op formulas, without module hooks
        total = _count_flops_plain(lambda: t.model.train_step(t))
    sync(t.device)
    return total / t.batch_size


def _count_flops_plain(fn) -> int:
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class Counter(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            f = flop_registry.get(func._overloadpacket)
            if f is not None:
                Counter.total += f(*args, **kwargs, out_val=out)
            return out

    with Counter():
        fn()
    return Counter.total


def measure_peak(device, seconds: float = 0.4) -> dict:
    """Best-of matmul and conv FLOP/s in fp32 and bf16 (the 'peak' this script compares to)."""
    import torch
    import torch.nn.functional as F

    out = {}
    n = 1024 if device.type == "cpu" else 4096
    cases = {
        "matmul": (lambda dt: (torch.randn(n, n, device=device, dtype=dt),
                               torch.randn(n, n, device=device, dtype=dt)),
                   lambda a, b: a @ b, 2 * n ** 3),
        # a DCGAN discriminator layer: 64 x 128 x 16 x 16 -> 256 x 8 x 8, 4x4 stride 2
        "conv": (lambda dt: (torch.randn(64, 128, 16, 16, device=device, dtype=dt)
                             .contiguous(memory_format=torch.channels_last),
                             torch.randn(256, 128, 4, 4, device=device, dtype=dt)
                             .contiguous(memory_format=torch.channels_last)),
                 lambda x, w: F.conv2d(x, w, stride=2, padding=1),
                 2 * 64 * 256 * 8 * 8 * 128 * 16),
    }
    for dtype_name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        for name, (make, fn, flops) in cases.items():
            a, b = make(dt)
            with torch.no_grad():
                fn(a, b)
                sync(device)
                best = 0.0
                end = time.perf_counter() + seconds
                while time.perf_counter() < end:
                    t0 = time.perf_counter()
                    fn(a, b)
                    sync(device)
                    best = max(best, flops / (time.perf_counter() - t0))
            out[f"{dtype_name}_{name}"] = best
    return out


def measure_data(args, train_result: dict | None, size: int, batch: int, out: Path) -> dict:
    """Image folder decode (cold) and cache read (warm), then the Batcher alone."""
    import torch

    from gankit.plugins import get_plugins
    from gankit.train import Batcher

    res = {}
    runner = None
    if train_result is not None:
        runner = next(r for r in train_result["_runners"] if isinstance(r, GankitRunner))
    data = runner.trainer.data if runner else None
    if data is None:
        return res
    device = runner.trainer.device
    if data.spec.kind == "image" and data.samples.dim() == 4:
        # decode -> cache: write the images as PNG files and load them as `--data DIR` does
        from gankit.datasets import LoadOptions
        from gankit.images import save_png

        n = len(data) if not args.short else min(len(data), 32)
        folder = out / f"folder-{size}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            save_png(data.samples[i], folder / f"{i:05d}.png")
        ds = get_plugins().datasets().get("imagefolder")
        lo = LoadOptions(path=str(folder), image_size=data.samples.shape[-1], grayscale="auto",
                         cache=True, warn=lambda m: None)
        t0 = time.perf_counter()
        ds.load(lo)
        res["decode_cold_images_per_s"] = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        ds.load(lo)
        res["cache_warm_images_per_s"] = n / (time.perf_counter() - t0)
        res["folder_images"] = n
    # the Batcher: index -> float -> flips -> channels_last, as the trainer gets batches
    b = Batcher(data, min(batch, len(data)), device, 0, True, runner.trainer.channels_last)
    for _ in range(3):
        b.next()
    reps = 10 if args.short else 100
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        x = b.next()
    sync(device)
    dt = time.perf_counter() - t0
    res["batcher_images_per_s"] = reps * b.batch_size / dt
    del x
    step = next(r for r in train_result["rows"] if r["label"] == runner.label)
    res["train_real_images_per_s"] = step["real_images_per_s"]
    res["pipeline_vs_step"] = res["batcher_images_per_s"] / step["real_images_per_s"]
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return res


def measure_startup(args, out: Path) -> dict:
    """Wall time of gankit commands in fresh processes (median of --startup-reps)."""
    from gankit.config import parse_sets
    from gankit.train import Trainer, TrainOptions, plan

    cmd = gankit_cmd()
    res = {}
    reps = 1 if args.short else args.startup_reps
    env = dict(os.environ)

    def timed(argv, cwd):
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            p = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
            times.append(time.perf_counter() - t0)
            if p.returncode != 0:
                raise SystemExit(f"{' '.join(argv)} failed: {p.stderr.strip()[-400:]}")
        return median(times)

    res["help_s"] = timed(cmd + ["--help"], out)
    res["list_models_s"] = timed(cmd + ["list-models"], out)
    # a checkpoint to sample from: the default dcgan at 64 px (tiny in --short)
    size, n = (32, 100) if args.short else (64, 1000)
    sets = ["ngf=8", "ndf=8"] if args.short else []
    opts = TrainOptions(model="dcgan", image_size=size, batch_size=8, steps=1, out=str(out),
                        name="startup-run", sample_every=0, checkpoint_every=0,
                        extra={"download": False, "cache": True})
    with quiet(True):
        t = Trainer.from_plan(plan(opts, sets=parse_sets(sets),
                                   explicit={"image_size", "batch_size", "steps"}))
        t.fit()
    res["sample_n"] = n
    res["sample_size"] = size
    res["sample_s"] = timed(cmd + ["sample", str(t.run_dir), "-n", str(n), "--out",
                                   str(out / "startup-samples.png")], out)
    return res


# -- report ---------------------------------------------------------------------------


def machine_line() -> str:
    import torch

    from gankit.engine import cpu_supports_bf16

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = f", CUDA {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (f"{cpu}, {cores} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"cpu bf16 {'yes' if cpu_supports_bf16() else 'no'}{gpu}")


def print_train(res: dict, peak: dict | None) -> None:
    size = f"{res['image_size']}px " if res["image_size"] else ""
    print(f"\n### train: {res['model']} {size}batch {res['batch_size']}, loss {res['loss']}, "
          f"{res['device']} ({res['rounds']} rounds x {res['steps_per_chunk']} steps, interleaved)")
    print()
    print(f"| loop | levers | images/s | spread | vs {res['ref']} |")
    print("|---|---|---:|---:|---:|")
    for r in res["rows"]:
        extra = ""
        if res["n_critic"] > 1:
            extra = f" ({fmt_rate(r['real_images_per_s'])} real)"
        print(f"| {r['label']} | {r['levers']} | {fmt_rate(r['images_per_s'])}{extra} | "
              f"{spread(r['rates'])} | {r['vs_ref']:.2f}x |")
    print()
    for s in res["same_levers"]:
        print(f"ratio {s['gankit']} / {s['bare']} (same levers) = {s['ratio']:.3f} "
              f"(framework overhead {100 * (1 - s['ratio']):+.1f}%)")
    if not res["same_levers"] and any(r["label"].startswith("gankit") for r in res["rows"]):
        print("(no same-levers ratio: add --gankit ema=0,augment=none to compare gankit "
              "without EMA and augmentation with --bare all)")
    for r in res["rows"]:
        if r["label"] != res["ref"]:
            print(f"ratio {r['label']} / {res['ref']} = {r['vs_ref']:.2f}")
        if "first_chunk_s_with_compile" in r:
            line = (f"compile: {r['label']}'s first chunk ({res['steps_per_chunk']} steps) took "
                    f"{r['first_chunk_s_with_compile']:.1f} s, compilation included")
            eager = next((e for e in res["rows"] if e["precision"] == r["precision"]
                          and "first_chunk_s_with_compile" not in e
                          and e["label"].startswith("gankit")), None)
            if eager:
                per_step_c = res["batch_size"] / r["images_per_s"]
                per_step_e = res["batch_size"] / eager["images_per_s"]
                extra = r["first_chunk_s_with_compile"] - res["steps_per_chunk"] * per_step_c
                if per_step_e > per_step_c:
                    line += (f"; steady state {per_step_e / per_step_c:.2f}x {eager['label']}, "
                             f"pays after ~{extra / (per_step_e - per_step_c):,.0f} steps")
                else:
                    line += f"; steady state {per_step_e / per_step_c:.2f}x {eager['label']}: never pays"
            print(line)
    f = res["flops_per_image"]
    if f:
        print(f"FLOPs per image (one training step: G and D forward + backward): {f / 1e9:.3f} GFLOP")
        if peak:
            for r in res["rows"]:
                key = "bf16" if r["precision"] in ("bf16", "fp16") else "fp32"
                best = max(peak.get(f"{key}_matmul", 0), peak.get(f"{key}_conv", 0))
                achieved = f * r["images_per_s"]
                if best:
                    print(f"  {r['label']}: {achieved / 1e9:.1f} GFLOP/s = "
                          f"{100 * achieved / best:.0f}% of the measured {key} peak")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--model", default="dcgan")
    p.add_argument("--dataset", default=None, help="a registered data set (default: the model's)")
    p.add_argument("--data", default=None, help="an image folder (--dataset imagefolder)")
    p.add_argument("--image-size", default="64", help="one size or a list: 32,64,128")
    p.add_argument("--batch-size", default="64", help="one batch size or a list: 16,64,128")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                   help="gankit's precision (default variant)")
    p.add_argument("--compile", action="store_true", help="gankit variants use --compile")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--gankit", action="append", default=None, metavar="VARIANT")
    p.add_argument("--bare", "--bare-levers", dest="bare", action="append", default=None,
                   metavar="VARIANT")
    p.add_argument("--no-bare", action="store_true", help="time gankit only")
    p.add_argument("--steps", type=int, default=None, help="steps per timed chunk (default 12)")
    p.add_argument("--rounds", type=int, default=None, help="timed rounds (default 6)")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"comma list of {', '.join(SECTIONS)}")
    p.add_argument("--startup-reps", type=int, default=5)
    p.add_argument("--no-flops", dest="flops", action="store_false")
    p.add_argument("--progress", action="store_true", help="show gankit's progress bar")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--keep", type=Path, help="keep the runs in this folder (default: a temp dir)")
    p.add_argument("--short", action="store_true", help="tiny and quick (CI)")
    p.add_argument("-v", "--verbose", action="store_true", help="per-round figures on stderr")
    args = p.parse_args(argv)

    # the default recipe, and gankit without EMA and augmentation (the bare loops' work)
    args.gankit = args.gankit or ["default", "ema=0,augment=none"]
    args.bare_given = args.bare is not None
    args.bare = args.bare or ["none", "all"]
    if args.short:
        args.image_size = "32" if args.image_size == "64" else args.image_size
        args.batch_size = "8" if args.batch_size == "64" else args.batch_size
        if args.model == "dcgan" and not args.set:
            args.set = ["ngf=8", "ndf=8"]
        args.steps = args.steps or 4
        args.rounds = args.rounds or 2
        args.startup_reps = 1
    args.steps = max(2, args.steps or 12)
    args.rounds = args.rounds or 6
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    bad = sections - set(SECTIONS)
    if bad:
        raise SystemExit(f"--sections: unknown {', '.join(sorted(bad))}")

    from gankit import engine

    engine.configure_threads()
    import torch

    sizes = [int(s) for s in str(args.image_size).split(",")]
    batches = [int(b) for b in str(args.batch_size).split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="gankit-bench-")) if not args.keep else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine_line(), "command": " ".join(
        ["python", "benchmarks/train_throughput.py", *(argv if argv is not None else sys.argv[1:])]),
        "train": [], "data": [], "peak": None, "startup": None}
    print(f"## gankit benchmark: {results['machine']}")
    print(f"command: {results['command']}")
    try:
        device = engine.pick_device(args.device)
        if "peak" in sections or ("train" in sections and args.flops):
            results["peak"] = measure_peak(device, 0.1 if args.short else 0.4)
            pk = results["peak"]
            print("\npeak measured here (GFLOP/s, best of repeats): " + ", ".join(
                f"{k.replace('_', ' ')} {v / 1e9:.0f}" for k, v in pk.items()))
        for size in sizes:
            for batch in batches:
                if "train" not in sections and "data" not in sections:
                    continue
                out = tmp / f"s{size}-b{batch}"
                out.mkdir(parents=True, exist_ok=True)
                res = measure_train(args, size, batch, out)
                if "train" in sections:
                    print_train(res, results["peak"])
                if "data" in sections:
                    d = measure_data(args, res, size, batch, out)
                    if d:
                        results["data"].append({"image_size": size, "batch_size": batch, **d})
                        dec = (f"decode {d['folder_images']} PNGs "
                               f"{fmt_rate(d['decode_cold_images_per_s'])} images/s, cache read "
                               f"{fmt_rate(d['cache_warm_images_per_s'])} images/s, "
                               if "folder_images" in d else "")
                        print(f"\ndata pipeline {size}px batch {batch}: {dec}Batcher "
                              f"{fmt_rate(d['batcher_images_per_s'])} images/s = "
                              f"{d['pipeline_vs_step']:.0f}x the training step")
                for r in res.pop("_runners", []):
                    if isinstance(r, GankitRunner):
                        r.close()
                results["train"].append(res)
                del res
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        if "startup" in sections:
            s = measure_startup(args, tmp)
            results["startup"] = s
            print(f"\nstartup (median of {1 if args.short else args.startup_reps}): "
                  f"gankit --help {s['help_s']:.2f} s, gankit list-models {s['list_models_s']:.2f} s, "
                  f"gankit sample -n {s['sample_n']} ({s['sample_size']}px) {s['sample_s']:.2f} s")
        if len(results["train"]) > 1:
            print_summary(results["train"])
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


def print_summary(train: list) -> None:
    labels = [r["label"] for r in train[0]["rows"]]
    print("\n### summary: images/s (ratio to " + train[0]["ref"] + ")\n")
    print("| size | batch | GFLOP/img | " + " | ".join(labels) + " |")
    print("|---:|---:|---:|" + "---:|" * len(labels))
    for res in train:
        cells = []
        for r in res["rows"]:
            cells.append(f"{fmt_rate(r['images_per_s'])} ({r['vs_ref']:.2f}x)")
        f = res["flops_per_image"]
        print(f"| {res['image_size']} | {res['batch_size']} | {f / 1e9:.2f} | " if f else
              f"| {res['image_size']} | {res['batch_size']} | - | ", end="")
        print(" | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
