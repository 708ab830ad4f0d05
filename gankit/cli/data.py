"""`gankit data check DIR`: what a folder of images holds before training on it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import console


@click.group("data")
def data():
    """Inspect image folders before training on them."""


def _render(report: dict, show: int) -> None:
    from rich.console import Console
    from rich.markup import escape  # file names and notes may hold brackets: gankit[projected]

    out = Console(highlight=False)
    out.print(f"[bold]gankit data check[/bold] {escape(str(report['folder']))}")
    out.print(_summary(report))
    if report["unreadable"]:
        _listed(out, "unreadable files", ("file", "reason"),
                [(u["file"], u["reason"]) for u in report["unreadable"]], show)
    if report.get("sizes"):
        _sizes(out, report)
    for key, title in (("exact_duplicates", "exact duplicates"),
                       ("near_duplicates", "near duplicates")):
        groups = report.get(key) or []
        if groups:
            _listed(out, f"{title}: {len(groups)} group(s)", ("#", "files"),
                    [(str(i), ", ".join(g)) for i, g in enumerate(groups, 1)], show,
                    more="group(s) ")
    classes = report.get("classes")
    if classes and len(classes) > 1:
        _listed(out, f"classes (subfolders): {len(classes)}", ("class", "images"),
                [(escape(name), f"{count:,}") for name, count in classes.items()],
                max(show, 12))
    flip = report.get("flip")
    if flip:
        out.print(f"[bold]horizontal flips:[/bold] look {flip['verdict']} (a heuristic): "
                  f"{flip['reason']}. {flip['advice'][0].upper()}{flip['advice'][1:]}.")
    for note in report["notes"]:
        out.print(f"note: {escape(note)}")


def _summary(report: dict):
    """The counts, layout, pairs and colour modes, as a two-column table."""
    from rich.table import Table

    summary = Table(show_header=False, box=None, padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("image files", f"{report['files']:,}")
    summary.add_row("readable", f"{report['readable']:,}")
    summary.add_row("unreadable", f"{len(report['unreadable']):,}")
    if report["skipped"]:
        summary.add_row("other files", ", ".join(f"{k} ({v})" for k, v in report["skipped"].items()))
    if report["layout"] == "cyclegan":
        summary.add_row("layout", "CycleGAN domains")
        for d, v in report["domains"].items():
            summary.add_row(f"  {d}", f"{v['readable']:,} readable of {v['files']:,}")
    pairs = report.get("pairs")
    if pairs:
        summary.add_row("pairs", f"{pairs['pairs']:,} ({pairs['layout']}, for pix2pix)")
    if "modes" in report:
        summary.add_row("colour modes", ", ".join(f"{m} {c}" for m, c in report["modes"].items()))
        summary.add_row("gray images", f"{report['gray']:,}")
    return summary


def _listed(out, title: str, columns, rows, show: int, more: str = "") -> None:
    """A table of the first ``show`` rows and how many more there are. The last column
    folds long file names; a column named ``#`` or ``images`` holds numbers."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col in columns:
        if col in ("#", "images"):
            t.add_column(col, justify="right")
        else:
            t.add_column(col, overflow="fold")
    for row in rows[:show]:
        t.add_row(*row)
    out.print(t)
    if len(rows) > show:
        out.print(f"  ... and {len(rows) - show} more {more}(--json lists all)")


def _sizes(out, report: dict) -> None:
    """Widths and heights, the most common sizes, what each training size can use."""
    from rich.table import Table

    sizes = report["sizes"]
    t = Table(title="sizes (px)", title_justify="left")
    for col in ("", "min", "median", "max"):
        t.add_column(col, justify="right" if col else "left")
    for key, label in (("width", "width"), ("height", "height"), ("short_side", "shorter side")):
        s = sizes[key]
        t.add_row(label, str(s["min"]), f"{s['median']:g}", str(s["max"]))
    out.print(t)
    t = Table(title="most common sizes", title_justify="left")
    t.add_column("W x H")
    t.add_column("images", justify="right")
    for row in sizes["most_common"]:
        t.add_row(row["size"], f"{row['count']:,}")
    out.print(t)
    reach = ", ".join(f"{s} px: {c:,}" for s, c in sizes["reach"].items())
    out.print(f"images reaching each size without upscaling: {reach}")
    out.print(f"[bold]recommended:[/bold] --image-size {report['recommended_image_size']}")


@data.command("check")
@click.argument("folder", type=click.Path(path_type=Path), metavar="DIR")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report on stdout.")
@click.option("--near-threshold", type=click.FloatRange(0, 255), default=None, metavar="D",
              help="Near duplicates: largest mean difference of brightness-normalised "
                   "16x16 thumbnails, 0-255 (default 3; larger finds looser copies).")
@click.option("--show", type=click.IntRange(min=1), default=5, show_default=True,
              help="Groups and files listed per section (--json lists all).")
def check(folder, as_json, near_threshold, show):
    """Check a folder of training images: counts, sizes, colour modes, unreadable files,
    exact and near duplicates, a recommended --image-size, whether flips look safe,
    CycleGAN domains (trainA/trainB or A/B) and pix2pix pairs (A|B side by side, or
    A/ and B/ files paired by name).

    \b
    Example:
      gankit data check ./my-photos
      gankit data check ./horse2zebra --json
    """
    from ..datacheck import NEAR_THRESHOLD, check_folder
    from ..errors import GankitError

    threshold = NEAR_THRESHOLD if near_threshold is None else near_threshold
    with console.lazy_progress("checking images") as progress:
        report = check_folder(folder, near_threshold=threshold, progress=progress)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _render(report, show)
    for w in report["warnings"]:
        console.warn(w)
    if report["readable"] == 0:
        raise GankitError(f"{folder}: none of the {report['files']} image files could be read")


COMMANDS = [data]
