"""Automatic differentiation of index formulas: sympy derivatives, delta elimination, the chain rule."""
