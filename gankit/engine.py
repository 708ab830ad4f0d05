"""Devices, precision and optimizers: the hardware-facing choices, in one place."""

from __future__ import annotations

import contextlib
import os

from .errors import UsageError

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def pick_device(name: str = "auto"):
    """``auto``: CUDA, then Apple MPS, then CPU. An explicit device must exist."""
    import torch

    name = (name or "auto").lower()
    base = name.split(":")[0]
    if base not in DEVICES:
        raise UsageError(f"--device {name}: choose one of {', '.join(DEVICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank() if is_distributed() else 0)
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available on this machine; use --device auto")
    if base == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise UsageError(f"--device {name}: Apple MPS is not available here; use --device auto")
    return torch.device(name)


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 dot products (AVX512-BF16 or AMX)."""
    try:
        import torch

        caps = torch.backends.cpu.get_cpu_capability()
        if "AVX512" in caps or "AMX" in caps:
            flags = open("/proc/cpuinfo").read()
            return "avx512_bf16" in flags or "amx_bf16" in flags
    except Exception:  # noqa: BLE001
        pass
    return False


def pick_precision(precision: str, device) -> str:
    """Resolve ``auto``: bf16 on CUDA where supported, else fp16; fp32 on CPU and MPS."""
    import torch

    precision = (precision or "auto").lower()
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision}: choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise UsageError("--precision fp16: not supported on the CPU; use bf16 or fp32")
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def autocast_factory(device, precision: str):
    """A zero-argument callable returning the autocast context for this run."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


def make_adam(params, options):
    """Adam with the run's lr/betas, fused where this torch and device allow it."""
    import torch

    params = list(params)
    kw = dict(lr=options.lr, betas=tuple(options.betas))
    if getattr(options, "fused", True) and params:
        try:
            return torch.optim.Adam(params, fused=True, **kw)
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.Adam(params, foreach=True if params else None, **kw)


def configure_threads() -> None:
    """Torch's own threads beyond the core count slow training down: cap them."""
    import torch

    if "OMP_NUM_THREADS" in os.environ:
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    if torch.get_num_threads() > cores:
        torch.set_num_threads(cores)


# -- torchrun / DDP -----------------------------------------------------------------


def is_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))
