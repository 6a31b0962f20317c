"""Verification: every derived formula against autograd, one tolerance table, the report."""
