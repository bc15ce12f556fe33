"""Visitor seeds in independent streams, so no policy is evaluated on the visitors it trained on.

Training, evaluation and oracle selection each draw visitors from a stream of their own; a bandit's own draws
come from a fourth. Each seed is a pure function of (run seed, stream, index), so a resumed run meets the
visitors it would have met uninterrupted, and the same seeds for every policy make a paired comparison.
"""

from __future__ import annotations

from agent.kernel import InputError, derive_seed

__all__ = ["TRAIN_STREAM", "EVAL_STREAM", "ORACLE_STREAM", "POLICY_STREAM", "visitor_seeds"]

# Independent seed streams: training visitors, evaluation visitors, oracle-selection visitors, bandit draws.
TRAIN_STREAM, EVAL_STREAM, ORACLE_STREAM, POLICY_STREAM = 0, 1, 2, 3


def visitor_seeds(seed: int, count: int, *, start: int = 0, stream: int = TRAIN_STREAM) -> list[int]:
    """Visitor seeds ``start .. start+count-1`` of one stream, each in [0, 2^31): every runner can take them."""
    if seed < 0 or stream < 0 or start < 0 or count < 0:
        raise InputError(f"seed, stream, start and count must be >= 0, got {seed}, {stream}, {start}, {count}",
                         field="seed")
    return [derive_seed(seed, stream, i, bits=31) for i in range(start, start + count)]
