"""The studio's drawing canvas in a real headless browser: a pix2pix run trained on edge
maps turns strokes drawn with the mouse into a picture (Debian's chromium +
chromedriver, driven by selenium; skipped where either is missing)."""

from __future__ import annotations


import numpy as np
import pytest

from kit.browser import draw, needs_browser, pixels, serve_studio, wait_for

from test_studio_browser import PIXEL_STATS

pytestmark = needs_browser()

TINY = ["--image-size", "32", "--set", "ngf=8", "--set", "ndf=8", "--batch-size", "2",
        "--sample-every", "0", "--quiet"]


@pytest.fixture(scope="module")
def sketch_url(tmp_path_factory):
    from kit import cli_ok

    runs = tmp_path_factory.mktemp("sketch") / "runs"
    cli_ok("train", "pix2pix", "--pairs", "edges", "--set", "data.count=6", *TINY, "--steps", "2",
        "--out", runs, "--name", "edges")
    with serve_studio(runs) as srv:
        yield srv.url


def test_drawing_on_the_canvas_makes_a_picture_that_follows_it(browser, sketch_url):
    from selenium.webdriver.common.by import By

    browser.get(sketch_url)
    wait_for(browser, "!document.getElementById('translate').hidden")
    wait_for(browser, "!document.getElementById('sketch').hidden")
    # one direction only: no B -> A choice, no "and back"
    assert browser.find_element(By.ID, "tr-b2a").get_attribute("hidden") is not None
    draw(browser, [(0.2, 0.2), (0.5, 0.5), (0.8, 0.3)])
    first = wait_for(browser, "window.studio.state.translated")
    out = browser.find_element(By.ID, "tr-output")
    wait_for(browser, "document.getElementById('tr-output').naturalWidth > 0")
    stats = browser.execute_script(PIXEL_STATS, out)
    assert (stats["w"], stats["h"]) == (32, 32) and stats["std"] > 0.5  # not blank
    before = pixels(browser, first["output"])
    # the input it saw is the drawing: white with dark strokes
    drawn = pixels(browser, first["input"]).reshape(32, 32, 4)[..., :3]
    assert (drawn < 100).any() and (drawn > 200).mean() > 0.5
    browser.execute_script("window.studio.state.translated = null;")
    draw(browser, [(0.1, 0.9), (0.9, 0.9), (0.9, 0.6)])
    second = wait_for(browser, "window.studio.state.translated")
    after = pixels(browser, second["output"])
    assert np.abs(after - before).max() > 0  # the picture follows the drawing
