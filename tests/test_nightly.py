"""``uiab nightly``: the steps in order, resumed after an interruption, a broken funnel stopping the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import harness.interfaces.nightly as nightly
from harness.interfaces.nightly import STEPS, NightlyOptions, run_nightly, state_path
from harness.settings import load_settings

KETTLE = Path(__file__).resolve().parent / "pages" / "rollout" / "experiment.toml"


class _FakeSteps:
    """Step functions that record their calls; ``fail_at`` raises KeyboardInterrupt once, as Ctrl-C would."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail_at: str | None = None, smoke_ok: bool = True) -> None:
        self.calls: list[str] = []
        self.fail_at = fail_at
        self.next_run = 1
        for step in STEPS:
            monkeypatch.setattr(nightly, f"_{step}", self._make(step, smoke_ok))

    def _make(self, step: str, smoke_ok: bool) -> Any:
        def run(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
            if step == self.fail_at:
                self.fail_at = None
                raise KeyboardInterrupt
            self.calls.append(step)
            self.next_run += 1
            out: dict[str, Any] = {"run_id": self.next_run}
            if step == "smoke":
                out.update(ok=smoke_ok, control_ok=smoke_ok, broken=[] if smoke_ok else ["control"])
            if step == "train":
                out["checkpoint"] = "agent.pt"
            if step == "rollout":
                out.update(verdict="inconclusive", exit_code=3)
            if step == "report":
                out["index"] = "index.html"
            return out
        return run


def _settings(tmp_path: Path) -> Any:
    return load_settings(db=tmp_path / "u.db", report_dir=tmp_path / "reports")


def test_an_interrupted_nightly_resumes_at_the_unfinished_step(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    steps = _FakeSteps(monkeypatch, fail_at="train")
    with pytest.raises(KeyboardInterrupt):
        run_nightly(KETTLE, _settings(tmp_path), NightlyOptions())
    assert steps.calls == ["smoke", "simulate"]
    state = json.loads(state_path(tmp_path / "reports" / "nightly-kettle-order").read_text())
    assert set(state["steps"]) == {"smoke", "simulate"} and not state["finished"]
    result = run_nightly(KETTLE, _settings(tmp_path), NightlyOptions())
    assert steps.calls == ["smoke", "simulate", "train", "rollout", "report"]  # nothing done twice
    assert result.resumed_from == "train" and result.verdict == "inconclusive" and result.exit_code == 3
    # A finished nightly is not resumed: the same command starts a new one.
    again = run_nightly(KETTLE, _settings(tmp_path), NightlyOptions())
    assert again.resumed_from is None and steps.calls[5:] == list(STEPS)


def test_other_options_or_fresh_start_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = _FakeSteps(monkeypatch, fail_at="rollout")
    with pytest.raises(KeyboardInterrupt):
        run_nightly(KETTLE, _settings(tmp_path), NightlyOptions())
    run_nightly(KETTLE, _settings(tmp_path), NightlyOptions(sessions=7))  # other budget: not the same nightly
    assert steps.calls == ["smoke", "simulate", "train", *STEPS]
    steps.fail_at = "report"
    with pytest.raises(KeyboardInterrupt):
        run_nightly(KETTLE, _settings(tmp_path), NightlyOptions())
    run_nightly(KETTLE, _settings(tmp_path), NightlyOptions(fresh=True))
    assert steps.calls[-5:] == list(STEPS)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"experiment": "x"}', '{"steps": 3, "finished": "no"}'])
def test_an_unreadable_state_file_starts_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    folder = tmp_path / "reports" / "nightly-kettle-order"
    folder.mkdir(parents=True)
    state_path(folder).write_text(text)
    steps = _FakeSteps(monkeypatch)
    result = run_nightly(KETTLE, _settings(tmp_path), NightlyOptions())
    assert steps.calls == list(STEPS) and result.resumed_from is None
    state = json.loads(state_path(folder).read_text())
    assert state["finished"] and set(state["steps"]) == set(STEPS)


def test_a_broken_control_skips_to_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = _FakeSteps(monkeypatch, smoke_ok=False)
    result = run_nightly(KETTLE, _settings(tmp_path), NightlyOptions())
    assert steps.calls == ["smoke", "report"] and not result.smoke_ok and result.verdict is None


def test_nightly_cli_runs_every_step_on_the_kettle_site(tmp_path: Path) -> None:
    """The real pipeline at a tiny budget: the broken variant left out, every step run, the report copied to latest."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "harness.interfaces.cli", "nightly", str(KETTLE), "--sessions", "2",
                           "--train-sessions", "3", "--stages", "100", "--sessions-per-stage", "4", "--seed", "5",
                           "--db", str(tmp_path / "u.db"), "--out", str(tmp_path / "reports"), "--json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 1, done.stderr  # hide-buy hides the buy button on phones: the smoke walk says so
    result = json.loads(done.stdout)
    assert result["steps"]["smoke"]["broken"] == ["hide-buy"]
    assert "hide-buy" not in result["steps"]["simulate"]["conversion"]
    assert list(result["steps"]) == list(STEPS) and result["resumed_from"] is None
    assert result["verdict"] in ("promote", "rollback", "inconclusive")
    assert result["steps"]["rollout"]["candidate"]["train_run"] == result["steps"]["train"]["run_id"]
    latest = (tmp_path / "reports" / "latest" / "index.html").read_text()
    assert 'id="nightly-steps"' in latest and 'id="verdict"' in latest
    for step in ("simulate", "train"):
        assert (tmp_path / "reports" / "nightly-kettle-order" / step / "index.html").is_file()
    state = json.loads(state_path(tmp_path / "reports" / "nightly-kettle-order").read_text())
    assert state["finished"]
