"""Printers: views of the Derivation IR (LaTeX snippets, PDF handouts)."""
from symbolic_torch.printing.latex import SymbolicLatexPrinter

__all__ = ["SymbolicLatexPrinter"]
