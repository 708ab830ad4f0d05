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
    for i, c in enumerate(columns):
        # names stay whole (tests and users grep for them); the other columns wrap
        table.add_column(c, overflow="fold", no_wrap=i == 0)
    for r in rows:
        table.add_row(*[str(v) if v is not None else "" for v in r])
    Console().print(table)


def _described(reg) -> list[dict]:
    """Each registered object's ``describe()`` with its aliases, its qualified name
    (``PLUGIN:NAME``, which always reaches it) and how its bare name resolves."""
    out = []
    for obj in reg:
        st = reg.status(obj)
        out.append(obj.describe() | {
            "aliases": reg.aliases_of(st["qualified"]), "qualified_name": st["qualified"],
            "shadows": st["shadows"], "shadowed_by": st["shadowed_by"],
            "ambiguous": st["ambiguous"]})
    return out


def _name_cell(item) -> str:
    """The name column: the bare name, or the qualified one with why, when the bare name
    reaches something else."""
    if item["ambiguous"]:
        return f"{item['qualified_name']} (bare name refused: another plugin has it too)"
    if item["shadowed_by"]:
        return f"{item['qualified_name']} (shadowed by {item['shadowed_by']})"
    if item["shadows"]:
        return f"{item['name']} (shadows {', '.join(item['shadows'])})"
    return item["name"]


def _short(item) -> str:
    """The name that reaches the item: bare, or qualified when the bare one does not."""
    return item["qualified_name"] if item["shadowed_by"] or item["ambiguous"] else item["name"]


@click.command("list-models")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--options", is_flag=True, help="Also list each model's --set options.")
def list_models(as_json, options):
    """List the registered models."""
    items = _described(_plugins().models())
    if as_json:
        _print_json(items)
        return
    if not items:
        click.echo("no models registered; is gankit installed (pip install -e .)?", err=True)
        return
    _table("models", ["name", "kind", "summary", "plugin"],
           [(_name_cell(m), m["kind"] + (" (--conditional)" if m.get("conditional") else ""),
             m["summary"], m["plugin"]) for m in items])
    if options:
        for m in items:
            _table(f"{_short(m)} --set options", ["option", "type", "default", "help"],
                   [(o["name"], o["type"], o["default"], o["help"]) for o in m["options"]])


@click.command("list-datasets")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--options", is_flag=True,
              help="Also list each data set's --set data.KEY=VALUE options.")
def list_datasets(as_json, options):
    """List the registered data sets."""
    items = _described(_plugins().datasets())
    if as_json:
        _print_json(items)
        return
    _table("datasets", ["name", "kind", "needs --data", "classes", "summary", "plugin"],
           [(_name_cell(d), d["kind"], "yes" if d["needs_path"] else "",
             _classes_cell(d.get("classes") or []), d["summary"], d["plugin"])
            for d in items])
    if options:
        for d in items:
            if d["options"]:
                _table(f"{_short(d)} --set data.KEY=VALUE options",
                       ["option", "type", "default", "help"],
                       [(o["name"], o["type"], o["default"], o["help"]) for o in d["options"]])


def _classes_cell(classes: list) -> str:
    """A data set's class names, the first few."""
    if not classes:
        return ""
    return f"{len(classes)}: " + ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")


@click.command("list-losses")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_losses(as_json):
    """List the registered adversarial losses."""
    items = _described(_plugins().losses())
    if as_json:
        _print_json(items)
        return
    _table("losses", ["name", "critic steps", "penalty", "summary", "plugin"],
           [(_name_cell(x), x["n_critic"], x["gp_weight"] or "", x["summary"], x["plugin"])
            for x in items])


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_cmd(as_json):
    """List loaded plugins: version, hooks they implement, load errors."""
    items = _plugins().info()  # builds the registries: registration errors show up too
    if as_json:
        _print_json(items)
        return
    _table("plugins", ["name", "distribution", "builtin", "registers", "hooks", "error"],
           [(r["name"], " ".join(x for x in (r["distribution"], r["version"]) if x),
             "yes" if r["builtin"] else "", _registers(r), ", ".join(r["hooks"]), r["error"])
            for r in items])


def _registers(r: dict) -> str:
    """The names a plugin registered, one kind a line, then what it shadows or lost."""
    lines = [f"{kind}: {', '.join(r[key])}" for kind, key in
             (("models", "models"), ("losses", "losses"), ("datasets", "datasets"),
              ("commands", "commands")) if r.get(key)]
    lines += [f"shadows {q}" for q in r.get("shadows", [])]
    lines += [f"shadowed: {q}" for q in r.get("shadowed", [])]
    return "\n".join(lines)


COMMANDS = [list_models, list_datasets, list_losses, plugins_cmd]
