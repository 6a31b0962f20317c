"""Numbers: the one evaluator of index formulas, the autograd reference, RNG state."""
