"""benchmarks/bench_scale.py's report: ratios, stopped cells, partial timings, plots (from made-up results)."""
from __future__ import annotations

import importlib.util
import sys
from argparse import Namespace
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


REPORT = _load("scale_report")
BENCH = _load("bench_scale")


def _results() -> list[dict]:
    cell = lambda n, tool, **kw: {"kind": "resnet", "n": n, "tool": tool, **kw}  # noqa: E731
    return [cell(56, "fwd+bwd", first=0.1, warm=0.05), cell(56, "TorchLens", first=2.0, warm=1.0),
            cell(56, "derive", first=3.0, warm=1.5, first_info={"steps": 70, "formulas_s": 1.25}, rss_gib=0.5),
            cell(56, "derive+verify", first=4.0, warm=3.0, rss_gib=0.75,
                 first_info={"steps": 70, "ok": True, "max_abs_error": 2e-6, "checks": 274}),
            cell(224, "fwd+bwd", first=0.4), cell(224, "TorchLens", first=2.5),
            cell(224, "derive", timeout=100.0, first_info={"steps": 70, "formulas_s": 1.5}),
            cell(224, "derive+verify", timeout=100.0)]


def test_table_ratios_and_stopped_cells() -> None:
    text = REPORT.table(_results(), "resnet", [56, 224], "S")
    row56, row224 = [ln for ln in text.splitlines() if ln.lstrip("| ").startswith(("56 ", "224 "))]
    cells56 = [c.strip() for c in row56.split("|")]
    assert cells56[-3:-1] == ["2.00", "3.00"]  # derive+verify / TorchLens: 4.0/2.0 first, 3.0/1.0 warm
    assert "1.25" in cells56 and "ok (2.0e-06)" in cells56 and "0.50 / 0.75" in cells56
    assert row224.count("> 100 (stopped)") == 2 and "1.5" in row224  # a stopped derive keeps its formulas' time
    assert REPORT.growth(_results(), "resnet", [56, 224], "TorchLens", "first") == "1.25"


def test_partial_output_of_a_stopped_cell() -> None:
    out = '{"partial": {"steps": 3, "formulas_s": 0.5}}\n'
    assert BENCH._partial(out) == {"first_info": {"steps": 3, "formulas_s": 0.5}}
    assert BENCH._partial(out.encode()) == BENCH._partial(out)
    assert BENCH._partial(None) == {}


def test_write_all_writes_the_report_and_the_plot(tmp_path: Path) -> None:
    args = Namespace(only="size", sizes=[56, 224], depths=[], out=tmp_path / "r.md", plots=tmp_path,
                     suffix="", argv=["--only", "size"], quick=False, gpt_width=768, gpt_seq=128)
    REPORT.write_all(_results(), args)
    text = (tmp_path / "r.md").read_text()
    assert "ResNet-18-shaped" in text and "TorchLens 1.25 /" in text
    png = (tmp_path / "scale_size.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
