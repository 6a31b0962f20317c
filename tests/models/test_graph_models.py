"""torch_geometric message-passing layers (GCN, SAGE, GAT, GIN) derive, verify, and give autograd's gradients.

Each model: two layers with a ReLU between, on a 6-node graph built in code (one node without
incoming edges, one edge listed twice), float64, cross-entropy over node labels.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
from torch import nn

try:
    from model_check import Case, check
except ImportError:  # tests/models as a package
    from .model_check import Case, check

gnn = pytest.importorskip("torch_geometric.nn")

EDGES = torch.tensor([[0, 1, 1, 2, 3, 4, 2, 0, 0],
                      [1, 0, 2, 1, 4, 3, 4, 3, 3]])  # node 5 receives nothing; 0→3 twice


class TwoLayer(nn.Module):
    """conv(4 → 5) → ReLU → conv(5 → 3)."""

    def __init__(self, conv: Callable[[int, int], nn.Module]) -> None:
        super().__init__()
        self.conv1 = conv(4, 5)
        self.conv2 = conv(5, 3)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.relu(self.conv1(x, edge_index)), edge_index)


def _gin(cin: int, cout: int) -> nn.Module:
    return gnn.GINConv(nn.Sequential(nn.Linear(cin, cout), nn.ReLU(), nn.Linear(cout, cout)), train_eps=True)


LAYERS: dict[str, Callable[[int, int], nn.Module]] = {
    "GCNConv": lambda a, b: gnn.GCNConv(a, b),
    "SAGEConv": lambda a, b: gnn.SAGEConv(a, b),
    "SAGEConv (max)": lambda a, b: gnn.SAGEConv(a, b, aggr="max"),
    "GATConv": lambda a, b: gnn.GATConv(a, b, heads=2, concat=False),
    "GINConv": _gin,
}


def _builder(layer: Callable[[int, int], nn.Module]) -> Callable[[], tuple[nn.Module, tuple, Any, Any]]:
    def build() -> tuple[nn.Module, tuple, Any, Any]:
        torch.manual_seed(0)
        model = TwoLayer(layer).double()
        x = torch.randn(6, 4, dtype=torch.float64)
        return model, (x, EDGES), nn.CrossEntropyLoss(), torch.tensor([0, 1, 2, 0, 1, 2])
    return build


CASES = [Case(name, "torch_geometric", _builder(layer)) for name, layer in LAYERS.items()]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_graph_layer_derives_verifies_and_matches_autograd(case: Case) -> None:
    d = check(case)
    ops = [s.op for s in d.steps]
    assert "index_select" in ops, ops  # messages are gathered along the edges …
    assert "scatter_add" in ops or "scatter_reduce" in ops, ops  # … and scattered back to the nodes
    assert ops[-1] == "cross_entropy"
