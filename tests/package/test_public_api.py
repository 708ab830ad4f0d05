"""The public API is explicit, documented and the only thing plugins import.

- ``gankit.__all__`` is the one list of what plugins may use, and docs/plugins.md
  documents every name in it, every hook with its exact signature, and gankit.testing;
- every hook has a ``test_hook_<name>`` test somewhere under tests/;
- the built-in plugins, the example plugin and the ``gankit new-plugin`` skeleton import
  nothing of gankit but ``gankit`` itself and ``gankit.testing``;
- the tutorial's code, copied out of the guide, is a working plugin.
"""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import gankit
from gankit import hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "plugins.md"
ALLOWED_SUBMODULES = {"testing", "nn", "imageio"}


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _hooks() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(hookspecs).items()
            if callable(fn) and hasattr(fn, "gankit_spec")}


def test_all_lists_real_names_once():
    assert len(gankit.__all__) == len(set(gankit.__all__))
    missing = [n for n in gankit.__all__ if not hasattr(gankit, n)]
    assert not missing, f"gankit.__all__ names {missing}, which gankit does not define"


def test_every_public_name_is_documented():
    doc = _doc()
    undocumented = [n for n in gankit.__all__ if not re.search(rf"`{re.escape(n)}\b", doc)]
    assert not undocumented, f"docs/plugins.md does not document {undocumented}"


def test_test_kit_is_documented():
    import gankit.testing as gt

    doc = _doc()
    assert "gankit.testing" in doc
    undocumented = [n for n in gt.__all__ if f"`{n}(" not in doc]
    assert not undocumented, f"docs/plugins.md does not document gankit.testing.{undocumented}"


def test_every_hook_is_documented_with_its_signature():
    doc = _doc()
    hooks = _hooks()
    assert len(hooks) >= 10
    for name, sig in hooks.items():
        text = f"{name}({', '.join(sig.parameters)})"
        assert f"`{text}`" in doc, f"docs/plugins.md does not document the hook `{text}`"


def test_no_hook_is_firstresult_as_documented():
    for name, fn in vars(hookspecs).items():
        if hasattr(fn, "gankit_spec"):
            assert not fn.gankit_spec.get("firstresult"), name
    assert "None of gankit's hooks is `firstresult`" in _doc()


def test_every_hook_has_a_test():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py"))
    untested = [n for n in _hooks() if not re.search(rf"def test_hook_{n}\b", sources)]
    assert not untested, f"no test_hook_<name> test for {untested}"


def test_import_gankit_is_light_and_does_not_load_the_test_kit():
    code = ("import sys, gankit; "
            "print(sorted(m for m in ('torch', 'gankit.testing', 'gankit.cli') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# -- imports of gankit outside the core ------------------------------------------------------


def private_imports(source: str, filename: str = "<string>") -> list[str]:
    """Every use of gankit other than its public API in ``source``, as 'line: text'."""
    public = set(gankit.__all__) | ALLOWED_SUBMODULES
    bad = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "gankit" and len(parts) > 1 and parts[1] not in ALLOWED_SUBMODULES:
                    bad.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "gankit":
                continue
            if len(parts) > 1 and parts[1] not in ALLOWED_SUBMODULES:
                bad.append(f"{node.lineno}: from {node.module} import ...")
            elif len(parts) == 1:
                bad += [f"{node.lineno}: from gankit import {a.name}"
                        for a in node.names if a.name not in public]
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "gankit" and node.attr not in public):
            bad.append(f"{node.lineno}: gankit.{node.attr}")
    return bad


def test_the_scanner_catches_private_imports():
    src = ("import gankit.trainer\nfrom gankit.errors import GankitError\n"
           "from gankit import Loss, training\nimport gankit\nx = gankit.plugins.get_plugins()\n"
           "from gankit import hookimpl\nimport gankit.testing as gt\nfrom gankit.testing import"
           " check_model\ny = gankit.GankitError\nfrom gankit_dcgan import nets\n")
    assert private_imports(src) == ["1: import gankit.trainer",
                                    "2: from gankit.errors import ...",
                                    "3: from gankit import training",
                                    "5: gankit.plugins"]


def _plugin_sources():
    files = sorted((ROOT / "plugins").glob("*/**/*.py"))
    files += sorted((ROOT / "examples").glob("*/**/*.py"))
    return files


@pytest.mark.parametrize("path", _plugin_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_only_the_public_api(path):
    bad = private_imports(path.read_text(encoding="utf-8"), str(path))
    assert not bad, (f"{path.relative_to(ROOT)} uses private parts of gankit ({'; '.join(bad)}); "
                     "import only `from gankit import ...` names listed in gankit.__all__")


def test_builtin_plugins_were_scanned():
    names = {p.relative_to(ROOT).parts[1] for p in _plugin_sources() if p.parts[-3] != "examples"}
    for pkg in ("gankit_dcgan", "gankit_losses", "gankit_datasets"):
        assert pkg in names


def test_new_plugin_skeleton_imports_only_the_public_api():
    from gankit.cli.new_plugin import files_for

    for rel, text in files_for("demo-gan").items():
        if rel.endswith(".py"):
            assert private_imports(text, rel) == [], rel
        elif rel == "pyproject.toml":
            meta = tomllib.loads(text)
            assert meta["project"]["entry-points"]["gankit"] == {"demo-gan": "gankit_demo_gan"}


# -- the tutorial works --------------------------------------------------------------------


def _tutorial_files() -> dict[str, str]:
    """Code blocks of the guide's tutorial whose first line is a comment naming a file."""
    files = {}
    for lang, body in re.findall(r"```(python|toml)\n(.*?)```", _doc(), flags=re.S):
        first, _, rest = body.partition("\n")
        m = re.fullmatch(r"# ([\w/]+\.(?:py|toml))", first.strip())
        if m:
            files[m.group(1)] = body if lang == "toml" else rest
    return files


def test_tutorial_code_is_a_working_plugin(tmp_path, monkeypatch):
    files = _tutorial_files()
    assert set(files) == {"pyproject.toml", "gankit_tiny/__init__.py", "gankit_tiny/nets.py",
                          "tests/test_tiny.py"}
    meta = tomllib.loads(files["pyproject.toml"])
    assert meta["project"]["entry-points"]["gankit"] == {"tiny": "gankit_tiny"}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
        if rel.endswith(".py"):
            assert private_imports(text, rel) == []
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path / "tests"))
    for mod in ("gankit_tiny", "gankit_tiny.nets", "test_tiny"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    import test_tiny

    test_tiny.test_tiny()  # check_plugin + check_model, as the tutorial's reader runs them


# -- gankit's own modules: the layer table of docs/architecture.md ---------------------------

ARCH = ROOT / "docs" / "architecture.md"
#: modules whose function-level imports of gankit are for `gankit --help`'s start-up by
#: design: the commands import their library when they run, and the packages' lazy
#: ``__getattr__`` load the trainer (torch) when it is first asked for
LAZY_BY_DESIGN = ("gankit", "gankit.train", "gankit.cli", "gankit.cli.*")
#: function-level imports of gankit's own modules without a reason on their line, per
#: module; the numbers could only go down, and every module's has reached 0: a new import
#: goes to the top of the file, or says on its line why it cannot be there
UNEXPLAINED: dict[str, int] = {}


def _match(module: str, patterns) -> bool:
    import fnmatch

    return any(fnmatch.fnmatchcase(module, p) for p in patterns)


def layer_table(text: str) -> list[tuple[str, list[str]]]:
    """(layer, module patterns) from the table under "## The layers", top first."""
    section = text.split("## The layers", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[1].startswith("`"):
            pats = [p if p == "gankit" else f"gankit.{p}" for p in re.findall(r"`([^`]+)`",
                                                                               cells[1])]
            rows.append((cells[0], pats))
    return rows


def gankit_modules() -> dict[str, Path]:
    mods = {}
    for p in sorted((ROOT / "gankit").rglob("*.py")):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    return mods


def module_imports(module: str, source: str, is_package: bool, known) -> list[tuple]:
    """(line, imported gankit module, inside a function, has a reason comment) for every
    import of ``source`` (module ``module``) that names one of ``known``."""
    tree = ast.parse(source)
    lines = source.splitlines()
    in_function = {id(n) for fn in ast.walk(tree)
                   if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name in known]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # `from gankit import __version__` is allowed everywhere
            names = [a.name for a in node.names if not (base == "gankit"
                                                        and a.name == "__version__")]
            targets = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
            if len(targets) < len(names) and base in known:
                targets.append(base)
        else:
            continue
        text = " ".join(lines[node.lineno - 1:node.end_lineno])
        for t in targets:
            if t != module and not t.startswith(module + "."):
                found.append((node.lineno, t, id(node) in in_function, "#" in text))
    return found


def _all_imports():
    mods = gankit_modules()
    return mods, {m: module_imports(m, p.read_text(encoding="utf-8"), p.name == "__init__.py",
                                    mods) for m, p in mods.items()}


def layer_violations(table, imports: dict) -> list[str]:
    def layer(m):
        for i, (_, pats) in enumerate(table):
            if _match(m, pats):
                return len(table) - i  # higher is further up
        return None

    bad = []
    for m, found in imports.items():
        for line, target, _, _ in found:
            if layer(target) > layer(m):
                bad.append(f"{m}:{line} imports {target} ({table[len(table) - layer(target)][0]}"
                           f" is above {table[len(table) - layer(m)][0]})")
    return bad


def import_cycles(imports: dict) -> list[list[str]]:
    """The strongly connected components (more than one module) of the import graph."""
    graph = {m: sorted({t for _, t, _, _ in found}) for m, found in imports.items()}
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_every_module_has_one_layer():
    table = layer_table(ARCH.read_text(encoding="utf-8"))
    assert [name for name, _ in table][:2] == ["api", "commands"] and len(table) >= 6
    for m in gankit_modules():
        homes = [name for name, pats in table if _match(m, pats)]
        assert len(homes) == 1, f"{m} is in layers {homes} of docs/architecture.md"


def test_imports_go_down_the_layer_table():
    table = layer_table(ARCH.read_text(encoding="utf-8"))
    _, imports = _all_imports()
    bad = layer_violations(table, imports)
    assert not bad, "imports against docs/architecture.md's layers: " + "; ".join(bad)


def test_no_import_cycle_among_gankit_modules():
    """Function-level imports count: a cycle through them is still a tangle."""
    _, imports = _all_imports()
    assert import_cycles(imports) == []


def test_function_level_imports_say_why():
    _, imports = _all_imports()
    over = []
    for m, found in imports.items():
        if _match(m, LAZY_BY_DESIGN):
            continue
        n = sum(1 for _, _, inside, reason in found if inside and not reason)
        if n > UNEXPLAINED.get(m, 0):
            over.append(f"{m}: {n} (at most {UNEXPLAINED.get(m, 0)})")
    assert not over, ("function-level imports of gankit modules without a reason comment "
                      "on their line; import at the top of the file or say why: "
                      + "; ".join(over))


def test_the_layer_scan_sees_upward_imports_and_cycles():
    table = [("top", ["gankit.cli", "gankit.cli.*"]), ("mid", ["gankit.loading"]),
             ("low", ["gankit.models", "gankit.train.plan"])]
    known = {"gankit.cli", "gankit.loading", "gankit.models", "gankit.train.plan",
             "gankit.train"}
    models = module_imports("gankit.models", "def f():\n    from .loading import x\n"
                            "from . import __version__\n", False, known)
    assert models == [(2, "gankit.loading", True, False)]
    plan = module_imports("gankit.train.plan", "from ..models import GANModel  # why\n",
                          False, known)
    assert plan == [(1, "gankit.models", False, True)]
    imports = {"gankit.models": models, "gankit.train.plan": plan,
               "gankit.loading": [(1, "gankit.train.plan", False, False)]}
    assert layer_violations(table, imports) == [
        "gankit.models:2 imports gankit.loading (mid is above low)"]
    assert import_cycles(imports) == [["gankit.loading", "gankit.models", "gankit.train.plan"]]


def test_every_module_is_named_in_the_architecture_page():
    """Each top-level module in the layer table, each module of a package by its file
    name under "The modules of each package"."""
    text = ARCH.read_text(encoding="utf-8")
    table = {p for _, pats in layer_table(text) for p in pats}
    packages = text.split("## The modules of each package", 1)[1].split("\n## ", 1)[0]
    unnamed = []
    for m, path in gankit_modules().items():
        parts = m.split(".")
        if len(parts) <= 2 and m in table:
            continue
        rel = path.relative_to(ROOT / "gankit")
        if f"`{rel.parts[0]}/`" in packages and f"`{rel.name}`" in packages.split(
                f"`{rel.parts[0]}/`", 1)[1].split("\n- ", 1)[0]:
            continue
        unnamed.append(m)
    assert not unnamed, f"docs/architecture.md does not name {unnamed}"
