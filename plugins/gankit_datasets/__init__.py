"""Built-in data sets: the procedural sushi set, image folders, MNIST, Fashion-MNIST, CIFAR-10.

Everything is decoded once into uint8 tensors kept in memory; image folders also keep a
cache file so the next run starts at once. Heavy imports happen inside ``load``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gankit import Data, Dataset, DataSpec, GankitError, UsageError, hookimpl

__version__ = "1.0.0"


def to_data(array_nhwc, name: str, names=None, size: int | None = None) -> Data:
    """uint8 (N, H, W, C) numpy -> :class:`gankit.Data`, resized to ``size`` if needed.

    The samples are an (N, C, H, W) view of the same memory (channels-last strides), not
    a copy: a decoded folder is held once, and batches come out channels-last as the
    trainer wants them for convolutional nets."""
    import numpy as np
    import torch

    t = torch.from_numpy(np.ascontiguousarray(array_nhwc)).permute(0, 3, 1, 2)
    if size and t.shape[-1] != size:
        x = torch.nn.functional.interpolate(t.float(), size=(size, size), mode="bilinear",
                                            antialias=True, align_corners=False)
        t = x.round().clamp(0, 255).to(torch.uint8)
    spec = DataSpec(kind="image", channels=int(t.shape[1]), size=int(t.shape[-1]), name=name)
    return Data(samples=t, spec=spec, names=list(names or []))


MAX_SUSHI = 100_000  # pictures drawn (100,000 at 96 px: 2.8 GB)


@dataclass
class SushiOptions:
    count: int = field(default=256, metadata={"help": "how many pictures to draw"})
    vary: bool = field(default=False, metadata={
        "help": "draw a different set for each --seed (default: the same pictures every run)"})


class Sushi(Dataset):
    name = "sushi"
    summary = "256 nigiri on black, drawn procedurally (salmon, tuna, tamago, shrimp, eel)"
    default_size = 96
    style = "day"
    Config = SushiOptions

    def load(self, options):
        from .sushi import render_sushi, sushi_labels

        size = options.image_size or self.default_size
        cfg = options.config or SushiOptions()
        if "sushi_count" in options.extra or "sushi_seed" in options.extra:  # 0.1's route
            cfg = SushiOptions(count=int(options.extra.get("sushi_count", cfg.count)),
                               vary=bool(options.extra.get("sushi_seed", cfg.vary)))
        if not 1 <= cfg.count <= MAX_SUSHI:
            raise UsageError(f"--set data.count={cfg.count}: draw 1 to {MAX_SUSHI:,} pictures")
        arr = render_sushi(n=cfg.count, size=size, seed=options.seed if cfg.vary else 0,
                           style=self.style, progress=getattr(options, "progress", None))
        n = cfg.count
        labels = sushi_labels(n)
        return to_data(arr, self.name, [f"{i:04d}-{lab}" for i, lab in enumerate(labels)])


class SushiDusk(Sushi):
    name = "sushi-dusk"
    summary = "the sushi scenes in warm dusk light: a second domain for translation demos"
    style = "dusk"


class ImageFolder(Dataset):
    name = "imagefolder"
    summary = "a folder (recursive) of png/jpg/jpeg/webp/bmp/gif images"
    needs_path = True
    default_size = 64

    def load(self, options):
        from .images import load_image_folder

        arr, names = load_image_folder(options.path, options.image_size or self.default_size,
                                       grayscale=options.grayscale, cache=options.cache,
                                       warn=options.warn, progress=options.progress)
        return to_data(arr, self.name, names)


class MNIST(Dataset):
    name = "mnist"
    summary = "MNIST digits 28x28 from local IDX files (--data ROOT, --download to fetch)"
    needs_path = True
    default_size = 28
    fashion = False
    flip = False  # mirrored digits are not digits

    def load(self, options):
        from .images import load_mnist

        arr = load_mnist(options.path, fashion=self.fashion, train=options.train,
                         download=options.download)
        return to_data(arr, self.name, size=options.image_size)


class FashionMNIST(MNIST):
    name = "fashion-mnist"
    summary = "Fashion-MNIST 28x28 from local IDX files (--data ROOT, --download to fetch)"
    fashion = True
    flip = True  # clothes are left-right symmetric


class CIFAR10(Dataset):
    name = "cifar10"
    summary = "CIFAR-10 32x32 from the binary batches (--data ROOT, --download to fetch)"
    needs_path = True
    default_size = 32

    def load(self, options):
        from .images import load_cifar10

        arr = load_cifar10(options.path, train=options.train, download=options.download)
        return to_data(arr, self.name, size=options.image_size)


@hookimpl
def register_datasets(register):
    register(Sushi())
    register(SushiDusk())
    register(ImageFolder(), aliases=("folder",))
    register(MNIST())
    register(FashionMNIST(), aliases=("fashion",))
    register(CIFAR10(), aliases=("cifar",))
    from .toy2d import Grid25, Ring8  # 2-D mixtures (no torch at import time)

    register(Ring8(), aliases=("ring",))
    register(Grid25(), aliases=("grid",))


__all__ = ["to_data", "GankitError"]
