"""Analyses that read a Derivation: operation counts (``counting``), the per-step summary
(``summary``), gradient flow (``flow``), model comparison (``comparison``), the activation log
(``log``) and the graph export (``graph``: JSON; ``dot``: Graphviz; ``timing``: per-node time).

They read the formulas and shapes a derivation already holds; the summary never evaluates a
gradient. Conventions: 1 MAC = one multiply–add; FLOPs = 2 × MACs, as torch.utils.flop_counter
counts (see ``counting``).
"""
