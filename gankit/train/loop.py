"""The trainer: a model's steps with everything around them.

The model owns its step (:meth:`gankit.GANModel.train_step`); the trainer owns the
device, precision, data batches, the fixed noise, progress, metrics, checkpoints,
resume, signals, the divergence guard and the lifecycle hooks.

Host syncs: the loop never reads a tensor back per step. Losses are summed on the
device and read once per ``log_every`` steps (one ``.tolist()``), together with a
non-finite flag and a stop request, so the CPU can run ahead of an accelerator.
"""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path

import torch

from .. import checkpoints as ckpt
from .. import console, engine
from ..errors import DivergenceError, GankitError
from ..images import save_grid
from ..run import Run
from . import state as train_state
from .batcher import Batcher
from .guard import DivergenceGuard
from .logbook import Logbook
from .steps import StepHelpers


class Interrupted(Exception):
    """Training stopped by SIGINT/SIGTERM after a final checkpoint."""

    def __init__(self, signum: int, step: int, path):
        self.signum, self.step, self.path = signum, step, path
        self.exit_code = 128 + signum
        super().__init__(f"interrupted at step {step}")


class Trainer(StepHelpers):
    """Runs a model's steps with everything around them. Build it with
    :meth:`from_plan` (what ``gankit train`` does, via :func:`gankit.train.plan`)."""

    def __init__(self, *, model, config, options, data, loss, plugins, run_dir, data_b=None,
                 device=None, total_steps: int, domains: dict | None = None):
        engine.configure_threads()
        self.model, self.config, self.options = model, config, options
        self.loss, self.plugins = loss, plugins
        domains = dict(domains) if domains else {"A": data, **({"B": data_b} if data_b else {})}
        self.data_domains = domains
        self.data = next(iter(domains.values()))
        self.data_b = domains.get("B")
        self.spec = self.data.spec
        self.run = run_dir if isinstance(run_dir, Run) else Run(run_dir)
        self.run_dir = self.run.path
        self.device = device or engine.pick_device(options.device)
        engine.init_distributed(self.device)  # under torchrun: one process per device
        self.rank, self.world_size = engine.rank(), engine.world_size()
        self.is_main = self.rank == 0
        engine.pick_precision(options.precision, self.device)  # a bad --precision fails early
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.total_steps = int(total_steps)
        self.started = time.time()
        self.batch_size = int(options.batch_size)
        self.step = 0
        self.error: BaseException | None = None
        self.last_metrics: dict = {}
        self._stop_signal: int | None = None
        self._param_lists: dict = {}
        self._build_nets()
        self.domains = {name: Batcher(d, self.batch_size, self.device,
                                      options.seed + i + 7 * self.rank, options.flip,
                                      self.channels_last,
                                      balance=bool(options.balance_classes and i == 0))
                        for i, (name, d) in enumerate(domains.items())}
        self.batcher = next(iter(self.domains.values()))
        g = torch.Generator().manual_seed(options.seed + 104729)
        self.fixed_noise = model.preview_inputs(config, options.grid, g)
        self.guard = DivergenceGuard(self)
        self._build_averages()
        self.run_state = model.setup(self)  # per-run state the model keeps, or None

    def _build_nets(self) -> None:
        options = self.options
        torch.manual_seed(options.seed)
        nets = self.model.build(self.config, self.spec, self.loss)
        self.channels_last = bool(options.channels_last and self.spec.kind == "image"
                                  and self.device.type != "mps" and self.model.channels_last)
        for net in nets.values():
            net.to(self.device)
            if self.channels_last:
                net.to(memory_format=torch.channels_last)
        self.nets = nets
        # auto: bf16 on CUDA, and on bf16-capable CPUs for convolutional nets
        self.precision = engine.pick_precision(options.precision, self.device, nets)
        self.autocast = engine.autocast_factory(self.device, self.precision)
        self.scaler = torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None
        self.compile_s: float | None = None  # --compile: seconds of the first step
        if options.compile:
            engine.compile_nets(nets)
        if self.world_size > 1:
            # same initial weights everywhere (same seed above); different noise per process
            torch.manual_seed(options.seed + 1_000_003 * self.rank)
        self.opts = self.model.optimizers(self.config, nets, options)
        self.scheds = self.model.schedulers(self.config, self.opts, options)

    @classmethod
    def from_plan(cls, plan) -> "Trainer":
        """The trainer of a :class:`gankit.train.Plan`, resumed from its checkpoint."""
        if engine.rank() == 0:
            plan.run.lock()
        try:
            plan.run.prepare_folders()
            t = cls(model=plan.model, config=plan.config, options=plan.options, data=None,
                    loss=plan.loss, plugins=plan.plugins, run_dir=plan.run,
                    total_steps=plan.steps, domains=plan.data)
            if plan.checkpoint is not None:
                from .validate import validate_resume  # the whole state, before any is loaded
                validate_resume(plan.checkpoint, t)
                t.resume_from(plan.checkpoint)
                if t.step >= t.total_steps:
                    console.info(f"run already at step {t.step} of {t.total_steps}; "
                                 "pass --steps N to train further")
            if t.is_main:
                t.write_config()
        except BaseException:
            plan.run.unlock()
            raise
        return t

    # -- state, checkpoints, samples ------------------------------------------------------
    def state(self) -> dict:
        return train_state.collect(self)

    def load_state(self, s: dict) -> None:
        train_state.restore(self, s)

    def state_parts(self) -> list:
        """The parts of the training state, in the order a resume loads them
        (:mod:`gankit.train.parts`)."""
        return train_state.parts(self)

    def metadata(self) -> dict:
        return train_state.metadata(self)

    def save_checkpoint(self) -> Path:
        """Write a checkpoint and tell the hooks (the main process only)."""
        path = self.write_checkpoint()
        self.notify_checkpoint(path)
        return path

    def write_checkpoint(self) -> Path:
        """Write a checkpoint (the main process only; the others wait for it)."""
        path = self.run.checkpoint_path(self.step)
        if self.is_main:
            train_state.write_checkpoint(self, path)
            self.run.prune(self.options.keep_last, keep=[path])
            self._write_status("running")
        if self.world_size > 1:
            engine.barrier()
        return path

    def notify_checkpoint(self, path: Path) -> None:
        if self.is_main:
            self.plugins.notify("on_checkpoint", trainer=self, step=self.step, path=path,
                                metadata=self.metadata())

    def resume_from(self, checkpoint) -> None:
        try:
            self.load_state(checkpoint.state())
            train_state.apply_changed_options(self, checkpoint.train)
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

    def preview(self):
        """uint8 (N, C, H, W) images for the progress grid and its column count, or None."""
        was = {k: n.training for k, n in self.nets.items()}
        try:
            return self.model.preview(self)
        finally:
            for k, n in self.nets.items():
                n.train(was[k])

    def write_samples(self) -> Path | None:
        shown = self.preview()
        if shown is None:
            return None
        images, nrow = shown
        path = self.run.sample_path(self.step)
        save_grid(images, path, nrow=nrow)
        self.plugins.notify("on_samples", trainer=self, step=self.step, images=images, path=path)
        return path

    def write_config(self) -> None:
        self.run.write_config(train_state.config_doc(self))

    def _write_status(self, status: str, message: str | None = None) -> None:
        if self.is_main:
            self.run.write_status(status, self.step, self.total_steps,
                                  started=self.started, message=message)

    # -- the loop -------------------------------------------------------------------------
    def fit(self, until: int | None = None) -> str:
        """Train to ``total_steps`` (or only to step ``until``, without the last step's
        checkpoint and samples: a benchmark's timed chunk). Returns ``"completed"``;
        raises :class:`Interrupted`."""
        stop_at = self.total_steps if until is None else min(int(until), self.total_steps)
        status = "failed"
        try:
            self._start()  # inside: a plugin failing at start leaves a failed run, unlocked
            with self._signals(), console.progress(disable=not self.is_main) as prog:
                self.bar = _Bar(prog, self.model.name, self.total_steps, self.step)
                while self.step < stop_at:
                    self._one_step()
                    last = self.step == self.total_steps
                    if self._due(self.options.log_every, last) or self._stopping(alone=True):
                        if not self._tick():
                            continue  # diverged: restored an earlier state
                    stop = self._stopping() and not last
                    path = None
                    if self._due(self.options.checkpoint_every, last) or stop:
                        if self._unlogged_divergence():
                            continue
                        path = self.write_checkpoint()  # on disk before anything else
                    if self.is_main and self._due(self.options.sample_every, last):
                        self.write_samples()
                    if path is not None:
                        self.notify_checkpoint(path)
                    if stop:
                        status = "interrupted"
                        raise Interrupted(self._stop_signal, self.step, path)
            status = "completed"
            return status
        except BaseException as exc:
            if isinstance(exc, DivergenceError):
                status = "diverged"
            if status != "interrupted":
                self.error = exc
            raise
        finally:
            self._finish(status)

    def _start(self) -> None:
        if self.is_main:
            self.run.trim_metrics(self.step)
            self.run.remove_stale_temps()  # temp files of writes a crash cut short
        self.logbook = Logbook(self.device, self.world_size)
        self._write_status("running")
        self.plugins.start_run(self)
        self.guard.remember_start()
        for n in self.nets.values():
            n.train()

    def _one_step(self) -> None:
        timing = self.options.compile and self.compile_s is None
        t0 = time.perf_counter() if timing else 0.0
        losses = self.model.train_step(self)
        for k, e in self.ema.items():
            e.update(self.nets[k], self.step)
        if timing:  # compilation happens in the first step
            self.compile_s = time.perf_counter() - t0
            console.info(f"torch.compile: the first step took {self.compile_s:.1f} s "
                         "(compiling the networks)")
        for sch in self.scheds.values():
            sch.step()
        self.step += 1
        self.logbook.add(losses)
        self.plugins.notify("on_step_end", trainer=self, step=self.step, losses=losses)
        self.bar.update(completed=self.step)

    def _due(self, every: int, last: bool) -> bool:
        return last or bool(every and self.step % every == 0)

    def _stopping(self, alone: bool = False) -> bool:
        """A signal asks to stop: act now when alone, else at the agreed log step."""
        if self._stop_signal is None:
            return False
        if self.world_size == 1:
            return True
        return not alone and self.step % self.options.log_every == 0

    def _tick(self) -> bool:
        """Once per log interval: one read-back, the guard, metrics, hooks, progress."""
        means, bad, stop = self.logbook.read(self.guard.params_finite(),
                                             self._stop_signal is not None)
        if stop and self._stop_signal is None:
            self._stop_signal = signal.SIGTERM  # another process was told to stop
        if bad:
            self.guard.recover()
            self.logbook.reset()
            self.bar.update(completed=self.step)
            return False
        rec = self.logbook.record(self.step, means, self.batch_size)
        if self.augment is not None and self.augment.adaptive:
            self.augment.adjust(self.batch_size * self.world_size, self.logbook.steps,
                                all_reduce=engine.all_reduce_sum if self.world_size > 1
                                else None)
            rec["augment_p"] = round(float(self.augment.p), 4)
        self.last_metrics = means
        if self.is_main:
            self.run.append_metrics(rec)
            self.plugins.notify("on_log", trainer=self, step=self.step, metrics={
                **means, "images_per_s": rec["images_per_s"], "wall_time": rec["wall_time"],
                "elapsed_s": rec["wall_time"]})
        self.bar.update(rate=f"{rec['images_per_s']:,.0f} img/s",
                        info="  ".join(f"{k.removeprefix('loss_')} {v:.3f}"
                                       for k, v in means.items()))
        self.logbook.reset()
        return True

    def _unlogged_divergence(self) -> bool:
        """Never checkpoint non-finite weights: between log steps, check once (at
        checkpoint steps only: the write reads every tensor back anyway)."""
        if self.world_size > 1 or self.step % self.options.log_every == 0:
            return False
        if not self.guard.bad_now(self.logbook.sums):
            return False
        self.guard.recover()
        self.logbook.reset()
        self.bar.update(completed=self.step)
        return True

    def _finish(self, status: str) -> None:
        message = (f"{type(self.error).__name__}: {self.error}"
                   if status in ("failed", "diverged") and self.error is not None else None)
        try:
            self._write_status(status, message)
        except OSError:
            pass
        finally:
            # hooks know completed / interrupted / failed (a divergence is a failure)
            self.plugins.notify("on_train_end", trainer=self,
                                status="failed" if status == "diverged" else status)
            self.run.unlock()

    @contextlib.contextmanager
    def _signals(self):
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread
                pass
        try:
            yield
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)

    def _on_signal(self, signum, frame):  # noqa: ARG002
        if self._stop_signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self._stop_signal = signum


class _Bar:
    """The rich progress task of a run."""

    def __init__(self, prog, name: str, total: int, done: int):
        self.prog = prog
        self.task = prog.add_task(name, total=total, completed=done, rate="", info="")

    def update(self, **kw) -> None:
        self.prog.update(self.task, **kw)
