"""The whole folder: :func:`check_folder`, the report ``gankit data check`` prints."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path

from ..errors import GankitError, UsageError
from .facts import (AUTO_AUGMENT_BELOW, NEAR_MAX_IMAGES, NEAR_THRESHOLD, REACH_SHARE, SIZES,
                    SMALL_DATA, ImageFacts, _exact_groups, _near_groups, _skipped_files,
                    find_layout, inspect_image)
from .flips import flip_verdict

def recommended_size(short_sides: list[int]) -> tuple[int, dict[int, int]]:
    """The largest of SIZES that at least 90 % of the images reach (their shorter side
    at least that big), else the smallest; plus how many reach each size."""
    reach = {s: sum(1 for v in short_sides if v >= s) for s in SIZES}
    n = len(short_sides)
    for s in sorted(SIZES, reverse=True):
        if n and reach[s] >= REACH_SHARE * n:
            return s, reach
    return SIZES[0], reach


def _spread(values: list[int]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def check_folder(root, *, near_threshold: float = NEAR_THRESHOLD, progress=None) -> dict:
    """Check every image under ``root`` and return the report dict (see the module
    docstring). ``progress(done, total)`` is called after each file.

    Raises UsageError when ``root`` is not a folder, GankitError when it holds no image
    files. A folder whose images are all unreadable still gets a report.
    """
    root = Path(root)
    if not root.exists():
        raise UsageError(f"{root}: no such folder (gankit data check takes a folder of images)")
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder (gankit data check takes a folder of images)")
    if not 0 <= near_threshold <= 255:
        raise UsageError(f"--near-threshold {near_threshold}: must be between 0 and 255")
    layout, domains, files, skipped = _files(root)
    facts, unreadable, per_domain = _inspect_all(root, files, domains, layout, progress)
    n = len(facts)
    report: dict = {"folder": str(root), "layout": layout, "files": len(files), "readable": n,
                    "unreadable": unreadable,
                    "skipped": dict(sorted(skipped.items())), "domains": per_domain or None}
    warnings: list[str] = []
    notes: list[str] = []
    if unreadable:
        warnings.append(f"{len(unreadable)} of {len(files)} image files cannot be read; training "
                        f"skips them (first: {unreadable[0]['file']}: {unreadable[0]['reason']})")
    if skipped:
        kinds = ", ".join(f"{ext} ({c})" for ext, c in skipped.most_common(5))
        notes.append(f"{sum(skipped.values())} file(s) are not images gankit reads and are "
                     f"ignored: {kinds}")
    if n:
        _size_findings(facts, report, warnings, notes)
        _mode_findings(facts, report, notes)
        _duplicate_findings(facts, near_threshold, report, warnings, notes)
    if n:
        _pair_findings(root, layout, domains, facts, report, warnings, notes)
    if not per_domain:
        _class_findings(facts, report, warnings, notes)
    if per_domain:
        _domain_findings(per_domain, domains, warnings)
    elif report.get("distinct_images") and not report.get("pairs"):
        symbols = (report.get("flip") or {}).get("verdict") == "unsafe"  # text or digits
        model, why = recommend_model(report["distinct_images"], symbols=symbols)
        report["recommended_model"] = model
        if model != "dcgan":
            notes.append(f"recommended: gankit train {model} (needs gankit[{model}]): {why}")
    report["warnings"] = warnings
    report["notes"] = notes
    return report


#: below this many images the projected model is the recommended one (docs/projected.md)
PROJECTED_BELOW = 10_000
#: the measured reason, in one line (docs/projected.md: built-in sushi, 64 px, a 2-core CPU)
PROJECTED_REASON = ("its discriminators see pretrained ImageNet features, so they need far "
                    "fewer pictures: on 256 sushi pictures it reached SWD 100 in 2.2 minutes "
                    "of a 2-core CPU, lightweight in 4.1 and DCGAN in 8 (docs/projected.md)")


#: why not projected for pictures of text or digits (docs/projected.md, "Every kind")
SYMBOLS_REASON = ("on a ten-kind folder of drawn digits (32 px, 1,500 steps) the projected "
                  "model's rarest kind was 0.9 % of its samples and DCGAN's 2.3 %: features "
                  "pretrained on photos tell strokes apart poorly (docs/projected.md)")


def recommend_model(n: int, symbols: bool = False) -> tuple[str, str]:
    """The model to recommend for an unconditional image folder of ``n`` pictures (of
    text or digits: ``symbols``), and the measured reason in one line."""
    if symbols:
        return "dcgan", SYMBOLS_REASON
    if n < PROJECTED_BELOW:
        return "projected", PROJECTED_REASON
    return "dcgan", (f"with {n:,} pictures the plain DCGAN has enough data, and it is the "
                     "fastest per step")


#: what `gankit train --labels auto` takes as classes: first-level subfolders, 2 to this many
AUTO_CLASSES = 100


def _class_findings(facts, report: dict, warnings: list, notes: list) -> None:
    """Class labels from first-level subfolders, as `gankit train --labels` reads them:
    the images per class, and warnings for what a conditional run would refuse or
    learn badly (one class, a class of 0 or 1 image, 10x imbalance)."""
    names = [f.name for f in facts]
    if not names or any("/" not in n for n in names):
        return
    counts: dict[str, int] = {}
    for n in names:
        counts[n.split("/", 1)[0]] = counts.get(n.split("/", 1)[0], 0) + 1
    counts = dict(sorted(counts.items()))
    report["classes"] = counts
    k = len(counts)
    if k < 2:
        notes.append(f"every image sits in one subfolder ({next(iter(counts))}): one class, "
                     "so gankit train --conditional cannot use it")
        return
    if k > AUTO_CLASSES:
        notes.append(f"{k} class subfolders: --labels auto takes up to {AUTO_CLASSES}; pass "
                     "--labels folders to train on them")
    else:
        notes.append(f"{k} classes (one per subfolder): gankit train dcgan --conditional trains "
                     "on them")
    few = [c for c, v in counts.items() if v < 2]
    if few:
        warnings.append(f"class {', '.join(few[:3])}{', ...' if len(few) > 3 else ''} has "
                        "fewer than 2 readable images; gankit train --conditional refuses it")
    big, small = max(counts, key=counts.get), min(counts, key=counts.get)
    if counts[small] * 10 < counts[big]:
        warnings.append(f"the classes are imbalanced: '{big}' has {counts[big]} images, "
                        f"'{small}' {counts[small]} (gankit train --balance-classes draws them "
                        "equally)")


def _files(root: Path):
    """(layout, domains, [(domain, image path)], Counter of skipped suffixes), or one
    error when there is no image file."""
    from ..imageio import IMAGE_EXTENSIONS, list_images  # PIL: only when a folder is checked

    layout, domains = find_layout(root)
    files: list[tuple[str, Path]] = []
    for domain, folder in domains.items():
        files += [(domain, p) for p in list_images(folder)]
    skipped = Counter()
    for folder in domains.values():
        skipped += _skipped_files(folder, IMAGE_EXTENSIONS)
    if not files:
        where = f"{root} (in {', '.join(domains)})" if layout == "cyclegan" else str(root)
        raise GankitError(f"{where}: no image files found (accepted extensions: "
                          f"{', '.join(IMAGE_EXTENSIONS)})")
    return layout, domains, files, skipped


def _inspect_all(root: Path, files, domains, layout: str, progress):
    """(facts of the readable images, [{file, reason}] of the others, per-domain counts)."""
    facts: list[ImageFacts] = []
    unreadable = []
    per_domain = {d: {"files": 0, "readable": 0} for d in domains} if layout == "cyclegan" else {}
    for k, (domain, path) in enumerate(files):
        name = path.relative_to(root).as_posix()
        if per_domain:
            per_domain[domain]["files"] += 1
        try:
            facts.append(inspect_image(path, name))
            if per_domain:
                per_domain[domain]["readable"] += 1
        except GankitError as exc:
            reason = str(exc)
            prefix = f"{path}: "
            unreadable.append({"file": name, "reason": reason[len(prefix):] if reason.startswith(prefix) else reason})
        if progress is not None:
            progress(k + 1, len(files))
    return facts, unreadable, per_domain


def _size_findings(facts, report: dict, warnings: list, notes: list) -> None:
    n = len(facts)
    widths = [f.width for f in facts]
    heights = [f.height for f in facts]
    shorts = [min(f.width, f.height) for f in facts]
    common = Counter(f"{f.width}x{f.height}" for f in facts).most_common(5)
    size, reach = recommended_size(shorts)
    report["sizes"] = {"width": _spread(widths), "height": _spread(heights),
                       "short_side": _spread(shorts),
                       "most_common": [{"size": s, "count": c} for s, c in common],
                       "reach": {str(s): reach[s] for s in SIZES}}
    report["recommended_image_size"] = size
    if reach[size] < REACH_SHARE * n:
        warnings.append(f"most images are smaller than {SIZES[0]} px on their shorter side "
                        f"(median {statistics.median(shorts):g}); they will be upscaled")
    elif reach[size] < n:
        warnings.append(f"{n - reach[size]} image(s) are smaller than {size} px and will be "
                        f"upscaled to --image-size {size}")
    wide = sum(1 for f in facts if max(f.width, f.height) > 2 * min(f.width, f.height))
    if wide:
        warnings.append(f"{wide} image(s) are more than twice as long as wide; the centre "
                        "square crop loses over half of each")


def _mode_findings(facts, report: dict, notes: list) -> None:
    n = len(facts)
    modes = Counter(f.mode for f in facts)
    report["modes"] = dict(modes.most_common())
    gray = sum(f.gray for f in facts)
    report["gray"] = gray
    if modes.keys() & {"RGBA", "LA", "PA", "RGBa", "La"}:
        notes.append("some images have transparency; gankit composites it on black")
    if gray == n:
        colour_files = sum(1 for f in facts if f.mode not in ("L", "1", "I", "I;16", "F", "LA"))
        if colour_files:
            notes.append(f"every image is gray, {colour_files} of them stored as colour: "
                         "gankit train --grayscale always trains on one channel")
        else:
            notes.append("every image is gray: gankit trains on one channel")
    elif gray:
        notes.append(f"{gray} of {n} images are gray; the rest are colour, so training "
                     "uses three channels")


def _duplicate_findings(facts, near_threshold: float, report: dict, warnings: list,
                        notes: list) -> None:
    """Exact and near duplicates, then the flip verdict and the data size on the images
    that are not exact copies."""
    n = len(facts)
    exact = _exact_groups(facts)
    in_exact = {i for g in exact for i in g[1:]}
    candidates = [i for i in range(n) if i not in in_exact]
    near_skipped = len(candidates) > NEAR_MAX_IMAGES
    near = [] if near_skipped else _near_groups(facts, candidates, near_threshold)
    exact_members = {g[0]: g for g in exact}
    report["exact_duplicates"] = [[facts[i].name for i in g] for g in exact]
    near_named = []
    for g in near:  # list each near group with the exact copies of its members
        members = [j for i in g for j in exact_members.get(i, [i])]
        near_named.append([facts[i].name for i in members])
    report["near_duplicates"] = near_named
    report["near_threshold"] = near_threshold
    if exact:
        extra = sum(len(g) - 1 for g in exact)
        warnings.append(f"{extra} file(s) are exact copies of other images ({len(exact)} "
                        "group(s)); copies weigh those images more in training")
    if near:
        warnings.append(f"{sum(len(g) for g in near_named)} images in {len(near)} group(s) "
                        f"are near duplicates (resized, re-encoded or lightly edited copies)")
    if near_skipped:
        notes.append(f"near-duplicate search skipped: more than {NEAR_MAX_IMAGES:,} images")

    report["flip"] = flip_verdict([facts[i] for i in candidates])
    if report["flip"]["verdict"] != "safe":
        warnings.append(f"horizontal flips look {report['flip']['verdict']}: "
                        f"{report['flip']['reason']}; {report['flip']['advice']}")

    unique = n - len(in_exact)
    report["distinct_images"] = unique
    if unique < SMALL_DATA:
        notes.append(f"small data set ({unique:,} distinct images): gankit turns augmentation "
                     "and EMA on for small folders")
    elif unique < AUTO_AUGMENT_BELOW:
        notes.append(f"{unique:,} distinct images: below {AUTO_AUGMENT_BELOW:,} gankit turns "
                     "DiffAugment augmentation on automatically")


def _domain_findings(per_domain: dict, domains: dict, warnings: list) -> None:
    counts = {d: v["readable"] for d, v in per_domain.items()}
    for d, c in counts.items():
        if c == 0:
            warnings.append(f"CycleGAN domain {d} has no readable images")
    train = [counts[d] for d in list(domains)[:2]]
    if min(train) > 0 and max(train) > 10 * min(train):
        warnings.append(f"CycleGAN domains are unbalanced ({list(domains)[0]}: {train[0]}, "
                        f"{list(domains)[1]}: {train[1]}); the smaller one is seen "
                        "far more often per image")


def _few(names: list) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _pair_findings(root: Path, layout: str, domains: dict, facts, report: dict,
                   warnings: list, notes: list) -> None:
    """The paired layouts pix2pix reads (docs/pix2pix.md): A|B images side by side
    (``train/``, ``val/``, ``test/`` or one folder), or two folders whose files pair by
    name; ``report["pairs"]`` says which, with the count."""
    if layout == "cyclegan":
        a, b = list(domains)[:2]
        stems = {d: {} for d in (a, b)}
        for f in facts:
            d, _, rest = f.name.partition("/")
            if d in stems:
                stems[d][rest.rsplit(".", 1)[0]] = f
        both = set(stems[a]) & set(stems[b])
        if not both:
            notes.append(f"{a}/ and {b}/ share no file name: unpaired domains for gankit train "
                         "cyclegan (pix2pix needs pairs)")
            return
        lone = sorted(set(stems[a]) ^ set(stems[b]))
        sizes = sorted(k for k in both if (stems[a][k].width, stems[a][k].height)
                       != (stems[b][k].width, stems[b][k].height))
        report["pairs"] = {"layout": "two folders", "pairs": len(both), "unpaired": len(lone),
                           "size_mismatch": len(sizes)}
        if lone:
            warnings.append(f"{len(lone)} file(s) of {a}/ and {b}/ have no partner of the same "
                            f"name: {_few(lone)}; gankit train pix2pix refuses them")
        if sizes:
            warnings.append(f"{len(sizes)} pair(s) of {a}/ and {b}/ differ in size: "
                            f"{_few(sizes)}; gankit train pix2pix refuses them")
        if not lone and not sizes:
            notes.append(f"{len(both):,} pairs by file name: gankit train pix2pix --data "
                         f"{root / a} --data-b {root / b} (or cyclegan, unpaired)")
        return
    aligned = [f for f in facts if f.width == 2 * f.height]
    if len(aligned) * 2 < len(facts):
        return
    odd = [f.name for f in facts if f.width != 2 * f.height]
    splits = {s: sum(1 for f in aligned if f.name.startswith(s + "/"))
              for s in ("train", "val", "test") if (root / s).is_dir()}
    report["pairs"] = {"layout": "aligned", "pairs": len(aligned), "not_aligned": len(odd),
                       "splits": splits}
    if odd:
        warnings.append(f"{len(odd)} image(s) are not twice as wide as high, so not A|B pairs: "
                        f"{_few(odd)}; gankit train pix2pix refuses them")
    else:
        where = ", ".join(f"{k}/ {v}" for k, v in splits.items())
        notes.append(f"{len(aligned):,} aligned pairs (A|B side by side"
                     + (f"; {where}" if where else "") + f"): gankit train pix2pix --data {root}")
