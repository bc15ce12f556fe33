"""experiment.toml and settings: valid files load, bad ones give one line naming file, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.kernel import InputError
from harness.run.experiment import load_experiment
from harness.settings import load_settings

REPO = Path(__file__).resolve().parent.parent

MINIMAL = """
name = "t"
site = "."
entry = "/index.html"
personas = ["hurried-mobile-shopper"]
[[funnel]]
page = "/index.html"
next = "#go"
[goals.conversion]
url = "/done.html"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "experiment.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("site", ["shop", "saas"])
def test_demo_experiments_load(site: str) -> None:
    experiment = load_experiment(REPO / "site_fixtures" / site / "experiment.toml")
    assert experiment.site_folder is not None and experiment.site_folder.is_dir()
    assert experiment.variants[0].name == "control" and len(experiment.variants) >= 3
    assert experiment.goal_specs()


def test_minimal_experiment_defaults(tmp_path: Path) -> None:
    experiment = load_experiment(_write(tmp_path, MINIMAL))
    assert [v.name for v in experiment.variants] == ["control"]
    assert experiment.goal_specs() == [{"name": "conversion", "url": "/done.html"}]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (MINIMAL + "\nnonsense = 1\n", "nonsense"),
        (MINIMAL.replace('site = "."', 'site = "missing-folder"'), "site"),
        (MINIMAL.replace('site = "."', 'base_url = "ftp://x"'), "base_url"),
        (MINIMAL + '\n[[variants]]\nname = "a"\npatch = "nope.css"\n', "variants.a.patch"),
        (MINIMAL + '\n[goals.signup]\n', "goals.signup"),
        (MINIMAL.replace('personas = ["hurried-mobile-shopper"]', "personas = []"), "personas"),
    ],
)
def test_bad_experiment_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(InputError) as caught:
        load_experiment(_write(tmp_path, text))
    line = str(caught.value)
    assert "experiment.toml" in line and field in line and "fix:" in line and "\n" not in line


def test_malformed_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="malformed TOML"):
        load_experiment(_write(tmp_path, "name = [unclosed"))
    with pytest.raises(InputError, match="no such file"):
        load_experiment(tmp_path / "absent.toml")


def test_settings_from_environment_and_bad_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UIAB_CONCURRENCY", "3")
    monkeypatch.setenv("UIAB_DB", str(tmp_path / "x.db"))
    settings = load_settings()
    assert settings.concurrency == 3 and settings.db == tmp_path / "x.db"
    (tmp_path / "uiab.toml").write_text('seed = 7\nheadless = true\n')
    assert load_settings().seed == 7
    monkeypatch.setenv("UIAB_CONCURRENCY", "many")
    with pytest.raises(InputError, match="concurrency"):
        load_settings()
