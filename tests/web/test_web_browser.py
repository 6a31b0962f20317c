"""The view in a real browser: headless Chromium (Debian's) driven by Playwright."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Iterator

import pytest

import symbolic_torch as st
from symbolic_torch.web.app import create_app

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

if not Path(CHROMIUM).exists():
    pytest.skip("no chromium: apt-get install chromium (scripts/setup.sh does)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Iterator:
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.errors = []  # console errors, uncaught exceptions and requests to other hosts
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("request", lambda r: pg.errors.append(f"request {r.url}")
          if not r.url.startswith(("file:", "data:", "http://127.0.0.1")) else None)
    yield pg
    pg.close()


def shown_value(pg) -> str:
    pg.wait_for_selector("#element .value")
    return pg.locator("#element .value").inner_text()


def test_file_loads_renders_math_and_follows_a_deep_link(page, tiny: st.Derivation, tiny_page: Path) -> None:
    page.goto(f"{tiny_page.as_uri()}#conv1/0,0,3,3")
    assert shown_value(page) == f"{tiny['conv1'].at((0, 0, 3, 3)).value:.4g}"
    assert page.locator("math").count() > 5
    box = page.locator("#step .formula math").first.bounding_box()
    assert box is not None and box["height"] > 25  # the forward formula's sums are laid out as math
    num = page.locator("#step mfrac > :nth-child(1)").first.bounding_box()
    den = page.locator("#step mfrac > :nth-child(2)").first.bounding_box()
    assert num["y"] + num["height"] <= den["y"] + 1  # ∂L over ∂x: a fraction, drawn as one
    text = page.locator("body").inner_text()
    assert "\\frac" not in text and "\\sum" not in text and "\\partial" not in text
    assert page.locator(".tex-fallback").count() == 0
    assert page.locator("#graph g.node.current").count() == 1
    assert page.errors == []


def test_click_a_cell_and_a_gradient_deep_link(page, tiny: st.Derivation, tiny_page: Path) -> None:
    page.goto(f"{tiny_page.as_uri()}#fc")
    page.locator('.heat-block[data-tensor="forward"] td[data-pos="0,5"]').click()
    assert shown_value(page) == f"{tiny['fc'].at((0, 5)).value:.4g}"
    assert page.evaluate("location.hash") == "#fc/0,5"
    page.goto(f"{tiny_page.as_uri()}#conv1/weight/0,0,1,1")
    assert shown_value(page) == f"{tiny['conv1'].grad_at('weight', (0, 0, 1, 1)).value:.4g}"
    assert "backward" in page.locator("#element h2").inner_text()
    page.goto(f"{tiny_page.as_uri()}#conv1/0,0,9,9")
    assert "valid ranges: 0..0, 0..3, 0..5, 0..5" in page.locator("#element").inner_text()
    page.click("#graph a[*|href='#relu']")
    page.wait_for_function("location.hash === '#relu'")
    assert page.locator("#step h2").inner_text().startswith("2. relu")
    assert page.errors == []


def test_screenshot_is_not_blank(page, tiny_page: Path, tmp_path: Path) -> None:
    from PIL import Image, ImageStat
    page.goto(f"{tiny_page.as_uri()}#conv1/0,0,3,3")
    shown_value(page)
    shot = tmp_path / "view.png"
    page.screenshot(path=str(shot))
    stat = ImageStat.Stat(Image.open(shot).convert("L"))
    assert stat.var[0] > 100  # text, math and heat maps, not one flat colour


@pytest.fixture
def server(mlp: st.Derivation) -> Iterator[str]:
    from werkzeug.serving import make_server
    srv = make_server("127.0.0.1", 0, create_app(mlp, verify_training=False), threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join()


def test_served_app_computes_elements_and_trains(page, server: str, mlp: st.Derivation) -> None:
    page.goto(f"{server}/#fc1/weight/3,2")
    assert shown_value(page) == f"{mlp['fc1'].grad_at('weight', (3, 2)).value:.4g}"  # computed on demand
    page.fill("input[name=steps]", "3")
    page.fill("input[name=lr]", "0.5")
    page.click("#train-form button")
    page.wait_for_function("document.querySelector('#iteration').options.length === 4")
    losses = [float(x) for x in page.locator("#train-status").inner_text().split(": ")[1].split(" → ")]
    assert losses[0] > losses[1] > losses[2]
    assert "torch.optim" in page.locator("#train-check").inner_text()
    assert page.locator("#losses circle").count() == 3
    page.wait_for_function("document.querySelector('#summary').textContent.includes('training iteration 3')")
    assert f"loss L = {losses[2]:.4g}" in page.locator("#summary").inner_text()
    assert page.errors == []
