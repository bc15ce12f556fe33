"""The experiment's persona mix: who visits, on which device, in what share."""

from __future__ import annotations

from collections.abc import Sequence

from agent.kernel import InputError
from harness.run.experiment import Experiment
from personas import Persona, load_persona

__all__ = ["experiment_personas", "experiment_devices", "select_personas"]


def experiment_personas(experiment: Experiment, names: Sequence[str] = ()) -> list[Persona]:
    """Load every persona the experiment names (library names or .toml paths relative to it); ``names`` narrows."""
    mix = [load_persona(ref, relative_to=experiment.folder) for ref in experiment.personas]
    return select_personas(mix, names, source=str(experiment.path)) if names else mix


def select_personas(mix: Sequence[Persona], names: Sequence[str], *, source: str | None = None) -> list[Persona]:
    """Keep only the named personas of the mix, in the mix's order; an unknown name is bad input."""
    # Shares need no rewriting: draw_persona divides by the sum of the shares it is given, so the kept
    # personas keep their relative weights and together take all the traffic.
    known = [p.name for p in mix]
    unknown = [n for n in dict.fromkeys(names) if n not in known]
    if unknown:
        raise InputError(f"persona {unknown[0]!r} is not in the experiment's mix", source=source,
                         field="personas", fix=f"use one of: {', '.join(known)}")
    wanted = set(names)
    return [p for p in mix if p.name in wanted]


def experiment_devices(experiment: Experiment, names: Sequence[str] = ()) -> list[str]:
    """The distinct devices of the experiment's personas (or of ``names`` among them), in first-seen order."""
    return list(dict.fromkeys(p.device for p in experiment_personas(experiment, names)))
