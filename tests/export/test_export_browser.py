"""`gankit export --format web` end to end: the static folder served by `python -m
http.server` and opened in headless Chromium (selenium + Debian's chromium and
chromium-driver: scripts/install-browser.sh), with onnxruntime-web from
scripts/fetch-ort-web.sh. Skipped where any of them is missing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from kit import cli_ok
from kit.browser import needs_browser, pixels, serve_folder
from kit.browser import wait_for as wait_for_page

pytest.importorskip("onnx", reason='needs the export extra: pip install "gankit[export]"')
pytest.importorskip("onnxruntime", reason='needs the export extra: pip install "gankit[export]"')
pytestmark = needs_browser()



@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A tiny vanilla GAN (Gaussian z, so the truncation slider is there) with a fitted
    direction, exported as a web folder and served over HTTP. (A DCGAN trained for a
    few steps draws nearly the same grey for every z, too flat to tell a wrong latent
    from the right one; an MLP's pictures change strongly with z.)"""
    from gankit.export import ortweb

    try:
        ortweb.load()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"onnxruntime-web is not here: {exc}")
    root = tmp_path_factory.mktemp("export-web")
    run = root / "runs" / "r"
    cli_ok("train", "vanilla", "--dataset", "sushi", "--image-size", "32", "--set", "prior=gaussian",
        "--set", "hidden=64", "--batch-size", "8", "--steps", "3", "--out", root / "runs",
        "--name", "r", "--quiet")
    cli_ok("direction", "fit", "bright", run, "--positive", "0-3", "--negative", "8-11")
    cli_ok("export", run, root / "site", "--format", "web", "--web-seeds", "0-63", "--check-seeds",
        "0-3", "--no-ema")
    cli_ok("sample", run, "--seeds", "0-3", "--out", f"{root}/png/", "--device", "cpu", "--no-ema")
    top = json.loads((root / "site" / "directions.json").read_text())[0]["range"]
    cli_ok("sample", run, "--seeds", "0-3", "--direction", f"bright:{top}", "--out",
        f"{root}/bright/", "--device", "cpu", "--no-ema")
    with serve_folder(root / "site") as url:
        yield url, root





def wait_for(driver, script, timeout=60.0):
    """The exported page's wait: longer (onnxruntime-web starts first) and failing at once
    when the page's status line shows an error."""
    return wait_for_page(driver, script, timeout, stop_on_error=True)


def image(driver, seed):
    return driver.execute_script(f"return window.gankitWeb.state.images[{seed}]")


def test_the_page_draws_gankit_samples_in_the_browser(browser, site):
    from selenium.webdriver.common.by import By

    url, root = site
    browser.get(url)
    wait_for(browser, "window.gankitWeb && window.gankitWeb.state.gridSeq >= 1")
    assert browser.title == "gankit web"
    cells = browser.find_elements(By.CSS_SELECTOR, "#grid .cell")
    assert len(cells) == 16
    assert [c.find_element(By.TAG_NAME, "figcaption").text for c in cells[:3]] == ["0", "1", "2"]
    for seed in range(4):
        px = pixels(browser, image(browser, seed))
        assert px.shape == (32, 32, 4) and (px[..., 3] == 255).all()
        assert px[..., :3].std() > 0.05  # not a blank picture
        # the same picture `gankit sample --seeds 0-3` writes, to a level of rounding
        want = np.asarray(Image.open(root / "png" / f"seed{seed:05d}.png")).astype(int)
        assert np.abs(px[..., :3] - want).max() <= 1
    assert np.abs(pixels(browser, image(browser, 0)) - pixels(browser, image(browser, 1))).max() > 8
    assert "gankit sample runs/r --seeds 0-15" in browser.find_element(By.ID, "command").text \
        or "gankit sample r --seeds 0-15" in browser.find_element(By.ID, "command").text


def test_a_direction_slider_moves_the_samples(browser, site):
    from selenium.webdriver.common.by import By

    url, root = site
    browser.get(url)
    wait_for(browser, "window.gankitWeb && window.gankitWeb.state.gridSeq >= 1")
    slider = browser.find_element(By.ID, "dir-bright")
    before = pixels(browser, image(browser, 2))
    seq = browser.execute_script("return window.gankitWeb.state.gridSeq")
    browser.execute_script("arguments[0].value = arguments[0].max;"
                           "arguments[0].dispatchEvent(new Event('input'))", slider)
    wait_for(browser, f"window.gankitWeb.state.gridSeq > {seq}")
    after = pixels(browser, image(browser, 2))
    assert np.abs(after - before).max() > 8
    # z + r * bright in the browser is `gankit sample --direction bright:r`
    top = json.loads((root / "site" / "directions.json").read_text())[0]["range"]
    want = np.asarray(Image.open(root / "bright" / "seed00002.png")).astype(int)
    assert np.abs(after[..., :3] - want).max() <= 1
    assert f"--direction bright:{top:g}" in browser.find_element(By.ID, "command").text

    seq = browser.execute_script("return window.gankitWeb.state.gridSeq")
    browser.execute_script("const t = document.getElementById('trunc'); t.value = 0;"
                           "t.dispatchEvent(new Event('input'))")
    wait_for(browser, f"window.gankitWeb.state.gridSeq > {seq}")
    assert np.abs(pixels(browser, image(browser, 2)) - after).max() > 8
    assert "--truncation 0.5" in browser.find_element(By.ID, "command").text


def test_pinned_seeds_animate_and_shuffle_draws_other_seeds(browser, site):
    from selenium.webdriver.common.by import By

    url, _ = site
    browser.get(url)
    wait_for(browser, "window.gankitWeb && window.gankitWeb.state.gridSeq >= 1")
    browser.execute_script("const f = document.getElementById('frames'); f.value = 6;"
                           "f.dispatchEvent(new Event('input'))")
    cells = browser.find_elements(By.CSS_SELECTOR, "#grid .cell")
    cells[3].click()
    cells[9].click()
    wait_for(browser, "window.gankitWeb.state.walkDone")
    frames = browser.execute_script("return window.gankitWeb.state.frames")
    assert len(frames) == 10  # 2 seeds, 6 frames a segment, looping back: 2 * 5
    first, middle = pixels(browser, frames[0]), pixels(browser, frames[5])
    assert np.abs(first - middle).max() > 0
    assert np.abs(first - pixels(browser, image(browser, 3))).max() <= 1  # frame 0 is seed 3
    assert "--seed-a 3 --seed-b 9 --steps 6" in browser.find_element(By.ID, "walk-command").text

    seq = browser.execute_script("return window.gankitWeb.state.gridSeq")
    browser.find_element(By.ID, "shuffle").click()
    wait_for(browser, f"window.gankitWeb.state.gridSeq > {seq}")
    seeds = browser.execute_script("return window.gankitWeb.state.seeds")
    assert len(seeds) == 16 and set(seeds) <= set(range(64)) and seeds != list(range(16))
