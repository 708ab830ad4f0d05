"""The browser pages' static files: what the studio's page and the exported pages share
has one home, gankit/static (gankit-common.js, studio.css, favicon.svg); the studio serves
it, the web export copies it, and no page's own script defines a shared function again."""

from __future__ import annotations

import http.client
import re
import threading

import pytest

from kit import ROOT

SHARED = ROOT / "gankit" / "static"
STUDIO = ROOT / "gankit" / "studio" / "static"
EXPORT = ROOT / "gankit" / "export" / "static"
PAGE_SCRIPTS = (STUDIO / "studio.js", EXPORT / "gankit-web.js", EXPORT / "gankit-translate.js")
#: each page and the script of its own it loads after gankit-common.js
PAGES = ((STUDIO / "index.html", "/static/", "studio.js"),
         (EXPORT / "index.html", "", "gankit-web.js"),
         (EXPORT / "translate.html", "", "gankit-translate.js"))


def shared_functions() -> set[str]:
    text = (SHARED / "gankit-common.js").read_text(encoding="utf-8")
    return set(re.findall(r"^\s*(?:async\s+)?function\s+(\w+)\s*\(", text, re.M))


def test_the_shared_folder_is_what_the_export_copies():
    from gankit.export.web import SHARED_FILES

    assert {p.name for p in SHARED.iterdir()} == set(SHARED_FILES)
    for own in (STUDIO, EXPORT):  # one home per file
        assert not {p.name for p in own.iterdir()} & set(SHARED_FILES), own


def test_the_studio_serves_the_shared_files():
    from gankit.studio.server import StudioServer

    srv = StudioServer(None)  # static files need no runs
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        for name in ("gankit-common.js", "studio.css", "favicon.svg", "studio.js"):
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            conn.request("GET", f"/static/{name}")
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            home = SHARED if (SHARED / name).exists() else STUDIO
            assert resp.status == 200 and body == (home / name).read_bytes(), name
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("files", ["PAGE_FILES", "TRANSLATE_FILES"])
def test_the_web_export_copies_the_shared_files(tmp_path, files):
    from gankit.export import web

    web.write_page(tmp_path, getattr(web, files), {})
    for name in web.SHARED_FILES:
        assert (tmp_path / name).read_bytes() == (SHARED / name).read_bytes(), name
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert '<script src="gankit-common.js"' in html


@pytest.mark.parametrize("page, prefix, own", PAGES, ids=lambda p: getattr(p, "name", None))
def test_each_page_loads_the_common_script_before_its_own(page, prefix, own):
    html = page.read_text(encoding="utf-8")
    common = html.index(f'<script src="{prefix}gankit-common.js" defer></script>')
    assert common < html.index(f'<script src="{prefix}{own}" defer></script>')


@pytest.mark.parametrize("script", PAGE_SCRIPTS, ids=lambda p: p.name)
def test_no_page_script_defines_a_shared_function_again(script):
    names = shared_functions()
    assert {"status", "debounce", "resetPad", "padPoint", "padStroke", "wirePad",
            "compact", "copy", "download", "drawCHW"} <= names
    text = script.read_text(encoding="utf-8")
    again = [n for n in sorted(names) if re.search(
        rf"\bfunction\s+{re.escape(n)}\s*\(|\b(?:const|let|var)\s+{re.escape(n)}\s*=\s*"
        rf"(?:async\s*)?(?:function\b|\(|\w+\s*=>)", text)]
    assert not again, f"{script.name} defines {again} again: use gankitCommon's"
    assert "window.gankitCommon" in text
