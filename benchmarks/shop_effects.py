"""Do the demo shop's variants show the effects research predicts? A paired `uiab simulate` and exact tests.

    .venv/bin/python benchmarks/shop_effects.py [--visitors N] [--seed S] [--db PATH] [--run RUN_ID]

Runs ``uiab simulate site_fixtures/shop/experiment.toml --paired`` (every visitor under every variant on the
same random stream), then tests, per persona, the effects of issue #3 on the shop's own variants:

1. ``big-cta`` vs control, hurried-mobile-shopper (touch): the first tap on the product page lands on the CTA
   (``#add-to-cart``) in more sessions — click-through on first sight; every session reaches the CTA sooner
   or later in both variants — and fewer sessions have a misclick (a tap on nothing interactive: short of
   the small CTA, a tap lands on the delivery line under it, which has a :hover style and so is a tap target
   to Chromium's touch adjustment);
2. ``low-contrast-cta`` (about 1.4:1) vs control, low-vision-senior (needs 4.5:1): far fewer sessions find the
   CTA — while careful-desktop-researcher (needs 1.25:1) barely changes;
3. ``cta-below-fold`` vs control, hurried-mobile-shopper: fewer sessions convert.

Each comparison is on paired visitors: an exact McNemar test (a binomial test on the discordant pairs,
scipy.stats.binomtest), two-sided, at α = 0.01. "Barely changes" is read as: the desktop persona's paired
difference is not significant and is less than a third of the low-vision persona's. ``--run`` re-reads a
stored paired simulate run instead of simulating. Not a test: it takes minutes (N = 400 visitors is
1,600 sessions, about 13 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scipy.stats import binomtest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from harness.report.render import result_from_json  # noqa: E402
from harness.run.simulate import simulate  # noqa: E402
from harness.settings import load_settings  # noqa: E402
from harness.store.database import Store  # noqa: E402

SHOP = REPO / "site_fixtures" / "shop" / "experiment.toml"
CTA = "#add-to-cart"
ALPHA = 0.01
Metric = Callable[[dict[str, object]], bool]


@dataclass(frozen=True)
class Row:
    """A session as the tests need it: who, under which variant, and the tracker's measurements."""

    pair: str
    persona: str
    variant: str
    clicked_cta: bool
    first_tap_cta: bool  # the first click on the product page was on the CTA (tracker events)
    misclicked: bool
    converted: bool


def _first_product_clicks(db: Path, run_id: int) -> dict[int, str]:
    """Session id → the selector of its first click on the product page, from the stored tracker events."""
    first: dict[int, str] = {}
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT e.session_id, e.data FROM events e JOIN sessions s ON s.id = e.session_id "
                           "WHERE s.run_id = ? AND e.type = 'click' ORDER BY e.session_id, e.seq", (run_id,))
        for session_id, data in rows:
            event = json.loads(data)
            if session_id not in first and str(event.get("url", "")).startswith("/product"):
                first[session_id] = str(event.get("selector", ""))
    return first


def _rows_from_store(db: Path, run_id: int) -> list[Row]:
    with Store(db) as store:
        sessions = store.sessions(run_id)
    first = _first_product_clicks(db, run_id)
    rows = []
    for s in sessions:
        result = result_from_json(s["result"])
        # A paired run stores one session per variant under the same visitor id.
        rows.append(Row(pair=str(s["visitor_id"]), persona=str(s["persona"]), variant=str(s["variant"]),
                        clicked_cta=CTA in result.clicked, first_tap_cta=first.get(s["id"]) == CTA,
                        misclicked=result.misclicks > 0,
                        converted=result.goal_reached))
    return rows


def _paired(rows: list[Row], persona: str, a: str, b: str, metric: Callable[[Row], bool]) -> tuple[int, int, int]:
    """(visitors, visitors with the metric under a only, under b only) over visitors who ran both."""
    by_pair: dict[str, dict[str, Row]] = defaultdict(dict)
    for row in rows:
        if row.persona == persona:
            by_pair[row.pair][row.variant] = row
    both = [p for p in by_pair.values() if a in p and b in p]
    only_a = sum(metric(p[a]) and not metric(p[b]) for p in both)
    only_b = sum(metric(p[b]) and not metric(p[a]) for p in both)
    return len(both), only_a, only_b


def _rate(rows: list[Row], persona: str, variant: str, metric: Callable[[Row], bool]) -> float:
    mine = [r for r in rows if r.persona == persona and r.variant == variant]
    return sum(metric(r) for r in mine) / len(mine) if mine else float("nan")


def _test(rows: list[Row], persona: str, variant: str, metric: Callable[[Row], bool],
          direction: str) -> dict[str, object]:
    n, only_control, only_variant = _paired(rows, persona, "control", variant, metric)
    discordant = only_control + only_variant
    p = binomtest(only_variant, discordant, 0.5).pvalue if discordant else 1.0
    base, new = _rate(rows, persona, "control", metric), _rate(rows, persona, variant, metric)
    moved = (new > base) if direction == "up" else (new < base)
    return {"n": n, "control": base, "variant": new, "only_control": only_control, "only_variant": only_variant,
            "p": p, "holds": bool(moved and p < ALPHA)}


def analyse(rows: list[Row]) -> bool:
    """Print one line per predicted effect; True if every one holds."""
    hurried, low_vision, desktop = "hurried-mobile-shopper", "low-vision-senior", "careful-desktop-researcher"
    checks = [
        ("1 big CTA: touch first tap on CTA up", hurried, "big-cta", lambda r: r.first_tap_cta, "up"),
        ("1 big CTA: touch misclicks down", hurried, "big-cta", lambda r: r.misclicked, "down"),
        ("2 faint CTA: low vision finds it less", low_vision, "low-contrast-cta", lambda r: r.clicked_cta, "down"),
        ("3 CTA below fold: hurried converts less", hurried, "cta-below-fold", lambda r: r.converted, "down"),
    ]
    print(f"{'effect':42} {'persona':28} {'n':>4} {'control':>8} {'variant':>8} {'c only':>6} {'v only':>6} "
          f"{'p (McNemar)':>12}  holds (α = {ALPHA})")
    every = True
    results = {}
    for name, persona, variant, metric, direction in checks:
        t = _test(rows, persona, variant, metric, direction)
        results[name] = t
        every &= bool(t["holds"])
        print(f"{name:42} {persona:28} {t['n']:>4} {t['control']:>8.1%} {t['variant']:>8.1%} "
              f"{t['only_control']:>6} {t['only_variant']:>6} {t['p']:>12.2g}  {'yes' if t['holds'] else 'NO'}")
    faint = results["2 faint CTA: low vision finds it less"]
    d = _test(rows, desktop, "low-contrast-cta", lambda r: r.clicked_cta, "down")
    drop_low_vision = float(faint["control"]) - float(faint["variant"])  # type: ignore[arg-type]
    drop_desktop = float(d["control"]) - float(d["variant"])  # type: ignore[arg-type]
    barely = float(d["p"]) >= ALPHA and abs(drop_desktop) < drop_low_vision / 3  # type: ignore[arg-type]
    every &= barely
    print(f"{'2 faint CTA: desktop barely changes':42} {desktop:28} {d['n']:>4} {d['control']:>8.1%} "
          f"{d['variant']:>8.1%} {d['only_control']:>6} {d['only_variant']:>6} {d['p']:>12.2g}  "
          f"{'yes' if barely else 'NO'} (drop {drop_desktop:+.1%} vs low vision's {drop_low_vision:+.1%})")
    print("every predicted effect shows" if every else "NOT every predicted effect shows")
    return every


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, default=None, help="keep the sessions in this database")
    parser.add_argument("--run", type=int, default=None, help="analyse this stored paired simulate run of the shop")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "effects.db"
        run_id = args.run
        if run_id is None:
            settings = load_settings(db=db, report_dir=Path(tmp) / "reports")
            report = asyncio.run(simulate(SHOP, settings, sessions=args.visitors, seed=args.seed, paired=True))
            run_id = report.run_id
            print(f"simulated {len(report.outcomes)} sessions ({args.visitors} paired visitors) — run {run_id} in {db}")
        return 0 if analyse(_rows_from_store(db, run_id)) else 1


if __name__ == "__main__":
    sys.exit(main())
