"""`gankit export --format web` of a pix2pix run trained on edge maps: the static page
draws on its canvas and translates in the browser with onnxruntime-web, as `gankit
translate` does (headless Chromium + selenium, onnx, onnxruntime and onnxruntime-web;
skipped where any of them is missing)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kit.browser import draw, needs_browser, serve_folder
from test_export_browser import pixels, wait_for

pytest.importorskip("onnx", reason='needs the export extra: pip install "gankit[export]"')
pytest.importorskip("onnxruntime", reason='needs the export extra: pip install "gankit[export]"')
pytestmark = needs_browser()

TINY = ["--image-size", "32", "--set", "ngf=8", "--set", "ndf=8", "--batch-size", "2",
        "--sample-every", "0", "--quiet"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from gankit.export import ortweb
    from kit import cli_ok

    try:
        ortweb.load()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"onnxruntime-web is not here: {exc}")
    root = tmp_path_factory.mktemp("sketch-web")
    cli_ok("train", "pix2pix", "--pairs", "edges", "--set", "data.count=6", *TINY, "--steps", "2",
        "--out", root / "runs", "--name", "edges")
    cli_ok("export", root / "runs" / "edges", root / "site", "--format", "web", "--check-seeds",
        "0-1")
    with serve_folder(root / "site") as url:
        yield url, root


def canvas_pixels(browser, canvas_id):
    url = browser.execute_script(f"return document.getElementById('{canvas_id}').toDataURL()")
    return pixels(browser, url)


def test_the_exported_page_translates_a_drawing_as_gankit_does(browser, site):
    from PIL import Image

    from gankit import load_model
    from gankit.translation import translate_image

    url, root = site
    info = json.loads((root / "site" / "run.json").read_text())
    assert info["kind"] == "translation" and info["canvas"] is True
    assert info["direction"] == "a2b" and (root / "site" / "translator.onnx").is_file()
    browser.get(url)
    wait_for(browser, "window.gankitTranslate.state.ready")
    assert browser.find_element("id", "sketch").get_attribute("hidden") is None
    draw(browser, [(0.2, 0.2), (0.5, 0.6), (0.8, 0.3)])
    wait_for(browser, "window.gankitTranslate.state.count >= 1 && "
                      "!window.gankitTranslate.state.busy")
    inp = canvas_pixels(browser, "tr-input")[..., :3]
    out = canvas_pixels(browser, "tr-output")[..., :3]
    assert inp.shape == out.shape == (32, 32, 3)
    assert (inp < 128).any() and (inp > 200).mean() > 0.5  # dark strokes on white
    assert out.std() > 0.5  # not blank
    # what `gankit translate` makes of the same input, within rounding
    model, config, spec, nets, _ = load_model(root / "runs" / "edges")
    want = np.asarray(translate_image(model, nets, Image.fromarray(inp.astype(np.uint8)),
                                      "a2b", (32, 32), model.size_multiple(config, spec),
                                      "cpu")).astype(int)
    assert np.abs(want - out).max() <= 2
    n = browser.execute_script("return window.gankitTranslate.state.count")
    draw(browser, [(0.1, 0.9), (0.9, 0.9), (0.9, 0.5)])
    wait_for(browser, f"window.gankitTranslate.state.count > {n} && "
                      "!window.gankitTranslate.state.busy")
    assert np.abs(canvas_pixels(browser, "tr-output")[..., :3] - out).max() > 0
