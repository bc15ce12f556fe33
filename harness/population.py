"""The experiment's persona mix: who visits, on which device, in what share."""

from __future__ import annotations

from harness.experiment import Experiment
from personas import Persona, load_persona

__all__ = ["experiment_personas", "experiment_devices"]


def experiment_personas(experiment: Experiment) -> list[Persona]:
    """Load every persona the experiment names (library names or .toml paths relative to it)."""
    return [load_persona(ref, relative_to=experiment.folder) for ref in experiment.personas]


def experiment_devices(experiment: Experiment) -> list[str]:
    """The distinct devices of the experiment's personas, in the order they first appear."""
    return list(dict.fromkeys(p.device for p in experiment_personas(experiment)))
