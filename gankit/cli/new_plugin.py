"""`gankit new-plugin NAME [--dir PATH] [--with PARTS]`: the skeleton of a plugin package.

The files are templates under ``gankit/templates/new_plugin`` (``string.Template``
placeholders such as ``$name``): the package's ``__init__.py`` and its test file are
assembled from one fragment per part (model, conditional, loss, dataset, hook,
command); a fragment's ``#> import ...`` lines are merged into the file's imports. The
model parts (a part with a ``register.txt``) share one ``register_models`` hook, written
after the last of them.
"""

from __future__ import annotations

import re
import string
import sys
from pathlib import Path

import click

from .. import __version__, console
from ..files import atomic_write
from ..errors import GankitError, UsageError

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
#: every part, in the order of the files' sections (the models first)
PARTS = ("model", "conditional", "loss", "dataset", "hook", "command")
#: what no --with (or --with all) writes: a class-conditional model is asked for by name,
#: so the everyday skeleton keeps one model
DEFAULT_PARTS = ("model", "loss", "dataset", "hook", "command")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "new_plugin"
WORDS = {"model": "a model", "conditional": "a class-conditional model", "loss": "a loss",
         "dataset": "a data set", "hook": "trainer hooks", "command": "a command"}


def class_name(name: str) -> str:
    """'my-gan' -> 'MyGan': the model's class; the other parts add a suffix."""
    return "".join(part.capitalize() for part in name.split("-"))


def parse_parts(text: str | None) -> tuple[str, ...]:
    if text is None:
        return DEFAULT_PARTS
    asked = [p.strip().lower() for p in text.split(",") if p.strip()]
    aliases = {"models": "model", "losses": "loss", "data": "dataset", "datasets": "dataset",
               "hooks": "hook", "commands": "command", "cond": "conditional"}
    asked = [aliases.get(p, p) for p in asked]
    if "all" in asked:  # the default parts, plus any others named beside it
        asked = [p for p in asked if p != "all"] + list(DEFAULT_PARTS)
    bad = [p for p in asked if p not in PARTS]
    if bad or not asked:
        raise UsageError(f"--with {text}: choose one or more of {','.join(PARTS)} "
                         "(comma-separated)")
    return tuple(p for p in PARTS if p in asked)


def _read(rel: str) -> str:
    return (TEMPLATES / rel).read_text(encoding="utf-8")


def _fill(text: str, fmt: dict) -> str:
    return string.Template(text).substitute(fmt)


def _split_imports(text: str) -> tuple[list[str], str]:
    lines = text.splitlines(keepends=True)
    imports = [ln[3:].strip() for ln in lines if ln.startswith("#> ")]
    body = "".join(ln for ln in lines if not ln.startswith("#> "))
    return imports, body


def _merge_imports(lines: list[str]) -> str:
    """One import block: stdlib, then third-party, then gankit; ``from M import`` merged."""
    plain: set[str] = set()
    froms: dict[str, set[str]] = {}
    for ln in lines:
        if ln.startswith("from "):
            module, _, names = ln[5:].partition(" import ")
            froms.setdefault(module.strip(), set()).update(n.strip() for n in names.split(","))
        else:
            plain.add(ln)

    def group(module: str) -> int:
        top = module.split(".")[0]
        return 2 if top == "gankit" else 0 if top in sys.stdlib_module_names else 1

    entries = [(group(ln.split()[1]), ln.split()[1], ln) for ln in plain]
    entries += [(group(m), m, f"from {m} import {', '.join(sorted(ns, key=lambda n: (n[:1].islower(), n)))}")
                for m, ns in froms.items()]
    out, last = [], None
    for g, _m, text in sorted(entries, key=lambda e: (e[0], e[2].startswith("from "), e[1])):
        if last is not None and g != last:
            out.append("")
        out.append(text)
        last = g
    return "\n".join(out) + "\n"


def _join(bodies: list[str]) -> str:
    """Fragments separated by two blank lines, as top-level definitions are."""
    return "\n\n" + "\n\n\n".join(b.strip("\n") for b in bodies) + "\n"


def _hooks_line(hooks: list[str]) -> str:
    import textwrap

    text = "HOOKS = {" + ", ".join(f'"{h}"' for h in dict.fromkeys(hooks)) + "}"
    return "\n".join(textwrap.wrap(text, 92, subsequent_indent="         "))


def _init_fragments(parts, fmt: dict) -> list[str]:
    """The fragments of the package's ``__init__.py``: one per part and, after the last
    model part's, the one ``register_models`` hook registering every model part's model
    (two parts each defining the hook would replace each other)."""
    models = [p for p in parts if (TEMPLATES / p / "register.txt").is_file()]
    fragments = []
    for part in parts:
        fragments.append(_fill(_read(f"{part}/init.py.tmpl"), fmt))
        if models and part == models[-1]:
            calls = [_fill(_read(f"{p}/register.txt"), fmt).strip() for p in models]
            fragments.append(_fill(_read("register_models.py.tmpl"),
                                   {"registers": "\n".join("    " + c for c in calls)}))
    return fragments


def _extra_files(part: str, package: str, fmt: dict) -> dict[str, str]:
    """A part's own modules (its ``*.py.tmpl`` besides the fragments), in the package."""
    return {f"{package}/{extra.name.removesuffix('.tmpl')}":
            _fill(extra.read_text(encoding="utf-8"), fmt)
            for extra in sorted((TEMPLATES / part).glob("*.py.tmpl"))
            if extra.name not in ("init.py.tmpl", "test.py.tmpl")}


def files_for(name: str, parts=DEFAULT_PARTS) -> dict[str, str]:
    """Relative path -> text of the skeleton for plugin ``name`` with ``parts``."""
    parts = tuple(p for p in PARTS if p in parts)
    package = "gankit_" + name.replace("-", "_")
    fmt = {
        "name": name,
        "package": package,
        "cls": class_name(name),
        "gankit_version": ".".join(__version__.split(".")[:2]),
        "parts_words": ", ".join(WORDS[p] for p in parts),
    }
    fmt["description"] = f"A gankit plugin: {fmt['parts_words']}"
    # the trainer hooks act on the plugin's own model's runs when it has one
    own = "model" in parts
    fmt["hook_scope"] = f'"{name}"' if own else "None"
    fmt["hook_scope_words"] = f"runs of {name}'s models" if own else "all runs"
    fmt["hook_model"] = (f'"{name}", "--set", "hidden=16"' if own else '"vanilla"')
    fmt["hook_train"] = f"{name} --set hidden=16" if own else "vanilla"
    # (a test that the hooks leave other models' runs alone)
    fmt["hook_other_test"] = "\n\n" + _fill(_read("hook/own_model_test.txt"), fmt) if own else ""
    files: dict[str, str] = {}
    init_imports, init_body, test_imports, test_body = [], [], [], []
    readme, usage, hooks = [], [], []
    for fragment in _init_fragments(parts, fmt):
        imports, body = _split_imports(fragment)
        init_imports += imports
        init_body.append(body)
    for part in parts:
        imports, body = _split_imports(_fill(_read(f"{part}/test.py.tmpl"), fmt))
        test_imports += imports
        test_body.append(body)
        readme.append(_fill(_read(f"{part}/readme.md.tmpl"), fmt).rstrip("\n"))
        usage.append(_fill(_read(f"{part}/usage.txt.tmpl"), fmt).rstrip("\n"))
        hooks += _read(f"{part}/hooks.txt").split()
        files.update(_extra_files(part, package, fmt))
    test_imports += ["import pytest", "import gankit.testing as gt"]
    files = {
        "pyproject.toml": _fill(_read("pyproject.toml.tmpl"), fmt),
        "README.md": _fill(_read("README.md.tmpl"), fmt | {
            "parts_list": "\n".join(readme).rstrip(";") + ".",
            "usage": "\n".join(usage)}),
        f"{package}/__init__.py": _fill(_read("init.py.tmpl"), fmt | {
            "imports": _merge_imports(init_imports).rstrip("\n"), "body": _join(init_body)}),
        **files,
        f"tests/test_{package}.py": _fill(_read("test.py.tmpl"), fmt | {
            "imports": _merge_imports(test_imports).rstrip("\n"),
            "hook_names": _hooks_line(hooks),
            "body": _join(test_body)}),
    }
    return files


@click.command("new-plugin")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Folder to create (default: ./gankit-NAME).")
@click.option("--with", "with_", metavar="PARTS",
              help=f"Comma-separated parts to write: {','.join(DEFAULT_PARTS)} (default: "
                   "all, which is these five) and conditional (a class-conditional model, "
                   "NAME-cond; e.g. --with all,conditional).")
def new_plugin(name, directory, with_):
    """Write the skeleton of a plugin package NAME.

    The package has a pyproject.toml with the "gankit" entry point, one small working
    example per part (a model, a loss, a data set, trainer hooks, a command; with
    --with conditional a class-conditional model too: a class embedding in the
    generator, a projection discriminator), a README and tests using gankit.testing
    that pass as written. Then:
    cd gankit-NAME && pip install -e ".[test]" && python -m pytest.
    The plugin guide: gankit docs plugins.
    """
    name = name.strip().lower()
    if name.startswith("gankit-"):
        name = name[len("gankit-"):]
    if not NAME_RE.match(name):
        raise UsageError(
            f"new-plugin {name!r}: use lowercase letters, digits and single hyphens, starting "
            "with a letter (e.g. my-gan)"
        )
    parts = parse_parts(with_)
    target = Path(directory) if directory else Path(f"gankit-{name}")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise GankitError(f"--dir {target}: already exists and is not empty; choose another folder")
    files = files_for(name, parts)
    try:
        for rel, text in files.items():
            atomic_write(target / rel,
                         lambda tmp, text=text: Path(tmp).write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise GankitError(f"--dir {target}: cannot write ({exc.strerror or exc})") from None
    for rel in files:
        console.info(f"  {target / rel}")
    console.info(f"wrote plugin '{name}' ({', '.join(parts)}) in {target}; next: cd {target} && "
                 'pip install -e ".[test]" && python -m pytest; guide: gankit docs plugins')


COMMANDS = [new_plugin]
