"""`gankit interpolate [RUN]`: walks through the latent space, as PNG frames and a GIF."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import click
from click.core import ParameterSource

from .. import console
from ..errors import UsageError

FRAME_RE = re.compile(r"^frame-(\d{3,})\.png$")
PROGRESS_FROM = 40  # frames; fewer are written too fast to need a bar


def frame_images(images, size: int | None = None):
    """Float images in [-1, 1] -> PIL images, resized to ``size`` x ``size`` if asked."""
    from PIL import Image

    from ..images import to_uint8

    out = []
    for img in to_uint8(images):
        arr = img.permute(1, 2, 0).contiguous().numpy()
        pil = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
        if size and pil.size != (size, size):
            pil = pil.resize((size, size), Image.Resampling.LANCZOS)
        out.append(pil)
    return out


def write_frames(frames, out_dir: Path, *, gif: bool, fps: float, name: str = "interpolation.gif"):
    """frame-000.png ... in ``out_dir`` (stale higher-numbered frames of an earlier,
    longer walk are removed) and, with ``gif``, ``out_dir/name``. Returns the GIF path."""
    from ..files import atomic_write
    from ..images import save_gif
    from ..run import writable_dir

    writable_dir(out_dir, "--out")
    width = max(3, len(str(len(frames) - 1)))
    written = set()
    many = len(frames) >= PROGRESS_FROM
    with console.progress(transient=True) if many else contextlib.nullcontext() as prog:
        task = prog.add_task("frames", total=len(frames), rate="", info="") if many else None
        for i, frame in enumerate(frames):
            p = out_dir / f"frame-{i:0{width}d}.png"
            atomic_write(p, lambda tmp, f=frame: f.save(tmp, format="PNG"))
            written.add(p.name)
            if task is not None:
                prog.update(task, completed=i + 1)
    for p in out_dir.iterdir():
        if FRAME_RE.match(p.name) and p.name not in written:
            p.unlink()
    if gif:
        path = out_dir / name
        save_gif(frames, path, fps=fps)
        return path
    return None


@click.command("interpolate")
@click.argument("run", required=False)
@click.option("--seed-a", type=int, help="Start point: the z of this seed.  [default: 0]")
@click.option("--seed-b", type=int, help="End point: the z of this seed.  [default: 1]")
@click.option("--z-a", "z_a", type=click.Path(path_type=Path), metavar="FILE.npy",
              help="Start point: a latent file (`gankit project` writes them) instead of a seed.")
@click.option("--z-b", "z_b", type=click.Path(path_type=Path), metavar="FILE.npy",
              help="End point: a latent file instead of a seed.")
@click.option("--seeds", type=str, help="Chain several points instead, e.g. 3,17,42 (or 0-4).")
@click.option("--steps", type=int, default=50, show_default=True,
              help="Frames per segment, both ends included; segments share their end frames.")
@click.option("--method", type=click.Choice(["auto", "lerp", "slerp"]), default="auto",
              show_default=True,
              help="auto: slerp for a Gaussian prior, lerp for a uniform one.")
@click.option("--loop", is_flag=True, help="Come back to the first point (a seamless GIF loop).")
@click.option("--gif", is_flag=True, help="Also write OUT/interpolation.gif.")
@click.option("--fps", type=float, default=12, show_default=True, help="GIF frames per second.")
@click.option("--size", type=int, help="Resize frames to SIZE x SIZE pixels.")
@click.option("--direction", type=str, metavar="NAME",
              help="Walk along this attribute direction from seed A's point instead "
                   "(gankit direction fit/list).")
@click.option("--from", "start", type=float, default=-2.0, show_default=True,
              help="With --direction: first strength.")
@click.option("--to", "stop", type=float, default=2.0, show_default=True,
              help="With --direction: last strength.")
@click.option("--truncation", type=float, metavar="T",
              help="Gaussian priors: truncate the seeds' z at |T| as `gankit sample` does.")
@click.option("--class-a", "class_a", type=str, metavar="NAME",
              help="Class-conditional runs: the class at the start (a name or an index) "
                   "[default: the first class].")
@click.option("--class-b", "class_b", type=str, metavar="NAME",
              help="Class-conditional runs: the class at the end; the class embedding is "
                   "interpolated (with no --seed-b/--seeds, z stays at seed A).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("interpolation"),
              show_default=True, help="Folder for frame-000.png ... and interpolation.gif.")
@click.option("--no-ema", "no_ema", is_flag=True,
              help="Use the trained generator itself, not its EMA average.")
@click.option("--device", default="auto", show_default=True)
@click.pass_context
def interpolate(ctx, run, seed_a, seed_b, seeds, steps, method, loop, gif, fps, size, direction,
                start, stop, truncation, out, device, no_ema=False, z_a=None, z_b=None,
                class_a=None, class_b=None):
    """Walk from the z of seed A to the z of seed B (or through --seeds) and draw it.

    \b
    Frames: each segment is --steps frames from its start point to its end point,
    both included; the frame where two segments meet is written once. K points give
    (K-1)*(steps-1)+1 frames, or K*(steps-1) with --loop (the closing frame, equal to
    the first, is left out so the GIF loops seamlessly). Two seeds and --steps 50 give
    exactly 50 frames: frame 0 is `gankit sample --seeds A`, the last is seed B.
    With --direction NAME the walk is z_A + s*NAME for s from --from to --to.

    \b
      gankit interpolate --seed-a 3 --seed-b 17 --steps 50 --gif
      gankit interpolate --seeds 3,17,42 --steps 24 --loop --gif --size 128
      gankit interpolate --seed-a 3 --direction tuna --from -2 --to 2 --gif
      gankit interpolate --seed-a 3 --class-a tuna --class-b salmon --gif
    """
    import torch

    from ..engine import pick_device
    from ..latent import check_truncation
    from ..bounds import check_output_memory
    from ..loading import load_model
    from ..models import UNCONDITIONAL, require_kind
    from ..sampling import class_index, generate

    def given(name):
        return ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE

    if class_b is not None and class_a is None:
        raise UsageError("--class-b needs --class-a (the class the walk starts from)")
    if (class_b is not None and seed_b is None and z_b is None and not seeds
            and direction is None):  # a walk between classes at one z
        if z_a is not None:
            z_b = z_a
        else:
            seed_b = 0 if seed_a is None else seed_a
    _check_z_flags(z_a, z_b, seed_a, seed_b, seeds, direction, truncation)

    points, n_frames = _points(steps, size, fps, seed_a, seed_b, seeds, direction, loop,
                               from_to_given=given("start") or given("stop"),
                               method_given=given("method"))
    dev = pick_device(device)
    model, config, spec, nets, c = load_model(run, device=dev, ema=not no_ema)
    require_kind(model, UNCONDITIONAL, "interpolate",
                 "a translation model maps images and has no latent space to walk; "
                 "use `gankit translate`")
    if spec.kind != "image":
        raise UsageError(f"'{model.name}' makes {spec.kind} data, not images; interpolate "
                         "draws image frames (use `gankit sample --out FILE.npy`)")
    check_truncation(model, truncation, config)
    ends = [class_index(spec, v, f) for v, f in ((class_a, "--class-a"), (class_b, "--class-b"))
            if v is not None]
    if not ends and spec.num_classes:  # a walk keeps one class: the first, unless asked
        ends = [0]
    check_output_memory("--steps", steps, n_frames, (spec.channels, *(2 * [max(spec.size, size or 0)])))
    z, what = _walk_latents(model, config, c, points, steps, loop, method, direction, start,
                            stop, truncation, z_a, z_b)
    labels, classes = _class_labels(spec, ends, z.shape[0], loop) if ends else (None, "")
    with torch.no_grad():
        images = generate(model, nets, z.to(dev), labels=labels)
    frames = frame_images(images, size)
    gif_path = write_frames(frames, out, gif=gif, fps=fps)
    console.info(f"{len(frames)} frames ({what}{classes}) from {c.path} (step {c.step}) -> "
                 f"{out}/" + (f" and {gif_path}" if gif_path else ""))


def _walk_latents(model, config, c, points, steps, loop, method, direction, start, stop,
                  truncation, z_a, z_b):
    """The walk's latents and what they are, in words: along ``direction`` from seed A
    (or ``z_a``), else a chain through the points (seeds, or latent files for A and B)."""
    from ..latent import default_method, latents_for_seeds, load_direction, require_run_dir
    from ..walks import chain, walk

    if direction is not None:
        vec = load_direction(require_run_dir(c, "--direction"), direction, model, config)
        z0 = (_one_z(z_a, "--z-a", model, config) if z_a else
              latents_for_seeds(model, config, points[:1], truncation=truncation))
        z, _ = walk(z0[0], vec, start, stop, steps, loop=loop)
        return z, (f"{z_a.name if z_a else f'seed {points[0]}'} along '{direction}' "
                   f"from {start:g} to {stop:g}")
    method = default_method(model, config) if method == "auto" else method
    zs = latents_for_seeds(model, config, points, truncation=truncation)
    names = [f"seed {p}" for p in points]
    for i, (f, flag) in enumerate(((z_a, "--z-a"), (z_b, "--z-b"))):
        if f is not None:  # a latent file in place of seed A or B
            zs[i] = _one_z(f, flag, model, config)[0]
            names[i] = f.name
    z = chain(zs, steps, method, loop=loop)
    return z, ((f"{method} through seeds {','.join(map(str, points))}" if not (z_a or z_b)
                else f"{method} from {names[0]} to {names[1]}") + (" and back" if loop else ""))


def _class_labels(spec, ends, frames: int, loop: bool):
    """Class embeddings for each frame, one-hot at the start, one-hot at the end, mixed
    in between (and back with ``loop``), and the classes in words."""
    import torch

    u = torch.linspace(0, 1, frames) if frames > 1 else torch.zeros(1)
    t = (1 - (2 * u - 1).abs()) if loop else u
    labels = torch.zeros(frames, spec.num_classes)
    labels[:, ends[0]] += 1 - t
    labels[:, ends[-1]] += t
    return labels, f", class {spec.classes[ends[0]]}" + (
        f" to {spec.classes[ends[-1]]}" if len(ends) > 1 else "")


def _check_z_flags(z_a, z_b, seed_a, seed_b, seeds, direction, truncation):
    for f, flag, seed, seed_flag in ((z_a, "--z-a", seed_a, "--seed-a"),
                                     (z_b, "--z-b", seed_b, "--seed-b")):
        if f is not None and seed is not None:
            raise UsageError(f"give either {flag} or {seed_flag}, not both")
    if (z_a or z_b) and seeds:
        raise UsageError("--z-a/--z-b are the two ends of a walk: drop --seeds")
    if z_b and direction is not None:
        raise UsageError("--direction walks from --z-a only; drop --z-b")
    if (z_a or z_b) and truncation is not None:
        raise UsageError("--truncation applies to seeds, not to latent files: drop it")


def _one_z(path, flag, model, config):
    from ..latent import read_z_file

    z = read_z_file(path, model, config, flag)
    if z.shape[0] != 1:
        raise UsageError(f"{flag} {path}: holds {z.shape[0]} latents; {flag} takes a file "
                         "of one (as `gankit project` writes)")
    return z


def _points(steps, size, fps, seed_a, seed_b, seeds, direction, loop, *, from_to_given,
            method_given):
    """The seeds the walk goes through and its frame count, after checking the flags."""
    from ..bounds import MAX_FRAMES, check_fps, check_seed, frames_of_walk
    from ..sampling import parse_seeds

    if steps < 2:
        raise UsageError(f"--steps {steps}: must be at least 2 (both ends of a segment)")
    if steps > MAX_FRAMES:
        raise UsageError(f"--steps {steps}: must be at most {MAX_FRAMES}")
    if size is not None and not 8 <= size <= 2048:
        raise UsageError(f"--size {size}: choose 8 to 2048 pixels")
    if not fps > 0:
        raise UsageError(f"--fps {fps}: must be positive")
    check_fps("--fps", fps)
    check_seed("--seed-a", seed_a)
    check_seed("--seed-b", seed_b)
    if seeds and (seed_a is not None or seed_b is not None):
        raise UsageError("give either --seeds or --seed-a/--seed-b, not both")
    if direction is not None and (seeds or seed_b is not None):
        raise UsageError("--direction walks from --seed-a only; drop --seeds/--seed-b")
    if direction is None and from_to_given:
        raise UsageError("--from/--to need --direction NAME")
    if direction is not None and method_given:
        raise UsageError("--method does not apply to --direction: that walk is a straight line")
    if seeds:
        points = parse_seeds(seeds)
        if len(points) < 2:
            raise UsageError(f"--seeds {seeds}: give at least two seeds to walk between")
    else:
        points = [0 if seed_a is None else seed_a, 1 if seed_b is None else seed_b]
    n_frames = frames_of_walk(1 if direction is not None else len(points), steps, loop)
    if n_frames > MAX_FRAMES:
        raise UsageError(f"--steps {steps}: {n_frames} frames through {len(points)} seeds; "
                         f"at most {MAX_FRAMES}")
    return points, n_frames


COMMANDS = [interpolate]
