"""The training engine: one loop for every model.

The model owns its step (:meth:`gankit.GANModel.train_step`); the trainer owns the
device, precision, data batches, the fixed noise, progress, metrics, checkpoints,
resume, signals, the divergence guard and the lifecycle hooks.

Host syncs: the loop never reads a tensor back per step. Losses are summed on the
device and read once per ``log_every`` steps (one ``.tolist()``), together with a
non-finite flag, so the CPU can run ahead of an accelerator.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import checkpoints as ckpt
from . import console
from .errors import DivergenceError, GankitError

LR_BACKOFF = 0.5  # divergence guard: learning rates are multiplied by this on each retry


@dataclass
class TrainOptions:
    """Everything ``gankit train`` decides besides the model's own Config."""

    model: str = "dcgan"
    dataset: str | None = None
    data: str | None = None
    data_b: str | None = None
    image_size: int | None = None
    batch_size: int | None = None
    steps: int | None = None
    epochs: float | None = None
    lr: float | None = None
    betas: tuple[float, float] | None = None
    loss: str | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    out: str = "runs"
    name: str | None = None
    sample_every: int = 250
    checkpoint_every: int = 500
    keep_last: int = 5
    log_every: int = 25
    grid: int = 64
    flip: bool = True
    grayscale: str = "auto"
    channels_last: bool = True
    fused: bool = True
    compile: bool = False
    max_retries: int = 3
    timelapse: bool = False
    extra: dict = field(default_factory=dict)

    # options that a resumed run may change without --override
    RESUMABLE = ("steps", "epochs", "device", "sample_every", "checkpoint_every", "keep_last",
                 "log_every", "out", "timelapse", "compile", "max_retries")


class Interrupted(Exception):
    """Training stopped by SIGINT/SIGTERM after a final checkpoint."""

    def __init__(self, signum: int, step: int, path):
        self.signum, self.step, self.path = signum, step, path
        self.exit_code = 128 + signum
        super().__init__(f"interrupted at step {step}")


class Batcher:
    """Batches from in-memory samples: a seeded permutation per epoch, augmentation as
    batched tensor ops on the device. Its state (generator, permutation, position) is
    part of the checkpoint, so a resumed run sees the same batches."""

    def __init__(self, data, batch_size: int, device, seed: int, flip: bool, channels_last: bool):
        import torch

        self.data = data
        self.n = len(data)
        self.batch_size = batch_size
        self.device = device
        self.flip = bool(flip and data.spec.kind == "image" and (data.meta or {}).get("flip", True))
        self.channels_last = channels_last and data.spec.kind == "image"
        self.gen = torch.Generator().manual_seed(int(seed) + 7919)
        samples = data.samples
        # small data sets live on the device; large ones are copied a batch at a time
        if device.type != "cpu" and samples.numel() * samples.element_size() < 1 << 30:
            samples = samples.to(device)
        elif device.type == "cuda":
            samples = samples.pin_memory()
        self.samples = samples
        self.perm = torch.randperm(self.n, generator=self.gen)
        self.pos = 0
        self.epoch = 0

    def next(self):
        import torch

        if self.pos + self.batch_size > self.n:
            self.perm = torch.randperm(self.n, generator=self.gen)
            self.pos = 0
            self.epoch += 1
        idx = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        flips = torch.rand(self.batch_size, generator=self.gen) < 0.5 if self.flip else None
        x = self.samples[idx.to(self.samples.device)]
        x = x.to(self.device, non_blocking=True)
        if self.data.spec.kind != "image":
            return x.float()
        x = x.float().mul_(1 / 127.5).sub_(1.0)
        if flips is not None:
            m = flips.to(self.device, non_blocking=True).view(-1, 1, 1, 1)
            x = torch.where(m, x.flip(3), x)
        # the samples may be stored either way (loaders keep decoded NHWC memory as is)
        return x.contiguous(memory_format=torch.channels_last if self.channels_last
                            else torch.contiguous_format)

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm.clone(), "pos": self.pos,
                "epoch": self.epoch}

    def load_state_dict(self, s: dict) -> None:
        import torch

        self.gen.set_state(s["gen"])
        perm = s["perm"].to(torch.int64)
        if perm.numel() != self.n:
            raise GankitError(
                f"the data set now has {self.n} samples but the checkpoint was made with "
                f"{perm.numel()}; resume with the same data or start a new run"
            )
        self.perm, self.pos, self.epoch = perm, int(s["pos"]), int(s["epoch"])


def _json_default(o):
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)


class _LossSums:
    """Running sums of a model's per-step losses, kept on the device as one vector: one
    stack and one add per step, read back once per log interval."""

    def __init__(self, device):
        self.device = device
        self.keys: tuple = ()
        self.acc = None

    def add(self, losses: dict) -> None:
        import torch

        if not losses:
            return
        vals = losses.values()
        if tuple(losses) != self.keys:  # first step, or the model returned other losses
            new = tuple(k for k in losses if k not in self.keys)
            if new:
                extra = torch.zeros(len(new), device=self.device)
                self.acc = extra if self.acc is None else torch.cat([self.acc, extra])
                self.keys += new
            zero = torch.zeros((), device=self.device)
            vals = [losses.get(k, zero) for k in self.keys]
        self.acc.add_(torch.stack([v.detach().float().reshape(()) for v in vals]))

    def values(self):
        import torch

        return self.acc if self.acc is not None else torch.zeros(0, device=self.device)

    def non_finite(self):
        """A 0-d bool tensor: any loss since the last reset was NaN or infinite."""
        import torch

        return ~torch.isfinite(self.values()).all()


class Trainer:
    """Runs a model's steps with everything around them. Build it with
    :func:`gankit.training.prepare` (what ``gankit train`` does) or directly in tests."""

    def __init__(self, *, model, config, options: TrainOptions, data, loss, plugins,
                 run_dir: Path, data_b=None, device=None, total_steps: int):
        import torch

        from . import engine

        engine.configure_threads()
        self.model, self.config, self.options = model, config, options
        self.data, self.data_b, self.loss, self.plugins = data, data_b, loss, plugins
        self.spec = data.spec
        self.run_dir = Path(run_dir)
        self.device = device or engine.pick_device(options.device)
        # under torchrun: one process per device; gradients are averaged across them
        engine.init_distributed(self.device)
        self.rank, self.world_size = engine.rank(), engine.world_size()
        self.is_main = self.rank == 0
        engine.pick_precision(options.precision, self.device)  # a bad --precision fails early
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.total_steps = int(total_steps)
        self.batch_size = int(options.batch_size)
        self.step = 0
        self.error: BaseException | None = None
        self._stop_signal: int | None = None
        self.last_metrics: dict = {}

        torch.manual_seed(options.seed)
        nets = model.build(config, self.spec, loss)
        image = self.spec.kind == "image"
        self.channels_last = bool(options.channels_last and image and self.device.type != "mps"
                                  and model.channels_last)
        for k, net in nets.items():
            net.to(self.device)
            if self.channels_last:
                net.to(memory_format=torch.channels_last)
        self.nets = nets
        self._param_lists: dict = {}
        # auto: bf16 on CUDA, and on bf16-capable CPUs for convolutional nets
        self.precision = engine.pick_precision(options.precision, self.device, nets)
        self.autocast = engine.autocast_factory(self.device, self.precision)
        self.scaler = (torch.amp.GradScaler(self.device.type)
                       if self.precision == "fp16" else None)
        self.compile_s: float | None = None  # --compile: seconds of the first step
        if options.compile:
            engine.compile_nets(nets)
        if self.world_size > 1:
            # same initial weights everywhere (same seed above); different noise per process
            torch.manual_seed(options.seed + 1_000_003 * self.rank)
        self.opts = model.optimizers(config, nets, options)
        self.scheds = model.schedulers(config, self.opts, options)
        self.batcher = Batcher(data, self.batch_size, self.device, options.seed + 7 * self.rank,
                               options.flip, self.channels_last)
        self.batcher_b = (Batcher(data_b, self.batch_size, self.device,
                                  options.seed + 1 + 7 * self.rank, options.flip,
                                  self.channels_last) if data_b is not None else None)
        g = torch.Generator().manual_seed(options.seed + 104729)
        self.fixed_noise = (model.latent(config, options.grid, generator=g)
                            if hasattr(model, "latent") else None)
        if hasattr(model, "setup"):
            model.setup(self)
        self._initial_state = None
        self._retries = 0

    # -- helpers for models' train_step ----------------------------------------------
    def next_batch(self):
        return self.batcher.next()

    def next_batch_b(self):
        return self.batcher_b.next()

    def latent(self, n: int):
        return self.model.latent(self.config, n, device=self.device)

    def requires_grad(self, names, flag: bool) -> None:
        """Turn the weight gradients of network(s) ``names`` on or off, e.g. D's during the
        G step (gradients still flow through D to G). The parameter lists are cached:
        ``nn.Module.requires_grad_`` walks the module tree on every call, which costs
        about 5 % of a small MLP's step."""
        for n in (names,) if isinstance(names, str) else names:
            params = self._param_lists.get(n)
            if params is None:
                params = self._param_lists[n] = list(self.nets[n].parameters())
            for p in params:
                p.requires_grad_(flag)

    def backward_step(self, name, loss) -> None:
        """Zero the grads of optimizer ``name``, backprop ``loss``, step the optimizer.

        ``name`` may be a tuple of optimizer names: one backward pass of a loss shared by
        several networks (e.g. CycleGAN's two generators), then every optimizer steps.
        """
        opts = [self.opts[n] for n in ((name,) if isinstance(name, str) else name)]
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self._sync_grads(opts)
            for opt in opts:
                self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            self._sync_grads(opts)
            for opt in opts:
                opt.step()

    def _sync_grads(self, opts) -> None:
        """Under torchrun, average the gradients of ``opts`` over the processes."""
        if self.world_size > 1:
            from .engine import all_reduce_mean_

            all_reduce_mean_([p.grad for o in opts for g in o.param_groups for p in g["params"]])

    # -- state --------------------------------------------------------------------------
    def state(self) -> dict:
        import torch

        s = {
            "step": self.step,
            "nets": {k: v.state_dict() for k, v in self.nets.items()},
            "opts": {k: v.state_dict() for k, v in self.opts.items()},
            "scheds": {k: v.state_dict() for k, v in self.scheds.items()},
            "batcher": self.batcher.state_dict(),
            "rng": {"cpu": torch.get_rng_state()},
            "extra": self.model.extra_state(),
        }
        if self.batcher_b is not None:
            s["batcher_b"] = self.batcher_b.state_dict()
        if self.fixed_noise is not None:
            s["fixed_noise"] = self.fixed_noise
        if self.scaler is not None:
            s["scaler"] = self.scaler.state_dict()
        if self.device.type == "cuda":
            s["rng"]["cuda"] = torch.cuda.get_rng_state(self.device)
        return s

    def load_state(self, s: dict) -> None:
        import torch

        for k, net in self.nets.items():
            try:
                net.load_state_dict(s["nets"][k])
            except (KeyError, RuntimeError) as exc:
                raise GankitError(
                    f"checkpoint does not fit model '{self.model.name}' as configured "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0]})"
                ) from None
        for k, opt in self.opts.items():
            opt.load_state_dict(s["opts"][k])
            _match_param_layout(opt)
        for k, sch in self.scheds.items():
            if k in s.get("scheds", {}):
                sch.load_state_dict(s["scheds"][k])
        self.batcher.load_state_dict(s["batcher"])
        if self.batcher_b is not None and "batcher_b" in s:
            self.batcher_b.load_state_dict(s["batcher_b"])
        if "fixed_noise" in s:
            self.fixed_noise = s["fixed_noise"]
        if self.scaler is not None and "scaler" in s:
            self.scaler.load_state_dict(s["scaler"])
        torch.set_rng_state(s["rng"]["cpu"])
        if "cuda" in s["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(s["rng"]["cuda"], self.device)
        self.model.load_extra_state(s.get("extra") or {})
        self.step = int(s["step"])
        if self.world_size > 1:
            # the checkpoint holds the main process's random streams: give each process its
            # own again (a resumed torchrun run continues, but not bit for bit)
            seed = self.options.seed + 1_000_003 * self.rank + self.step
            torch.manual_seed(seed)
            self.batcher.gen.manual_seed(seed + 7)
            if self.batcher_b is not None:
                self.batcher_b.gen.manual_seed(seed + 8)

    def metadata(self) -> dict:
        from . import __version__
        from .config import to_dict

        return {
            "gankit.format": str(ckpt.FORMAT),
            "gankit.version": __version__,
            "gankit.model": self.model.name,
            "gankit.model_version": str(self.model.version),
            "gankit.plugin": str(getattr(self.model, "plugin", "") or ""),
            "gankit.plugin_version": str(plugin_version(self.plugins, self.model)),
            "gankit.config": json.dumps(to_dict(self.config)),
            "gankit.train": json.dumps(dataclasses.asdict(self.options), default=_json_default),
            "gankit.data": json.dumps(self.spec.to_dict()),
            "gankit.step": str(self.step),
        }

    def save_checkpoint(self) -> Path:
        """Write a checkpoint (the main process only; the others wait for it)."""
        path = ckpt.checkpoint_path(self.run_dir, self.step)
        if self.world_size > 1:
            from .engine import barrier

            if self.is_main:
                self._write_checkpoint(path)
            barrier()
            return path
        return self._write_checkpoint(path)

    def _write_checkpoint(self, path: Path) -> Path:
        tensors: dict = {}
        skel = ckpt.flatten_state(self.state(), "s", tensors)
        meta = self.metadata()
        meta["gankit.state"] = json.dumps(skel)
        ckpt.save(path, tensors, meta)
        ckpt.prune(self.run_dir, self.options.keep_last)
        self.plugins.notify("on_checkpoint", trainer=self, step=self.step, path=path,
                            metadata=meta)
        return path

    def resume_from(self, checkpoint: "ckpt.Checkpoint") -> None:
        try:
            self.load_state(checkpoint.state())
        except ckpt.CheckpointError:
            raise
        except GankitError as exc:
            raise ckpt.CheckpointError(f"{checkpoint.path}: {exc}") from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as exc:
            # an edited or foreign training state: one line naming the file
            raise ckpt.CheckpointError(
                f"{checkpoint.path}: its training state does not fit this run "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
            ) from None

    # -- samples ------------------------------------------------------------------------
    def preview(self):
        """uint8 (N, C, H, W) images for the progress grid, and the grid's column count."""
        import torch

        from .images import grid_shape, to_uint8

        if hasattr(self.model, "preview"):
            return self.model.preview(self)
        was = {k: n.training for k, n in self.nets.items()}
        for n in self.nets.values():
            n.eval()
        try:
            with torch.no_grad(), self.autocast():
                out = self.model.generate(self.nets, self.fixed_noise.to(self.device))
        finally:
            for k, n in self.nets.items():
                n.train(was[k])
        if self.spec.kind == "vector":
            from .plots import scatter_image

            return scatter_image(out.float().cpu(), self.data.samples,
                                 (self.data.meta or {}).get("centers")), 1
        return to_uint8(out), grid_shape(out.shape[0])[0]

    def write_samples(self) -> Path:
        from .images import save_grid

        images, nrow = self.preview()
        path = self.run_dir / "samples" / f"step-{self.step:06d}.png"
        save_grid(images, path, nrow=nrow)
        self.plugins.notify("on_samples", trainer=self, step=self.step, images=images, path=path)
        return path

    # -- the loop -------------------------------------------------------------------------
    def _on_signal(self, signum, frame):  # noqa: ARG002
        if self._stop_signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self._stop_signal = signum

    def _params_finite(self):
        import torch

        flags = [torch.isfinite(p).all() for net in self.nets.values() for p in net.parameters()]
        return torch.stack(flags).all() if flags else torch.tensor(True)

    def fit(self) -> str:
        """Train to ``total_steps``. Returns ``"completed"``; raises :class:`Interrupted`."""
        import torch

        opts = self.options
        metrics_path = self.run_dir / "metrics.jsonl"
        _trim_metrics(metrics_path, self.step)
        if self.is_main:  # temp files of writes a crash (SIGKILL, power loss) cut short
            ckpt.remove_stale_temps(self.run_dir)
        self.plugins_call_start()
        if self._initial_state is None and not ckpt.list_checkpoints(self.run_dir):
            self._initial_state = _cpu_copy(self.state())
        old_handlers = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old_handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread
                pass
        status = "failed"
        sums = _LossSums(self.device)
        count = 0
        t_log, n_log = time.perf_counter(), 0
        start_wall = time.time()
        try:
            with console.progress(disable=not self.is_main) as prog:
                task = prog.add_task(self.model.name, total=self.total_steps,
                                     completed=self.step, rate="", info="")
                for n in self.nets.values():
                    n.train()
                while self.step < self.total_steps:
                    timing = opts.compile and self.compile_s is None
                    t_step = time.perf_counter() if timing else 0.0
                    losses = self.model.train_step(self)
                    if timing:  # compilation happens in the first step
                        self.compile_s = time.perf_counter() - t_step
                        console.info(f"torch.compile: the first step took {self.compile_s:.1f} s "
                                     "(compiling the networks)")
                    for sch in self.scheds.values():
                        sch.step()
                    self.step += 1
                    count += 1
                    n_log += 1
                    sums.add(losses)
                    self.plugins.notify("on_step_end", trainer=self, step=self.step,
                                        losses=losses)
                    prog.update(task, completed=self.step)
                    last = self.step == self.total_steps
                    # one process alone may act on a signal at once; under torchrun all
                    # processes agree on stopping at the next log step
                    alone = self.world_size == 1
                    if self.step % opts.log_every == 0 or last or (self._stop_signal and alone):
                        # a non-finite loss makes its sum non-finite: no per-step check
                        bad = sums.non_finite() | ~self._params_finite()
                        keys = list(sums.keys)
                        stop = float(self._stop_signal or 0)
                        packed = torch.cat([sums.values(), torch.stack([
                            bad.float(), torch.tensor(stop, device=self.device)])])
                        if not alone:
                            from .engine import all_reduce_sum

                            packed = all_reduce_sum(packed)
                            packed[:-2] /= self.world_size
                        vals = packed.tolist()  # the one host sync per log interval
                        stop_sig = vals.pop()
                        if stop_sig and self._stop_signal is None:
                            self._stop_signal = signal.SIGTERM  # another process was told to stop
                        if vals[-1]:
                            self._diverged()
                            sums, count = _LossSums(self.device), 0
                            prog.update(task, completed=self.step)
                            t_log, n_log = time.perf_counter(), 0
                            continue
                        now = time.perf_counter()
                        ips = n_log * self.batch_size / max(now - t_log, 1e-9)
                        m = {k: v / max(count, 1) for k, v in zip(keys, vals[:-1])}
                        self.last_metrics = m
                        rec = {"step": self.step, **{k: round(v, 6) for k, v in m.items()},
                               "images_per_s": round(ips, 2),
                               "wall_time": round(time.time() - start_wall, 3)}
                        if self.is_main:
                            _append_line(metrics_path, rec)
                            self.plugins.notify("on_log", trainer=self, step=self.step,
                                                metrics={**m, "images_per_s": ips,
                                                         "elapsed_s": rec["wall_time"]})
                        prog.update(task, rate=f"{ips:,.0f} img/s",
                                    info="  ".join(f"{k.removeprefix('loss_')} {v:.3f}"
                                                   for k, v in m.items()))
                        sums, count, t_log, n_log = _LossSums(self.device), 0, now, 0
                    if (self.is_main and opts.sample_every
                            and (self.step % opts.sample_every == 0 or last)):
                        self.write_samples()
                    if self._stop_signal is not None and not last and (
                            alone or self.step % opts.log_every == 0):
                        path = self.save_checkpoint()
                        status = "interrupted"
                        raise Interrupted(self._stop_signal, self.step, path)
                    if (opts.checkpoint_every and self.step % opts.checkpoint_every == 0) or last:
                        if (alone and self.step % opts.log_every
                                and bool(sums.non_finite() | ~self._params_finite())):
                            # never checkpoint non-finite weights: the guard restores the
                            # newest checkpoint (one sync, at checkpoint steps only: the
                            # write below reads every tensor back anyway)
                            self._diverged()
                            sums, count = _LossSums(self.device), 0
                            prog.update(task, completed=self.step)
                            t_log, n_log = time.perf_counter(), 0
                            continue
                        self.save_checkpoint()
            status = "completed"
            return status
        except BaseException as exc:
            if status != "interrupted":
                self.error = exc
            raise
        finally:
            for sig, h in old_handlers.items():
                signal.signal(sig, h)
            self.plugins.notify("on_train_end", trainer=self, status=status)

    def plugins_call_start(self) -> None:
        """on_train_start: a plugin raising GankitError refuses the run."""
        caller = self.plugins.pm.hook.on_train_start
        for impl in caller.get_hookimpls():
            try:
                impl.function(**{k: {"trainer": self}[k] for k in impl.argnames})
            except GankitError as exc:
                raise GankitError(f"plugin '{impl.plugin_name}' refused the run: {exc}") from None
            except Exception as exc:  # noqa: BLE001
                raise GankitError(
                    f"plugin '{impl.plugin_name}' raised in on_train_start: "
                    f"{type(exc).__name__}: {exc}"
                ) from None

    def _diverged(self) -> None:
        """Restore the last good state, lower the learning rate, or give up."""
        self._retries += 1
        if self._retries > self.options.max_retries:
            raise DivergenceError(
                f"training diverged (non-finite loss or weights near step {self.step}) "
                f"{self._retries} times; the last good checkpoint is kept. Try a lower --lr "
                "or --precision fp32"
            )
        good = ckpt.latest_loadable(self.run_dir)
        bad_step = self.step
        if good is not None and good.step <= bad_step:
            self.load_state(good.state())
        else:
            self.load_state(_cpu_copy(self._initial_state))
        factor = LR_BACKOFF ** self._retries
        for opt in self.opts.values():
            for g in opt.param_groups:
                g["lr"] = g.setdefault("initial_lr_gankit", g["lr"]) * factor
        for sch in self.scheds.values():  # schedulers recompute lr from base_lrs each step
            if isinstance(getattr(sch, "base_lrs", None), list):
                if not getattr(sch, "initial_base_lrs_gankit", None):
                    sch.initial_base_lrs_gankit = list(sch.base_lrs)  # saved in state_dict()
                sch.base_lrs = [b * factor for b in sch.initial_base_lrs_gankit]
        console.warn(
            f"non-finite values near step {bad_step}: restored step {self.step} and lowered "
            f"the learning rate to {factor:g}x (retry {self._retries} of {self.options.max_retries})"
        )
        _trim_metrics(self.run_dir / "metrics.jsonl", self.step)


def _match_param_layout(opt) -> None:
    """Give per-parameter optimizer state the memory layout of its parameter.

    Checkpoints store tensors contiguous; a channels_last parameter whose Adam moments
    come back NCHW would make fused/foreach kernels pair the wrong elements."""
    import torch

    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p)
            if not st:
                continue
            for key, v in st.items():
                if isinstance(v, torch.Tensor) and v.shape == p.shape and v.stride() != p.stride():
                    st[key] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def _cpu_copy(state):
    import torch

    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: _cpu_copy(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_cpu_copy(v) for v in state)
    return state


def plugin_version(plugins, model) -> str:
    rec = plugins.records.get(getattr(model, "plugin", ""), None)
    return (rec.version if rec and rec.version else "") or ""


def _append_line(path: Path, record: dict) -> None:
    """One JSON line, written with a single write so a crash cannot interleave lines."""
    line = json.dumps(record) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()


def _trim_metrics(path: Path, step: int) -> None:
    """On (re)start: drop torn lines and lines past ``step`` so no step appears twice."""
    if not path.exists():
        return
    keep, changed = [], False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True):
        try:
            rec = json.loads(line)
            ok = line.endswith("\n") and isinstance(rec, dict) and int(rec.get("step", -1)) <= step
        except (ValueError, TypeError):
            ok = False
        if ok:
            keep.append(line)
        else:
            changed = True
    if changed:
        ckpt.atomic_write(path, lambda tmp: Path(tmp).write_text("".join(keep), encoding="utf-8"))


def steps_for_epochs(epochs: float, n: int, batch: int) -> int:
    return max(1, math.ceil(epochs * n / batch))


def run_dir_for(options: TrainOptions) -> Path:
    name = options.name or f"{options.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = Path(options.out) / name
    i = 1
    while path.exists() and not options.name:
        path = Path(options.out) / f"{name}-{i}"
        i += 1
    return path


def writable_dir(path: Path, flag: str) -> None:
    """Create ``path`` or fail with one line naming the flag."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".gankit-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise GankitError(f"{flag} {path}: not writable ({exc.strerror or exc})") from None
