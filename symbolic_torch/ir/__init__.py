"""The IR: ``Step``, ``Derivation``, ``Element``, operands, symbols and the notation primitives (plain data)."""
