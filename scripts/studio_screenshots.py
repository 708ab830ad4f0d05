"""Screenshots of `gankit studio` for docs/studio.md, taken with headless chromium.

    python scripts/studio_screenshots.py RUNS_FOLDER LATENT_RUN TRANSLATION_RUN IMAGE [OUT_DIR]

LATENT_RUN and TRANSLATION_RUN are run names under RUNS_FOLDER (an unconditional model
and a translation model); IMAGE is the picture dropped on the translation run (e.g. one
from `gankit datasets export sushi ./sushi`). TRANSLATION_RUN and IMAGE given as `-`
skip the translation picture. Writes OUT_DIR/studio-grid.png, studio-interpolation.png and
studio-translate.png (default OUT_DIR: docs/images). Needs what
scripts/install-browser.sh installs.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path


def wait_for(driver, script, timeout=60.0):
    end = time.monotonic() + timeout
    while not driver.execute_script("return " + script):
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {script}")
        time.sleep(0.1)


def main(argv):
    if len(argv) not in (4, 5):
        raise SystemExit(__doc__)
    runs, latent, translation, photo = Path(argv[0]), argv[1], argv[2], Path(argv[3])
    out = Path(argv[4] if len(argv) == 5 else "docs/images")
    os.environ.setdefault("SE_OFFLINE", "true")
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    from gankit import atomic_write
    from gankit.studio import open_studio

    srv = open_studio(runs / latent, runs, device="cpu")
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    opts = webdriver.ChromeOptions()
    profile = tempfile.mkdtemp(prefix="studio-shots-")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1200,860",
                "--hide-scrollbars", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    opts.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))

    def shot(name):
        png = driver.get_screenshot_as_png()
        path = out / name
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(png))
        with Image.open(path) as im:
            print(f"{path}: {im.size[0]}x{im.size[1]}")

    try:
        driver.get(srv.url)
        wait_for(driver, "window.studio && window.studio.state.gridSeq >= 1")
        cells = driver.find_elements(By.CSS_SELECTOR, "#grid .cell")
        driver.execute_script("document.querySelector('input[name=mode][value=pos]').click()")
        for c in cells[:2]:
            c.click()
        driver.execute_script("document.querySelector('input[name=mode][value=neg]').click()")
        for c in cells[4:6]:
            c.click()
        name = driver.find_element(By.ID, "dir-name")
        name.send_keys("demo")
        driver.find_element(By.ID, "dir-replace").click()
        driver.find_element(By.ID, "fit").click()
        wait_for(driver, "document.getElementById('dir-demo')")
        driver.execute_script("document.querySelector('input[name=mode][value=pos]').click()")
        for c in driver.find_elements(By.CSS_SELECTOR, "#grid .cell")[8:10]:
            c.click()
        driver.execute_script("document.querySelector('input[name=mode][value=pin]').click()")
        seq = driver.execute_script("return window.studio.state.gridSeq")
        driver.execute_script("const s = document.getElementById('dir-demo'); s.value = 0.8;"
                              "s.dispatchEvent(new Event('input'))")
        wait_for(driver, f"window.studio.state.gridSeq > {seq}")
        shot("studio-grid.png")

        cells = driver.find_elements(By.CSS_SELECTOR, "#grid .cell")
        cells[2].click()
        cells[7].click()
        wait_for(driver, "window.studio.state.walkDone")
        driver.execute_script("document.getElementById('anim').scrollIntoView()")
        time.sleep(0.7)
        shot("studio-interpolation.png")

        if translation == "-":
            return
        driver.get(srv.url + "?run=" + translation)
        wait_for(driver, "!document.getElementById('translate').hidden")
        driver.find_element(By.ID, "file").send_keys(str(photo.resolve()))
        wait_for(driver, "window.studio.state.translated")
        time.sleep(0.5)
        shot("studio-translate.png")
    finally:
        driver.quit()
        srv.shutdown()
        srv.close()


if __name__ == "__main__":
    main(sys.argv[1:])
