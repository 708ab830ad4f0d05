"""`gankit project RUN PHOTO... --out DIR`: the latent of a picture."""

from __future__ import annotations

from pathlib import Path

import click

from .. import console
from ..errors import UsageError
from ..projection import FLAGS


def projection_options(fn):
    """The optimisation's flags (projection.FLAGS, shared with `direction fit`)."""
    for decls, kw in reversed(FLAGS):
        fn = click.option(*decls, **kw)(fn)
    return fn


@click.command("project")
@click.argument("run")
@click.argument("photos", nargs=-1, required=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("projection"),
              show_default=True, help="Folder for NAME.npy, NAME.png (and NAME.gif).")
@click.option("--gif", is_flag=True, help="Also write NAME.gif: the optimisation, frame by frame.")
@click.option("--fps", type=float, default=12, show_default=True, help="GIF frames per second.")
@click.option("--force", is_flag=True, help="Replace files an earlier projection wrote.")
@click.option("--json", "as_json", is_flag=True, help="The results as JSON on stdout.")
@click.option("--fit-encoder", "use_encoder", is_flag=True,
              help="Start from a small encoder's guess: trained once on the run's own samples "
                   "and cached as RUN/encoder.safetensors (for this checkpoint).")
@projection_options
def project(run, photos, out, gif, fps, force, as_json, max_images, no_ema, device,
            use_encoder=False, **flags):
    """Find the latent z whose generated picture matches each PHOTO.

    \b
    RUN is a run folder or checkpoint of an unconditional image model; PHOTOS are
    image files or folders. Each photo is read as training read its pictures
    (resized, centre-cropped), then z is optimised (Adam, a noise ramp) to minimise a
    perceptual distance plus a pixel term. For each photo, named after it:
      OUT/NAME.npy   the latent: gankit sample --z, interpolate --z-a/--z-b
      OUT/NAME.png   photo | projection
      OUT/NAME.gif   with --gif, the optimisation
    The distances reached are printed (and given by --json).

    \b
      gankit project runs/sushi64 me.png --out proj/
      gankit sample runs/sushi64 --z proj/me.npy --direction tuna:1 --out tuna-me.png
    """
    from ..bounds import check_fps
    from ..engine import pick_device
    from ..loading import load_model
    from ..outputs import check_output
    from ..projection import (check_projectable, collect_photos, dumps, output_names,
                              planned_files, project_photos, read_photos, settings_of,
                              write_results)
    from ..run import writable_dir

    settings = settings_of(flags, gif=gif)
    if not fps > 0:
        raise UsageError(f"--fps {fps}: must be positive")
    check_fps("--fps", fps)
    check_output(out, flag="--out", folder=True)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: a file; give a folder")
    files = collect_photos(photos, "PHOTOS", max_images)
    names = output_names(files)
    planned = planned_files(out, names, gif)
    inputs = {f.resolve() for f in files}
    clash = [p for p in planned if p.resolve() in inputs]
    if clash:
        raise UsageError(f"--out {out}: would overwrite the picture {clash[0]}; choose "
                         "another --out folder")
    taken = [p for p in planned if p.exists() or p.is_symlink()]
    if taken and not force:
        raise UsageError(f"--out {out}: {taken[0].name} already exists; pass --force to "
                         "replace it or choose another --out folder")
    dev = pick_device(device)
    model, config, spec, nets, c = load_model(run, device=dev, ema=not no_ema)
    check_projectable(model, spec, "project")
    targets, files = read_photos(files, spec, flag="PHOTOS")
    names = output_names(files)
    encoder = None
    if use_encoder:
        from ..latent import require_run_dir
        from ..encoder import encoder_for

        encoder = encoder_for(require_run_dir(c, "--fit-encoder"), model, nets, config, spec,
                              c, dev)
    results, used = project_photos(model, nets, config, spec, files, targets, settings,
                                   device=dev, encoder=encoder)
    for r, name in zip(results, names):
        r.name = name
    writable_dir(out, "--out")
    write_results(results, out, fps=fps)
    if as_json:
        click.echo(dumps(results, used))
        return
    console.info(f"projected {len(results)} picture(s) with {c.path} (step {c.step}); "
                 f"perceptual distance: {used}, pixel: RMS in [0, 1]")
    for r in results:
        console.info(f"{r.photo}: perceptual {r.start_perceptual:.4f} -> {r.perceptual:.4f}, "
                     f"pixel {r.start_pixel:.4f} -> {r.pixel:.4f} -> {r.files['latent']}")


COMMANDS = [project]
