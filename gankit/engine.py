"""Devices, precision and optimizers: the hardware-facing choices, in one place."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

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
    if name == "cuda":  # no index: under torchrun each process takes its own GPU
        return torch.device("cuda", local_rank() if is_distributed() else 0)
    return torch.device(name)


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 dot products (AVX512-BF16 or AMX)."""
    try:
        import torch

        caps = torch.backends.cpu.get_cpu_capability()
        if "AVX512" in caps or "AMX" in caps:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
                flags = fh.read()
            return "avx512_bf16" in flags or "amx_bf16" in flags
    except Exception:  # noqa: BLE001
        pass
    return False


def has_conv(nets) -> bool:
    """True when any of the networks (a dict or list of modules) has a convolution."""
    from torch import nn

    mods = nets.values() if isinstance(nets, dict) else nets
    return any(isinstance(m, nn.modules.conv._ConvNd) for net in mods for m in net.modules())


def pick_precision(precision: str, device, nets=None) -> str:
    """Resolve ``auto``: bf16 on CUDA where supported, else fp16; bf16 on CPUs with native
    bf16 (AVX512-BF16 or AMX) when ``nets`` are convolutional; fp32 otherwise (MPS, other
    CPUs, MLPs).

    On the CPU, bf16 autocast trains DCGAN about 1.6x faster at the same quality, while
    small MLPs get slower (the casts cost more than the matmuls save): see
    docs/performance.md, measured with benchmarks/train_throughput.py.
    """
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
    if device.type == "cpu" and nets is not None and cpu_supports_bf16() and has_conv(nets):
        return "bf16"
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


def usable_cores(cgroup_root: str = "/sys/fs/cgroup") -> int:
    """The cores this process may really use: its CPU affinity (a cpuset), further
    limited by a cgroup v2 CPU quota (``docker --cpus``, Kubernetes limits) if one is set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    try:
        quota, period = Path(cgroup_root, "cpu.max").read_text().split()[:2]
        if quota != "max" and int(period) > 0:
            cores = min(cores, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def configure_threads() -> None:
    """Torch's own threads beyond the usable cores slow training down (OpenMP workers
    spin at barriers for threads that are not running): cap them. ``OMP_NUM_THREADS``
    wins when set."""
    import torch

    if "OMP_NUM_THREADS" in os.environ:
        return
    cores = usable_cores()
    if torch.get_num_threads() > cores:
        torch.set_num_threads(cores)


def compile_nets(nets: dict) -> None:
    """``--compile``: torch.compile each network's forward in place.

    ``nn.Module.compile`` keeps parameter names, so checkpoints stay interchangeable
    with uncompiled runs. Compilation happens lazily in the first step (the trainer
    reports how long it took); a backend failure falls back to eager with a warning.
    """
    import torch

    torch._dynamo.config.suppress_errors = True  # a failed compile runs eagerly
    for net in nets.values():
        net.compile()


# -- torchrun / DDP -----------------------------------------------------------------


def is_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device) -> None:
    """Join the torchrun process group (NCCL on CUDA, Gloo otherwise), once."""
    import torch.distributed as dist

    if not is_distributed() or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        import torch

        torch.cuda.set_device(device)
    dist.init_process_group(backend)


def all_reduce_mean_(tensors) -> None:
    """Average tensors across processes in place, as one flat buffer (one collective)."""
    import torch
    import torch.distributed as dist

    tensors = [t for t in tensors if t is not None]
    if not tensors or not (dist.is_available() and dist.is_initialized()):
        return
    flat = torch.cat([t.reshape(-1).float() for t in tensors])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset:offset + n].view_as(t.reshape(t.shape)).reshape(t.shape))
        offset += n


def all_reduce_sum(t):
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)
    return t


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def broadcast_text(text: str) -> str:
    """Rank 0's ``text`` on every process (as a uint8 tensor: nothing is pickled)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return text
    dev = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" \
        else torch.device("cpu")
    raw = torch.tensor(list(text.encode()), dtype=torch.uint8) if rank() == 0 else None
    n = torch.tensor([raw.numel() if raw is not None else 0], dtype=torch.int64, device=dev)
    dist.broadcast(n, 0)
    buf = raw.to(dev) if raw is not None else torch.empty(int(n.item()), dtype=torch.uint8, device=dev)
    dist.broadcast(buf, 0)
    return bytes(buf.cpu().tolist()).decode()
