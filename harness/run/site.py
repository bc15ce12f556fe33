"""Where an experiment's site is: its folder served on loopback, or its running ``base_url`` checked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from agent.kernel import InputError
from harness.browser.server import check_reachable, serve_folder
from harness.run.experiment import Experiment

__all__ = ["check_site_pages", "site_url"]


def _page_file(folder: Path, path: str) -> Path | None:
    """The file the loopback server answers ``path`` with; ``None`` where it would answer 404 or leave ``folder``."""
    relative = unquote(urlsplit(path).path).lstrip("/")
    target = (folder / relative).resolve()
    if not target.is_relative_to(folder):
        return None
    if target.is_dir():
        target = target / "index.html"  # what SimpleHTTPRequestHandler serves for a folder
    return target if target.is_file() else None


def check_site_pages(experiment: Experiment) -> None:
    """Every page the experiment names (entry, funnel pages, goal URLs) is a file in its site folder."""
    folder = experiment.site_folder
    if folder is None:
        return  # a running site: its entry is checked when it is reached (check_reachable)
    named = [("entry", experiment.entry)]
    named += [(f"funnel[{i}].page", step.page) for i, step in enumerate(experiment.funnel)]
    named += [(f"goals.{name}.url", goal.url) for name, goal in experiment.goals.items() if goal.url]
    for field, page in named:
        if _page_file(folder, page) is None:
            raise InputError(f"{page} is not a file in the site folder {folder}", source=str(experiment.path),
                             field=field, fix="correct the path (it starts at the site folder) or add the page")


@contextmanager
def site_url(experiment: Experiment) -> Iterator[str]:
    """The experiment's site on loopback (served from its folder) or its running ``base_url``."""
    if experiment.site_folder is not None:
        check_site_pages(experiment)  # a missing page is bad input, not a smoke failure
        with serve_folder(experiment.site_folder) as url:
            yield url
        return
    if experiment.base_url is None:  # the model refuses an experiment with neither
        raise InputError("neither site nor base_url", source=str(experiment.path), field="site",
                         fix="give `site` (a folder) or `base_url` (a running site)")
    check_reachable(experiment.base_url.rstrip("/") + experiment.entry, source=str(experiment.path))
    yield experiment.base_url.rstrip("/")
