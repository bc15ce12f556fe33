"""The uiab pytest plugin, run the way users run it: a small suite under ``pytester``, alone and under xdist."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

KETTLE = Path(__file__).resolve().parent / "pages" / "rollout"

# A one-page funnel (tests/pages/rollout) whose control is the clear, big order button and whose other
# variant hides it: the regression is large enough that four paired visitors show it every time.
EXPERIMENT = f"""
name = "kettle-qa"
site = "{KETTLE}"
entry = "/index.html"
personas = ["hurried-mobile-shopper", "careful-desktop-researcher"]

[[funnel]]
page = "/index.html"
next = "#buy"

[goals.conversion]
url = "/done.html"

[[variants]]
name = "control"
patch = "{KETTLE / 'variants' / 'clear-cta.toml'}"
[[variants]]
name = "hide-buy"
patch = "{KETTLE / 'variants' / 'hide-buy.css'}"
"""

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"  # pytest-asyncio warns without it

SUITE = """
import os

import pytest

from harness.testing import assert_not_worse


def test_smoke_and_a_tiny_simulation(uiab):
    assert os.environ.get("PYTEST_XDIST_WORKER", "") in str(uiab.settings.db)  # a database per worker
    smoke = uiab.smoke(variants=["control"])
    assert smoke.ok, smoke.to_dict()
    result = uiab.simulate(sessions=2, variants=["control"])
    assert len(result.outcomes) == 2 and result.control == "control"


def test_gate_rolls_back_the_hidden_button(uiab):
    report = uiab.rollout(candidate="hide-buy", stages=[100], sessions_per_stage=4)
    assert (report.verdict, report.exit_code) == ("rollback", 1)
    assert any("#buy on /index.html is not visible" in reason for reason in report.reasons)


@pytest.mark.persona("careful-desktop-researcher")
def test_persona_runs_alone(uiab, persona):
    result = uiab.simulate(sessions=2, variants=["control"])
    assert {o.plan.persona.name for o in result.outcomes} == {persona}


@pytest.mark.variant("hide-buy")
def test_hidden_button_is_not_worse(uiab):
    result = uiab.simulate(paired=True)  # the variant marker's variant, with control added
    assert set(result.by_variant()) == {"control", "hide-buy"}
    assert_not_worse(result, "hide-buy", metric="conversion", margin=0.02)
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A QA suite as a team would write it: experiment.toml, an ini naming it, one test file."""
    pytester.makefile(".toml", experiment=EXPERIMENT)
    pytester.makeini(f"{INI}uiab_experiment = experiment.toml\nuiab_sessions = 4\n")
    pytester.makepyfile(test_kettle=SUITE)
    return pytester


def test_options_ini_keys_markers_and_fixtures_are_registered(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    helped = pytester.runpytest("--help").stdout.str()
    for flag in ("--uiab-experiment", "--uiab-sessions", "--uiab-seed", "--uiab-persona", "--uiab-browser-endpoint",
                 "--output"):
        assert flag in helped
    for key in ("uiab_experiment", "uiab_sessions", "uiab_seed", "uiab_persona", "uiab_browser_endpoint"):
        assert f"{key} (" in helped
    assert "uiab: synthetic personas in real Chromium" in helped
    markers = pytester.runpytest("--markers").stdout.str()
    for marker in ("@pytest.mark.persona(*names)", "@pytest.mark.variant(*names)", "@pytest.mark.uiab_experiment"):
        assert marker in markers
    fixtures = pytester.runpytest("--fixtures").stdout.str()
    for name in ("uiab [session scope]", "uiab_settings_args [session scope]", "uiab_experiment", "persona"):
        assert name in fixtures


def test_output_is_left_to_pytest_playwright_when_it_is_there(pytester: pytest.Pytester) -> None:
    # A stand-in registering --output exactly as pytest-playwright does; two registrations would be an error.
    pytester.makepyfile(pytest_playwright="""
        def pytest_addoption(parser):
            parser.getgroup("playwright", "Playwright").addoption("--output", default="test-results")
    """)
    pytester.syspathinsert()
    pytester.makeini(INI)
    done = pytester.runpytest("-p", "pytest_playwright", "--help")
    assert done.ret == 0 and "--output" in done.stdout.str()


def test_persona_parameter_comes_from_the_option_else_the_mix(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_each="def test_each(uiab, persona):\n    pass\n")
    named = suite.runpytest("--collect-only", "-q", "test_each.py", "--uiab-persona", "a", "--uiab-persona", "b")
    named.stdout.fnmatch_lines(["test_each.py::test_each[[]a[]]", "test_each.py::test_each[[]b[]]"])
    assert named.ret == pytest.ExitCode.OK and "2 tests collected" in named.stdout.str()
    mix = suite.runpytest("--collect-only", "-q", "test_each.py")
    mix.stdout.fnmatch_lines(["*test_each[[]hurried-mobile-shopper[]]", "*test_each[[]careful-desktop-researcher[]]"])
    assert mix.ret == pytest.ExitCode.OK


def _check_failure(run: pytest.RunResult, output: Path) -> None:
    run.assert_outcomes(passed=3, failed=1)
    text = run.stdout.str()
    assert "hide-buy may be worse than control on conversion by more than the margin 2.0 pp" in text
    assert "95 % interval [−100.0 pp, −30.7 pp]" in text  # paired Newcombe: 4 of 4 visitors lost
    assert "over 4 paired visitors" in text and "personas harmed (estimate below −2.0 pp):" in text
    assert "uiab failure artifacts" in text
    folders = sorted(p.name for p in output.iterdir())
    assert folders == ["test-kettle-py-test-hidden-button-is-not-worse"]  # pytest-playwright's name; passes: none
    folder = output / folders[0]
    shots = sorted(p.name for p in folder.glob("*.png"))
    assert {s.split("__")[0] for s in shots} == {"control", "hide-buy"} and len(shots) >= 4
    traces = sorted(folder.glob("trace-*.zip"))
    assert {t.name for t in traces} >= {"trace-control-iphone-13.zip", "trace-hide-buy-desktop-chrome.zip"}
    with zipfile.ZipFile(traces[0]) as trace:
        assert "trace.trace" in trace.namelist() and any(n.endswith(".jpeg") for n in trace.namelist())
    runs = json.loads((folder / "uiab-runs.json").read_text())
    assert [r["kind"] for r in runs] == ["simulate"] and runs[0]["paired"] is True


def test_suite_passes_fails_readably_and_leaves_artifacts(suite: pytest.Pytester) -> None:
    run = suite.runpytest_subprocess("--output", "artifacts", "-p", "no:cacheprovider", timeout=300)
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    _check_failure(run, suite.path / "artifacts")


def test_same_suite_under_xdist(suite: pytest.Pytester) -> None:
    run = suite.runpytest_subprocess("-p", "xdist", "-n", "2", "-p", "no:cacheprovider", timeout=300)
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    _check_failure(run, suite.path / "test-results")  # the default --output
