"""A run's losses over steps, drawn with Pillow from its ``metrics.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path

from gankit import GankitError, atomic_write

COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189),
          (140, 86, 75)]
FILENAME = "loss-curve.png"


def read_metrics(path: Path) -> tuple[list[int], dict[str, list[float]]]:
    """Steps and ``loss_*`` series of a metrics.jsonl; torn or foreign lines are skipped."""
    steps: list[int] = []
    series: dict[str, list[float]] = {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
            step = int(rec["step"])
        except (ValueError, KeyError, TypeError):
            continue
        losses = {k: float(v) for k, v in rec.items()
                  if k.startswith("loss") and isinstance(v, (int, float))}
        if not losses:
            continue
        for k in series.keys() - losses.keys():
            series[k].append(float("nan"))
        for k, v in losses.items():
            series.setdefault(k, [float("nan")] * len(steps)).append(v)
        steps.append(step)
    return steps, series


def draw_curve(steps, series, width: int = 640, height: int = 320):
    """A PIL image: one polyline per series, step on x, shared y axis, a legend."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    left, right, top, bottom = 56, width - 12, 12, height - 28
    values = [v for vs in series.values() for v in vs if v == v and abs(v) != float("inf")]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    s0, s1 = steps[0], max(steps[-1], steps[0] + 1)

    def xy(step, v):
        return (left + (step - s0) / (s1 - s0) * (right - left),
                bottom - (v - lo) / (hi - lo) * (bottom - top))

    draw.rectangle((left, top, right, bottom), outline=(0, 0, 0))
    draw.text((4, top), f"{hi:.3g}", fill=(0, 0, 0))
    draw.text((4, bottom - 10), f"{lo:.3g}", fill=(0, 0, 0))
    draw.text((left, bottom + 6), f"step {s0}", fill=(0, 0, 0))
    draw.text((right - 70, bottom + 6), f"step {steps[-1]}", fill=(0, 0, 0))
    for i, (name, vs) in enumerate(sorted(series.items())):
        color = COLORS[i % len(COLORS)]
        pts = [xy(s, v) for s, v in zip(steps, vs) if v == v and abs(v) != float("inf")]
        if len(pts) > 1:
            draw.line(pts, fill=color, width=2)
        elif pts:
            x, y = pts[0]
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=color)
        draw.text((right - 110, top + 6 + 14 * i), name, fill=color)
    return img


def write_curve(run_dir, out=None, strict: bool = False) -> Path | None:
    """Draw ``run_dir/metrics.jsonl`` to ``out`` (default ``run_dir/loss-curve.png``).

    With ``strict`` a missing run or empty metrics is a :class:`gankit.GankitError`;
    otherwise (the training hook) nothing is written and None is returned.
    """
    run_dir = Path(run_dir)
    metrics = run_dir / "metrics.jsonl"
    if not metrics.is_file():
        if strict:
            raise GankitError(f"{run_dir}: no metrics.jsonl there; is it a gankit run folder?")
        return None
    steps, series = read_metrics(metrics)
    if not steps:
        if strict:
            raise GankitError(f"{metrics}: no losses logged yet; train longer than --log-every")
        return None
    img = draw_curve(steps, series)
    out = Path(out) if out else run_dir / FILENAME
    atomic_write(out, lambda tmp: img.save(tmp, format="PNG"))
    return out
