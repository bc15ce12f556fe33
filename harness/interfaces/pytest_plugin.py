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
  per test, see :func:`harness.interfaces.plugin_artifacts.write_artifacts`.

The fixtures are layered as pytest-playwright's are: ``uiab_settings_args`` → ``uiab_settings`` → ``uiab``,
and per test ``uiab_experiment`` and ``persona`` (→ ``_uiab_persona``, the collected parameter), which
``_uiab_test`` makes current for the harness and ``_uiab_artifacts`` turns into artifacts after a failure.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# The plugin loads in every pytest run of an environment with uiab installed, so it imports no browser and no
# runs at load time: Playwright, SciPy and the harness's rooms load with the first test that asks for ``uiab``.
from harness.interfaces.plugin_artifacts import artifact_folder, write_artifacts
from harness.interfaces.plugin_harness import DEFAULT_SESSIONS, RunningTest, UiabHarness, running

if TYPE_CHECKING:
    from harness.settings import Settings

__all__ = ["UiabHarness", "persona", "uiab", "uiab_experiment", "uiab_settings", "uiab_settings_args"]

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
_PLAYWRIGHT = ("pytest_playwright", "pytest_playwright_asyncio")  # pytest-playwright's plugin modules


# --- options and markers ----------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
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
    if _playwright_owns_output(pluginmanager):
        return
    try:
        group.addoption("--output", default="test-results",
                        help="directory for artifacts produced by tests, defaults to test-results")
    except ValueError:  # pytest refuses a second --output in one group: a plugin of ours registered it first
        pass


def _playwright_owns_output(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Is ``--output`` pytest-playwright's: registered already, or installed and so registered later?"""
    # pytest-playwright registers --output unconditionally. Entry-point plugins load in no set order, so
    # where it is merely installed it may come after uiab, and a second registration would be an argparse
    # conflict that breaks it: being installed is enough for it to own the option.
    if any(pluginmanager.has_plugin(name) for name in ("playwright", "playwright-asyncio", *_PLAYWRIGHT)):
        return True
    return any(importlib.util.find_spec(module) is not None for module in _PLAYWRIGHT)


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
    # Our `persona` asks for `_uiab_persona`; a conftest's own `persona` that does not is theirs to parametrise.
    if "_uiab_persona" not in metafunc.fixturenames:
        return
    if any("persona" in _argnames(m) for m in metafunc.definition.iter_markers("parametrize")):
        return  # the test parametrises persona itself
    names = _persona_names(metafunc)
    metafunc.parametrize("_uiab_persona", names, ids=names, indirect=True)


def _argnames(marker: pytest.Mark) -> list[str]:
    names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
    return [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)


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
def _uiab_persona(request: pytest.FixtureRequest) -> str:
    """The persona name collected for this test (see :func:`pytest_generate_tests`)."""
    name = getattr(request, "param", None)
    if name is None:
        pytest.fail("uiab: `persona` is set at collection; request it as a test argument, not dynamically",
                    pytrace=False)
    return str(name)


@pytest.fixture
def persona(_uiab_persona: str) -> str:
    """The persona this test runs as (a name of the experiment's mix); its uiab simulations use it alone."""
    return _uiab_persona


@pytest.fixture
def _uiab_test(request: pytest.FixtureRequest, uiab: UiabHarness) -> Iterator[RunningTest]:
    """The running test as the ``uiab`` harness sees it: its experiment, persona, variant marker, its runs."""
    marker = request.node.get_closest_marker("variant")
    test = RunningTest(experiment=lambda: Path(request.getfixturevalue("uiab_experiment")),
                       personas=(request.getfixturevalue("persona"),) if "persona" in request.fixturenames else (),
                       variants=tuple(str(a) for a in marker.args) if marker else ())
    with running(test):
        yield test


@pytest.fixture(autouse=True)
def _uiab_artifacts(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a failed test that used ``uiab``, write its artifacts under --output (pytest-playwright's way)."""
    harness = request.getfixturevalue("uiab") if "uiab" in request.fixturenames else None
    if not isinstance(harness, UiabHarness):
        yield  # no uiab, or a conftest's own `uiab` fixture: nothing of ours to record
        return
    test: RunningTest = request.getfixturevalue("_uiab_test")
    yield
    reports = request.node.stash.get(_REPORTS, {})
    if test.used and any(r.failed for r in reports.values()):
        folder = artifact_folder(request.node)
        write_artifacts(harness.settings, test.used, folder)
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
