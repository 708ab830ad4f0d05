"""The studio's projected pictures: POST /api/project, `pN` tiles in grids, walks and
commands, and the drop on the page in headless Chromium (skipped without it)."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
from PIL import Image

from kit import TINY, cli_ok
from kit.browser import CHROMEDRIVER, CHROMIUM, serve_studio
from test_studio_api import call, get, pixels, post_json, refused

STEPS = 8


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A runs folder with one tiny DCGAN ``r`` and a direction ``up`` fitted from seeds."""
    runs = tmp_path_factory.mktemp("studio-project") / "runs"
    cli_ok("train", "dcgan", *TINY, "--steps", "4", "--out", runs, "--name", "r", "--quiet")
    cli_ok("direction", "fit", "up", runs / "r", "--positive", "1,2,3", "--negative", "4,5,6")
    return runs


@pytest.fixture(scope="module")
def server(runs):
    with serve_studio(runs) as srv:
        yield srv


def photo(size=(48, 40)):
    """A picture of another size and aspect than the run's 32 px."""
    arr = np.zeros((size[1], size[0], 3), np.uint8)
    arr[..., 0] = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :]
    arr[8:30, 12:36] = (240, 200, 40)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def project(server, body=None, query="run=r", ctype="image/png"):
    return call(server, "POST", f"/api/project?{query}&steps={STEPS}",
                photo() if body is None else body, {"Content-Type": ctype})


def test_a_projected_picture_is_a_tile_for_grids_directions_and_walks(server, runs):
    import torch

    from gankit.latent import load_direction
    from gankit.loading import load_model
    from gankit.sampling import generate

    a = project(server)
    assert a.status == 200, a.body[:300]
    data = a.json()
    pid = data["id"]
    assert pid.startswith("p") and data["steps"] == STEPS
    assert data["distance"] in ("efficientnet-lite0", "multiscale")
    assert data["perceptual"] <= data["start_perceptual"] + 1e-6
    assert pixels(data["input"]).shape == pixels(data["image"]).shape == (32, 32, 3)
    assert "gankit project" in data["command"]
    kept = server.studio._projections[pid]
    # the grid draws the projected latent where the id stands, seeds around it as usual
    grid = get(server, f"/api/samples?run=r&seeds={pid},3").json()
    assert grid["seeds"] == [pid, 3]
    close = lambda a, b: np.abs(pixels(a) - pixels(b)).max() <= 1  # noqa: E731 - batch rounding
    assert close(grid["images"][0], data["image"])
    plain3 = get(server, "/api/samples?run=r&seeds=3").json()
    assert close(grid["images"][1], plain3["images"][0])
    assert f"--z {pid}.npy" in grid["command"] and "gankit project" in grid["command"]
    # sliding along a direction moves the projected tile as gankit sample --z would
    moved = get(server, f"/api/samples?run=r&seeds={pid}&directions=up:1.5").json()
    assert "images" in moved, moved
    model, config, spec, nets, _ = load_model(runs / "r")
    z = kept[1] + 1.5 * load_direction(runs / "r", "up", model, config).reshape(1, -1)
    want = ((generate(model, nets, z).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    assert np.abs(pixels(moved["images"][0]) - want[0].permute(1, 2, 0).numpy()).max() <= 1
    assert not np.array_equal(pixels(moved["images"][0]), pixels(data["image"]))
    # interpolating from the tile to a seed: the first frame is the projection
    resp = get(server, f"/api/walk?run=r&seeds={pid},3&frames=3&loop=0")
    import json

    lines = [json.loads(x) for x in resp.body.decode().splitlines() if x.strip()]
    assert lines[0]["type"] == "start" and f"--z-a {pid}.npy --seed-b 3" in lines[0]["command"]
    frames = [x for x in lines if x["type"] == "frame"]
    assert len(frames) == 3
    assert close(frames[0]["image"], data["image"])
    assert close(frames[-1]["image"], plain3["images"][0])


def test_project_refuses_bad_uploads_and_unknown_tiles(server):
    refused(project(server, ctype="text/plain"), 415, "upload type")
    refused(project(server, body=b""), 400, "empty")
    refused(project(server, body=b"\x89PNG\r\n\x1a\n garbage"), 415, "not a readable")
    refused(project(server, query="run=nope"), 404, "unknown run")
    refused(call(server, "POST", "/api/project?run=r&steps=0", photo(),
                 {"Content-Type": "image/png"}), 400, "steps")
    refused(call(server, "GET", "/api/project?run=r"), 405)
    refused(get(server, "/api/samples?run=r&seeds=p999999"), 404, "p999999", "drop it again")
    refused(get(server, "/api/samples?run=r&seeds=q1"), 400, "seeds")
    # a projected picture is not a seed for fitting a direction
    refused(post_json(server, "/api/directions", {"name": "x", "positive": ["p1"],
                                                  "negative": [2]}), 400)


# -- the page in headless Chromium ----------------------------------------------------------------

#: drop a PNG (a data URL) on an element as a file, the way a user's drag and drop does
DROP = """
const [target, url] = arguments;
const bytes = Uint8Array.from(atob(url.split(",")[1]), (c) => c.charCodeAt(0));
const dt = new DataTransfer();
dt.items.add(new File([bytes], "me.png", { type: "image/png" }));
target.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
"""


def test_dropping_a_picture_pins_its_projection(server, tmp_path_factory):
    pytest.importorskip("selenium.webdriver",
                        reason="selenium is not installed (scripts/install-browser.sh)")
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("no headless browser: install chromium and chromium-driver "
                    "(scripts/install-browser.sh)")
    from kit.browser import start_chrome
    from selenium.webdriver.common.by import By
    from kit.browser import pixels, wait_for

    driver = start_chrome(tmp_path_factory.mktemp("chromium-project"), CHROMIUM, CHROMEDRIVER)
    try:
        driver.get(f"{server.url.rstrip('/')}/?run=r")
        wait_for(driver, "window.studio && window.studio.state.gridSeq >= 1")
        seq = driver.execute_script("return window.studio.state.gridSeq")
        driver.execute_script("document.getElementById('project-steps').value = '50'")
        url = "data:image/png;base64," + base64.b64encode(photo()).decode()
        driver.execute_script(DROP, driver.find_element(By.ID, "project-drop"), url)
        pid = wait_for(driver, "Object.keys(window.studio.state.projections)[0]", timeout=60)
        wait_for(driver, f"window.studio.state.gridSeq > {seq}")
        first = driver.find_elements(By.CSS_SELECTOR, "#grid .cell")[0]
        assert first.get_attribute("data-seed") == pid
        assert "pinned" in first.get_attribute("class")
        assert driver.execute_script("return window.studio.state.pinned") == [pid]
        assert driver.find_element(By.ID, "seeds").get_attribute("value").startswith(pid + ",")
        data = driver.execute_script(f"return window.studio.state.projections['{pid}']")
        shown = first.find_element(By.TAG_NAME, "img").get_attribute("src")
        assert np.abs(pixels(driver, shown) - pixels(driver, data["image"])).max() <= 1
        assert pid in driver.find_element(By.ID, "project-msg").text
        assert data["steps"] == 50 and "--steps 50" in data["command"]
        # pin a seed as well: the page walks from the projected tile to it
        driver.find_elements(By.CSS_SELECTOR, "#grid .cell")[1].click()
        wait_for(driver, "window.studio.state.walkDone", timeout=60)
        assert f"--z-a {pid}.npy" in driver.find_element(By.ID, "walk-command").text
        frame0 = driver.execute_script("return window.studio.state.frames[0]")
        assert np.abs(pixels(driver, frame0) - pixels(driver, data["image"])).max() <= 1
        # a slider moves the projected tile
        before = shown
        driver.execute_script(
            "const s = document.querySelector('#dir-sliders input[type=range]');"
            "s.value = s.max; s.dispatchEvent(new Event('input'));")
        end = time.monotonic() + 30
        while time.monotonic() < end:
            now = driver.find_elements(By.CSS_SELECTOR, "#grid .cell img")[0].get_attribute("src")
            if now != before:
                break
            time.sleep(0.1)
        assert now != before
    finally:
        driver.quit()
