"""Printers: views of the Derivation IR (LaTeX snippets, PDF handouts)."""
from .latex import SymbolicLatexPrinter

__all__ = ["SymbolicLatexPrinter"]
