"""Logging: loguru to stderr only, so ``--json`` output on stdout stays machine-readable."""

from __future__ import annotations

import sys

from loguru import logger

__all__ = ["configure_logging"]


def configure_logging(level: str = "INFO") -> None:
    logger.remove()
    logger.add(sys.stderr, level=level.upper(), format="<level>{level: <7}</level> {message}", colorize=None)
