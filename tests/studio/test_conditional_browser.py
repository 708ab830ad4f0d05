"""The class pickers of the studio and of the exported web page in a real headless
browser (skipped without chromium, chromedriver and selenium, like
tests/studio/test_studio_browser.py and tests/export/test_export_browser.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from kit.browser import serve_folder
from kit.browser import needs_browser, pixels, serve_studio, wait_for

pytestmark = needs_browser()


@pytest.fixture(scope="module")
def cond_root(tmp_path_factory):
    """A tiny class-conditional DCGAN ``runs/c`` trained on three kinds."""
    from kit import cli_ok

    root = tmp_path_factory.mktemp("classes")
    rng = np.random.default_rng(0)
    for k, kind in enumerate(("apple", "kiwi", "plum")):
        (root / "fruit" / kind).mkdir(parents=True)
        for i in range(4):
            a = rng.integers(0, 40, (32, 32), dtype=np.uint8)
            a[4 + 8 * k:12 + 8 * k, 8:24] = 230
            Image.fromarray(a).save(root / "fruit" / kind / f"{i}.png")
    cli_ok("train", "dcgan", "--data", root / "fruit", "--conditional", "--image-size", "32",
        "--set", "ngf=8", "--set", "ndf=8", "--batch-size", "4", "--steps", "2",
        "--out", root / "runs", "--name", "c", "--quiet")
    return root


@pytest.fixture(scope="module")
def studio_url(cond_root):
    with serve_studio(cond_root / "runs") as srv:
        yield srv.url





def test_class_picker_changes_the_samples_and_the_command(browser, studio_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(studio_url)
    wait_for(browser, "window.studio && window.studio.state.gridSeq >= 1")
    row = browser.find_element(By.ID, "class-row")
    assert row.is_displayed()
    options = [o.text for o in Select(browser.find_element(By.ID, "class-a")).options]
    assert options == ["all, in turn", "apple", "kiwi", "plum"]
    before = browser.execute_script("return window.studio.state.images[0]")
    seq = browser.execute_script("return window.studio.state.gridSeq")
    Select(browser.find_element(By.ID, "class-a")).select_by_visible_text("plum")
    wait_for(browser, f"window.studio.state.gridSeq > {seq}")
    after = browser.execute_script("return window.studio.state.images[0]")
    assert after != before
    assert "--class plum" in browser.find_element(By.ID, "command").text
    Select(browser.find_element(By.ID, "class-b")).select_by_visible_text("apple")
    browser.execute_script("const s = document.getElementById('class-mix'); s.value = 0.5; "
                           "s.dispatchEvent(new Event('input'))")
    wait_for(browser, "document.getElementById('command').textContent.includes('class mix')")
    mixed = browser.execute_script("return window.studio.state.images[0]")
    assert mixed not in (before, after)
    assert "class mix" in browser.find_element(By.ID, "command").text


@pytest.fixture(scope="module")
def site(cond_root):
    """The conditional run exported as a web folder, served over HTTP."""
    from gankit.export import ortweb
    from kit import cli_ok

    pytest.importorskip("onnx", reason='needs the export extra: pip install "gankit[export]"')
    pytest.importorskip("onnxruntime", reason='needs the export extra: pip install "gankit[export]"')
    try:
        ortweb.load()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"onnxruntime-web is not here: {exc}")
    run = cond_root / "runs" / "c"
    cli_ok("export", run, cond_root / "site", "--format", "web", "--web-seeds", "0-31",
        "--check-seeds", "0-3")
    cli_ok("sample", run, "--seeds", "0-3", "--class", "plum", "--out", f"{cond_root}/plum/",
        "--device", "cpu")
    with serve_folder(cond_root / "site") as url:
        yield url, cond_root




def test_web_page_class_picker_draws_gankit_sample_class(browser, site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, root = site
    info = json.loads((root / "site" / "run.json").read_text())
    assert info["labels"] == "labels" and info["classes"] == ["apple", "kiwi", "plum"]
    browser.get(url)
    wait_for(browser, "window.gankitWeb && window.gankitWeb.state.gridSeq >= 1")
    assert browser.find_element(By.ID, "class-row").is_displayed()
    seq = browser.execute_script("return window.gankitWeb.state.gridSeq")
    Select(browser.find_element(By.ID, "class")).select_by_visible_text("plum")
    wait_for(browser, f"window.gankitWeb.state.gridSeq > {seq}")
    assert "--class plum" in browser.find_element(By.ID, "command").text
    for seed in range(4):
        url_ = browser.execute_script(f"return window.gankitWeb.state.images[{seed}]")
        px = pixels(browser, url_)
        want = np.asarray(Image.open(root / "plum" / f"seed{seed:05d}.png").convert("RGB"))
        assert np.abs(px[..., :3] - want.astype(int)).max() <= 1  # gankit sample --class plum
