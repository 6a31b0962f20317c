"""``compare``: image models on 1×3×32×32 and recurrent models on one sequence, reconciled with
fvcore and FlopCounterMode; formula structures; renderings; the example script."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import sdpa_flop_count

import symbolic_torch as st
from examples.analysis_views import image_models, main, sequence_models
from symbolic_torch.analysis.comparison import formula_structure

try:
    from references import counter_flops, fvcore_macs
except ImportError:  # tests/analysis as a package
    from .references import counter_flops, fvcore_macs

IMAGE = torch.randn(1, 3, 32, 32, dtype=torch.float64)
SEQUENCE = torch.randn(6, 1, 4, dtype=torch.float64)


@pytest.fixture(scope="module")
def images():
    return st.compare(image_models(), IMAGE)


@pytest.fixture(scope="module")
def sequences():
    return st.compare(sequence_models(), SEQUENCE)


def test_mlp_and_cnn_match_fvcore_and_flop_counter(images):
    models = image_models()
    for name in ("MLP", "CNN"):
        row = images[name]
        assert row.macs == sum(fvcore_macs(models[name], IMAGE).values())
        assert row.flops == counter_flops(models[name], IMAGE)
        assert row.params == sum(p.numel() for p in models[name].parameters())


def test_vit_reconciles_by_op_class(images):
    """fvcore and FlopCounterMode count the ViT's convolution and linear layers (fvcore's layer_norm
    figure is its own elementwise count); the attention runs as one sdpa step, which neither counts
    on CPU, so its MACs are checked with FlopCounterMode's own sdpa formula; a LayerNorm's Σx² is a
    multiply–add per element."""
    m = image_models()["ViT"]
    ref = fvcore_macs(m, IMAGE)
    summary = st.summary(images.derivations["ViT"])
    by_op: dict[str, int] = {}
    for r in summary.rows:
        by_op[r.op] = by_op.get(r.op, 0) + r.macs
    dense = by_op["conv"] + by_op["linear"] + by_op["linear_fn"] + by_op["stacked_linear"]
    assert dense == ref["conv"] + ref["linear"] == counter_flops(m, IMAGE) // 2
    heads = (1, 2, 16, 16)  # batch, heads, tokens, head dim
    assert 2 * by_op["sdpa"] == sdpa_flop_count(heads, heads, heads)
    assert by_op["layer_norm"] == 2 * 16 * 32
    assert images["ViT"].macs == dense + by_op["sdpa"] + by_op["layer_norm"]


@pytest.mark.parametrize("name, gates", [("RNN", 1), ("LSTM", 4), ("GRU", 3)])
def test_recurrent_models_match_flop_counter(sequences, name, gates):
    """Each time step multiplies the input (4) and the hidden state (8) into every gate's 8 units."""
    row = sequences[name]
    assert row.macs == 6 * gates * 8 * (4 + 8)
    assert row.flops == counter_flops(sequence_models()[name], SEQUENCE)
    assert row.params == gates * (8 * 4 + 8 * 8 + 2 * 8)


def test_distinct_formulas_count_structures(images, sequences):
    assert images["MLP"].distinct_formulas == 3  # reshape, linear (both layers), relu
    assert images["CNN"].distinct_formulas == 5  # conv (both), relu, max_pool, reshape, linear
    assert sequences["LSTM"].steps > sequences["RNN"].steps
    mlp = images.derivations["MLP"]
    fc1, fc2 = (s for s in mlp if s.op == "linear")
    assert formula_structure(fc1) == formula_structure(fc2)
    conv = next(s for s in images.derivations["CNN"] if s.op == "conv")
    assert formula_structure(conv) != formula_structure(fc1)


def test_renderings(images):
    md = images.to_markdown().splitlines()
    assert md[0] == "| model   |   params |    MACs |     FLOPs |   act. bytes |   derive s |   steps |   distinct formulas |"
    assert md[2].startswith("| MLP     |  197,322 | 197,248 |   394,496 |       25,680 |")
    assert images.to_latex().startswith("\\begin{tabular}{lrrrrrrr}")
    assert "FLOPs = 2 $\\times$ MACs" in images.to_latex()
    html = images.to_html()
    assert html.startswith("<table>") and "<td>ViT" in html and "1 MAC = one multiply–add" in html
    with pytest.raises(KeyError, match="the models are"):
        images["ResNet"]


@pytest.mark.slow
def test_example_writes_every_view(tmp_path):
    paths = main(tmp_path)
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in paths["summary"].read_text().splitlines()]
    assert ["conv1", "conv", "1×8×32×32", "224", "221,184", "442,368", "8,192", "65,536", "26,368"] in cells
    assert ["pool (pool_1)", "max_pool", "1×16×8×8"] in [c[:3] for c in cells]  # the module's second call
    assert "| LSTM " in paths["sequences"].read_text() and "| ViT " in paths["images"].read_text()
    assert paths["plot"].stat().st_size > 10_000
