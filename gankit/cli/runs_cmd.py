"""`gankit runs [list|show|compare|clean]`: the runs under ./runs at a glance.

The work is in :mod:`gankit.runinfo`; this module only parses flags and prints.
"""

from __future__ import annotations

import json
import time

import click

STATUS_STYLE = {"running": "bold green", "completed": "", "interrupted": "yellow",
                "failed": "bold red", "diverged": "magenta"}
DEFAULT_OUT = "runs"


def _echo_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


def _print(*renderables) -> None:
    from rich.console import Console

    Console().print(*renderables)


def _num(v, digits: int = 3) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e5 else f"{v:,.0f}"
    return str(v)


def _losses_text(losses: dict, sep: str = "  ") -> str:
    return sep.join(f"{k.removeprefix('loss_')} {_num(v)}" for k, v in losses.items())


def _eval_text(e, limit: int = 3, sep: str = "  ") -> str:
    if not e:
        return ""
    from ..runinfo import EVAL_KEYS

    m = e["metrics"]
    keys = [k for k in EVAL_KEYS if k in m] + [k for k in m if k not in EVAL_KEYS]
    return sep.join([f"{k} {_num(m[k])}" for k in keys[:limit]] + [f"@ step {e['step']}"])


def _status_text(r, pid: bool = True):
    from rich.text import Text

    label = r.status
    if pid and r.running and (r.lock or {}).get("pid"):
        label += f" (pid {r.lock['pid']})"
    return Text(label, style=STATUS_STYLE.get(r.status, ""))


def _steps_text(r) -> str:
    return f"{r.step:,}/{r.total_steps:,}" if r.total_steps else f"{r.step:,}/?"


def _list(out, as_json, sort, reverse, models, statuses) -> None:
    from rich import box
    from rich.table import Table

    from ..runinfo import format_time, human_size, list_runs

    from .. import console

    with console.lazy_progress("reading runs") as progress:
        runs = list_runs(out, models=models, statuses=statuses, sort=sort, reverse=reverse,
                         progress=progress)
    if as_json:
        _echo_json([r.as_dict() for r in runs])
        return
    if not runs:
        what = " matching the filters" if models or statuses else ""
        click.echo(f"no runs{what} under {out}/", err=True)
        return
    table = Table(title=f"runs under {out}/", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, padding=(0, 1), collapse_padding=True)
    from rich.console import Console

    # narrow terminals: model and data share a column and the start time is left out
    # (the default order shows it anyway); the numbers stay on one line
    wide = Console().width >= 100
    cols = [("run", "left", 10), ("model", "left", 5), ("data", "left", 5),
            ("steps", "right", None), ("status", "left", None), ("last losses", "left", 8),
            ("evaluate", "left", 8), ("size", "right", None), ("started", "left", 5)]
    if not wide:
        cols = [c for c in cols if c[0] not in ("data", "started")]
        cols[1] = ("model\ndata", "left", 5)
    for col, just, min_width in cols:
        table.add_column(col, justify=just, overflow="fold", no_wrap=min_width is None,
                         min_width=min_width)
    for r in runs:
        losses = _losses_text(r.last_losses, "\n")
        ev = _eval_text(r.last_eval, 2, "\n")
        steps, size = _steps_text(r), human_size(r.size)
        if wide:
            table.add_row(r.name, r.model, r.data, steps, _status_text(r, pid=False), losses, ev,
                          size, format_time(r.started, short=True))
        else:
            table.add_row(r.name, f"{r.model}\n{r.data}", steps, _status_text(r, pid=False),
                          losses, ev, size)
    _print(table)


def _out_option(f):
    return click.option("--out", "out", default=None, metavar="DIR",
                        help=f"The folder of runs.  [default: ./{DEFAULT_OUT}]")(f)


def _root(ctx, out) -> str:
    return out or (ctx.obj or {}).get("out") or DEFAULT_OUT


@click.group("runs", invoke_without_command=True)
@_out_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.option("--sort", default="time", show_default=True, metavar="KEY",
              help="Order by time (start), name, model, status or steps.")
@click.option("--reverse", is_flag=True, help="Reverse the order (newest first with time).")
@click.option("--model", "models", multiple=True, metavar="NAME",
              help="Only runs of this model (repeatable).")
@click.option("--status", "statuses", multiple=True, metavar="STATUS",
              help="Only runs with this status: running, completed, interrupted, failed, "
                   "diverged (repeatable).")
@click.pass_context
def runs(ctx, out, as_json, sort, reverse, models, statuses):
    """List the runs under ./runs: progress, status, last losses, evaluation, size.

    \b
    A run is "running" while a live process holds its run.lock; runs made by
    gankit 0.1.0 (no status.json) count as completed once their newest checkpoint
    reached the steps asked.

    \b
      gankit runs                           # every run, oldest first
      gankit runs --sort status --model dcgan
      gankit runs show RUN                  # one run in detail
      gankit runs compare RUN RUN...        # settings that differ, metrics side by side
      gankit runs clean --dry-run           # what clean would remove
    """
    ctx.ensure_object(dict)
    ctx.obj["out"] = out
    if ctx.invoked_subcommand is None:
        _list(out or DEFAULT_OUT, as_json, sort, reverse, models, statuses)


@runs.command("list")
@_out_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.option("--sort", default="time", show_default=True, metavar="KEY",
              help="Order by time (start), name, model, status or steps.")
@click.option("--reverse", is_flag=True, help="Reverse the order.")
@click.option("--model", "models", multiple=True, metavar="NAME", help="Only this model.")
@click.option("--status", "statuses", multiple=True, metavar="STATUS", help="Only this status.")
@click.pass_context
def runs_list(ctx, out, as_json, sort, reverse, models, statuses):
    """The table of runs (what `gankit runs` alone prints)."""
    _list(_root(ctx, out), as_json, sort, reverse, models, statuses)


@runs.command("show")
@click.argument("run")
@_out_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.pass_context
def runs_show(ctx, run, out, as_json):
    """One run: its settings, timings and a summary of its metrics.

    RUN is a run folder or the name of a run under --out.
    """
    from rich.table import Table

    from ..runinfo import format_time, human_duration, human_size, load_run, resolve_run

    r = load_run(resolve_run(run, _root(ctx, out)))
    if as_json:
        _echo_json(r.as_dict(full=True))
        return
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    status = _status_text(r)
    for note in (r.message, r.status_note):
        if note:
            status.append(f"  ({note})")
    rows = [("run", str(r.path)), ("status", status), ("steps", _steps_text(r)),
            ("model", r.model), ("data", r.data), ("loss", r.loss or ""),
            ("device", f"{r.config.get('device', '')}  {r.config.get('precision', '')}".strip()),
            ("started", format_time(r.started)), ("last update", format_time(r.updated)),
            ("elapsed", human_duration(r.updated - r.started) if r.started and r.updated else ""),
            ("images/s", f"{r.images_per_s:,.1f} (median)" if r.images_per_s else ""),
            ("checkpoints", f"{len(r.checkpoints)}, newest step {r.checkpoints[-1][0]:,}"
             if r.checkpoints else "none"),
            ("size", human_size(r.size))]
    for k, v in rows:
        head.add_row(k, v)
    _print(head)
    if r.options:
        opts = Table(title="options", title_justify="left", show_header=False)
        opts.add_column(style="bold")
        opts.add_column(overflow="fold")
        for k, v in r.options.items():
            if v not in (None, {}, ()):
                opts.add_row(k, json.dumps(v) if isinstance(v, (list, dict)) else str(v))
        for k, v in (r.config.get("model_config") or {}).items():
            opts.add_row(f"--set {k}", json.dumps(v) if isinstance(v, (list, dict)) else str(v))
        _print(opts)
    summary = r.summary()
    if summary:
        t = Table(title="metrics", title_justify="left")
        for col in ("metric", "first", "last", "min", "at step", "max", "points"):
            t.add_column(col, justify="left" if col == "metric" else "right")
        for k, s in summary.items():
            bad = f" ({s['non_finite']} non-finite)" if s["non_finite"] else ""
            t.add_row(k, _num(s["first"], 4), _num(s["last"], 4), _num(s["min"], 4),
                      f"{s['min_step']:,}", _num(s["max"], 4), f"{s['points']}{bad}")
        _print(t)
    if r.evals:
        names = list(dict.fromkeys(k for e in r.evals for k in e["metrics"]))
        t = Table(title="gankit evaluate", title_justify="left")
        t.add_column("step", justify="right")
        for n in names:
            t.add_column(n, justify="right")
        t.add_column("samples", justify="right")
        for e in r.evals:
            t.add_row(f"{e['step']:,}", *[_num(e["metrics"].get(n), 4) for n in names],
                      str(e.get("samples") or ""))
        _print(t)


@runs.command("compare")
@click.argument("targets", nargs=-1, required=True, metavar="RUN RUN...")
@_out_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.pass_context
def runs_compare(ctx, targets, out, as_json):
    """Runs side by side: the settings that differ, then their metrics."""
    from rich.table import Table

    from ..errors import UsageError
    from ..runinfo import (EVAL_KEYS, differing_settings, human_size, load_run, loss_keys,
                           resolve_run)

    if len(targets) < 2:
        raise UsageError("gankit runs compare: give at least two runs")
    root = _root(ctx, out)
    paths = [resolve_run(t, root) for t in targets]
    rs = [load_run(p) for p in paths]
    diff = differing_settings(rs)
    names = [r.name for r in rs]
    if len(set(names)) < len(names):
        names = [str(r.path) for r in rs]
    summaries = [r.summary() for r in rs]
    keys = loss_keys([m for r in rs for m in r.metrics])
    metric_rows = [("status", [r.status for r in rs]),
                   ("steps", [_steps_text(r) for r in rs]),
                   ("images/s", [_num(r.images_per_s, 4) for r in rs])]
    for k in keys:
        metric_rows.append((f"{k} last", [_num(s.get(k, {}).get("last"), 4) for s in summaries]))
        metric_rows.append((f"{k} min", [_num(s.get(k, {}).get("min"), 4) for s in summaries]))
    evals = [r.last_eval for r in rs]
    enames = list(dict.fromkeys(k for e in evals if e for k in e["metrics"]))
    enames.sort(key=lambda k: (EVAL_KEYS.index(k) if k in EVAL_KEYS else len(EVAL_KEYS), k))
    if enames:
        metric_rows.append(("evaluated at step", [f"{e['step']:,}" if e else "" for e in evals]))
    for n in enames:
        metric_rows.append((n, [_num(e["metrics"].get(n), 4) if e else "" for e in evals]))
    metric_rows.append(("size", [human_size(r.size) for r in rs]))
    if as_json:
        _echo_json({"runs": [str(p) for p in paths], "differing_settings": diff,
                    "metrics": {k: v for k, v in metric_rows},
                    "summaries": dict(zip(names, summaries))})
        return
    if diff:
        t = Table(title="settings that differ", title_justify="left")
        t.add_column("setting", style="bold")
        for n in names:
            t.add_column(n, overflow="fold")
        for k, vals in diff.items():
            t.add_row(k, *["" if v is None else (json.dumps(v) if isinstance(v, (list, dict))
                                                 else str(v)) for v in vals])
        _print(t)
    else:
        click.echo("the runs have the same settings", err=True)
    t = Table(title="metrics", title_justify="left")
    t.add_column("metric", style="bold")
    for n in names:
        t.add_column(n, justify="right", overflow="fold")
    for k, vals in metric_rows:
        t.add_row(k, *vals)
    _print(t)


@runs.command("clean")
@click.argument("targets", nargs=-1, metavar="[RUN]...")
@_out_option
@click.option("--checkpoints", "keep", type=int, metavar="K",
              help="Instead of removing runs, delete every run's checkpoints but its newest K.")
@click.option("--status", "statuses", multiple=True, metavar="STATUS",
              help="Remove runs with this status (repeatable).  "
                   "[default: interrupted and failed]")
@click.option("--dry-run", is_flag=True, help="Print what would be removed; remove nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="With --dry-run: every file that would go and every entry kept, as JSON.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def runs_clean(ctx, targets, out, keep, statuses, dry_run, as_json, yes):
    """Remove interrupted and failed runs, or old checkpoints (--checkpoints K).

    The files gankit wrote in those runs go (checkpoints, samples, metrics, config);
    anything else in a run folder is kept, and so is the folder then. A run that is
    training now (a live run.lock) is never touched. Give RUN names to clean only those
    runs (a name means --out/NAME; a name that is also a run in the current folder is
    refused as ambiguous).
    """
    from .. import console
    from ..errors import GankitError, UsageError
    from ..runclean import plan_clean, remove_all, runs_named
    from ..runinfo import STATUSES, find_runs, human_size, load_run

    root = _root(ctx, out)
    if keep is not None and keep < 1:
        raise UsageError("--checkpoints K: keep at least 1 checkpoint per run (K >= 1)")
    allowed = tuple(s for s in STATUSES if s != "running")
    for s in statuses:
        if s not in allowed:
            raise UsageError(f"--status {s}: choose from {', '.join(allowed)}")
    if keep is not None and statuses:
        raise UsageError("--status and --checkpoints: choose one (--checkpoints trims every run)")
    if targets:
        infos = runs_named(root, targets)
    else:
        infos = [load_run(d, size=False) for d in find_runs(root)]
    plan, skipped = plan_clean(root, checkpoints_keep=keep, runs=infos,
                               statuses=statuses or ("interrupted", "failed"))
    for r in skipped:
        click.echo(f"skipping {r.name}: training now (pid {(r.lock or {}).get('pid')})", err=True)
    if as_json:
        if not dry_run:
            raise UsageError("--json: only with --dry-run (the list of what would go)")
        _echo_json({"remove": [str(f) for p in plan for f in p.files],
                    "keep": [str(k) for p in plan for k in p.kept],
                    "runs": [p.run for p in plan if p.what == "run"],
                    "bytes": sum(p.size for p in plan),
                    "skipped_running": [r.name for r in skipped]})
        return
    if not plan:
        what = "old checkpoints" if keep is not None else "runs to remove"
        click.echo(f"nothing to clean: no {what} under {root}/", err=True)
        return
    n = len(plan)
    noun = ("run" if keep is None else "checkpoint") + ("s" if n != 1 else "")
    _print_plan(plan, infos, "would remove" if dry_run else "remove", human_size)
    if dry_run:
        click.echo(f"would free {human_size(sum(p.size for p in plan))} ({n} {noun})")
        return
    if not yes:
        click.confirm(f"Remove {n} {noun} ({human_size(sum(p.size for p in plan))})?",
                      abort=True, err=True)
    t0 = time.perf_counter()
    freed, failed = remove_all(plan)
    for line in failed:
        console.warn(line)
    click.echo(f"freed {human_size(freed)} ({n - len(failed)} {noun} removed"
               f"{f', {len(failed)} kept' if failed else ''}) in {time.perf_counter() - t0:.1f} s")
    if failed:
        raise GankitError(f"{len(failed)} item(s) could not be removed (see the warnings above)")


def _print_plan(plan, infos, verb: str, human_size) -> None:
    """One line per planned removal, and the entries gankit did not write that stay."""
    for p in plan:
        label = f"{p.run} ({_status_of(infos, p.run)})" if p.what == "run" else str(p.path)
        click.echo(f"{verb} {label}  {human_size(p.size)}")
        if p.kept:
            shown = ", ".join(str(k.relative_to(p.path)) for k in p.kept[:5])
            more = f" and {len(p.kept) - 5} more" if len(p.kept) > 5 else ""
            click.echo(f"  keeping {len(p.kept)} entr{'y' if len(p.kept) == 1 else 'ies'} "
                       f"gankit did not write in {p.path}: {shown}{more}")


def _status_of(infos, name) -> str:
    return next((r.status for r in infos if r.name == name), "")


COMMANDS = [runs]
