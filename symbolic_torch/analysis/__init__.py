"""Analyses read from a derivation: activation log, graph export (JSON, Graphviz)."""
