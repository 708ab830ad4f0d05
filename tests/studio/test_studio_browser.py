"""`gankit studio` end to end in a real headless browser (Debian's chromium + chromedriver,
driven by selenium; `scripts/install-browser.sh` installs them). Skipped where either
is missing."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from kit.studio import make_runs
from kit.browser import needs_browser, pixels, serve_studio, wait_for

pytestmark = needs_browser()

#: mean and standard deviation of an <img>'s pixels, read through a canvas
PIXEL_STATS = """
const img = arguments[0];
const c = document.createElement("canvas");
c.width = img.naturalWidth; c.height = img.naturalHeight;
const ctx = c.getContext("2d");
ctx.drawImage(img, 0, 0);
const d = ctx.getImageData(0, 0, c.width, c.height).data;
let s = 0, s2 = 0, n = 0, alpha = 0;
for (let i = 0; i < d.length; i += 4) {
  for (let k = 0; k < 3; k++) { s += d[i + k]; s2 += d[i + k] * d[i + k]; n++; }
  alpha += d[i + 3];
}
const mean = s / n;
return {w: c.width, h: c.height, mean: mean, std: Math.sqrt(s2 / n - mean * mean),
        alpha: alpha / (d.length / 4)};
"""



@pytest.fixture(scope="module")
def studio_url(tmp_path_factory):
    runs = make_runs(tmp_path_factory.mktemp("studio-browser"))
    with serve_studio(runs) as srv:
        yield srv.url





def cells(driver):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#grid .cell")


def set_mode(driver, mode):
    driver.execute_script(f"document.querySelector('input[name=mode][value={mode}]').click()")


def test_page_shows_a_grid_of_non_blank_samples(browser, studio_url):
    from selenium.webdriver.common.by import By

    browser.get(studio_url)
    wait_for(browser, "window.studio && window.studio.state.gridSeq >= 1")
    assert browser.title == "gankit studio"
    grid = cells(browser)
    assert len(grid) == 16
    assert [c.find_element(By.TAG_NAME, "figcaption").text for c in grid[:3]] == ["0", "1", "2"]
    for cell in grid:
        img = cell.find_element(By.TAG_NAME, "img")
        assert browser.execute_script("return arguments[0].complete", img)
        stats = browser.execute_script(PIXEL_STATS, img)
        assert (stats["w"], stats["h"]) == (32, 32)
        # an opaque, non-uniform picture (a 4-step DCGAN draws faint grey textures)
        assert stats["alpha"] == 255 and stats["std"] > 0.05 and 20 < stats["mean"] < 235
    urls = browser.execute_script("return [0, 1, 2].map((s) => window.studio.state.images[s])")
    seeds = [pixels(browser, u) for u in urls]
    assert all(np.abs(seeds[i] - seeds[i + 1]).max() > 0 for i in range(2))  # seeds differ
    assert "gankit sample" in browser.find_element(By.ID, "command").text
    assert browser.find_element(By.ID, "status").text.startswith("16 samples")


def test_a_fitted_direction_slider_changes_the_image(browser, studio_url):
    from selenium.webdriver.common.by import By

    browser.get(studio_url)
    wait_for(browser, "window.studio.state.gridSeq >= 1")
    set_mode(browser, "pos")
    grid = cells(browser)
    for c in grid[:3]:
        c.click()
    set_mode(browser, "neg")
    for c in grid[5:8]:
        c.click()
    assert browser.find_element(By.ID, "npos").text == "3"
    assert browser.find_element(By.ID, "nneg").text == "3"
    browser.find_element(By.ID, "dir-name").send_keys("bright")
    browser.find_element(By.ID, "fit").click()
    slider = wait_for(browser, "document.getElementById('dir-bright')")
    assert "saved 'bright'" in browser.find_element(By.ID, "fit-msg").text

    before = browser.execute_script("return window.studio.state.images[4]")
    seq = browser.execute_script("return window.studio.state.gridSeq")
    browser.execute_script(
        "arguments[0].value = arguments[0].max; arguments[0].dispatchEvent(new Event('input'))",
        slider)
    wait_for(browser, f"window.studio.state.gridSeq > {seq}")
    after = browser.execute_script("return window.studio.state.images[4]")
    assert after != before
    assert np.abs(pixels(browser, after) - pixels(browser, before)).max() > 0
    assert "--direction bright:" in browser.find_element(By.ID, "command").text

    # the noise-strength (truncation) slider changes it too
    seq = browser.execute_script("return window.studio.state.gridSeq")
    browser.execute_script("const t = document.getElementById('trunc'); t.value = 0.3;"
                           "t.dispatchEvent(new Event('input'))")
    wait_for(browser, f"window.studio.state.gridSeq > {seq}")
    assert browser.execute_script("return window.studio.state.images[4]") != after
    assert "--truncation 0.3" in browser.find_element(By.ID, "command").text


def test_pinning_two_seeds_animates_between_them(browser, studio_url):
    from selenium.webdriver.common.by import By

    browser.get(studio_url)
    wait_for(browser, "window.studio.state.gridSeq >= 1")
    browser.execute_script("const f = document.getElementById('frames'); f.value = 8;"
                           "f.dispatchEvent(new Event('input'))")
    grid = cells(browser)
    grid[3].click()
    grid[9].click()
    assert "pinned" in grid[3].get_attribute("class")
    wait_for(browser, "window.studio.state.walkDone")
    frames = browser.execute_script("return window.studio.state.frames")
    assert len(frames) == 14  # 2 seeds, 8 frames a segment, looping back: 2 * 7
    first, middle = pixels(browser, frames[0]), pixels(browser, frames[7])
    assert np.abs(first - middle).max() > 0  # the frames differ
    # frame 0 is seed 3 of the grid
    grid_img = browser.execute_script("return window.studio.state.images[3]")
    assert np.abs(first - pixels(browser, grid_img)).max() <= 1
    # and the page plays them: the shown frame changes over time
    anim = browser.find_element(By.ID, "anim-img")
    shown = {anim.get_attribute("src")}
    end = time.monotonic() + 5
    while len(shown) < 3 and time.monotonic() < end:
        time.sleep(0.05)
        shown.add(anim.get_attribute("src"))
    assert len(shown) >= 3
    assert "gankit interpolate" in browser.find_element(By.ID, "walk-command").text
    assert "--seed-a 3 --seed-b 9 --steps 8" in browser.find_element(By.ID, "walk-command").text


def test_an_uploaded_image_is_translated_by_a_cyclegan_run(browser, studio_url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(studio_url)
    wait_for(browser, "window.studio.state.gridSeq >= 1")
    Select(browser.find_element(By.ID, "run")).select_by_value("cg")
    wait_for(browser, "!document.getElementById('translate').hidden")
    assert browser.find_element(By.ID, "latent").get_attribute("hidden") is not None
    arr = np.zeros((30, 40, 3), np.uint8)
    arr[..., 2] = 150
    arr[8:20, 10:25] = (240, 40, 40)
    Image.fromarray(arr).save(tmp_path / "photo.png")
    browser.find_element(By.ID, "file").send_keys(str(tmp_path / "photo.png"))
    wait_for(browser, "window.studio.state.translated")
    out = browser.find_element(By.ID, "tr-output")
    inp = browser.find_element(By.ID, "tr-input")
    wait_for(browser, "document.getElementById('tr-back').complete && "
                      "document.getElementById('tr-output').naturalWidth > 0")
    so, si = browser.execute_script(PIXEL_STATS, out), browser.execute_script(PIXEL_STATS, inp)
    assert (so["w"], so["h"]) == (si["w"], si["h"]) == (43, 32)
    assert so["alpha"] == 255 and so["std"] > 0.5
    assert pixels(browser, out.get_attribute("src")).tolist() != \
        pixels(browser, inp.get_attribute("src")).tolist()
    assert "gankit translate" in browser.find_element(By.ID, "tr-command").text
    # the other direction translates the same file again
    browser.execute_script("window.studio.state.translated = null;"
                           "document.querySelector('input[name=tr-dir][value=b2a]').click()")
    data = wait_for(browser, "window.studio.state.translated")
    assert data["direction"] == "b2a"
