"""Where an experiment's site is: its folder served on loopback, or its running ``base_url`` checked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from agent.kernel import InputError
from harness.browser.server import check_reachable, serve_folder
from harness.run.experiment import Experiment

__all__ = ["site_url"]


@contextmanager
def site_url(experiment: Experiment) -> Iterator[str]:
    """The experiment's site on loopback (served from its folder) or its running ``base_url``."""
    if experiment.site_folder is not None:
        with serve_folder(experiment.site_folder) as url:
            yield url
        return
    if experiment.base_url is None:  # the model refuses an experiment with neither
        raise InputError("neither site nor base_url", source=str(experiment.path), field="site",
                         fix="give `site` (a folder) or `base_url` (a running site)")
    check_reachable(experiment.base_url.rstrip("/") + experiment.entry, source=str(experiment.path))
    yield experiment.base_url.rstrip("/")
