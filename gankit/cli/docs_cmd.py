"""`gankit docs [TOPIC]`: the guides installed with gankit (Markdown, on stdout)."""

from __future__ import annotations

from pathlib import Path

import click

GUIDES = Path(__file__).resolve().parent.parent / "guide"


def topics() -> dict[str, Path]:
    return {p.stem: p for p in sorted(GUIDES.glob("*.md"))}


@click.command("docs")
@click.argument("topic", required=False)
@click.option("--path", "show_path", is_flag=True, help="Print the guide's file path instead.")
def docs(topic, show_path):
    """Print an installed guide (Markdown): `gankit docs plugins` is the plugin author's
    guide. Without TOPIC: the list of guides."""
    import difflib

    from ..errors import UsageError

    found = topics()
    if topic is None:
        for name in found:
            click.echo(name)
        return
    if topic not in found:
        close = difflib.get_close_matches(topic, list(found), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"choose from: {', '.join(found)}"
        raise UsageError(f"docs {topic}: no such guide; {hint}")
    if show_path:
        click.echo(str(found[topic]))
        return
    click.echo(found[topic].read_text(encoding="utf-8"), nl=False)


COMMANDS = [docs]
