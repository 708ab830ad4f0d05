"""`gankit list-models | list-datasets | list-losses | plugins`."""

from __future__ import annotations

import json

import click


def _plugins():
    from ..plugins import get_plugins

    return get_plugins()


def _print_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


def _table(title, columns, rows) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*[str(v) if v is not None else "" for v in r])
    Console().print(table)


@click.command("list-models")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--options", is_flag=True, help="Also list each model's --set options.")
def list_models(as_json, options):
    """List the registered models."""
    reg = _plugins().models()
    items = [m.describe() | {"aliases": reg.aliases_of(m.name)} for m in reg]
    if as_json:
        _print_json(items)
        return
    if not items:
        click.echo("no models registered; is gankit installed (pip install -e .)?", err=True)
        return
    _table("models", ["name", "kind", "summary", "plugin"],
           [(m["name"], m["kind"], m["summary"], m["plugin"]) for m in items])
    if options:
        for m in items:
            _table(f"{m['name']} --set options", ["option", "type", "default", "help"],
                   [(o["name"], o["type"], o["default"], o["help"]) for o in m["options"]])


@click.command("list-datasets")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--options", is_flag=True,
              help="Also list each data set's --set data.KEY=VALUE options.")
def list_datasets(as_json, options):
    """List the registered data sets."""
    items = [d.describe() for d in _plugins().datasets()]
    if as_json:
        _print_json(items)
        return
    _table("datasets", ["name", "kind", "needs --data", "summary", "plugin"],
           [(d["name"], d["kind"], "yes" if d["needs_path"] else "", d["summary"], d["plugin"])
            for d in items])
    if options:
        for d in items:
            if d["options"]:
                _table(f"{d['name']} --set data.KEY=VALUE options",
                       ["option", "type", "default", "help"],
                       [(o["name"], o["type"], o["default"], o["help"]) for o in d["options"]])


@click.command("list-losses")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_losses(as_json):
    """List the registered adversarial losses."""
    items = [x.describe() for x in _plugins().losses()]
    if as_json:
        _print_json(items)
        return
    _table("losses", ["name", "critic steps", "penalty", "summary", "plugin"],
           [(x["name"], x["n_critic"], x["gp_weight"] or "", x["summary"], x["plugin"])
            for x in items])


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_cmd(as_json):
    """List loaded plugins: version, hooks they implement, load errors."""
    items = _plugins().info()  # builds the registries: registration errors show up too
    if as_json:
        _print_json(items)
        return
    _table("plugins", ["name", "distribution", "version", "builtin", "hooks", "error"],
           [(r["name"], r["distribution"], r["version"], "yes" if r["builtin"] else "",
             ", ".join(r["hooks"]), r["error"]) for r in items])


COMMANDS = [list_models, list_datasets, list_losses, plugins_cmd]
