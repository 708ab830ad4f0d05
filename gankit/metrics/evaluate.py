"""``gankit evaluate RUN`` on an image run: every number, the eval file and the picture.

:func:`evaluate_images` takes a model loaded with :func:`gankit.load_model`, draws
``num`` samples (sample i from seed ``seed + i``, as ``gankit sample --seeds`` does),
loads the data the run was trained on as training loaded it, and compares the two in
pixel space (multi-scale SWD) and in gankit's feature space (KID, Fréchet distance,
precision/recall, memorisation), plus FID/KID with Inception features on request.
It writes ``RUN/metrics/eval-step-NNNNNNN.json`` and the closest-pairs picture
``RUN/metrics/closest-step-NNNNNNN.png``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .. import console
from ..dataload import load_data
from ..errors import GankitError, UsageError
from ..files import atomic_write
from ..images import to_uint8
from ..latent import latents_for_seeds
from ..options import TrainOptions
from ..plugins import get_plugins
from ..registry import recorded_names
from ..run import Run
from ..sampling import generate, labelled_grid
from . import cache as fcache
from . import distances, features, inception
from .table import MEMORISATION_ROW, print_table, rows  # noqa: F401 (re-exported)

MAX_SAMPLES = 50_000
DEFAULT_SAMPLES = 1000
MAX_REAL = 10_000     # real images compared (a seeded subset of larger data sets)
PAIRS = 16            # closest pairs in the picture
_GEN_BATCH = 256


def run_dir_of(c) -> Path:
    """The run folder of a checkpoint (its folder when it is not in a run's checkpoints/)."""

    run = Run.of_checkpoint(c.path)
    return run.path if run is not None else Path(c.path).parent


def output_tag(c) -> str:
    """"" for a checkpoint inside a run; for a loose one, "-" and its file name, so two
    loose checkpoints of the same step in one folder never share a result file."""
    import re

    if Run.of_checkpoint(c.path) is not None:
        return ""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(c.path).stem)[:80]
    return f"-{stem}"


def eval_path(run_dir: Path, step: int, tag: str = "") -> Path:
    return Run(run_dir).eval_path(step, tag)


def picture_path(run_dir: Path, step: int, tag: str = "") -> Path:
    return Run(run_dir).picture_path(step, tag)


def check_count(num: int) -> None:
    if num < 1:
        raise UsageError("-n must be at least 1")
    if num > MAX_SAMPLES:
        raise UsageError(f"-n {num}: at most {MAX_SAMPLES} samples on image runs")
    if num < 4:
        raise UsageError(f"-n {num}: image metrics need at least 4 samples (k-NN with k=3)")


def train_options(c, run_dir: Path):
    """The run's TrainOptions, from the checkpoint (or config.json for older files)."""
    saved = c.train
    if not saved:

        saved = Run(run_dir).read_config().get("options")
        saved = saved if isinstance(saved, dict) else {}
    try:
        return TrainOptions.from_saved(saved if isinstance(saved, dict) else {})
    except GankitError as exc:
        raise GankitError(f"{c.path}: its training options cannot be read ({exc}); "
                          "pass --dataset NAME / --data PATH") from None


def load_real(plugins, model, c, spec, run_dir: Path, *, data=None, dataset=None,
              progress=None):
    """The training images as uint8 (N, C, H, W), loaded as `gankit train` loaded them:
    ``(images, names, data set name, path, labels)``, the labels (the class of each
    image) only for a class-conditional run, else None."""
    options = train_options(c, run_dir)
    path = data if data is not None else options.data
    name = dataset or options.dataset
    # the data set that trained the run (PLUGIN:NAME), whatever else now has its name
    recorded = recorded_names(c).get("dataset") if dataset is None else None
    try:
        real = load_data(plugins, model, options, path=path, name=recorded or name,
                         progress=progress,
                         image_size=spec.size, flag="--data" if data is not None else "")
    except GankitError as exc:
        if data is not None or dataset is not None:
            raise
        raise GankitError(f"{exc} (the data {run_dir} was trained on; pass --data PATH "
                          "where those images are now)") from None
    if real.spec.kind != "image":
        raise GankitError(f"data set '{real.spec.name}' holds {real.spec.kind} data, not images")
    samples = real.samples
    labels = None
    if getattr(spec, "classes", ()):  # a conditional run: its classes, in its order
        if list(real.classes) != list(spec.classes):
            raise GankitError(f"the training data's classes ({', '.join(real.classes[:4]) or 'none'}"
                              f") are not the run's ({', '.join(spec.classes[:4])}); pass "
                              "--data PATH with the run's images")
        labels = real.labels
    if tuple(samples.shape[1:]) != tuple(spec.shape):
        raise GankitError(
            f"the training data loads as {tuple(samples.shape[1:])} images but the run makes "
            f"{tuple(spec.shape)}; pass --data PATH / --dataset NAME with the run's images"
        )
    return samples, list(real.names or []), name or real.spec.name, path, labels


def subset(images, names, limit: int = MAX_REAL, labels=None):
    """At most ``limit`` images: a seeded random subset (in order) when there are more
    (and their ``labels``, given as the third value when passed)."""
    import torch

    n = images.shape[0]
    if n <= limit:
        return (images, names) if labels is None else (images, names, labels)
    keep = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:limit].sort().values
    out = images[keep], [names[i] for i in keep.tolist()] if names else []
    return out if labels is None else (*out, labels[keep])


def generate_uint8(model, config, nets, seeds, device, progress=None, labels=None):
    """uint8 samples for ``seeds``, a batch at a time (floats never held for all), of the
    classes ``labels`` (one per seed) for a conditional run."""
    import torch

    out, seeds = [], list(seeds)
    for i in range(0, len(seeds), _GEN_BATCH):
        z = latents_for_seeds(model, config, seeds[i:i + _GEN_BATCH], device)
        x = generate(model, nets, z, labels=None if labels is None
                     else labels[i:i + _GEN_BATCH])
        if x.ndim != 4:
            raise GankitError(f"model '{model.name}' makes {tuple(x.shape[1:])} samples, not images")
        out.append(to_uint8(x))
        if progress:
            progress(min(i + _GEN_BATCH, len(seeds)), len(seeds))
    return torch.cat(out)


def closest_pairs_picture(fake, real, mem: dict, seeds, path: Path, pairs: int = PAIRS):
    """Sample | nearest training image, the closest pairs first, four pairs a row."""
    import torch

    order = torch.argsort(mem["distance"])[:pairs].tolist()
    images, labels = [], []
    for i in order:
        j = int(mem["index"][i])
        images += [fake[i], real[j]]
        labels += [f"seed {seeds[i]}", f"d {float(mem['distance'][i]):.3g}"]
    sheet = labelled_grid(torch.stack(images), labels, nrow=8)
    atomic_write(path, lambda tmp: sheet.save(tmp, format="PNG"))
    return order


class _Progress:
    """Tasks on one rich progress display (silent with --quiet)."""

    def __init__(self):
        self.prog = console.progress(transient=True)

    def __enter__(self):
        self.prog.start()
        return self

    def __exit__(self, *exc):
        self.prog.stop()
        return False

    def task(self, description: str):
        tid = None

        def report(done, total=None):
            nonlocal tid
            if tid is None:
                tid = self.prog.add_task(description, total=total, rate="", info="")
            self.prog.update(tid, completed=done, total=total)

        return report


def evaluate_images(model, config, spec, nets, c, *, num: int = DEFAULT_SAMPLES, seed: int = 0,
                    device="cpu", fid: bool = False, inception_weights=None, data=None,
                    dataset=None, cache: bool = True, plugins=None, write: bool = True) -> dict:
    """Every image metric of a loaded run; writes the eval file and picture when ``write``."""
    check_count(num)
    if seed < 0:
        raise UsageError("--seed must be at least 0")
    plugins = plugins or get_plugins()
    run_dir = run_dir_of(c)
    extract_inception = inception_space = None
    if fid:  # fail on a missing extra or missing weights before any work
        extract_inception, inception_space = inception.load_extractor(inception_weights, device)
    started = time.time()
    seeds = list(range(seed, seed + num))
    m = _measure(plugins, model, config, spec, nets, c, run_dir, seeds, seed=seed,
                 device=device, cache=cache, data=data, dataset=dataset, fid=fid,
                 extract_inception=extract_inception, inception_space=inception_space)
    picture = picture_path(run_dir, c.step, output_tag(c))
    if write:
        order = closest_pairs_picture(m["fake"], m["real"], m["mem"], seeds, picture)
    else:
        import torch

        order = torch.argsort(m["mem"]["distance"])[:PAIRS].tolist()
    result = _result(model, spec, c, run_dir, m, seeds, order, num=num, seed=seed,
                     inception_space=inception_space, picture=picture if write else None,
                     started=started)
    if write:
        write_eval(run_dir, c, result)
    return result


def write_eval(run_dir: Path, c, result: dict) -> Path:
    """The eval file of checkpoint ``c`` (written atomically); its path goes into
    ``result["eval_file"]``."""
    out = eval_path(run_dir, c.step, output_tag(c))
    text = json.dumps(result, indent=2) + "\n"
    atomic_write(out, lambda tmp: Path(tmp).write_text(text))
    result["eval_file"] = str(out)
    return out


def _measure(plugins, model, config, spec, nets, c, run_dir, seeds, *, seed, device, cache,
             data, dataset, fid, extract_inception, inception_space) -> dict:
    """The training images, the samples and every registered metric between them (with
    progress bars): ``real``, ``names``, ``data_name``, ``data_path``, ``fake``,
    ``metrics``, ``mem`` (the memorisation distances) and ``feature_space``."""
    with _Progress() as bars:
        real, names, data_name, data_path, real_labels = load_real(
            plugins, model, c, spec, run_dir, data=data, dataset=dataset,
            progress=bars.task("loading training images"))
        if real_labels is None:
            real, names = subset(real, names)
        else:
            real, names, real_labels = subset(real, names, labels=real_labels)
        if real.shape[0] < 4:
            raise GankitError(f"the training data has {real.shape[0]} image(s); the metrics "
                              "need at least 4")
        fake_labels = None
        if real_labels is not None:  # sample i of class i mod K, as gankit sample does
            import torch

            fake_labels = torch.arange(len(seeds)) % len(spec.classes)
        fake = generate_uint8(model, config, nets, seeds, device, bars.task("sampling"),
                              fake_labels)
        space = f"{features.FEATURE_SPACE}-{features.checksum()}"

        def featurise(what):
            task = bars.task(f"features ({what})")
            return lambda x: features.extract(x, device, task)

        f_real = fcache.features(real, space, featurise("training images"), enabled=cache,
                                 warn=console.warn)
        f_fake = featurise("samples")(fake)
        registered = list(plugins.metrics())
        metrics = compute(registered, "pixels", real, fake, seed,
                          lambda m: bars.task(m.progress_label or m.name))
        metrics.update(compute(registered, "features", f_real, f_fake, seed))
        per_class = None
        if fake_labels is not None:
            per_class = class_metrics(registered, spec.classes, f_real, f_fake,
                                      real_labels.long(), fake_labels, seed)
        mem = distances.memorisation(f_real, f_fake)
        metrics.update({"memorisation": mem["share"], "memorisation_ratio": mem["ratio"]})
        if fid:
            def inception_features(what):
                task = bars.task(f"Inception features ({what})")
                return lambda x: extract_inception(x, task)

            i_real = fcache.features(real, inception_space, inception_features("training images"),
                                     enabled=cache, warn=console.warn)
            i_fake = inception_features("samples")(fake)
            metrics.update(compute(registered, "inception", i_real, i_fake, seed))
    return {"real": real, "names": names, "data_name": data_name, "data_path": data_path,
            "fake": fake, "metrics": metrics, "mem": mem, "per_class": per_class,
            "feature_space": features.FEATURE_SPACE}


def _result(model, spec, c, run_dir, m: dict, seeds, order, *, num, seed, inception_space,
            picture, started) -> dict:
    """The eval file's record (``picture``: the closest-pairs picture written, or None)."""
    mem, metrics, names, real = m["mem"], m["metrics"], m["names"], m["real"]
    closest = [{"seed": seeds[i], "train_index": int(mem["index"][i]),
                "train_name": names[int(mem["index"][i])] if names else None,
                "distance": float(mem["distance"][i])} for i in order]
    result = {
        "run": str(run_dir),
        "checkpoint": str(c.path),
        "model": model.name,
        "step": c.step,
        "time": time.time(),
        "samples": num,
        "seed": seed,
        "metrics": metrics,
        "feature_space": m["feature_space"],
        "data": {"dataset": m["data_name"],
                 "path": str(m["data_path"]) if m["data_path"] else None,
                 "images": int(real.shape[0]), "size": spec.size, "channels": spec.channels},
        "swd_resolutions": [int(k[4:]) for k in metrics if k[:4] == "swd_" and k[4:].isdigit()],
        "inception_space": inception_space,
        "memorisation": {
            "quantile": mem["quantile"],
            "threshold": mem["threshold"],
            "closest": closest,
            "picture": str(picture) if picture is not None else None,
        },
        "nearest": {"train_index": [int(v) for v in mem["index"]],
                    "distance": [round(float(v), 6) for v in mem["distance"]]},
        "seconds": round(time.time() - started, 2),
    }
    if m.get("per_class") is not None:
        result["per_class"] = m["per_class"]
    return result


#: the fewest images (and samples) of a class its own metrics are computed on
MIN_CLASS_IMAGES = 4


def class_metrics(registered, classes, f_real, f_fake, real_labels, fake_labels,
                  seed: int) -> dict:
    """The feature-space metrics of each class of a conditional run: its training images
    against the samples asked of it (classes with fewer than MIN_CLASS_IMAGES of either
    get their counts only)."""
    out = {}
    for k, name in enumerate(classes):
        r, f = f_real[real_labels == k], f_fake[fake_labels == k]
        row = {"images": int(r.shape[0]), "samples": int(f.shape[0])}
        if min(row.values()) >= MIN_CLASS_IMAGES:
            try:
                row.update(compute(registered, "features", r, f, seed))
            except (ValueError, RuntimeError) as exc:  # a metric that needs more points
                row["error"] = str(exc).splitlines()[0][:200]
        out[str(name)] = row
    return out


def compute(registered, space: str, real, fake, seed: int, task=None) -> dict:
    """Every registered metric of ``space`` (in registration order) on one pair of sets;
    ``task(metric)`` gives a metric its progress callback."""
    out = {}
    for metric in registered:
        if metric.space == space:
            out.update(metric.compute(real, fake, seed=seed,
                                      progress=task(metric) if task else None))
    return out
