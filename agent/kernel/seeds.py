"""One way to derive a seed: ``numpy.random.SeedSequence`` over the parts that identify a random stream."""

from __future__ import annotations

import numpy as np

__all__ = ["derive_seed", "uniform"]


def _entropy(part: int | str) -> int:
    if isinstance(part, str):
        # A leading 0x01 byte keeps leading NULs and the length in the number.
        return int.from_bytes(b"\x01" + part.encode("utf-8"), "big")
    if part < 0:
        raise ValueError(f"seed parts must be >= 0, got {part}")
    return int(part)


def derive_seed(*parts: int | str, bits: int = 63) -> int:
    """A seed in ``[0, 2**bits)`` that depends only on ``parts`` (``bits`` is 31 or 63)."""
    if bits not in (31, 63):
        raise ValueError("bits must be 31 or 63")
    sequence = np.random.SeedSequence([_entropy(p) for p in parts])
    dtype = np.uint32 if bits == 31 else np.uint64
    return int(sequence.generate_state(1, dtype)[0]) >> 1


def uniform(*parts: int | str) -> float:
    """A uniform number in ``[0, 1)`` that depends only on ``parts``: the same parts, the same draw."""
    return derive_seed(*parts) / 2.0**63
