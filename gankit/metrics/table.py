"""The tables ``gankit evaluate`` prints for an image run: one row per registered
metric (in registration order, memorisation after the feature-space ones), the per-class
numbers of a conditional run, the closest pair and the files written."""

from __future__ import annotations

from ..plugins import get_plugins

MEMORISATION_ROW = ("memorisation", "memorisation", "~0.1: new images, 1: copies")


def rows(plugins=None) -> list:
    """The table's rows (key, label, reading): the registered metrics' in order, with
    memorisation after the feature-space ones."""
    registered = list((plugins or get_plugins()).metrics())
    out = []
    for space in ("pixels", "features", "inception"):
        out += [r for m in registered if m.space == space for r in m.table_rows()]
        if space == "features":
            out.append(MEMORISATION_ROW)
    return out


def metrics_table(title: str, table_rows, m: dict, extra=None):
    """A rich table of ``m``'s values in the order of ``table_rows`` ((key, label,
    reading); keys ``m`` lacks are left out), ``KEY_std`` shown as ± beside its value;
    ``extra(table, key)`` may add rows after a key's."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("reading")
    for key, label, meaning in table_rows:
        if key not in m:
            continue
        value = f"{m[key]:.4g}"
        if f"{key}_std" in m:
            value += f" ± {m[key + '_std']:.2g}"
        table.add_row(label, value, meaning)
        if extra is not None:
            extra(table, key)
    return table


def print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    m = result["metrics"]
    d = result["data"]

    def levels(table, key):
        if key == "swd":
            for r in result["swd_resolutions"]:
                table.add_row(f"  level {r} px", f"{m[f'swd_{r}']:.4g}", "")

    table = metrics_table(f"{d['dataset']}: {result['model']} at step {result['step']} "
                          f"({result['samples']} samples, {d['images']} training images)",
                          rows(), m, levels)
    out = Console()
    out.print(table)
    per_class = result.get("per_class")
    if per_class:
        keys = [k for k, _, _ in rows() if any(k in r for r in per_class.values())]
        t = Table(title="per class (gankit features; sample i is of class i mod K)")
        for col in ["class", "images", "samples", *keys]:
            t.add_column(col, justify="left" if col == "class" else "right")
        for name, r in per_class.items():
            t.add_row(name, str(r["images"]), str(r["samples"]),
                      *[f"{r[k]:.4g}" if k in r else "" for k in keys])
        out.print(t)
    closest = result["memorisation"]["closest"]
    if closest:
        top = closest[0]
        out.print(f"closest pair: seed {top['seed']} and training image "
                  f"{top['train_name'] or top['train_index']} (distance {top['distance']:.3g}; "
                  f"copies are closer than {result['memorisation']['threshold']:.3g})",
                  highlight=False, soft_wrap=True)
    if result["memorisation"]["picture"]:
        out.print(f"closest pairs: {result['memorisation']['picture']}", highlight=False,
                  soft_wrap=True)
    if result.get("eval_file"):
        out.print(f"written: {result['eval_file']}", highlight=False, soft_wrap=True)
