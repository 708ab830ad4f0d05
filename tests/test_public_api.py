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

ROOT = Path(__file__).resolve().parent.parent
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
