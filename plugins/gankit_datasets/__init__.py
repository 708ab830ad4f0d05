"""Built-in data sets: the procedural sushi set, image folders, MNIST, Fashion-MNIST, CIFAR-10.

Everything is decoded once into uint8 tensors kept in memory; image folders also keep a
cache file so the next run starts at once. Heavy imports happen inside ``load``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gankit import Data, Dataset, DataSpec, GankitError, UsageError, console, hookimpl

__version__ = "1.0.0"

#: `--labels auto` takes an image folder's first-level subfolders as classes when every
#: image sits in one and there are 2 to this many of them (`--labels folders` takes more)
MAX_AUTO_CLASSES = 100
#: the most classes `--labels folders` accepts
MAX_FOLDER_CLASSES = 1000


def to_data(array_nhwc, name: str, names=None, size: int | None = None, labels=None,
            classes=None) -> Data:
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
    if labels is not None:
        labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    return Data(samples=t, spec=spec, names=list(names or []), labels=labels,
                classes=list(classes or []) if labels is not None else [])


def folder_labels(names: list[str], root, mode: str = "auto", folders=()):
    """``(labels, classes)`` from the first-level subfolders of an image folder (``names``
    are the images' paths relative to it), or ``(None, [])``: ``mode`` "none" never,
    "folders" always (refused when an image sits at the top or there are fewer than 2 or
    more than MAX_FOLDER_CLASSES subfolders), "auto" when every image sits in a subfolder
    and there are 2 to MAX_AUTO_CLASSES of them (printed). ``folders``: every first-level
    subfolder, so one without a readable image is a class of 0 images (which a
    conditional run refuses, naming it)."""
    if mode not in ("auto", "folders", "none"):
        raise UsageError(f"--labels {mode}: choose auto, folders or none")
    if mode == "none" or not names:
        return None, []
    loose = [n for n in names if "/" not in n]
    classes = sorted({n.split("/", 1)[0] for n in names if "/" in n} | set(folders))
    if mode == "auto" and (loose or not 2 <= len(classes) <= MAX_AUTO_CLASSES):
        if not loose and len(classes) > MAX_AUTO_CLASSES:
            console.info(f"labels: none ({len(classes)} subfolders in {root} is more than "
                         f"--labels auto takes, {MAX_AUTO_CLASSES}; --labels folders uses them)")
        return None, []
    if loose:
        raise UsageError(f"--labels folders: {len(loose)} image(s) sit directly in {root} "
                         f"(first: {loose[0]}); move each into its class subfolder or pass "
                         "--labels none")
    if len(classes) < 2:
        raise UsageError(f"--labels folders: {root} has one class subfolder ({classes[0]}); a "
                         "conditional model needs at least 2 classes: add subfolders or "
                         "pass --labels none")
    if len(classes) > MAX_FOLDER_CLASSES:
        raise UsageError(f"--labels folders: {root} has {len(classes)} subfolders; at most "
                         f"{MAX_FOLDER_CLASSES} classes are supported (group them into "
                         "fewer subfolders or pass --labels none)")
    index = {c: i for i, c in enumerate(classes)}
    labels = [index[n.split("/", 1)[0]] for n in names]
    if mode == "auto":
        shown = ", ".join(classes[:6]) + (", ..." if len(classes) > 6 else "")
        console.info(f"labels: {len(classes)} classes from the subfolders of {root} ({shown}); "
                     "--labels none turns them off")
    return labels, classes


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
    classes = ("salmon", "tuna", "tamago", "shrimp", "eel")  # sushi.TOPPINGS

    def load(self, options):
        from .sushi import TOPPINGS, render_sushi, sushi_labels

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
        labels = sushi_labels(n, seed=options.seed if cfg.vary else 0)
        kinds = [TOPPINGS.index(lab) for lab in labels]
        if getattr(options, "labels", "auto") == "none":
            kinds = None
        return to_data(arr, self.name, [f"{i:04d}-{lab}" for i, lab in enumerate(labels)],
                       labels=kinds, classes=TOPPINGS)


class SushiDusk(Sushi):
    name = "sushi-dusk"
    summary = "the sushi scenes in warm dusk light: a second domain for translation demos"
    style = "dusk"


class ImageFolder(Dataset):
    name = "imagefolder"
    summary = ("a folder (recursive) of png/jpg/jpeg/webp/bmp/gif images; one subfolder per "
               "class gives labels (--labels)")
    needs_path = True
    default_size = 64

    def load(self, options):
        from .images import load_image_folder

        arr, names = load_image_folder(options.path, options.image_size or self.default_size,
                                       grayscale=options.grayscale, cache=options.cache,
                                       warn=options.warn, progress=options.progress)
        from pathlib import Path

        mode = getattr(options, "labels", "auto")
        folders = ([p.name for p in Path(options.path).iterdir()
                    if p.is_dir() and not p.name.startswith(".")] if mode != "none" else [])
        labels, classes = folder_labels(names, options.path, mode, folders)
        return to_data(arr, self.name, names, labels=labels, classes=classes)


class MNIST(Dataset):
    name = "mnist"
    summary = "MNIST digits 28x28 from local IDX files (--data ROOT, --download to fetch)"
    needs_path = True
    default_size = 28
    fashion = False
    flip = False  # mirrored digits are not digits
    classes = tuple(str(i) for i in range(10))

    def load(self, options):
        from .images import load_mnist, load_mnist_labels

        arr = load_mnist(options.path, fashion=self.fashion, train=options.train,
                         download=options.download)
        labels = None
        if getattr(options, "labels", "auto") != "none":
            labels = load_mnist_labels(options.path, fashion=self.fashion, train=options.train,
                                       count=len(arr))
        return to_data(arr, self.name, size=options.image_size, labels=labels,
                       classes=self.classes)


class FashionMNIST(MNIST):
    name = "fashion-mnist"
    summary = "Fashion-MNIST 28x28 from local IDX files (--data ROOT, --download to fetch)"
    fashion = True
    flip = True  # clothes are left-right symmetric
    classes = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
               "sneaker", "bag", "ankle-boot")


CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]


class CIFAR10(Dataset):
    name = "cifar10"
    summary = "CIFAR-10 32x32 from the binary batches (--data ROOT, --download to fetch)"
    needs_path = True
    default_size = 32
    classes = tuple(CIFAR10_CLASSES)

    def load(self, options):
        from .images import load_cifar10

        arr, labels = load_cifar10(options.path, train=options.train, download=options.download,
                                   with_labels=True)
        if getattr(options, "labels", "auto") == "none":
            labels = None
        return to_data(arr, self.name, size=options.image_size, labels=labels,
                       classes=CIFAR10_CLASSES)


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
