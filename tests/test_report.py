"""The HTML report: click mapping and the model without a browser; the real page opened in Chromium; the CLI."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from agent.kernel import InputError
from harness.browser.launch import open_browser
from harness.interfaces.cli import app
from harness.report import (
    ClickPoint,
    Shot,
    build_report_async,
    click_point,
    plan_heatmaps,
    render_heatmap,
    resolve_run_id,
    result_from_json,
    rollout_stages,
    to_image,
    update_latest,
)
from harness.run.outcome import PageView, SessionResult
from harness.settings import Settings
from harness.store.database import Store, StoredSession

EXPERIMENT = Path(__file__).resolve().parent / "pages" / "report" / "experiment.toml"
PERSONAS = ["careful-desktop-researcher", "hurried-mobile-shopper"]
VARIANTS = ["control", "bold-buy"]


def _uiab(cwd: Path, *args: str) -> Any:
    """The CLI in-process (typer's runner): no interpreter start per call, stdout and stderr kept apart."""
    return CliRunner().invoke(app, list(args), env={"UIAB_REPORT_DIR": str(cwd / "reports")})


# --- pure: coordinates, planning, stored results -------------------------------------------------------------
def test_click_point_prefers_page_coordinates_and_falls_back_to_viewport() -> None:
    assert click_point({"x": 10, "y": 100, "px": 10, "py": 900}) == ClickPoint(10, 900, True)
    assert click_point({"x": 5, "y": 6, "interactive": False}) == ClickPoint(5, 6, False)  # stored before px/py
    assert click_point({"type": "click"}) is None


def test_to_image_scales_page_points_uniformly_and_drops_what_is_outside() -> None:
    css, image = (400.0, 1000.0), (200, 500)
    assert to_image(ClickPoint(100, 300), css, image) == (50.0, 150.0)
    assert to_image(ClickPoint(100, 1200), css, image) is None  # below the cropped page
    assert to_image(ClickPoint(-1, 10), css, image) is None


def test_heatmap_is_drawn_where_the_click_was() -> None:
    page = Image.new("RGB", (400, 800), "white")
    buffer = BytesIO()
    page.save(buffer, format="PNG")
    shot = Shot(buffer.getvalue(), css_width=400, css_height=800, page_height=800)
    jpeg, drawn, outside = render_heatmap(shot, [ClickPoint(300, 600), ClickPoint(10, 5000)])
    assert (drawn, outside) == (1, 1)
    image = Image.open(BytesIO(jpeg)).convert("RGB")
    assert image.size == (400, 800)
    near = image.getpixel((300, 590))  # the density around the click is coloured ...
    far = image.getpixel((50, 50))  # ... and the rest of the page is left as it was
    assert isinstance(near, tuple) and isinstance(far, tuple)
    assert sum(abs(a - b) for a, b in zip(near, (255, 255, 255), strict=True)) > 60
    assert sum(abs(a - b) for a, b in zip(far, (255, 255, 255), strict=True)) < 15


def test_blank_heatmap_without_a_screenshot_uses_the_device_width() -> None:
    jpeg, drawn, _ = render_heatmap(None, [ClickPoint(100, 200)], viewport=(390, 664))
    image = Image.open(BytesIO(jpeg))
    assert image.width == 390 and drawn == 1


def test_plan_heatmaps_orders_the_funnel_first_and_gives_every_variant_a_share() -> None:
    clicks = {("a", "Desktop Chrome", f"/p{i}.html"): [ClickPoint(1, 1)] * (i + 1) for i in range(6)}
    clicks[("a", "Desktop Chrome", "/cart.html")] = [ClickPoint(1, 1)]
    clicks[("b", "iPhone 13", "/cart.html")] = [ClickPoint(2, 2)]
    plan = plan_heatmaps(clicks, variants=["a", "b"], devices=["Desktop Chrome", "iPhone 13"],
                         funnel=["/cart.html"], max_total=3, max_pages=4)
    assert [(t.variant, t.page) for t in plan] == [("a", "/cart.html"), ("a", "/p5.html"), ("b", "/cart.html")]


def test_stored_result_rebuilds_the_session_result() -> None:
    result = SessionResult(pages=(PageView("/index.html", 1.0, 1500.0, 0.5),), clicks=3, interactive_clicks=2,
                           misclicks=1, goals=("conversion",), js_errors=0, console_errors=1, blocked_requests=0,
                           failed_requests=0, clicked=("#buy",), patch_reports=({"url": "/index.html"},))
    stored = {**result.to_dict(), "end": "goal", "pair": None}
    assert result_from_json(stored) == result


def test_rollout_stages_are_rebuilt_from_checks() -> None:
    def check(stage: str, name: str, status: str = "pass", level: str = "error", found: str = "",
              pairs: int | None = None) -> dict[str, Any]:
        data = {} if pairs is None else {"data": {"pairs": pairs}}
        return {"stage": stage, "name": name, "status": status, "level": level, "found": found, **data}

    checks = [check("preflight", "layout.funnel"), check("50%", "primary.conversion", "skip", pairs=14,
                                                         found="[-0.1, 0.3] over 14 paired visitors → continue"),
              check("50%", "performance.lcp", "fail", "warn"),
              check("100%", "primary.conversion", found="[0.1, 0.4] over 30 paired visitors → promote", pairs=30)]
    assert rollout_stages(checks, "promote") == [
        {"stage": "preflight", "outcome": "pass"}, {"stage": "50%", "outcome": "continue", "pairs": 14},
        {"stage": "100%", "outcome": "promote", "pairs": 30}]
    broken = [check("preflight", "layout.funnel", "fail")]
    assert rollout_stages(broken, "rollback") == [{"stage": "preflight", "outcome": "rollback"}]
    # A check stored before the pair count was data: the count is not read back from the prose.
    old = [check("100%", "primary.conversion", found="[0.1, 0.4] over 30 paired visitors → promote")]
    assert rollout_stages(old, "promote") == [{"stage": "100%", "outcome": "promote"}]


# --- the model and page from a hand-made database (no browser) -------------------------------------------------
def _fake_run(db: Path) -> int:
    with Store(db) as store:
        run_id = store.start_run("simulate", str(EXPERIMENT), {"variants": VARIANTS, "personas": PERSONAS}, 1)
        for i, (variant, persona, device) in enumerate([("control", PERSONAS[0], "Desktop Chrome"),
                                                        ("bold-buy", PERSONAS[1], "iPhone 13"),
                                                        ("bold-buy", PERSONAS[0], "Desktop Chrome")]):
            result = SessionResult(pages=(PageView("/index.html", 0.0, 900.0, 0.4),), clicks=1,
                                   interactive_clicks=1, misclicks=0, goals=("conversion",) if i else (),
                                   js_errors=0, console_errors=0, blocked_requests=0, failed_requests=0)
            store.add_session(run_id, StoredSession(
                visitor_id=f"v{i}", device=device, variant=variant, persona=persona, status="goal",
                goal_reached=result.goal_reached, result={**result.to_dict(), "end": "goal"},
                events=[{"type": "page_view", "t": 0, "url": "/index.html"},
                        {"type": "click", "t": 5, "url": "/index.html", "x": 40, "y": 60, "px": 40, "py": 460,
                         "interactive": True, "selector": "#buy"}],
                page_views=result.page_rows()))
        store.finish_run(run_id, "completed", {})
    return run_id


async def test_report_without_screenshots_has_every_section(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    run_id = _fake_run(db)
    settings = Settings(db=db, report_dir=tmp_path / "reports")
    index = await build_report_async(db, "latest", tmp_path / "out", settings, screenshots=False)
    html = index.read_text()
    assert 'id="verdict"' in html and "No verdict: simulation" in html
    assert "Highest conversion: bold-buy 100.0%" in html
    for variant in VARIANTS:
        assert re.search(rf'<img class="heatmap" data-variant="{variant}"[^>]* src="data:image/jpeg;base64,', html)
    rows = re.findall(r'<tr data-persona="([^"]+)">', html)
    assert rows == PERSONAS
    assert "screenshots were not taken" in html
    assert (tmp_path / "reports" / "latest" / "index.html").read_text() == html
    with Store(db) as store:
        assert resolve_run_id(store, "latest") == run_id == resolve_run_id(store, str(run_id))
        for bad, message in ((run_id + 1, f"no run {run_id + 1}"), ("abc", "not a run id")):
            with pytest.raises(InputError, match=message):
                resolve_run_id(store, bad)


async def test_rollout_and_train_runs_get_their_own_sections(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    with Store(db) as store:
        rollout = store.start_run("rollout", str(EXPERIMENT), {"candidate": "bold-buy", "control": "control"}, 1)
        reason = "[preflight] layout.funnel (/index.html, iPhone 13): expected #buy visible, found hidden"
        store.add_checks(rollout, [{"stage": "preflight", "name": "layout.funnel", "level": "error", "status": "fail",
                                    "expected": "#buy visible", "found": "hidden", "message": reason,
                                    "page": "/index.html", "device": "iPhone 13", "persona": None}])
        store.finish_run(rollout, "completed", {"verdict": "rollback", "reasons": [reason]})
        train = store.start_run("train", str(EXPERIMENT), {"policy": "uniform"}, 1)
        store.add_decisions(train, [{"event_id": f"{s}-{k}", "context": {}, "context_vec": [0.0],
                                     "actions_offered": [0, 1], "action": k % 2, "probability": 0.5,
                                     "reward": 0.1 * s, "reward_parts": {}} for s in range(5) for k in range(2)])
        store.add_alert(train, "success_rate", "success rate 0.20 below 0.70", 0.2, 0.7, 4)
        store.finish_run(train, "completed", {})
    settings = Settings(db=db, report_dir=tmp_path / "reports")
    html = (await build_report_async(db, rollout, tmp_path / "r", settings, screenshots=False)).read_text()
    assert '<div id="verdict" class="verdict rollback">ROLLBACK</div>' in html and reason in html
    assert '<li class="stage rollback" data-stage="preflight">' in html  # rebuilt from the stored checks
    assert re.findall(r'<tr data-variant="([^"]+)">', html) == ["control", "bold-buy"]  # no session, both arms
    html = (await build_report_async(db, train, tmp_path / "t", settings, screenshots=False)).read_text()
    assert "No verdict: training" in html and 'id="learning-curve" src="data:image/png;base64,' in html
    assert "+0.000 over the first 10 % → +0.800 over the last 10 %" in html
    assert 'id="alerts"' in html and "success rate 0.20 below 0.70" in html


def test_update_latest_copies_and_tolerates_itself(tmp_path: Path) -> None:
    report = tmp_path / "simulate-1" / "index.html"
    report.parent.mkdir()
    report.write_text("<p>one</p>")
    latest = update_latest(report, tmp_path)
    assert latest == tmp_path / "latest" / "index.html" and latest.read_text() == "<p>one</p>"
    assert update_latest(latest, tmp_path) == latest  # the latest page itself: nothing to copy


# --- the real thing: a tiny simulate, its report opened in Chromium --------------------------------------------
@dataclass(frozen=True)
class Simulated:
    settings: Settings
    run_id: int
    index: Path  # the report `uiab simulate` wrote at its end


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """`uiab simulate` with two paired visitors on the purpose-built kettle page: four sessions, both personas,
    both variants, and the report it writes at the end."""
    folder = tmp_path_factory.mktemp("report")
    settings = Settings(db=folder / "u.db", report_dir=folder / "reports")
    done = _uiab(folder, "simulate", str(EXPERIMENT), "--sessions", "2", "--paired", "--seed", "5",
                 "--db", str(settings.db), "--json")
    assert done.exit_code == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["report"] == str(settings.report_dir / f"simulate-{summary['run_id']}" / "index.html")
    return Simulated(settings, summary["run_id"], Path(summary["report"]))


async def test_simulate_report_opens_in_chromium_with_verdict_heatmaps_and_personas(simulated: Simulated) -> None:
    index = simulated.index
    html = index.read_text()
    assert "<script" not in html.lower()
    assert not re.search(r'(?:src|href)="(?!data:|#)', html), "every image is inlined, nothing is fetched"
    assert index.stat().st_size < 5_000_000
    assert (simulated.settings.report_dir / "latest" / "index.html").read_text() == html
    async with open_browser(simulated.settings) as browser:
        context = await browser.browser.new_context()
        page = await context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(r.url))
        await page.goto(index.as_uri(), wait_until="load")
        verdict = await page.text_content("#verdict")
        assert verdict and verdict.strip()
        for variant in VARIANTS:
            widths = await page.eval_on_selector_all(f'img.heatmap[data-variant="{variant}"]',
                                                     "els => els.map(e => e.complete ? e.naturalWidth : 0)")
            assert widths and all(w > 0 for w in widths), (variant, widths)
        # Screenshots were taken at report time: control beside the candidate, on each persona's device.
        shots = await page.eval_on_selector_all("img.screenshot", "els => els.map(e => [e.dataset.variant, "
                                                "e.dataset.device, e.naturalWidth])")
        assert {(v, d) for v, d, w in shots if w > 0} == {(v, d) for v in VARIANTS
                                                          for d in ("Desktop Chrome", "iPhone 13")}
        personas = await page.eval_on_selector_all("table#per-persona tr[data-persona]",
                                                   "els => els.map(e => e.dataset.persona)")
        assert sorted(personas) == sorted(PERSONAS)
        await context.close()
    assert problems == []


# --- the command line ------------------------------------------------------------------------------------------
def test_cli_report_bad_run_ids_exit_2_with_one_line(tmp_path: Path) -> None:
    missing = _uiab(tmp_path, "report", "999", "--db", str(tmp_path / "none.db"))
    assert missing.exit_code == 2 and "no database at" in missing.stderr
    assert not (tmp_path / "none.db").exists()  # reading a report never creates a database
    Store(tmp_path / "empty.db").close()
    empty = _uiab(tmp_path, "report", "latest", "--db", str(tmp_path / "empty.db"))
    assert empty.exit_code == 2 and "no runs in" in empty.stderr
    _fake_run(tmp_path / "u.db")
    unknown = _uiab(tmp_path, "report", "999", "--db", str(tmp_path / "u.db"))
    assert unknown.exit_code == 2, unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1 and "no run 999" in unknown.stderr


def test_cli_report_latest_writes_the_page(simulated: Simulated, tmp_path: Path) -> None:
    done = _uiab(tmp_path, "report", "latest", "--db", str(simulated.settings.db), "--out", str(tmp_path / "out"),
                 "--no-screenshots")
    assert done.exit_code == 0, done.stderr
    index = tmp_path / "out" / "index.html"
    assert f"report: {index}" in done.stdout and f"run {simulated.run_id}" in index.read_text()
