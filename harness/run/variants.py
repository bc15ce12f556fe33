"""Turn an experiment's variant into the init scripts that apply its patch before first paint (in uiab's world)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from agent.patch import Patch, load_patch
from harness.browser.patching import patch_init_script
from harness.run.experiment import Experiment, Variant

__all__ = ["variant_patch", "variant_init_scripts"]


@lru_cache(maxsize=256)
def _load(path: Path, mtime: float) -> Patch:
    return load_patch(path)


def variant_patch(experiment: Experiment, variant: Variant) -> Patch | None:
    """The validated patch of a variant, or ``None`` for a variant without one (control)."""
    if not variant.patch:
        return None
    path = (experiment.folder / variant.patch).resolve()
    return _load(path, path.stat().st_mtime)


def variant_init_scripts(experiment: Experiment, variant: Variant) -> list[str]:
    patch = variant_patch(experiment, variant)
    return [patch_init_script(patch)] if patch is not None else []
