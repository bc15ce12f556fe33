"""Throughput of persona sessions on one machine: naive vs ``uiab simulate`` vs the bare browser limit.

    .venv/bin/python benchmarks/throughput.py [--sessions N] [--rounds R] [--seed S] [--concurrency K]

Every loop walks the same funnel of the demo shop (site_fixtures/shop): index.html → product.html →
cart.html, clicking #shop-now, #add-to-cart and #checkout, and ends when checkout.html has loaded — four
page loads and three clicks per session.

The persona loops need a persona that walks exactly that path, every time, through its own perception and
decisions; so the benchmark writes, into a temporary folder, an experiment on the shop folder with

* a benchmark-only persona, ``funnel-walker``: Desktop Chrome, mouse without aiming noise, full intent,
  goals worded like the three buttons, patience far longer than the walk;
* one variant, ``funnel``, whose CSS patch hides what would distract it: the header links, the breadcrumb and
  "Continue shopping" (``visibility: hidden``), and takes everything below the fold out of the page flow
  (``position: fixed; visibility: hidden``: still parsed, styled and laid out, but the page no longer
  scrolls, so "scroll down" is never an option);
* the goal ``click #checkout``.

The three loops, timed from the first session's start to the last one's end (browser launch excluded):

(a) naive: ``run_persona_session`` (snapshot → decide → act on every step) with ``VisitorPool(reuse=False)``,
    i.e. a new browser context per visitor, one visitor at a time;
(b) ``uiab simulate`` at its defaults: ``harness.run.simulate.simulate`` with default settings — one reused
    page (and context) per device, wiped between visitors (``VisitorPool(reuse=True)``), ``concurrency`` = 1
    (the default), every session written to SQLite;
(c) the bare limit: one page reused for every session, with the same patch but no tracker, no virtual clock,
    no persona logic and no isolation: ``goto`` the index, then ``page.click`` each button and wait for the
    next page's load. ``page.click`` runs Playwright's actionability checks (attached, visible, stable,
    receives events) before its input, which (b)'s coordinate input does not need: the persona's snapshot has
    already done that work, so (b) can come out slightly faster than (c).

The loops are interleaved over several rounds (the machine is shared and noisy); the table shows each
round and the median. (a) and (b) run the same visitor plans, so the benchmark also checks that they
measured identical outcomes (same seed → same SessionResults, whatever the isolation or concurrency) and
that every session walked exactly the funnel. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from loguru import logger  # noqa: E402

from harness.browser.isolated import World  # noqa: E402
from harness.browser.launch import open_browser  # noqa: E402
from harness.browser.pool import VisitorPool  # noqa: E402
from harness.browser.server import serve_folder  # noqa: E402
from harness.run.assignment import plan_visitors  # noqa: E402
from harness.run.experiment import Experiment, load_experiment  # noqa: E402
from harness.run.population import experiment_personas  # noqa: E402
from harness.run.session import SessionOutcome, run_persona_session  # noqa: E402
from harness.run.simulate import simulate  # noqa: E402
from harness.run.variants import variant_init_scripts  # noqa: E402
from harness.settings import Settings  # noqa: E402

SHOP = REPO / "site_fixtures" / "shop"
FUNNEL = ("#shop-now", "#add-to-cart", "#checkout")
PAGES = ("/index.html", "/product.html", "/cart.html", "/checkout.html")

PERSONA = """\
# Benchmark only: walks the shop funnel straight through (see benchmarks/throughput.py).
name = "funnel-walker"
description = "Desktop, mouse without noise, full intent; wants exactly the three funnel buttons."
device = "Desktop Chrome"
share = 1.0
intent = 1.0
goals = ["shop the trailrunner", "add to cart", "checkout"]

[patience]
scale_s = 3600.0
shape = 5.0

[vision]
min_contrast = 1.0
min_font_px = 0

[motor]
pointer = "mouse"
fitts_b_ms = 100
noise_px = 0

[attention]
fold_bias = 1.0
"""

PATCH = """\
/* Benchmark only: nothing to click but the funnel button, and nothing to scroll to. */
.skip-link, .site-nav, .logo, .bag-link, .breadcrumb, .continue { visibility: hidden; }
main > .section, .site-footer, #description, .features, .reviews, .product-media, .product-aside, .col-main {
  position: fixed;
  visibility: hidden;
}
"""

EXPERIMENT = """\
name = "throughput-funnel"
site = "{site}"
entry = "/index.html"
personas = ["funnel-walker.toml"]

[[funnel]]
page = "/index.html"

[goals.conversion]
click = "#checkout"

[[variants]]
name = "funnel"
patch = "funnel.css"
"""


def write_experiment(folder: Path) -> Path:
    (folder / "funnel-walker.toml").write_text(PERSONA, encoding="utf-8")
    (folder / "funnel.css").write_text(PATCH, encoding="utf-8")
    path = folder / "experiment.toml"
    path.write_text(EXPERIMENT.format(site=SHOP.as_posix()), encoding="utf-8")
    return path


def walked_funnel(outcome: SessionOutcome) -> bool:
    """Exactly the three funnel clicks, each a hit, ending on the goal with the four pages loaded."""
    clicks = [d["selector"] for d in outcome.decisions]
    pages = tuple(p.url.split("?", 1)[0] for p in outcome.result.pages)
    return (outcome.end == "goal" and tuple(clicks) == FUNNEL and outcome.result.misclicks == 0
            and all(d["kind"] == "click" for d in outcome.decisions) and pages[:3] == PAGES[:3])


async def naive(experiment: Experiment, settings: Settings, sessions: int, seed: int
                ) -> tuple[float, list[SessionOutcome]]:
    """(a) The persona loop with a fresh context per visitor, one visitor at a time."""
    personas = experiment_personas(experiment)
    plans = plan_visitors(experiment, personas, list(experiment.variants), sessions=sessions, seed=seed,
                          paired=False)
    with serve_folder(SHOP) as base_url:
        async with open_browser(settings) as browser:
            pool = VisitorPool(browser, base_url, experiment.goal_specs(), reuse=False)
            start = time.perf_counter()
            outcomes = [await run_persona_session(pool, experiment, plan) for plan in plans]
            elapsed = time.perf_counter() - start
            await pool.close()
    return sessions / elapsed, outcomes


async def simulated(path: Path, settings: Settings, sessions: int, seed: int
                    ) -> tuple[float, list[SessionOutcome]]:
    """(b) ``uiab simulate`` at its defaults (timed from the first session's start, as (a) and (c) are)."""
    marks: list[float] = []
    report = await simulate(path, settings, sessions=sessions, seed=seed,
                            on_start=lambda _n: marks.append(time.perf_counter()),
                            on_session=lambda _o: marks.append(time.perf_counter()))
    return sessions / (marks[-1] - marks[0]), report.outcomes


async def bare(experiment: Experiment, settings: Settings, sessions: int) -> float:
    """(c) One reused page: goto the index, click each funnel button, wait for the next load; nothing else."""
    init_scripts = variant_init_scripts(experiment, experiment.variants[0])
    with serve_folder(SHOP) as base_url:
        async with open_browser(settings) as browser:
            device = browser.device(experiment_personas(experiment)[0].device)
            context = await browser.browser.new_context(**device, service_workers="block")
            page = await context.new_page()
            world = await World.attach(await context.new_cdp_session(page))  # where sessions run patches
            for script in init_scripts:
                await world.add_script(script)
            start = time.perf_counter()
            for _ in range(sessions):
                await page.goto(base_url + PAGES[0], wait_until="load")
                for selector, following in zip(FUNNEL, PAGES[1:], strict=True):
                    async with page.expect_navigation(url=f"**{following}", wait_until="load"):
                        await page.click(selector)
            elapsed = time.perf_counter() - start
            await context.close()
    return sessions / elapsed


def fingerprints(outcomes: list[SessionOutcome]) -> dict[str, dict]:
    return {o.plan.visitor_id: o.fingerprint() for o in outcomes}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sessions", type=int, default=30, help="sessions per loop and round (default 30)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=None,
                        help="visitors in flight for (b) only (default: the settings' default, 1); (a) and (c) "
                             "stay one at a time")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")

    print("Throughput on one machine: the shop funnel index → product → cart (#shop-now, #add-to-cart, "
          "#checkout),\nfour page loads and three clicks per session; sessions/s from the first session's "
          "start to the last one's end.")
    print("  (a) naive   run_persona_session (snapshot → decide → act per step), a new browser context per "
          "visitor, one at a time")
    print("  (b) simulate harness.run.simulate.simulate at its defaults: reused contexts wiped between visitors, "
          "concurrency from settings (default 1), SQLite")
    print("  (c) bare    one reused page: goto + page.click per page, no persona, tracker, clock or isolation")
    print("  persona funnel-walker + variant funnel (written to a temp folder; see this file's docstring)")
    print(f"  {args.sessions} sessions per loop, {args.rounds} interleaved rounds, seed {args.seed}\n")

    rates: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="uiab-throughput-") as tmp:
        folder = Path(tmp)
        path = write_experiment(folder)
        experiment = load_experiment(path)
        loops = ["a", "b", "c"]
        for round_no in range(args.rounds):
            settings = Settings(db=folder / f"round{round_no}.db")
            b_settings = settings if args.concurrency is None else settings.model_copy(
                update={"concurrency": args.concurrency})
            outcomes: dict[str, list[SessionOutcome]] = {}
            for name in loops[round_no % 3:] + loops[:round_no % 3]:  # rotate the order each round
                if name == "a":
                    rate, outcomes["a"] = await naive(experiment, settings, args.sessions, args.seed)
                elif name == "b":
                    rate, outcomes["b"] = await simulated(path, b_settings, args.sessions, args.seed)
                else:
                    rate = await bare(experiment, settings, args.sessions)
                rates[name].append(rate)
            print(f"  round {round_no + 1}: a {rates['a'][-1]:5.2f}/s   b {rates['b'][-1]:5.2f}/s   "
                  f"c {rates['c'][-1]:5.2f}/s   b/a {rates['b'][-1] / rates['a'][-1]:4.2f}   "
                  f"b/c {rates['b'][-1] / rates['c'][-1]:4.2f}", flush=True)
            for name in ("a", "b"):
                off = [o.plan.visitor_id for o in outcomes[name] if not walked_funnel(o)]
                if off:
                    problems.append(f"round {round_no + 1} ({name}): {len(off)} sessions left the funnel walk, "
                                    f"e.g. {off[0]}")
            if fingerprints(outcomes["a"]) != fingerprints(outcomes["b"]):
                problems.append(f"round {round_no + 1}: (a) and (b) measured different outcomes for the same "
                                "plans")

    a, b, c = (statistics.median(rates[k]) for k in "abc")
    print()
    print(f"{'loop':<34}{'sessions/s (median)':>20}")
    print(f"{'(a) naive, context per visitor':<34}{a:>20.2f}")
    b_label = "defaults" if args.concurrency is None else f"concurrency {args.concurrency}"
    print(f"{'(b) uiab simulate, ' + b_label:<34}{b:>20.2f}")
    print(f"{'(c) bare limit':<34}{c:>20.2f}")
    print(f"{'b/a':<34}{b / a:>20.2f}")
    print(f"{'b/c (target ≥ 0.8)':<34}{b / c:>20.2f}")
    print()
    if problems:
        print("check FAILED:\n  " + "\n  ".join(problems))
        return 1
    print(f"check: every (a) and (b) session walked exactly the funnel, and (a) and (b) measured identical "
          f"outcomes ({args.sessions} visitors × {args.rounds} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
