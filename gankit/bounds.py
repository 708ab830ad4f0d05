"""Upper and lower bounds on every size and count a command accepts.

Each check runs before the work it guards (decoding data, building networks,
generating samples) and raises :class:`gankit.UsageError` (exit 2) with one line that
names the flag, the value and the limit. No torch at import time: the command line
imports this module.
"""

from __future__ import annotations

import contextlib
import math
import os

from .errors import UsageError
from .options import MAX_STEPS, MAX_TRAIN_GRID, flag_fields  # noqa: F401 - bounds.MAX_*

#: seeds are 64-bit signed integers in torch's and numpy's generators
MAX_SEED = 2**63 - 1
#: samples that one `gankit sample` call draws (-n, --seeds, --grid cells)
MAX_SAMPLES = 100_000
#: frames of one `gankit interpolate` walk
MAX_FRAMES = 10_000
#: GIF frame rates: GIF delays are whole centiseconds and viewers slow down delays
#: under 20 ms, so 50 fps is the fastest a GIF really plays; 0.01 fps is 100 s a frame
MIN_FPS, MAX_FPS = 0.01, 50.0
#: truncation thresholds: below 0.05 the redraws of z components beyond |T| grow without
#: bound (a component lands within 1e-300 of 0 essentially never); over 10 is no truncation
MIN_TRUNCATION, MAX_TRUNCATION = 0.05, 10.0
#: EMA half-lives (kimg): beyond this the EMA weight per step, 0.5 ** (batch / (kimg *
#: 1000)), rounds to 1 in float32 even at batch 1, so the EMA generator would never move
MAX_EMA_KIMG = 10_000.0
#: bytes per network parameter while training: fp32 weights, gradients, two Adam moments
TRAIN_BYTES_PER_PARAM = 16
#: memory assumed when the machine's cannot be read
FALLBACK_MEMORY = 64 * 1024**3


def check_range(flag: str, value, low=None, high=None, what: str = "") -> None:
    """``flag value: must be at least low`` / ``at most high`` (``what`` explains high)."""
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{flag} {value}: must be a finite number")
    if low is not None and value < low:
        raise UsageError(f"{flag} {value}: must be at least {low}")
    if high is not None and value > high:
        raise UsageError(f"{flag} {value}: must be at most {high}" + (f" ({what})" if what else ""))


def check_count(flag: str, value: int, high: int = MAX_SAMPLES, low: int = 1) -> None:
    check_range(flag, value, low, high)


def check_seed(flag: str, value: int | None, count: int = 1) -> None:
    """A seed (and the ``count - 1`` seeds after it) in 0 .. 2^63-1."""
    if value is None:
        return
    if value < 0:
        raise UsageError(f"{flag} {value}: must be 0 or more")
    if value + max(count, 1) - 1 > MAX_SEED:
        last = "" if count <= 1 else f" (with {count} samples the last seed is {value + count - 1})"
        raise UsageError(f"{flag} {value}: seeds go up to 2^63-1 = {MAX_SEED}{last}")


def check_fps(flag: str, fps: float) -> None:
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise UsageError(f"{flag} {fps:g}: choose {MIN_FPS:g} to {MAX_FPS:g} frames per second "
                         "(GIF viewers play at most 50)")


def check_truncation(flag: str, value) -> None:
    """A truncation threshold from MIN_TRUNCATION to MAX_TRUNCATION (the CLI and the
    studio share it)."""
    if value is None:
        return
    if not (isinstance(value, (int, float)) and math.isfinite(value)
            and MIN_TRUNCATION <= value <= MAX_TRUNCATION):
        raise UsageError(f"{flag} {value:g}: choose {MIN_TRUNCATION:g} to {MAX_TRUNCATION:g} "
                         "(smaller thresholds redraw z without end)")


def parse_grid(text: str, flag: str = "--grid", high: int = MAX_SAMPLES) -> tuple[int, int]:
    """``"COLSxROWS"`` -> (cols, rows), each at least 1 and at most ``high`` cells in all."""
    try:
        cols, rows = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise UsageError(f"{flag} {text}: expected COLSxROWS, e.g. 10x10") from None
    if cols < 1 or rows < 1:
        raise UsageError(f"{flag} {text}: columns and rows must be at least 1")
    if cols * rows > high:
        raise UsageError(f"{flag} {text}: {cols * rows} cells; at most {high}")
    return cols, rows


def frames_of_walk(points: int, steps: int, loop: bool) -> int:
    """Frames `gankit interpolate` draws for ``points`` seeds (see its --help)."""
    if points < 2:  # a walk along a direction; --loop comes back
        return 2 * (steps - 1) if loop else steps
    return points * (steps - 1) if loop else (points - 1) * (steps - 1) + 1


# -- memory ------------------------------------------------------------------------------


def memory_bytes() -> int:
    """This machine's physical memory (bytes), or FALLBACK_MEMORY when unknown."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return FALLBACK_MEMORY


def gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB"


def check_output_memory(flag: str, value, count: int, shape, limit: int | None = None) -> None:
    """``count`` float32 outputs of ``shape`` (plus their uint8 copies) must fit in half of
    the machine's memory."""
    per = 5 * math.prod(int(s) for s in shape)  # float32 + uint8
    need = per * count
    limit = limit or memory_bytes() // 2
    if need > limit:
        most = max(1, limit // per)
        raise UsageError(f"{flag} {value}: {count} outputs of {'x'.join(map(str, shape))} need "
                         f"about {gb(need)}, more than half of this machine's {gb(limit * 2)}; "
                         f"ask for at most {most}")


@contextlib.contextmanager
def no_init():
    """torch.nn.init as no-ops: shapes do not need values, and initialising meta tensors
    imports torch._dynamo (about 3 s of `gankit sample`'s startup)."""
    import torch.nn.init as init

    saved = {n: getattr(init, n) for n in dir(init)
             if n.endswith("_") and not n.startswith("_") and callable(getattr(init, n))}
    try:
        for n in saved:
            setattr(init, n, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for n, f in saved.items():
            setattr(init, n, f)


def count_parameters(model, config, spec, loss=None) -> int | None:
    """Parameters of the networks ``model`` builds for ``config`` and ``spec``, counted on
    torch's ``meta`` device (shapes only, nothing allocated); None if it cannot build
    there."""
    import torch

    try:
        with torch.device("meta"), no_init():
            nets = model.build(config, spec, loss)
        return sum(p.numel() for net in nets.values() for p in net.parameters())
    except Exception:  # noqa: BLE001 - the real build reports its own errors
        return None


def check_model_memory(model, config, spec, loss=None, sets=None, limit: int | None = None) -> None:
    """Refuse networks whose training state cannot fit in this machine's memory, before
    anything is allocated: ``--set ngf=100000`` is one line, not an out-of-memory crash."""
    params = count_parameters(model, config, spec, loss)
    if params is None:
        return
    need = params * TRAIN_BYTES_PER_PARAM
    limit = limit or memory_bytes()
    if need <= limit:
        return
    given = [f"--set {k}={v}" for k, v in (sets or {}).items()]
    flags = ", ".join(given) if given else f"--image-size {spec.size}"
    raise UsageError(
        f"{flags}: {model.name} would have {params / 1e9:,.2f} billion parameters, about "
        f"{gb(need)} to train (fp32 weights, gradients and Adam moments); this machine has "
        f"{gb(limit)}. Use smaller widths")


# -- gankit train ------------------------------------------------------------------------


def check_train_options(options) -> None:
    """The upper bounds of `gankit train`'s own flags (``high`` in their TrainOptions
    metadata; :func:`check_numbers` checks the lower ones)."""
    check_seed("--seed", options.seed)
    for f in flag_fields():
        md = f.metadata
        if md["high"] is not None:
            check_range(md["flag"], getattr(options, f.name), high=md["high"], what=md["what"])
    if options.epochs is not None and math.isfinite(options.epochs) and options.epochs > MAX_STEPS:
        raise UsageError(f"--epochs {options.epochs:g}: more than {MAX_STEPS} steps; "
                         "a run that long cannot finish")
    ema = getattr(options, "ema", None)
    if ema is not None and math.isfinite(ema) and ema > MAX_EMA_KIMG:
        raise UsageError(f"--ema {ema:g}: at most {MAX_EMA_KIMG:g} kimg (a longer half-life "
                         "never moves the EMA generator); 0 turns it off")
    augment = getattr(options, "augment", None)
    if augment is not None and not str(augment).strip():
        raise UsageError("--augment '': an empty policy; give one such as "
                         "color,translation,cutout, or none")
    if augment is not None and str(augment).strip().lower() == "none":
        for flag, value in (("--augment-p", getattr(options, "augment_p", None)),
                            ("--ada-target", getattr(options, "ada_target", None))):
            if value is not None:
                raise UsageError(f"{flag} {value:g}: has no effect with --augment none; "
                                 "give an --augment policy or leave the flag out")
    for flag, value in (("--data", options.data), ("--data-b", options.extra.get("data_b"))):
        if value is not None and not str(value).strip():
            raise UsageError(f"{flag} '{value}': an empty path; give a folder of images"
                             + (" (or leave the flag out for the default data set)"
                                if flag == "--data" else ""))


def check_numbers(options) -> None:
    """Out-of-range numeric flags (``low`` and ``positive`` in their TrainOptions
    metadata): one line naming the flag (not a ZeroDivisionError)."""
    for f in flag_fields():
        md, value = f.metadata, getattr(options, f.name)
        if value is None:
            continue
        if md["low"] is not None and value < md["low"]:
            raise UsageError(f"{md['flag']} {value}: must be at least {md['low']}")
        if md["positive"] and not (math.isfinite(value) and value > 0):
            raise UsageError(f"{md['flag']} {value}: must be a positive number")
    for i, beta in enumerate(options.betas or ()):
        if not 0 <= beta < 1:
            raise UsageError(f"--beta{i + 1} {beta}: must be in [0, 1)")
    # --decay-from (gankit.nn.DECAY_FROM): refused here, before the run folder exists
    start = (options.extra or {}).get("decay_from")
    if start is not None and options.steps is not None:
        check_decay_from(start, options.steps)
    check_train_options(options)


def check_decay_from(start: int, steps: int) -> None:
    """``--decay-from`` must name a step of the run (0..steps)."""
    if not 0 <= start <= steps:
        raise UsageError(f"--decay-from {start}: must be between 0 and --steps {steps}")


def steps_for_epochs(epochs: float, n: int, batch: int) -> int:
    """Steps for ``epochs`` passes over ``n`` samples, refused past MAX_STEPS."""
    steps = epochs * n / batch
    if not math.isfinite(steps) or steps > MAX_STEPS:
        raise UsageError(f"--epochs {epochs:g}: {n} samples in batches of {batch} make "
                         f"{steps:.3g} steps, more than {MAX_STEPS}; a run that long cannot "
                         "finish")
    return max(1, math.ceil(steps))
