"""The ``uiab`` fixture's object: smoke, simulate and rollout with the CLI's options, returning typed results.

The harness is session-scoped and never changes. What the running test asks of it (its experiment marker,
persona, variant marker) and the runs it made are a :class:`RunningTest`, made current for that test by
:func:`running` — a context variable, so no per-test state is written onto the shared harness.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from harness.gate.model import RolloutReport
    from harness.run.experiment import Experiment, Variant
    from harness.run.simulate import SimulationReport
    from harness.run.smoke_job import SmokeReport
    from harness.settings import Settings

__all__ = ["DEFAULT_SESSIONS", "RunningTest", "UiabHarness", "UsedRun", "run_sync", "running"]

T = TypeVar("T")

DEFAULT_SESSIONS = 20  # visitors per uiab.simulate() when neither the test nor the options say


@dataclass
class UsedRun:
    """One run a test made: enough to walk the same variants again for its failure artifacts."""

    kind: str
    experiment: Path
    variants: list[Variant]
    devices: list[str]
    summary: dict[str, Any]


@dataclass
class RunningTest:
    """What the running test asks of the harness, and the runs it made."""

    experiment: Callable[[], Path]  # the ``uiab_experiment`` fixture, resolved only if a call needs it
    personas: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    used: list[UsedRun] = field(default_factory=list)


_CURRENT: ContextVar[RunningTest | None] = ContextVar("uiab_test_scope", default=None)


@contextmanager
def running(scope: RunningTest) -> Iterator[RunningTest]:
    """Make ``scope`` the running test while the block runs (an async test's tasks inherit it)."""
    _CURRENT.set(scope)
    try:
        yield scope
    finally:
        # set(None), not reset(token): pytest may tear a fixture down in another context than it set it up in.
        _CURRENT.set(None)


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from synchronous code.

    The harness's methods are synchronous, as the CLI is. Called from an async test (pytest-asyncio), the
    test's loop is running in this thread and ``asyncio.run`` refuses to nest, and no public API runs a second
    loop in the same thread; so there the coroutine gets its own loop on a worker thread, and the test waits.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class UiabHarness:
    """The ``uiab`` fixture: smoke, simulate and rollout with the CLI's options, returning typed results."""

    def __init__(self, settings: Settings, *, sessions: int = DEFAULT_SESSIONS,
                 experiment: Path | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self.default_experiment = experiment

    @staticmethod
    def _scope() -> RunningTest | None:
        return _CURRENT.get()

    def _experiment(self, experiment: str | Path | None) -> Experiment:
        from harness.run.experiment import load_experiment

        scope = self._scope()
        if experiment is not None:
            return load_experiment(Path(experiment))
        if scope is not None:
            return load_experiment(scope.experiment())
        if self.default_experiment is None:
            pytest.fail("uiab: no experiment — pass experiment=..., --uiab-experiment PATH, the ini key "
                        "uiab_experiment, or @pytest.mark.uiab_experiment(PATH)", pytrace=False)
        return load_experiment(self.default_experiment)

    def _variants(self, experiment: Experiment, variants: Sequence[str] | None) -> list[str]:
        if variants is not None:
            return list(variants)
        scope = self._scope()
        if scope is None or not scope.variants:
            return []  # every variant of the experiment
        names = [v.name for v in experiment.variants]
        control = experiment.rollout.control if experiment.rollout.control in names else names[0]
        return list(dict.fromkeys([control, *scope.variants]))

    def _personas(self, personas: Sequence[str] | None) -> list[str]:
        if personas is not None:
            return list(personas)
        scope = self._scope()
        return list(scope.personas) if scope is not None else []

    def _record(self, kind: str, experiment: Experiment, variants: list[Variant], devices: list[str],
                summary: dict[str, Any]) -> None:
        scope = self._scope()
        if scope is not None:
            scope.used.append(UsedRun(kind, experiment.path, variants, devices, summary))

    def smoke(self, experiment: str | Path | None = None, *, variants: Sequence[str] | None = None,
              devices: Sequence[str] | None = None) -> SmokeReport:
        """``uiab smoke``: walk the funnel per variant and device; a persona-bound test walks its device only."""
        from harness.run.population import experiment_devices
        from harness.run.smoke_job import run_smoke

        exp = self._experiment(experiment)
        chosen = self._variants(exp, variants)
        personas = self._personas(None)
        device_names = list(devices) if devices is not None else (experiment_devices(exp, personas) if personas
                                                                  else [])
        report = run_sync(run_smoke(exp.path, self.settings, variants=chosen, devices=device_names))
        walked = list(dict.fromkeys(w.device for w in report.walks))
        self._record("smoke", exp, [exp.variant(n) for n in dict.fromkeys(w.variant for w in report.walks)], walked,
                     report.to_dict())
        return report

    def simulate(self, experiment: str | Path | None = None, *, sessions: int | None = None, seed: int | None = None,
                 variants: Sequence[str] | None = None, paired: bool = False, personas: Sequence[str] | None = None,
                 concurrency: int | None = None) -> SimulationReport:
        """``uiab simulate``: ``sessions`` visitors (default --uiab-sessions); the test's persona if it has one."""
        from harness.run.population import experiment_devices
        from harness.run.simulate import simulate

        exp = self._experiment(experiment)
        chosen = self._variants(exp, variants)
        who = self._personas(personas)
        report = run_sync(simulate(exp.path, self.settings, sessions=sessions or self.sessions,
                                   seed=self.settings.seed if seed is None else seed, variants=chosen, paired=paired,
                                   concurrency=concurrency, personas=who))
        ran = [exp.variant(n) for n in chosen] if chosen else list(exp.variants)
        summary = {k: v for k, v in report.to_dict().items() if k != "variant_persona"}
        self._record("simulate", exp, ran, experiment_devices(exp, who), summary)
        return report

    def rollout(self, experiment: str | Path | None = None, *, candidate: str, control: str | None = None,
                stages: Sequence[int] | None = None, sessions_per_stage: int | None = None, seed: int | None = None,
                report_dir: Path | None = None) -> RolloutReport:
        """``uiab rollout``: gate ``candidate``; verdict in ``.verdict``, exit code in ``.exit_code``.

        The gate always judges the experiment's whole persona mix, also in a persona-bound test: a release
        decision for one persona is not one the gate makes.
        """
        from harness.gate.candidates import resolve_candidate
        from harness.gate.model import RolloutOptions
        from harness.gate.rollout import run_rollout
        from harness.run.population import experiment_devices

        exp = self._experiment(experiment)
        options = RolloutOptions(candidate=candidate, control=control,
                                 stages=tuple(stages) if stages is not None else None,
                                 sessions_per_stage=sessions_per_stage, seed=seed, report_dir=report_dir)
        report = run_sync(run_rollout(exp.path, self.settings, options))
        arms = [exp.variant(control or exp.rollout.control), resolve_candidate(exp, candidate)]
        self._record("rollout", exp, arms, experiment_devices(exp), report.to_dict())
        return report
