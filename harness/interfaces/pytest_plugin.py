"""uiab's pytest plugin: the ``uiab`` harness, ``persona`` and ``uiab_experiment`` fixtures, markers, options.

Loaded through the ``pytest11`` entry point ``uiab``, in pytest-playwright's manner and usable beside it:

* ``uiab`` (session scope): ``uiab.smoke(...)``, ``uiab.simulate(...)``, ``uiab.rollout(...)``, whose keyword
  arguments mirror the CLI's options and which return the CLI's typed results (``SmokeReport``,
  ``SimulationReport``, ``RolloutReport``). Runs go to a temporary database per session (per xdist worker).
* ``uiab_experiment``: the experiment.toml — ``@pytest.mark.uiab_experiment(PATH)`` (relative to the test
  file), else ``--uiab-experiment`` (relative to the working directory), else the ini key ``uiab_experiment``
  (relative to the ini file). Override the fixture to compute it.
* ``persona``: a test that uses it runs once per persona — ``@pytest.mark.persona(NAME, ...)``, else
  ``--uiab-persona`` (repeatable), else ini ``uiab_persona``, else every persona of the experiment's mix —
  and its ``uiab.simulate()`` runs that persona alone (``uiab.smoke()`` its device alone).
* ``@pytest.mark.variant(NAME, ...)``: the variants ``uiab.simulate()``/``uiab.smoke()`` run by default, with
  the experiment's control added so the :mod:`harness.testing` assertions have a baseline.
* ``uiab_settings_args`` (session): overrides for :class:`harness.settings.Settings` (db, seed,
  concurrency, browser_endpoint, report_dir, ...); override it in a conftest to change them.
* Failed tests that used ``uiab`` leave artifacts under ``--output`` (default ``test-results``), one folder
  per test, see :func:`_write_artifacts`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import importlib.util
import json
import re
from collections.abc import Coroutine, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

# Only pytest is imported at load time: the plugin loads in every pytest run of an environment with uiab
# installed, and Playwright, NumPy and SciPy are imported by the first test that asks for ``uiab``.
if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext

    from harness.run.experiment import Experiment, Variant
    from harness.gate.rollout import RolloutReport
    from harness.settings import Settings
    from harness.run.simulate import SimulationReport
    from harness.run.smoke_job import SmokeReport

__all__ = ["UiabHarness", "persona", "uiab", "uiab_experiment", "uiab_settings", "uiab_settings_args"]

T = TypeVar("T")

DEFAULT_SESSIONS = 20  # visitors per uiab.simulate() when neither the test nor the options say
_MAX_ARTIFACT_WALKS = 12  # a failure's re-walks (variant × device) stop here: artifacts must not take minutes
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


# --- options and markers ----------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``uiab`` option group; each option has an ini key of the same name with ``_`` for ``-``."""
    group = parser.getgroup("uiab", "uiab: synthetic personas in real Chromium")
    group.addoption("--uiab-experiment", dest="uiab_experiment", metavar="PATH", default=None,
                    help="experiment.toml for the uiab fixtures (ini: uiab_experiment)")
    group.addoption("--uiab-sessions", dest="uiab_sessions", metavar="N", type=int, default=None,
                    help=f"visitors per uiab.simulate() that names none (ini: uiab_sessions; "
                         f"default {DEFAULT_SESSIONS})")
    group.addoption("--uiab-seed", dest="uiab_seed", metavar="N", type=int, default=None,
                    help="run seed for uiab runs (ini: uiab_seed; default UIAB_SEED or 0)")
    group.addoption("--uiab-persona", dest="uiab_persona", metavar="NAME", action="append", default=None,
                    help="run tests that use the `persona` fixture once as NAME (repeatable; ini: uiab_persona)")
    group.addoption("--uiab-browser-endpoint", dest="uiab_browser_endpoint", metavar="WS_URL", default=None,
                    help="connect to this Playwright browser server instead of launching Chromium "
                         "(ini: uiab_browser_endpoint)")
    parser.addini("uiab_experiment", "experiment.toml for the uiab fixtures, relative to this file", default="")
    parser.addini("uiab_sessions", f"visitors per uiab.simulate() that names none (default {DEFAULT_SESSIONS})",
                  default="")
    parser.addini("uiab_seed", "run seed for uiab runs", default="")
    parser.addini("uiab_persona", "personas for tests that use the `persona` fixture", type="args", default=[])
    parser.addini("uiab_browser_endpoint", "ws:// of a Playwright browser server to connect to", default="")
    if not _output_taken(parser):
        try:
            group.addoption("--output", default="test-results",
                            help="directory for artifacts produced by tests, defaults to test-results")
        except ValueError:  # another plugin of ours registered it in this group first
            pass


def _output_taken(parser: pytest.Parser) -> bool:
    """Is ``--output`` pytest-playwright's (installed, so it will register it) or already registered?"""
    # pytest-playwright registers --output unconditionally; if uiab registered it first, argparse would
    # refuse the second registration and break pytest-playwright. So where it is installed, it owns --output.
    if any(importlib.util.find_spec(m) is not None for m in ("pytest_playwright", "pytest_playwright_asyncio")):
        return True
    groups = [*getattr(parser, "_groups", []), getattr(parser, "_anonymous", None)]
    return any("--output" in option.names() for g in groups if g is not None for option in g.options)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers, so ``--strict-markers`` suites can use them."""
    config.addinivalue_line("markers", "persona(*names): run the test's `persona` fixture (and so its uiab "
                                       "simulations) as each named persona of the experiment's mix")
    config.addinivalue_line("markers", "variant(*names): the variants uiab.simulate() and uiab.smoke() run by "
                                       "default in this test (the experiment's control is added)")
    config.addinivalue_line("markers", "uiab_experiment(path): the experiment.toml for this test, relative to "
                                       "the test file")


def _option(config: pytest.Config, name: str) -> Any:
    """A ``--uiab-*`` option, else its ini key (``None`` when neither is set)."""
    value = config.getoption(name, default=None)
    if value is None:
        value = config.getini(name) or None
    return value


def _int_option(config: pytest.Config, name: str) -> int | None:
    value = _option(config, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise pytest.UsageError(f"{name} = {value!r} is not an integer") from None


def _configured_experiment(config: pytest.Config) -> Path | None:
    """``--uiab-experiment`` (relative to the working directory), else ini ``uiab_experiment`` (to the ini file)."""
    value = config.getoption("uiab_experiment", default=None)
    if value:
        return Path(value).absolute()
    value = config.getini("uiab_experiment")
    if value:
        base = config.inipath.parent if config.inipath else config.rootpath
        return (base / str(value)).resolve()
    return None


def _marked_experiment(node: pytest.Item) -> Path | None:
    marker = node.get_closest_marker("uiab_experiment")
    if marker is None:
        return None
    if len(marker.args) != 1:
        raise pytest.UsageError(f"{node.nodeid}: @pytest.mark.uiab_experiment takes one path")
    return (Path(node.path).parent / str(marker.args[0])).resolve()


# --- the persona parameter ---------------------------------------------------------------------------------
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a test that uses ``persona`` once per persona: marker, else --uiab-persona, else ini, else the mix."""
    if "persona" not in metafunc.fixturenames or not _persona_is_ours(metafunc):
        return
    if any("persona" in _argnames(m) for m in metafunc.definition.iter_markers("parametrize")):
        return  # the test parametrises persona itself
    names = _persona_names(metafunc)
    metafunc.parametrize("persona", names, ids=names, indirect=True)


def _argnames(marker: pytest.Mark) -> list[str]:
    names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
    return [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)


def _persona_is_ours(metafunc: pytest.Metafunc) -> bool:
    """False when a conftest defines its own ``persona`` fixture: then it is theirs to parametrise."""
    definitions = getattr(metafunc, "_arg2fixturedefs", {}).get("persona")
    return not definitions or getattr(definitions[-1].func, "__module__", None) == __name__


def _persona_names(metafunc: pytest.Metafunc) -> list[str]:
    marker = metafunc.definition.get_closest_marker("persona")
    if marker is not None:
        if not marker.args:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: @pytest.mark.persona needs at least one name")
        return [str(a) for a in marker.args]
    config = metafunc.config
    chosen = config.getoption("uiab_persona", default=None) or config.getini("uiab_persona")
    if chosen:
        return list(dict.fromkeys(str(n) for n in chosen))
    path = _marked_experiment(metafunc.definition) or _configured_experiment(config)
    if path is None:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid} uses `persona` but names none: add @pytest.mark.persona(NAME), pass "
            "--uiab-persona NAME, or set uiab_experiment so every persona of its mix runs")
    from harness.run.experiment import load_experiment
    from harness.run.population import experiment_personas

    return [p.name for p in experiment_personas(load_experiment(path))]


# --- the harness ----------------------------------------------------------------------------------------------
@dataclass
class _Used:
    """One run a test made: enough to walk the same variants again for its failure artifacts."""

    kind: str
    experiment: Path
    variants: list[Variant]
    devices: list[str]
    summary: dict[str, Any]


@dataclass
class _TestScope:
    """What the running test asks of the harness (its experiment, personas, variants) and what it ran."""

    request: pytest.FixtureRequest
    personas: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    used: list[_Used] = field(default_factory=list)

    def experiment(self) -> Path:
        return Path(self.request.getfixturevalue("uiab_experiment"))


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end; inside a running loop (an async test) on a thread with its own loop."""
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
        self._scope: _TestScope | None = None

    # The running test binds itself here (an autouse fixture), so the session-scoped harness knows the
    # test's experiment marker, persona and variant marker without every call repeating them.
    def _enter(self, scope: _TestScope) -> None:
        self._scope = scope

    def _leave(self) -> _TestScope | None:
        scope, self._scope = self._scope, None
        return scope

    def _experiment(self, experiment: str | Path | None) -> Experiment:
        from harness.run.experiment import load_experiment

        if experiment is not None:
            return load_experiment(Path(experiment))
        if self._scope is not None:
            return load_experiment(self._scope.experiment())
        if self.default_experiment is None:
            pytest.fail("uiab: no experiment — pass experiment=..., --uiab-experiment PATH, the ini key "
                        "uiab_experiment, or @pytest.mark.uiab_experiment(PATH)", pytrace=False)
        return load_experiment(self.default_experiment)

    def _variants(self, experiment: Experiment, variants: Sequence[str] | None) -> list[str]:
        if variants is not None:
            return list(variants)
        if self._scope is None or not self._scope.variants:
            return []  # every variant of the experiment
        names = [v.name for v in experiment.variants]
        control = experiment.rollout.control if experiment.rollout.control in names else names[0]
        return list(dict.fromkeys([control, *self._scope.variants]))

    def _personas(self, personas: Sequence[str] | None) -> list[str]:
        if personas is not None:
            return list(personas)
        return list(self._scope.personas) if self._scope is not None else []

    def _record(self, kind: str, experiment: Experiment, variants: list[Variant], devices: list[str],
                summary: dict[str, Any]) -> None:
        if self._scope is not None:
            self._scope.used.append(_Used(kind, experiment.path, variants, devices, summary))

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
        report = _run(run_smoke(exp.path, self.settings, variants=chosen, devices=device_names))
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
        report = _run(simulate(exp.path, self.settings, sessions=sessions or self.sessions,
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
        from harness.run.population import experiment_devices
        from harness.gate.rollout import RolloutOptions, resolve_candidate, run_rollout

        exp = self._experiment(experiment)
        options = RolloutOptions(candidate=candidate, control=control,
                                 stages=tuple(stages) if stages is not None else None,
                                 sessions_per_stage=sessions_per_stage, seed=seed, report_dir=report_dir)
        report = _run(run_rollout(exp.path, self.settings, options))
        arms = [exp.variant(control or exp.rollout.control), resolve_candidate(exp, candidate)]
        self._record("rollout", exp, arms, experiment_devices(exp), report.to_dict())
        return report


# --- fixtures ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def uiab_settings_args(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Keyword overrides for :class:`harness.settings.Settings`; a temporary database per session (xdist worker)."""
    folder = tmp_path_factory.mktemp("uiab")
    args: dict[str, Any] = {"db": folder / "uiab.db", "report_dir": folder / "reports"}
    seed = _int_option(pytestconfig, "uiab_seed")
    if seed is not None:
        args["seed"] = seed
    endpoint = _option(pytestconfig, "uiab_browser_endpoint")
    if endpoint:
        args["browser_endpoint"] = str(endpoint)
    return args


@pytest.fixture(scope="session")
def uiab_settings(uiab_settings_args: dict[str, Any]) -> Settings:
    """The settings every ``uiab`` run uses: UIAB_* environment and uiab.toml, under ``uiab_settings_args``."""
    from harness.settings import load_settings

    return load_settings(**uiab_settings_args)


@pytest.fixture(scope="session")
def uiab(uiab_settings: Settings, pytestconfig: pytest.Config) -> UiabHarness:
    """The session's harness: ``uiab.smoke()``, ``uiab.simulate()``, ``uiab.rollout()``."""
    sessions = _int_option(pytestconfig, "uiab_sessions") or DEFAULT_SESSIONS
    return UiabHarness(uiab_settings, sessions=sessions, experiment=_configured_experiment(pytestconfig))


@pytest.fixture
def uiab_experiment(request: pytest.FixtureRequest) -> Path:
    """The test's experiment.toml: marker, else --uiab-experiment, else the ini key ``uiab_experiment``."""
    path = _marked_experiment(request.node) or _configured_experiment(request.config)
    if path is None:
        pytest.fail("uiab: no experiment — add @pytest.mark.uiab_experiment(PATH), pass --uiab-experiment PATH "
                    "or set the ini key uiab_experiment", pytrace=False)
    return path


@pytest.fixture
def persona(request: pytest.FixtureRequest) -> str:
    """The persona this test runs as (a name of the experiment's mix); its uiab simulations use it alone."""
    name = getattr(request, "param", None)
    if name is None:
        pytest.fail("uiab: `persona` is set at collection; request it as a test argument, not dynamically",
                    pytrace=False)
    return str(name)


@pytest.fixture(autouse=True)
def _uiab_test_scope(request: pytest.FixtureRequest) -> Iterator[None]:
    """Bind the running test to the ``uiab`` harness; after a failure, write its artifacts under --output."""
    if "uiab" not in request.fixturenames:
        yield
        return
    harness = request.getfixturevalue("uiab")
    if not isinstance(harness, UiabHarness):  # a conftest's own `uiab` fixture: nothing of ours to bind
        yield
        return
    marker = request.node.get_closest_marker("variant")
    scope = _TestScope(request,
                       personas=(request.getfixturevalue("persona"),) if "persona" in request.fixturenames else (),
                       variants=tuple(str(a) for a in marker.args) if marker else ())
    harness._enter(scope)
    yield
    harness._leave()
    reports = request.node.stash.get(_REPORTS, {})
    if scope.used and any(r.failed for r in reports.values()):
        folder = _test_folder(request.node)
        _write_artifacts(harness.settings, scope.used, folder)
        request.node.user_properties.append(("uiab_artifacts", str(folder)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Keep each phase's report on the item, as pytest-playwright does, so teardown knows the test failed."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    item.stash.setdefault(_REPORTS, {})[report.when] = report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where each failed test's screenshots and trace are (xdist workers' reports carry it too)."""
    folders: dict[str, str] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "teardown":
                continue
            for key, value in getattr(report, "user_properties", ()):
                if key == "uiab_artifacts":
                    folders[report.nodeid] = str(value)
    if folders:
        terminalreporter.section("uiab failure artifacts")
        for nodeid, folder in folders.items():
            terminalreporter.write_line(f"{nodeid}: {folder}")


# --- failure artifacts ------------------------------------------------------------------------------------
def _output_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("output", default=None) or "test-results").absolute()


def _slug(text: str) -> str:
    """python-slugify's result for ASCII text: lower case, every run of other characters one dash."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _test_folder(item: pytest.Item) -> Path:
    """``--output``/<slug of the test id>, named exactly as pytest-playwright names it, so both share it."""
    name = _slug(item.nodeid)
    retry = getattr(item, "execution_count", 1) - 1  # pytest-rerunfailures: a folder per attempt
    if retry > 0:
        name += f"-retry{retry}"
    if len(name) >= 256:
        name = f"{name[:100]}-{hashlib.sha256(name.encode()).hexdigest()[:7]}-{name[-100:]}"
    return _output_dir(item.config) / name


def _write_artifacts(settings: Settings, used: Sequence[_Used], folder: Path) -> None:
    """Write a failed test's artifacts; a problem here is noted in the folder, never raised over the failure.

    What the folder holds:

    * ``uiab-runs.json`` — the summary of every smoke/simulate/rollout run the test made.
    * ``<variant>__<device>__NN_<page>.png`` — a screenshot of each funnel page, from one fresh
      deterministic walk of the funnel (smoke's walk: each step's ``next`` clicked at its centre) per variant
      and device the test ran.
    * ``trace-<variant>-<device>.zip`` — a Playwright trace (screenshots and DOM snapshots) of that same walk;
      open it with ``playwright show-trace``.

    These show how each variant renders and whether its funnel can be walked. They are *not* recordings of
    the persona sessions the failing numbers came from: those ran untraced (tracing every visitor would cost
    more than the runs), and a trace's timestamps are wall-clock, not the sessions' virtual clock.
    """
    # No clearing first: pytest-playwright may have put this test's page artifacts in the same folder.
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "uiab-runs.json").write_text(
        json.dumps([{"kind": u.kind, "experiment": str(u.experiment), **u.summary} for u in used], indent=2,
                   default=str), encoding="utf-8")
    jobs: dict[tuple[Path, str, str], tuple[Variant, str]] = {}
    for u in used:
        for variant in u.variants:
            for device in u.devices:
                jobs.setdefault((u.experiment, variant.name, device), (variant, device))
    try:
        _run(_walk_and_trace(settings, list(jobs.items())[:_MAX_ARTIFACT_WALKS], folder))
    except Exception as exc:  # the test's own failure is what the user must see, not this one
        (folder / "artifacts-error.txt").write_text(f"{type(exc).__name__}: {exc}\n", encoding="utf-8")


async def _walk_and_trace(settings: Settings, jobs: Sequence[tuple[tuple[Path, str, str], tuple[Variant, str]]],
                          folder: Path) -> None:
    """One smoke walk per (variant, device), each in its own traced context, screenshots into ``folder``."""
    from harness.browser.launch import BrowserSession, open_browser
    from harness.run.experiment import load_experiment
    from harness.run.smoke import smoke_walk
    from harness.run.smoke_job import site_url

    by_experiment: dict[Path, list[tuple[Variant, str]]] = {}
    for (path, _, _), job in jobs:
        by_experiment.setdefault(path, []).append(job)
    async with open_browser(settings) as session:
        for path, walks in by_experiment.items():
            experiment = load_experiment(path)
            with site_url(experiment) as base_url:
                for variant, device in walks:
                    trace = folder / f"trace-{_slug(variant.name)}-{_slug(device)}.zip"
                    wrapped = cast("Browser", _TracingBrowser(session.browser, trace))
                    traced = BrowserSession(session.playwright, wrapped)
                    await smoke_walk(traced, experiment, variant, device, base_url, screenshot_dir=folder)


class _TracingBrowser:
    """A Browser whose new contexts are traced from creation and write the trace when they close."""

    # smoke_walk opens and closes its own context; wrapping the browser is how the trace spans exactly it.

    def __init__(self, browser: Browser, path: Path) -> None:
        self._browser = browser
        self._path = path

    async def new_context(self, **kwargs: Any) -> _TracedContext:
        context = await self._browser.new_context(**kwargs)
        await context.tracing.start(screenshots=True, snapshots=True, title=self._path.stem)
        return _TracedContext(context, self._path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


class _TracedContext:
    """A BrowserContext that stops its trace (writing the zip) before it closes."""

    def __init__(self, context: BrowserContext, path: Path) -> None:
        self._context = context
        self._path = path

    async def close(self, **kwargs: Any) -> None:
        try:
            await self._context.tracing.stop(path=str(self._path))
        finally:
            await self._context.close(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)
