"""Training curves of one or more runs, drawn with Pillow and numpy (no matplotlib).

Reads ``RUN/metrics.jsonl`` (``{"step", "loss_*", "images_per_s", "wall_time"}`` a line)
and ``RUN/metrics/eval-step-NNNNNNN.json`` (``gankit evaluate``: ``{"step", "metrics"}``).

One panel per loss (``loss_d``, ``loss_g`` and any other ``loss_*``), one for images/s
and one per ``gankit evaluate`` number found in ``RUN/metrics/``; a colour per run and
a legend. Losses are drawn twice: the raw values faint, and an exponential moving
average on top (TensorBoard's debiased smoothing), so the trend reads through the noise.

Pillow is a gankit dependency, so plots work in every install, ``gankit train`` writes
``samples/losses.png`` without any extra, and nothing here is imported before a plot
is asked for. The image is drawn at twice its size and scaled down, which gives
anti-aliased lines without a vector library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from gankit import GankitError, Run, atomic_write

# matplotlib's "tab10": distinct, readable on white, familiar from other tools
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
BACKGROUND = (255, 255, 255)
INK = (40, 40, 40)
GRID = (228, 228, 228)
FRAME = (150, 150, 150)
SS = 2  # supersampling factor
PANEL_W, PANEL_H = 520, 280
DEFAULT_SMOOTHING = 0.8


# -- reading a run ---------------------------------------------------------------------------


def read_metrics(run_dir) -> list[dict]:
    """The records of ``RUN/metrics.jsonl`` in order; torn, foreign or out-of-range lines
    are skipped (gankit's own reader: regular files only, bounded size)."""
    return Run(run_dir).metrics()


def read_evals(run_dir) -> list[dict]:
    """``{"step", "metrics"}`` of each ``RUN/metrics/eval-step-*.json``, by step."""
    return [{"step": r["step"], "metrics": r["metrics"]} for r in Run(run_dir).evaluations()]


# -- drawing ---------------------------------------------------------------------------------


@dataclass
class Curve:
    label: str
    color: tuple
    steps: list
    values: list
    smooth: bool = True
    markers: bool = False
    smoothed: list | None = None


@dataclass
class Panel:
    title: str
    curves: list = field(default_factory=list)


def ema(values, weight: float) -> list[float]:
    """Debiased exponential moving average (as TensorBoard's smoothing slider).

    ``weight`` 0 returns the values unchanged; non-finite values are skipped (their
    position stays NaN) so one bad interval does not poison the rest of the curve.
    """
    if not 0 <= weight < 1:
        raise ValueError("smoothing weight must be in [0, 1)")
    out, acc, n = [], 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(float("nan"))
            continue
        acc = acc * weight + (1 - weight) * v
        n += 1
        out.append(acc / (1 - weight ** n) if weight else v)
    return out


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 times a power of ten) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        ticks.append(0.0 if abs(t) < step * 1e-9 else t)
        t += step
    return ticks


def fmt(v: float) -> str:
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 10000:
        return f"{v / 1000:.0f}k" if a >= 100000 else f"{v / 1000:.1f}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.3g}"
    if a >= 0.001:
        return f"{v:.3g}"
    return f"{v:.1e}"


def _font(size: int):
    from PIL import ImageFont, features

    if features.check("freetype2"):
        try:
            return ImageFont.load_default(size=size)
        except (TypeError, OSError):  # Pillow < 10.1
            pass
    return ImageFont.load_default()


def _text_w(draw, text, font) -> int:
    l, _t, r, _b = draw.textbbox((0, 0), text, font=font)
    return r - l


def _faint(color, amount: float = 0.72):
    return tuple(int(round(c + (255 - c) * amount)) for c in color)


def _range(curves) -> tuple[float, float, float, float]:
    """x and y limits of a panel; y ignores the rawest 1 % at each end (a single spike
    would otherwise flatten every curve) but always holds the smoothed ones."""
    import numpy as np

    xs = [s for c in curves for s in c.steps]
    raw = np.array([v for c in curves for v in c.values], dtype=np.float64)
    raw = raw[np.isfinite(raw)]
    smooth = np.array([v for c in curves if c.smooth for v in c.smoothed], dtype=np.float64)
    smooth = smooth[np.isfinite(smooth)]
    x0, x1 = (min(xs), max(xs)) if xs else (0, 1)
    if x1 <= x0:
        x0, x1 = x0 - 1, x1 + 1
    if raw.size == 0:
        return x0, x1, 0.0, 1.0
    lo, hi = np.percentile(raw, [1, 99]) if raw.size >= 50 else (raw.min(), raw.max())
    if smooth.size:
        lo, hi = min(lo, smooth.min()), max(hi, smooth.max())
    lo, hi = float(lo), float(hi)
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        pad = max(abs(hi) * 0.05, 0.5 if hi == 0 else 0)
        lo, hi = lo - pad, hi + pad
    pad = (hi - lo) * 0.06
    return x0, x1, lo - pad, hi + pad


def _segments(pts):
    """Split (x, y) points at NaN values into drawable runs."""
    seg = []
    for x, y in pts:
        if y is None or not math.isfinite(y):
            if seg:
                yield seg
            seg = []
        else:
            seg.append((x, y))
    if seg:
        yield seg


def _draw_panel(draw, panel: Panel, box, font, small) -> None:
    x_off, y_off, w, h = box
    left, right = x_off + 64 * SS, x_off + w - 14 * SS
    top, bottom = y_off + 30 * SS, y_off + h - 34 * SS
    draw.text((x_off + 12 * SS, y_off + 8 * SS), panel.title, fill=INK, font=font)
    curves = [c for c in panel.curves if c.steps]
    x0, x1, y0, y1 = _range(curves)

    def px(s, v):
        vv = min(max(v, y0), y1)  # pinned to the frame when outside the view
        return (left + (s - x0) / (x1 - x0) * (right - left),
                bottom - (vv - y0) / (y1 - y0) * (bottom - top))

    for t in nice_ticks(y0, y1):
        _, y = px(x0, t)
        draw.line([(left, y), (right, y)], fill=GRID, width=SS)
        label = fmt(t)
        draw.text((left - 6 * SS - _text_w(draw, label, small), y - 7 * SS), label, fill=INK,
                  font=small)
    for t in nice_ticks(x0, x1):
        if t < x0 or t > x1 or (t != int(t)):
            continue
        x, _ = px(t, y0)
        draw.line([(x, top), (x, bottom)], fill=GRID, width=SS)
        label = fmt(t)
        draw.text((x - _text_w(draw, label, small) / 2, bottom + 5 * SS), label, fill=INK,
                  font=small)
    draw.text((right - _text_w(draw, "step", small), bottom + 19 * SS), "step", fill=FRAME,
              font=small)
    # raw values first (faint), then every smoothed curve over all of them
    for c in curves:
        if c.smooth and len(c.steps) > 1:
            for seg in _segments(zip(c.steps, c.values)):
                pts = [px(s, v) for s, v in seg]
                if len(pts) > 1:
                    draw.line(pts, fill=_faint(c.color), width=SS, joint="curve")
    for c in curves:
        vals = c.smoothed if c.smooth else c.values
        for seg in _segments(zip(c.steps, vals)):
            pts = [px(s, v) for s, v in seg]
            if len(pts) > 1:
                draw.line(pts, fill=c.color, width=2 * SS + 1, joint="curve")
            if c.markers or len(pts) == 1:
                r = 3 * SS
                for x, y in pts:
                    draw.ellipse((x - r, y - r, x + r, y + r), fill=c.color)
    draw.rectangle((left, top, right, bottom), outline=FRAME, width=SS)
    if not curves:
        draw.text((left + 10 * SS, top + 10 * SS), "no data", fill=FRAME, font=small)


def build_panels(runs, smoothing: float = DEFAULT_SMOOTHING) -> list[Panel]:
    """Panels for ``runs``: a list of (label, metrics records, eval records)."""
    colors = {label: PALETTE[i % len(PALETTE)] for i, (label, _, _) in enumerate(runs)}
    keys = Run.loss_keys([r for _, recs, _ in runs for r in recs])  # as `gankit runs`
    suffix = f" (smoothed {smoothing:g}, raw faint)" if smoothing else ""
    panels = []
    for k in keys:
        p = Panel(f"{k}{suffix}")
        for label, recs, _ in runs:
            steps, vals = Run.series(recs, k)
            if steps:
                p.curves.append(Curve(label, colors[label], steps, vals))
        panels.append(p)
    ips = Panel(f"images/s{suffix}")
    for label, recs, _ in runs:
        steps, vals = Run.series(recs, "images_per_s")
        if steps:
            ips.curves.append(Curve(label, colors[label], steps, vals))
    if ips.curves:
        panels.append(ips)
    metric_names: dict[str, None] = {}
    for _, _, evals in runs:
        for e in evals:
            for m in e["metrics"]:
                metric_names.setdefault(m)
    for m in metric_names:
        p = Panel(f"gankit evaluate: {m}")
        for label, _, evals in runs:
            pts = [(e["step"], e["metrics"][m]) for e in evals if m in e["metrics"]]
            if pts:
                p.curves.append(Curve(label, colors[label], [s for s, _ in pts],
                                      [v for _, v in pts], smooth=False, markers=True))
        panels.append(p)
    for p in panels:
        for c in p.curves:
            c.smoothed = ema(c.values, smoothing) if c.smooth else c.values
    return panels


def render(runs, smoothing: float = DEFAULT_SMOOTHING, title: str | None = None,
           columns: int | None = None):
    """A PIL image of ``runs`` (a list of (label, metrics records, eval records))."""
    from PIL import Image, ImageDraw

    panels = build_panels(runs, smoothing)
    if not panels:
        panels = [Panel("losses")]
    cols = columns or (1 if len(panels) == 1 else 2)
    rows = math.ceil(len(panels) / cols)
    font, small = _font(14 * SS), _font(11 * SS)
    width = cols * PANEL_W * SS
    # the legend: a swatch and the label of each run, wrapped over as many lines as needed
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    items, x, lines = [], 12 * SS, 0
    head = title or ("losses" if len(runs) < 2 else f"{len(runs)} runs")
    x = 12 * SS + _text_w(probe, head, font) + 24 * SS
    for i, (label, _, _) in enumerate(runs):
        w = 26 * SS + _text_w(probe, label, small) + 18 * SS
        if x + w > width - 12 * SS and items:
            lines += 1
            x = 12 * SS
        items.append((x, lines, PALETTE[i % len(PALETTE)], label))
        x += w
    legend_h = (lines + 1) * 20 * SS + 14 * SS
    img = Image.new("RGB", (width, legend_h + rows * PANEL_H * SS), BACKGROUND)
    draw = ImageDraw.Draw(img)
    draw.text((12 * SS, 8 * SS), head, fill=INK, font=font)
    for x, line, color, label in items:
        y = 8 * SS + line * 20 * SS
        draw.line([(x, y + 9 * SS), (x + 20 * SS, y + 9 * SS)], fill=color, width=4 * SS)
        draw.text((x + 26 * SS, y + 2 * SS), label, fill=INK, font=small)
    for i, p in enumerate(panels):
        r, c = divmod(i, cols)
        _draw_panel(draw, p, (c * PANEL_W * SS, legend_h + r * PANEL_H * SS,
                              PANEL_W * SS, PANEL_H * SS), font, small)
    return img.resize((img.width // SS, img.height // SS), Image.LANCZOS)


def run_label(path: Path, others) -> str:
    """A run's name, or parent/name when two runs given share a name."""
    path = Path(path)
    if sum(Path(o).name == path.name for o in others) > 1:
        return f"{path.parent.name}/{path.name}"
    return path.name


def plot_runs(run_dirs, out, smoothing: float = DEFAULT_SMOOTHING, strict: bool = True,
              title: str | None = None) -> Path | None:
    """Draw the runs' ``metrics.jsonl`` (and evaluations) into the PNG ``out``, atomically.

    With ``strict`` a run without any metrics is a :class:`gankit.GankitError`; without
    (the training plugin) nothing is written and None is returned.
    """
    data = []
    for d in run_dirs:
        recs, evals = read_metrics(d), read_evals(d)
        if not recs and not evals:
            if strict:
                raise GankitError(f"{d}: no metrics yet (metrics.jsonl is missing or empty); "
                                  "a run logs every --log-every steps")
            continue
        data.append((run_label(d, run_dirs), recs, evals))
    if not data:
        return None
    img = render(data, smoothing, title=title)
    out = Path(out)
    atomic_write(out, lambda tmp: img.save(tmp, format="PNG"))
    return out
