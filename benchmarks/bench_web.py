"""Size and load time of the HTML view (``Derivation.to_html``) for the examples and a
ResNet-18 (width 8) at 32×32; writes the README's screenshot docs/web_view.png.

    python benchmarks/bench_web.py            # prints a Markdown table

Load time: from navigation in headless Chromium until a deep-linked element's worked
derivation is on screen (the page parsed, its data read, the graph, the step and the element drawn).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import symbolic_torch as st  # noqa: E402
from examples.mlp import MLP  # noqa: E402
from examples.resnet import ResNet18  # noqa: E402
from examples.teaching_cnn import TeachingCNN  # noqa: E402
from examples.tiny_cnn import TinyCNN  # noqa: E402


def cases() -> list[tuple[str, st.Derivation, str]]:
    """(name, derivation, deep link) per model, seed 0."""
    ce = torch.nn.CrossEntropyLoss()
    out = []
    for name, make, shape, target, link in [
            ("TeachingCNN 1×1×4×4", TeachingCNN, (1, 1, 4, 4), torch.tensor([1]), "conv/0,0,1,1"),
            ("TinyCNN 1×1×8×8", TinyCNN, (1, 1, 8, 8), torch.tensor([1]), "conv1/0,0,1,1"),
            ("MLP 3×4", MLP, (3, 4), None, "fc1/0,3"),
            ("ResNet18(width=8) 1×3×32×32", lambda: ResNet18(width=8), (1, 3, 32, 32), torch.tensor([1]), "conv1/0,0,1,1")]:
        torch.manual_seed(0)
        model = make().double().eval()
        x = torch.randn(*shape, dtype=torch.float64)
        if target is None:
            d = st.derive(model, x, loss=torch.nn.MSELoss(), target=torch.randn(3, 2, dtype=torch.float64))
        else:
            d = st.derive(model, x, loss=ce, target=target)
        out.append((name, d, link))
    return out


def load_seconds(browser, path: Path, link: str, shot: Path | None = None) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    start = time.perf_counter()
    page.goto(f"{path.as_uri()}#{link}")
    page.wait_for_selector("#element .value")
    took = time.perf_counter() - start
    if shot is not None:
        page.screenshot(path=str(shot))
    page.close()
    return took


def main() -> None:
    from playwright.sync_api import sync_playwright
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for name, d, link in cases():
            start = time.perf_counter()
            path = d.to_html(Path(tmp) / "view.html", title=f"Derivation: {name}")
            write = time.perf_counter() - start
            shot = ROOT / "docs" / "web_view.png" if name.startswith("TinyCNN") else None
            load = min(load_seconds(browser, path, link, shot if k == 0 else None) for k in range(3))
            rows.append(f"| {name} | {len(d.steps)} | {path.stat().st_size / 1e6:.2f} MB | {write:.1f} s | {load:.2f} s |")
        browser.close()
    print("| model | steps | file size | to_html | load in Chromium |\n|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
