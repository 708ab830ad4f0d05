"""FID and KID with the standard Inception features (optional: ``gankit[metrics]``).

The network is torch-fidelity's port of the TensorFlow Inception v3 that FID was
defined with (``pt_inception-2015-12-05``), taking uint8 images at any size (it
resizes to 299 px as TensorFlow did) and giving the 2048 pool features. gankit loads
the weights itself with ``torch.load(weights_only=True)`` (a plain state dict: no
code can run) and hands them to torch-fidelity's network:

- ``--inception-weights FILE``: a local copy, e.g. ``weights-inception-2015-12-05-
  6726825d.pth`` from torch-fidelity's releases or pytorch-fid's
  ``pt_inception-2015-12-05-6726825d.pth`` (the same tensors);
- otherwise the file in torch's hub cache (``~/.cache/torch/hub/checkpoints``), or a
  download from torch-fidelity's release page where there is internet.

FID is then the Fréchet distance and KID the unbiased polynomial-kernel MMD of
:mod:`gankit.metrics.distances` on those features, the same estimators torch-fidelity
uses (KID: 100 subsets of min(1000, n), seed 2020).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import GankitError, UsageError

URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
       "weights-inception-2015-12-05-6726825d.pth")
FILE_NAME = URL.rsplit("/", 1)[-1]
INSTALL = 'pip install "gankit[metrics]"'
BATCH = 32


def require_torch_fidelity():
    try:
        import torch_fidelity  # noqa: F401
        from torch_fidelity import feature_extractor_inceptionv3 as module
    except ImportError:
        raise GankitError(f"FID needs torch-fidelity, which is not installed: {INSTALL}") from None
    return module


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


def _load_state(path: Path, flag: str):
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - not a tensor-only PyTorch file
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise GankitError(f"{flag}{path}: not a PyTorch state dict of tensors ({first})") from None
    if not isinstance(state, dict) or not state:
        raise GankitError(f"{flag}{path}: not a PyTorch state dict of tensors")
    return state


def weights_state(weights: str | Path | None) -> tuple[dict, str]:
    """The Inception state dict and a short id of it (for cache keys)."""
    import torch

    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise UsageError(f"--inception-weights {weights}: no such file")
        return _load_state(path, "--inception-weights "), _file_hash(path)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / FILE_NAME
    if cached.is_file():
        return _load_state(cached, ""), _file_hash(cached)
    try:
        state = torch.hub.load_state_dict_from_url(URL, map_location="cpu", progress=False,
                                                   weights_only=True)
    except Exception as exc:  # noqa: BLE001 - no internet, proxy, HTTP errors
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise GankitError(
            f"FID needs the Inception weights {FILE_NAME}, which could not be downloaded "
            f"({reason}); pass --inception-weights FILE"
        ) from None
    return state, FILE_NAME.rsplit("-", 1)[-1].split(".")[0]


def build(state: dict):
    """torch-fidelity's InceptionV3 feature network with ``state`` loaded."""
    module = require_torch_fidelity()
    original = module.load_state_dict_from_url
    # torch-fidelity unpickles a weights *file* itself; a URL it fetches through this
    # function, which here hands over the state dict already loaded safely above
    module.load_state_dict_from_url = lambda *args, **kwargs: state
    try:
        net = module.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    except RuntimeError as exc:
        raise GankitError(f"the Inception weights do not fit torch-fidelity's network "
                          f"({str(exc).splitlines()[0][:160]})") from None
    finally:
        module.load_state_dict_from_url = original
    return net


def load_extractor(weights=None, device="cpu"):
    """(extract, space): ``extract(uint8 images)`` -> (N, 2048) float32 CPU features."""
    require_torch_fidelity()
    state, ident = weights_state(weights)
    net = build(state).to(device)

    def extract(images, progress=None):
        import torch

        out, n = [], images.shape[0]
        with torch.no_grad():
            for i in range(0, n, BATCH):
                x = images[i:i + BATCH].to(device)
                if x.shape[1] == 1:
                    x = x.expand(-1, 3, -1, -1)
                out.append(net(x.contiguous())[0].float().cpu())
                if progress:
                    progress(min(i + BATCH, n), n)
        return torch.cat(out)

    return extract, f"inception-v3-2048-{ident}"
