"""``gankit evaluate RUN`` on a translation run with held-out pairs: how far the outputs
are from the true targets.

A translation model's data may carry pairs kept out of training in its main data's
``meta["pairs"]`` (``{"input": uint8 (N, C, H, W), "target": the same, "names": [...]}``;
pix2pix does). :func:`evaluate_pairs` loads the run's data as training loaded it,
translates the held-out inputs (``a2b``) and compares each output with its target:
mean absolute error, PSNR and SSIM, plus the download-free distribution metrics of the
outputs against the targets (SWD, and KID etc. in gankit's feature space) when there
are enough pairs. It writes ``RUN/metrics/eval-step-NNNNNNN.json`` like image runs.
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import console
from ..dataload import as_domains
from ..errors import GankitError
from ..plugins import get_plugins
from . import cache as fcache
from . import features
from .evaluate import _Progress, compute, run_dir_of, train_options, write_eval
from .table import metrics_table, rows

#: the pairs a distribution metric needs (k-NN with k = 3)
MIN_DISTRIBUTION = 4
_BATCH = 16


def _unit(u8):
    return u8.float() / 255.0


def l1(out_u8, target_u8):
    """Mean absolute difference per image, pixel values in [0, 1]: (N,)."""
    return (_unit(out_u8) - _unit(target_u8)).abs().flatten(1).mean(1)


def psnr(out_u8, target_u8):
    """Peak signal-to-noise ratio per image in dB (peak 1; identical images: 100)."""
    import torch

    mse = (_unit(out_u8) - _unit(target_u8)).pow(2).flatten(1).mean(1)
    return torch.where(mse > 0, -10 * torch.log10(mse.clamp_min(1e-10)),
                       torch.full_like(mse, 100.0))


def ssim(out_u8, target_u8, window: int = 11, sigma: float = 1.5):
    """Structural similarity per image (Wang et al. 2004): a Gaussian window of 11
    pixels (sigma 1.5), K1 = 0.01, K2 = 0.03, peak 1, each channel then their mean;
    the window shrinks to the image on images smaller than 11 pixels. (N,)"""
    import torch
    import torch.nn.functional as F

    x, y = _unit(out_u8), _unit(target_u8)
    c = x.shape[1]
    window = min(window, x.shape[-1], x.shape[-2])
    t = torch.arange(window, dtype=torch.float32) - (window - 1) / 2
    g = torch.exp(-(t * t) / (2 * sigma * sigma))
    g = (g / g.sum())
    k = (g[:, None] * g[None, :]).expand(c, 1, window, window).contiguous()

    def blur(v):
        return F.conv2d(v, k, groups=c)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1)


def pair_scores(out_u8, target_u8) -> dict:
    """The three per-pair numbers averaged: ``l1``, ``psnr``, ``ssim``."""
    if tuple(out_u8.shape) != tuple(target_u8.shape):
        raise GankitError(f"outputs {tuple(out_u8.shape)} and targets "
                          f"{tuple(target_u8.shape)} differ in shape")
    return {"l1": float(l1(out_u8, target_u8).mean()),
            "psnr": float(psnr(out_u8, target_u8).mean()),
            "ssim": float(ssim(out_u8, target_u8).mean())}


def translate_u8(model, nets, inputs_u8, device, direction: str = "a2b"):
    """uint8 inputs (N, C, H, W) through ``model.translate`` a batch at a time -> uint8."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, inputs_u8.shape[0], _BATCH):
            x = inputs_u8[i:i + _BATCH].to(device).float().div(127.5).sub(1.0)
            y = model.translate(nets, x, direction).float().cpu()
            out.append(((y.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    return torch.cat(out)


def held_out_pairs(plugins, model, c, run_dir: Path, *, data=None, progress=None):
    """(inputs, targets, names) of the run's held-out pairs, loaded as training loaded
    its data; one clear error when the run's data has none."""
    options = train_options(c, run_dir)
    if data is not None:
        options.data = data
    try:
        domains = as_domains(model.load_data(plugins, options, progress))
    except GankitError as exc:
        if data is not None:
            raise
        raise GankitError(f"{exc} (the data {run_dir} was trained on; pass --data PATH "
                          "where it is now)") from None
    main = next(iter(domains.values()))
    pairs = (main.meta or {}).get("pairs")
    if not pairs or int(pairs["input"].shape[0]) == 0:
        raise GankitError(
            f"{c.path}: '{model.name}' is a translation model whose data has no held-out "
            "pairs to compare with (pix2pix keeps some; CycleGAN's domains are unpaired): "
            "`gankit evaluate` needs true targets, translate a folder with `gankit "
            "translate` instead")
    return pairs["input"], pairs["target"], list(pairs.get("names") or [])


def evaluate_pairs(model, config, spec, nets, c, *, device="cpu", data=None, seed: int = 0,
                   cache: bool = True, plugins=None, write: bool = True) -> dict:
    """Distances of a translation run's outputs to the true targets of its held-out pairs;
    writes the eval file when ``write``."""
    plugins = plugins or get_plugins()
    run_dir = run_dir_of(c)
    started = time.time()
    with _Progress() as bars:
        inputs, targets, names = held_out_pairs(plugins, model, c, run_dir, data=data,
                                                progress=bars.task("loading the pairs"))
        outputs = translate_u8(model, nets, inputs, device)
        metrics = pair_scores(outputs, targets)
        n = int(inputs.shape[0])
        if n >= MIN_DISTRIBUTION:
            registered = list(plugins.metrics())
            metrics.update(compute(registered, "pixels", targets, outputs, seed))
            space = f"{features.FEATURE_SPACE}-{features.checksum()}"
            f_real = fcache.features(targets, space, lambda x: features.extract(x, device),
                                     enabled=cache, warn=console.warn)
            f_fake = features.extract(outputs, device)
            metrics.update(compute(registered, "features", f_real, f_fake, seed))
    per_pair = l1(outputs, targets).tolist()
    result = {
        "run": str(run_dir),
        "checkpoint": str(c.path),
        "model": model.name,
        "step": c.step,
        "time": time.time(),
        "pairs": n,
        "seed": seed,
        "metrics": metrics,
        "feature_space": features.FEATURE_SPACE,
        "data": {"dataset": spec.name, "images": n, "size": spec.size,
                 "channels": spec.channels, "held_out": names},
        "per_pair_l1": [round(v, 6) for v in per_pair],
        "seconds": round(time.time() - started, 2),
    }
    if write:
        write_eval(run_dir, c, result)
    return result


#: the table's rows for the pair metrics (key, label, reading)
PAIR_ROWS = (("l1", "L1 to the targets", "lower; 0: identical (pixels in [0, 1])"),
             ("psnr", "PSNR (dB)", "higher is better"),
             ("ssim", "SSIM", "higher; 1: identical"))


def print_pairs(result: dict) -> None:
    from rich.console import Console

    table = metrics_table(f"{result['data']['dataset']}: {result['model']} at step "
                          f"{result['step']} ({result['pairs']} held-out pairs)",
                          PAIR_ROWS + tuple(r for r in rows() if r[0] != "memorisation"),
                          result["metrics"])
    out = Console()
    out.print(table)
    if result["pairs"] < MIN_DISTRIBUTION:
        out.print(f"(SWD and KID need at least {MIN_DISTRIBUTION} pairs)", highlight=False)
    if result.get("eval_file"):
        out.print(f"written: {result['eval_file']}", highlight=False, soft_wrap=True)
