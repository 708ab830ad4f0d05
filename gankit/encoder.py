"""The optional encoder of ``gankit project --fit-encoder``: a small network trained once
on a run's own samples (picture -> z), cached in the run folder as safetensors, whose
guess can start the projection. Importing this module does not import torch."""

from __future__ import annotations

from pathlib import Path

from . import console
from .checkpoints import read_header
from .errors import GankitError
from .files import atomic_write
from .run import Run

ENCODER_FORMAT = "1"
ENCODER_STEPS = 300
ENCODER_BATCH = 32
ENCODER_LR = 1e-3
#: channels of the encoder's four stride-2 convolutions
ENCODER_WIDTHS = (32, 64, 128, 256)


def encoder_net(channels: int, z_dim: int):
    """Picture (C, S, S) in [-1, 1] -> z: four stride-2 4x4 convolutions with leaky ReLU,
    pooled to 4 x 4, then one linear layer. About 0.7 M weights for z_dim 100."""
    from torch import nn

    layers, c = [], channels
    for w in ENCODER_WIDTHS:
        layers += [nn.Conv2d(c, w, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = w
    layers += [nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(c * 16, z_dim)]
    return nn.Sequential(*layers)


def fit_encoder(model, nets, config, spec, *, steps: int = ENCODER_STEPS, device="cpu",
                seed: int = 0):
    """Train an encoder on the run's own samples: z from the prior, x = G(z), minimise
    the mean squared error between E(x) and z. A progress bar; returns (net, last loss)."""
    import torch

    dim = model.z_dim(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = encoder_net(int(spec.channels), dim).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=ENCODER_LR)
    gen = torch.Generator().manual_seed(seed)
    loss_sum = torch.zeros((), device=device)
    with console.progress() as prog:
        task = prog.add_task("fit encoder", total=steps, rate="", info="on the run's samples")
        for step in range(steps):
            z = model.latent(config, ENCODER_BATCH, generator=gen).to(device)
            with torch.no_grad():
                x = model.generate(nets, z).float()
            loss = (net(x) - z).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum = loss.detach() if step == steps - 1 else loss_sum
            prog.update(task, completed=step + 1)
    net.eval().requires_grad_(False)
    return net, float(loss_sum)


def _encoder_meta(model, config, spec, checkpoint) -> dict:
    return {"gankit.encoder": ENCODER_FORMAT, "model": model.name,
            "model_version": str(model.version), "z_dim": str(model.z_dim(config)),
            "size": str(spec.size), "channels": str(spec.channels),
            "step": str(checkpoint.step), "checkpoint": Path(checkpoint.path).name}


def cached_encoder(run_dir, model, config, spec, checkpoint, device="cpu"):
    """The run's cached encoder if it was fitted for this checkpoint and reads whole, else
    None (and why, as a second value)."""
    import torch
    from safetensors import safe_open

    path = Run(run_dir).encoder_path
    if not path.is_file():
        return None, "none yet"
    try:
        meta = read_header(path)
    except GankitError as exc:
        return None, f"unreadable ({exc})"
    want = _encoder_meta(model, config, spec, checkpoint)
    if any(meta.get(k) != v for k, v in want.items()):
        return None, f"fitted for step {meta.get('step')}, this is step {checkpoint.step}"
    net = encoder_net(int(spec.channels), model.z_dim(config))
    ref = net.state_dict()
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            if set(fh.keys()) != set(ref):
                return None, "not this encoder's tensors"
            state = {k: fh.get_tensor(k) for k in ref}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own types
        return None, f"unreadable ({exc})"
    for k, t in state.items():
        if t.shape != ref[k].shape or t.dtype != ref[k].dtype or not bool(torch.isfinite(t).all()):
            return None, f"tensor {k} does not fit"
    net.load_state_dict(state)
    return net.to(device).eval().requires_grad_(False), ""


def encoder_for(run_dir, model, nets, config, spec, checkpoint, device="cpu", refit=False):
    """The run's encoder: the cached one (RUN/encoder.safetensors) when it fits this
    checkpoint, else fitted now and cached (written atomically)."""
    from safetensors.torch import save_file

    net, why = (None, "refit asked") if refit else cached_encoder(
        run_dir, model, config, spec, checkpoint, device)
    if net is not None:
        console.info(f"encoder: {Run(run_dir).encoder_path} (fitted for step {checkpoint.step})")
        return net
    console.info(f"encoder: fitting one on the run's samples ({ENCODER_STEPS} steps; cached "
                 f"encoder: {why})")
    net, loss = fit_encoder(model, nets, config, spec, steps=ENCODER_STEPS, device=device)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    meta = {**_encoder_meta(model, config, spec, checkpoint), "steps": str(ENCODER_STEPS),
            "loss": f"{loss:.6f}"}
    path = Run(run_dir).encoder_path
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata=meta))
    console.info(f"encoder: latent error {loss:.4f} after {ENCODER_STEPS} steps -> {path}")
    return net
