"""What ``--candidate`` names: a variant of the experiment, a .css/.toml patch file, or a trained checkpoint."""

from __future__ import annotations

from pathlib import Path

from agent.kernel import InputError
from harness.run.experiment import Experiment, Variant

__all__ = ["resolve_candidate"]


def resolve_candidate(experiment: Experiment, ref: str, *, db: Path | None = None,
                      out_dir: Path | None = None) -> Variant:
    """A variant name of the experiment, a .css/.toml patch file, or a checkpoint's chosen patch.

    A checkpoint (``.pt``/``.ckpt``) needs ``db`` and ``out_dir``: harness.gate.agent_candidate writes its patch there.
    """
    if any(v.name == ref for v in experiment.variants):
        return experiment.variant(ref)
    path = Path(ref)
    if path.suffix in (".css", ".toml"):
        if not path.is_file():
            raise InputError(f"patch file {ref} does not exist", field="--candidate",
                             fix="pass a variant name of the experiment or an existing patch file")
        return Variant(name=path.stem.replace(" ", "-") or "candidate", patch=str(path.resolve()))
    if path.suffix in (".pt", ".ckpt"):
        if db is None or out_dir is None:
            raise InputError("a checkpoint candidate needs the database and a folder for its patch", source=ref,
                             field="--candidate", fix="pass db= and out_dir= to resolve_candidate")
        # Imported here: a checkpoint needs the agent's torch, a CSS candidate's rollout must not load it.
        from harness.gate.agent_candidate import agent_candidate

        return agent_candidate(experiment, path, db, out_dir).variant
    known = ", ".join(v.name for v in experiment.variants)
    raise InputError(f"{ref!r} is neither a variant of {experiment.path.name} nor a patch file",
                     field="--candidate", fix=f"use one of: {known}, a .css/.toml file or a checkpoint (.pt)")
