"""Writing a registered image data set out as PNG files (``gankit datasets export``)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from . import console
from .datasets import LoadOptions
from .errors import UsageError
from .files import atomic_write
from .outputs import check_apart, check_output
from .plugins import get_plugins

MAX_IMAGE_SIZE = 8192


def unique_names(stems, fallback: str) -> list[str]:
    """File names ``STEM.png``, one per item, made unique: a second ``cat`` becomes
    ``cat-1``, a third ``cat-2`` (compared without case, for case-insensitive disks).
    Empty stems become ``FALLBACK-00000`` ... by position."""
    used: set[str] = set()
    out = []
    for i, stem in enumerate(stems):
        base = PurePosixPath(str(stem).replace("\\", "/")).stem if stem else ""
        base = base.strip() or f"{fallback}-{i:05d}"
        name, n = base, 0
        while name.casefold() in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name.casefold())
        out.append(f"{name}.png")
    return out


def class_folders(classes) -> list[str]:
    """A folder name for each class: its name with path separators and leading dots
    replaced, made unique without case."""
    used: set[str] = set()
    out = []
    for i, c in enumerate(classes):
        base = str(c).replace("/", "-").replace("\\", "-").strip().lstrip(".") or f"class-{i}"
        sub, n = base, 0
        while sub.casefold() in used:
            n += 1
            sub = f"{base}-{n}"
        used.add(sub.casefold())
        out.append(sub)
    return out


def export_dataset(name: str, folder, image_size: int | None = None, data: str | None = None,
                   plugins=None, force: bool = False) -> int:
    """Write every sample of image data set ``name`` to ``folder`` as PNG; returns the
    number of files written (one per sample: names never collide). ``folder`` must be
    apart from ``data``; existing files of the names to write are refused unless
    ``force`` (checked before anything is written)."""
    from PIL import Image

    if image_size is not None and not 1 <= image_size <= MAX_IMAGE_SIZE:
        raise UsageError(f"--image-size {image_size}: choose 1 to {MAX_IMAGE_SIZE} pixels")
    if data is not None and not str(data).strip():
        raise UsageError(f"--data '{data}': an empty path; give the data set's files")
    if not str(folder).strip():
        raise UsageError("FOLDER '': an empty path; give the folder to write into")
    folder = Path(folder)

    check_apart(folder, data, out_flag="FOLDER")
    check_output(folder, flag="FOLDER", folder=True)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"FOLDER {folder}: a file; give a folder")
    ds = (plugins or get_plugins()).datasets().get(name)
    if ds.kind != "image":
        raise UsageError(f"'{name}' is not an image data set")
    size = image_size or ds.default_size
    d = ds.load(LoadOptions(path=data, image_size=size, warn=console.warn))
    folder.mkdir(parents=True, exist_ok=True)
    arr = d.samples.permute(0, 2, 3, 1).numpy()
    stems = [d.names[i] if i < len(d.names) else "" for i in range(len(arr))]
    if getattr(d, "labelled", False):  # one subfolder per class, as --labels folders reads
        subs = class_folders(d.classes)
        labels = [int(v) for v in d.labels.tolist()]
        names = [""] * len(arr)
        for k, sub in enumerate(subs):
            idx = [i for i, v in enumerate(labels) if v == k]
            for i, fname in zip(idx, unique_names([stems[i] for i in idx], name)):
                names[i] = f"{sub}/{fname}"
        for sub in subs:
            if (folder / sub).exists() and not (folder / sub).is_dir():
                raise UsageError(f"FOLDER {folder}: {sub} is a file, and the class '{sub}' "
                                 "needs a subfolder of that name; choose an empty folder")
    else:
        names = unique_names(stems, name)
    existing = [n for n in names if (folder / n).exists() or (folder / n).is_symlink()]
    if existing and not force:
        raise UsageError(f"FOLDER {folder}: {len(existing)} file(s) of the names to write exist "
                         f"already (first: {existing[0]}); pass --force to replace them or "
                         "choose an empty folder")
    for sub in sorted({n.rsplit("/", 1)[0] for n in names if "/" in n}):
        (folder / sub).mkdir(exist_ok=True)
    replaced = 0
    with console.progress(transient=True) as prog:
        task = prog.add_task("export", total=len(arr), rate="", info="")
        for img, fname in zip(arr, names):
            pil = Image.fromarray(img[..., 0] if img.shape[2] == 1 else img)
            target = folder / fname
            replaced += target.exists()
            atomic_write(target, lambda tmp, p=pil: p.save(tmp, format="PNG"))
            prog.update(task, advance=1)
    if replaced:
        console.warn(f"replaced {replaced} existing file(s) in {folder}")
    return len(names)
