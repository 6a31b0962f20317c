"""The gallery command builds every example's handout and slides and the teaching CNN's walkthrough;
each PDF is read back (pdftotext for the numbers, pdfinfo for the pages)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from examples import gallery

pytestmark = [pytest.mark.pdf, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("latexmk") is None, reason="TeX toolchain not installed (scripts/setup.sh)")]


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> list[gallery.Entry]:
    return gallery.build(tmp_path_factory.mktemp("gallery"))


def test_every_example_has_a_handout_and_slides(built: list[gallery.Entry]) -> None:
    assert [e.name for e in built] == list(gallery.EXAMPLES)
    for e in built:
        handout = _text(e.handout)
        assert "Notation" in handout and "FAILED" not in handout, e.name
        assert _pages(e.slides) == e.steps + 1, e.name  # a title frame, then one frame per step


def test_numbers_in_the_documents_are_the_run_s(built: list[gallery.Entry]) -> None:
    """The loss value of each run appears in its handout and its slides, as the printers format it."""
    from symbolic_torch.ir.element import fmt
    import importlib
    for e in built:
        d = importlib.import_module(f"examples.{e.name}").derivation()
        loss = fmt(float(d.values[d.outputs[0]]))
        assert loss in _text(e.handout), (e.name, loss)


def test_teaching_cnn_walkthrough_has_three_iterations(built: list[gallery.Entry]) -> None:
    walks = {e.name: e.walkthrough for e in built if e.walkthrough is not None}
    assert list(walks) == ["teaching_cnn"]
    text = _text(walks["teaching_cnn"])
    assert all(f"Iteration {t}" in text for t in (1, 2, 3)) and "FAILED" not in text


def test_unknown_example_is_named() -> None:
    with pytest.raises(ValueError, match="no gallery example"):
        gallery.build("/nonexistent", ["resnet"])
