"""A checkpoint file: one ``torch.save`` dict holding the learner's state and the run's metadata under ``"meta"``.

The one reader and writer of the format. A checkpoint from an older uiab has no ``"meta"``; its metadata is then
read from the ``AGENT.pt.json`` sidecar written beside it. The file is user input: it is loaded with
``weights_only=True`` (no arbitrary pickles), and anything that is not a checkpoint is a :class:`CheckpointError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from agent.kernel import CheckpointError, read_text

__all__ = ["META_KEY", "write_checkpoint", "read_checkpoint"]

META_KEY = "meta"


def write_checkpoint(state: Mapping[str, Any], path: str | Path, meta: Mapping[str, Any] | None = None) -> Path:
    """``state`` and ``meta`` (JSON-like) in one file, written atomically: a temporary file, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({**state, META_KEY: dict(meta or {})}, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | Path, *, version: int, field: str | None = None,
                    fix: str = "pass a file `uiab train --policy dqn` wrote") -> tuple[dict[str, Any], dict[str, Any]]:
    """(state, metadata) of the checkpoint at ``path``; ``field``/``fix`` go into the errors (e.g. ``--resume``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("no such checkpoint", source=str(path), field=field, fix=fix)
    try:
        data = torch.load(path, weights_only=True)
    except Exception as exc:  # torch raises many kinds for a file that is not a checkpoint
        raise CheckpointError(f"not a uiab checkpoint ({type(exc).__name__})", source=str(path), field=field,
                              fix=fix) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"not a uiab checkpoint ({type(data).__name__})", source=str(path), field=field,
                              fix=fix)
    if data.get("version") != version:
        raise CheckpointError(f"unsupported checkpoint version {data.get('version')!r}", source=str(path),
                              field=field, fix=fix)
    meta = data.pop(META_KEY, None) or _sidecar(path, field)
    return data, dict(meta) if isinstance(meta, dict) else {}


def _sidecar(path: Path, field: str | None) -> Any:
    """The ``AGENT.pt.json`` an older uiab wrote beside its checkpoints; None when there is none."""
    sidecar = path.with_name(path.name + ".json")
    if not sidecar.is_file():
        return None
    text = read_text(sidecar, error=CheckpointError, what="checkpoint metadata")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CheckpointError(f"unreadable checkpoint metadata ({exc})", source=str(sidecar), field=field,
                              fix="retrain, or restore the file `uiab train` wrote") from None
