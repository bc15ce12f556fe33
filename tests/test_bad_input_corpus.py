"""The malformed-input corpus: every bad input the probe tried, and more, through the real ``uiab`` app.

Each bad case must exit 2 (4 for a site that does not answer) with exactly one line on stderr that names the
file (or the command), the field and a fix; no traceback; and nothing written: every file under the corpus
folder is byte-identical afterwards and none is new (no database, no -wal, no report, no state.json).

The cases (tests/data/bad_inputs/cases.py) are each a broken copy of the demo shop in a folder of its own.
They run in one interpreter (tests/data/bad_inputs/driver.py): a fresh one per case spends 2.5 s importing.
A few run as the real console script as well. Valid controls must not be refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.store.migrations import MIGRATIONS, SCHEMA_VERSION

REPO = Path(__file__).resolve().parent.parent
SHOP = REPO / "site_fixtures" / "shop"
DATA = Path(__file__).resolve().parent / "data" / "bad_inputs"
UIAB = str(Path(sys.executable).with_name("uiab"))
TAKES_DB = {"smoke", "simulate", "rollout", "train", "nightly", "report", "decisions"}


def _load_cases() -> Any:
    spec = importlib.util.spec_from_file_location("bad_input_cases", DATA / "cases.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


corpus = _load_cases()
Case = corpus.Case
ALL: list[Any] = [*corpus.CASES, *corpus.CONTROLS]


def _make_db(path: Path, kind: str) -> None:
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("these are my notes, not a database\n" * 50, encoding="utf-8")
    else:
        with sqlite3.connect(path) as con:
            if kind == "foreign":  # another program's SQLite file, a table named like ours included
                con.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
                con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, lap REAL)")
                con.execute("INSERT INTO people (name) VALUES ('ada')")
            elif kind == "older":  # what uiab's schema v1 wrote, with one run
                for statement in MIGRATIONS[0]:
                    con.execute(statement)
                con.execute("PRAGMA user_version = 1")
                con.execute("INSERT INTO runs (kind, experiment, config, started_at) VALUES ('smoke', 'e', '{}', 'x')")
            elif kind == "newer":
                con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY)")
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
            else:  # a uiab database, as a uiab command leaves it (rollback journal here: WAL is per open)
                for step in MIGRATIONS:
                    for statement in step:
                        con.execute(statement)
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.close()


def _prepare(root: Path, index: int, case: Any) -> dict[str, Any]:
    """The case's folder (shop copy, working directory, database) and its manifest entry."""
    folder = root / f"case{index:03d}"
    site, work, db = folder / "shop", folder / "work", folder / "uiab.db"
    shutil.copytree(SHOP, site)
    work.mkdir()
    experiment = site / "experiment.toml"
    text = experiment.read_text(encoding="utf-8")
    experiment.write_bytes((case.edit(text) if case.edit else text).encode(case.encoding))
    for name, content in case.files.items():
        target = site / name
        target.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    for name, content in case.cwd_files.items():
        (work / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    if case.db:
        _make_db(db, case.db)
    values = {"exp": str(experiment), "site": str(site), "db": str(db)}
    argv = [a.format(**values) for a in case.argv]
    if argv and argv[0] in TAKES_DB and "--db" not in argv:
        argv += ["--db", str(db)]
    env = {"UIAB_REPORT_DIR": str(folder / "reports"), **case.env}
    return {"id": case.id, "argv": argv, "cwd": str(work), "env": env, "source": case.source.format(**values)}


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case, run once in one interpreter; each result with what changed under its folder."""
    root = tmp_path_factory.mktemp("corpus")
    manifest = [_prepare(root, i, case) for i, case in enumerate(ALL)]
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    before = _snapshot(root)
    results_file = root.parent / f"{root.name}-results.json"  # outside root: it is not the cases' writing
    subprocess.run([sys.executable, str(DATA / "driver.py"), str(root / "manifest.json"), str(results_file)],
                   cwd=REPO, check=True, timeout=600, stdin=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    after = _snapshot(root)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    results = {r["id"]: r for r in json.loads(results_file.read_text(encoding="utf-8"))}
    for i, entry in enumerate(manifest):
        prefix = f"case{i:03d}"
        results[entry["id"]].update(entry=entry, changed=sorted(c for c in changed if c.startswith(prefix)))
    results["<outside every case>"] = sorted(c for c in changed if not c.startswith("case"))
    return results


def test_the_corpus_is_big_and_names_each_case_once() -> None:
    assert len(corpus.CASES) >= 100 and len(corpus.CONTROLS) >= 3
    assert len({c.id for c in ALL}) == len(ALL)


@pytest.mark.parametrize("case", corpus.CASES, ids=[c.id for c in corpus.CASES])
def test_bad_input_is_refused_in_one_line_and_writes_nothing(ran: dict[str, Any], case: Any) -> None:
    result = ran[case.id]
    out = result["stderr"] + result["stdout"]
    assert "Traceback" not in out, out
    assert result["code"] == case.code, out
    lines = [line for line in result["stderr"].splitlines() if line.strip()]
    assert len(lines) == 1, result["stderr"]
    line = lines[0]
    assert line.startswith("uiab: error: "), line
    assert result["entry"]["source"] in line, line  # the file (or the command) it is about
    for fragment in case.expect:
        assert fragment in line, (fragment, line)
    if case.code == 2:
        assert "(fix: " in line and line.endswith(")"), line
    assert result["changed"] == [], result["changed"]  # no database, no rows, no report, no state.json


def test_nothing_is_written_outside_the_cases(ran: dict[str, Any]) -> None:
    assert ran["<outside every case>"] == []


@pytest.mark.parametrize("case", corpus.CONTROLS, ids=[c.id for c in corpus.CONTROLS])
def test_valid_input_is_not_refused(ran: dict[str, Any], case: Any) -> None:
    result = ran[case.id]
    assert result["code"] == 0, result["stderr"] + result["stdout"]
    assert "error" not in result["stderr"].lower(), result["stderr"]


# The real console script, for the cases whose one line depends on the app's own wrapper around Typer.
SCRIPT_CASES = ["simulate unknown option", "rollout --stages 0,200", "experiment.toml in UTF-16 LE",
                "report on a foreign database"]


@pytest.mark.parametrize("case_id", SCRIPT_CASES)
def test_the_console_script_prints_the_same_one_line(tmp_path: Path, case_id: str) -> None:
    case = next(c for c in corpus.CASES if c.id == case_id)
    entry = _prepare(tmp_path, 0, case)
    before = _snapshot(tmp_path)
    done = subprocess.run([UIAB, *entry["argv"]], cwd=entry["cwd"], env={**os.environ, **entry["env"]},
                          capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert entry["source"] in lines[0] and all(f in lines[0] for f in case.expect), lines[0]
    assert _snapshot(tmp_path) == before


def test_a_passing_primary_check_is_not_marked_as_a_failure() -> None:
    from rich.markup import escape

    from harness.gate.model import Check, RolloutReport
    from harness.interfaces.cli_gate import reason_lines

    primary = Check("100%", "primary.conversion", "error", "pass", expected="candidate better", found="+0.120")
    report = RolloutReport(1, "e", "big-cta", "control", "promote", [primary], [], Path("."), 0)
    assert reason_lines(report) == [f"  [green]✓[/] {escape(primary.message)}"]
    broken = Check("10%", "technical.js_errors", "error", "fail", expected="0", found="3")
    report.checks, report.verdict = [broken, primary], "rollback"
    assert reason_lines(report) == [f"  [red]✗[/] {escape(broken.message)}"]


# The edges of what the checks accept: each must load, and its pages be found, with no browser.
VALID_EDITS = {
    "ten stages, the most sessions": corpus.end(f"[rollout]\nstages = {list(range(10, 101, 10))}\n"
                                                "sessions_per_stage = 10000"),
    "a one-letter name": corpus.sub(corpus.NAME, 'name = "a"'),
    "an 80-character name": corpus.sub(corpus.NAME, 'name = "' + "n" * 80 + '"'),
    "the entry as a folder": corpus.sub(corpus.ENTRY, 'entry = "/"'),
    "a page with a query": corpus.sub(corpus.PRODUCT, 'page = "/product.html?ref=mail"'),
    "a selector list": corpus.sub(corpus.CART_NEXT, 'next = "#checkout, .checkout"'),
    "a compound selector": corpus.sub(corpus.CART_NEXT, 'next = "main a.btn:not(.disabled)[href]"'),
    "a goal URL": corpus.sub(corpus.GOAL, corpus.GOAL + 'url = "/thanks.html"\n'),
    "no variants: control alone": corpus.NO_VARIANTS,
}


@pytest.mark.parametrize("label", list(VALID_EDITS))
def test_valid_edges_load(tmp_path: Path, label: str) -> None:
    from harness.run.experiment import load_experiment
    from harness.run.site import check_site_pages

    site = tmp_path / "shop"
    shutil.copytree(SHOP, site)
    path = site / "experiment.toml"
    path.write_text(VALID_EDITS[label](path.read_text(encoding="utf-8")), encoding="utf-8")
    experiment = load_experiment(path)
    check_site_pages(experiment)  # raises InputError on a page the site lacks
    assert experiment.funnel and experiment.variants, label  # accepted whole, not emptied on the way


def test_the_most_stages_and_sessions_are_accepted_on_the_command_line() -> None:
    from harness.interfaces.cli_common import parse_stages
    from harness.settings import MAX_SESSIONS, MAX_STAGES

    assert parse_stages(",".join(str(10 * k) for k in range(1, 11)), example="", command="uiab rollout") == \
        tuple(range(10, 101, 10))
    assert (MAX_STAGES, MAX_SESSIONS) == (10, 10_000)  # the README documents these
