"""The command lines shown with each picture: what a user can run to get it again."""

from __future__ import annotations

import shlex
from pathlib import Path

from .catalog import RunEntry
from .loaded import Walk


def compact_seeds(seeds) -> str:
    """[0, 1, 2, 3, 7] -> "0-3,7" (what ``--seeds`` reads back); projected pictures' ids
    (``"p1"``) stand alone."""
    parts, i = [], 0
    while i < len(seeds):
        j = i
        while (j + 1 < len(seeds) and isinstance(seeds[j], int)
               and isinstance(seeds[j + 1], int) and seeds[j + 1] == seeds[j] + 1):
            j += 1
        parts.append(str(seeds[i]) if j - i < 2 else f"{seeds[i]}-{seeds[j]}")
        if j - i == 1:
            parts.append(str(seeds[j]))
        i = j + 1
    return ",".join(parts)


def shown_path(p: Path) -> str:
    """A path as the user would type it here: relative to the working folder if inside."""
    p = Path(p).resolve()
    try:
        return str(p.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def safe_filename(text: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "._+-" else "-" for ch in text)
    while "--" in keep:
        keep = keep.replace("--", "-")
    return keep.strip("-.")[:150] or "studio"


def settings_tag(seeds, truncation, specs) -> str:
    seeds_part = compact_seeds(seeds) if len(seeds) <= 8 else f"{seeds[0]}-and-{len(seeds) - 1}-more"
    tag = "seeds-" + seeds_part.replace(",", "_")
    if truncation is not None:
        tag += f"_t{truncation:g}"
    for name, s in specs:
        tag += f"_{name}{s:+g}"
    return tag


class Commands:
    """Part of :class:`~gankit.studio.app.Studio`: the ``gankit`` command lines."""

    def _target_text(self, entry: RunEntry) -> str:
        return shlex.quote(shown_path(entry.checkpoint or entry.run_dir))

    def _projected_note(self, seeds) -> str:
        names = [f"{s}.npy" for s in seeds if not isinstance(s, int)]
        if not names:
            return ""
        return (f"  # {', '.join(names)}: the latents of the dropped pictures, as `gankit "
                f"project RUN PICTURE` writes them (NAME.npy)")

    def sample_command(self, entry, seeds, truncation, specs, cols=None, label=False,
                       out="samples.png", classes=None) -> str:
        if any(not isinstance(s, int) for s in seeds):  # projected pictures: --z files
            parts = ["gankit", "sample", self._target_text(entry)]
            for s in seeds:
                parts += ["--z", f"{s}.npy"] if not isinstance(s, int) else []
            numbers = [s for s in seeds if isinstance(s, int)]
            for name, st in specs:
                parts += ["--direction", f"{name}:{st:g}"]
            if classes:
                parts += ["--class", shlex.quote(classes[0])]
            parts += ["--out", shlex.quote(out)]
            return " ".join(parts) + self._projected_note(seeds) + (
                f"; and `gankit sample --seeds {compact_seeds(numbers)}` for the seeds"
                if numbers else "")
        parts = ["gankit", "sample", self._target_text(entry), "--seeds", compact_seeds(seeds)]
        if classes:
            parts += ["--class", shlex.quote(classes[0])]
        if cols:
            parts += ["--grid", f"{cols}x{-(-len(seeds) // cols)}"]
        if label:
            parts.append("--label")
        if truncation is not None:
            parts += ["--truncation", f"{truncation:g}"]
        for name, s in specs:
            parts += ["--direction", f"{name}:{s:g}"]
        parts += ["--out", shlex.quote(out)]
        cmd = " ".join(parts)
        if classes and len(classes) > 1:
            cmd += (f"  # gankit sample has no class mix; the studio mixed {classes[0]} with "
                    f"{classes[1]} at {classes[2]:g}")
        return cmd

    def interpolate_command(self, entry, w: Walk, fps=None, size=None, out="interpolation"):
        parts = ["gankit", "interpolate", self._target_text(entry)]
        if len(w.seeds) == 2:
            for flag, s in (("a", w.seeds[0]), ("b", w.seeds[1])):
                parts += ([f"--seed-{flag}", str(s)] if isinstance(s, int)
                          else [f"--z-{flag}", f"{s}.npy"])
        else:
            parts += ["--seeds", ",".join(map(str, w.seeds))]
        parts += ["--steps", str(w.frames_per_segment), "--method", w.method]
        mixed = False
        if w.labels is not None and len(w.labels):  # a conditional run's walk: its class
            if w.labels.is_floating_point():
                mixed = True
                first = int(w.labels[0].argmax())
            else:
                first = int(w.labels[0])
            parts += ["--class-a", shlex.quote(w.loaded.spec.classes[first])]
        if w.loop:
            parts.append("--loop")
        parts.append("--gif")
        if fps is not None:
            parts += ["--fps", f"{fps:g}"]
        if size is not None:
            parts += ["--size", str(size)]
        if w.truncation is not None and all(isinstance(s, int) for s in w.seeds):
            parts += ["--truncation", f"{w.truncation:g}"]
        parts += ["--out", shlex.quote(out)]
        cmd = " ".join(parts) + self._projected_note(w.seeds)
        if w.specs:
            cmd += ("  # gankit interpolate adds no direction to a walk between seeds; "
                    "the studio added " + ", ".join(f"{n}:{s:g}" for n, s in w.specs))
        if mixed:
            cmd += "  # the studio mixed in a second class, which gankit interpolate cannot"
        return cmd
