"""Saving and loading derivations (docs/format.md): ``save(d, path)``, ``load(path)``."""
