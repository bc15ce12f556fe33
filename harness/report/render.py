"""The run report: one self-contained HTML page (every image inlined, no script) for any run in the database.

What it shows comes from SQLite — sessions, tracker events, checks, decisions, alerts — so ``uiab report``
can rebuild it for an old run. Screenshots are the exception: the database holds none, so they are taken at
report time in the real browser, on the site as it is then; the report says so.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape
from loguru import logger
from playwright.async_api import Error as PlaywrightError

from agent.kernel import InputError, UiabError
from harness.run.experiment import Experiment, Variant, load_experiment
from harness.run.outcome import PageView, SessionResult
from harness.settings import Settings
from harness.run.summary import ArmSummary, summarize
from harness.store.database import Store

__all__ = [
    "ClickPoint",
    "Comparison",
    "HeatmapTarget",
    "ReportModel",
    "Shot",
    "build_report",
    "build_report_async",
    "click_point",
    "load_model",
    "nightly_images",
    "plan_comparisons",
    "plan_heatmaps",
    "render_heatmap",
    "resolve_run_id",
    "result_from_json",
    "rollout_stages",
    "to_image",
    "update_latest",
]

MAX_HEATMAPS = 24  # over all variants: each image is ~50–150 kB inlined, and the page should stay a few MB
MAX_PAGES = 4  # heatmaps per variant and device, funnel pages first
HEATMAP_WIDTH = 480  # px of an inlined heatmap; phones (390 CSS px) stay at their CSS width
SHOT_WIDTH = 400  # px of an inlined screenshot in the side-by-side section (phones stay near their CSS width)
SHOT_HEIGHT = 1200  # px: the top of the page; below that a patch rarely changes what the visitor decides on
MAX_CSS_HEIGHT = 2400  # CSS px of a page drawn; a longer page is cropped (its clicks below are counted, not drawn)
JPEG_QUALITY = 72
CLICK_SIGMA_CSS = 22.0  # the density's smoothing: about a fingertip (≈ 9 mm at 96 CSS px per inch)

_TEMPLATES = Path(__file__).parent / "templates"


# --- the run and its sessions ---------------------------------------------------------------------------
def resolve_run_id(store: Store, run: int | str) -> int:
    """``latest`` or a run id that exists in ``store``; anything else is bad input."""
    if isinstance(run, str) and run.strip().lower() == "latest":
        newest = store.latest_run_id()
        if newest is None:
            raise InputError(f"no runs in {store.path}", source=str(store.path), field="RUN_ID",
                             fix="run uiab simulate, train or rollout first, or pass --db")
        return newest
    try:
        run_id = int(run)
    except (TypeError, ValueError):
        raise InputError(f"{run!r} is not a run id", field="RUN_ID", fix="pass a number a uiab command printed, "
                         "or latest") from None
    if store.run(run_id) is None:
        newest = store.latest_run_id()
        hint = f"the newest is {newest}" if newest is not None else "the database has no runs"
        raise InputError(f"no run {run_id} in {store.path}", field="RUN_ID", fix=f"pass a stored run id ({hint}), "
                         "or latest")
    return run_id


def result_from_json(data: Mapping[str, Any]) -> SessionResult:
    """Rebuild a stored session's :class:`SessionResult` (sessions.result is its ``to_dict()`` plus extras)."""
    pages = tuple(PageView(url=str(p.get("url", "")), t_start=float(p.get("t_start") or 0.0),
                           dwell_ms=None if p.get("dwell_ms") is None else float(p["dwell_ms"]),
                           scroll_depth=float(p.get("scroll_depth") or 0.0)) for p in data.get("pages", ()))
    return SessionResult(
        pages=pages, clicks=int(data.get("clicks", 0)), interactive_clicks=int(data.get("interactive_clicks", 0)),
        misclicks=int(data.get("misclicks", 0)), goals=tuple(str(g) for g in data.get("goals", ())),
        js_errors=int(data.get("js_errors", 0)), console_errors=int(data.get("console_errors", 0)),
        blocked_requests=int(data.get("blocked_requests", 0)), failed_requests=int(data.get("failed_requests", 0)),
        clicked=tuple(str(c) for c in data.get("clicked", ())),
        patch_reports=tuple(dict(r) for r in data.get("patch_reports", ())))


# --- clicks and heatmaps (pure) --------------------------------------------------------------------------
@dataclass(frozen=True)
class ClickPoint:
    """A measured click in page CSS pixels (document coordinates, not the viewport's)."""

    x: float
    y: float
    interactive: bool = True


def click_point(event: Mapping[str, Any]) -> ClickPoint | None:
    """The click's page coordinates: ``px``/``py`` when the tracker sent them, else viewport ``x``/``y``."""
    # Events stored before the tracker sent page coordinates have only clientX/Y; at scroll 0 they agree.
    x = event.get("px", event.get("x"))
    y = event.get("py", event.get("y"))
    if not isinstance(x, int | float) or not isinstance(y, int | float):
        return None
    return ClickPoint(float(x), float(y), bool(event.get("interactive", True)))


def page_of(url: str) -> str:
    """The page a tracker URL names (path and query, no fragment)."""
    return (url or "/").split("#", 1)[0] or "/"


@dataclass(frozen=True)
class HeatmapTarget:
    variant: str
    device: str
    page: str
    points: tuple[ClickPoint, ...]


def plan_heatmaps(clicks: Mapping[tuple[str, str, str], Sequence[ClickPoint]], *, variants: Sequence[str],
                  devices: Sequence[str], funnel: Sequence[str], max_total: int = MAX_HEATMAPS,
                  max_pages: int = MAX_PAGES) -> list[HeatmapTarget]:
    """Which (variant, device, page) get a heatmap: funnel pages in order, then the most clicked; capped so
    that every variant with clicks gets its share."""
    order = {page: i for i, page in enumerate(funnel)}
    device_rank = {d: i for i, d in enumerate(devices)}
    per_variant: dict[str, list[HeatmapTarget]] = {}
    for variant in variants:
        chosen: list[HeatmapTarget] = []
        for device in sorted({d for v, d, _ in clicks if v == variant}, key=lambda d: (device_rank.get(d, 99), d)):
            pages = [(p, pts) for (v, d, p), pts in clicks.items() if v == variant and d == device and pts]
            pages.sort(key=lambda item: (order.get(item[0], len(order)), -len(item[1]), item[0]))
            chosen += [HeatmapTarget(variant, device, p, tuple(pts)) for p, pts in pages[:max_pages]]
        per_variant[variant] = chosen
    # Round-robin over variants, one device × page at a time, until the cap: no variant is crowded out.
    picked: list[HeatmapTarget] = []
    depth = 0
    while len(picked) < max_total and any(depth < len(t) for t in per_variant.values()):
        for variant in variants:
            targets = per_variant.get(variant, [])
            if depth < len(targets) and len(picked) < max_total:
                picked.append(targets[depth])
        depth += 1
    rank = {v: i for i, v in enumerate(variants)}
    return sorted(picked, key=lambda t: (rank[t.variant], device_rank.get(t.device, 99), t.device,
                                         order.get(t.page, len(order)), t.page))


def to_image(point: ClickPoint, css_size: tuple[float, float],
             image_size: tuple[int, int]) -> tuple[float, float] | None:
    """Where a page point falls in an image of ``css_size`` CSS px drawn at ``image_size`` px; None if outside."""
    css_w, css_h = css_size
    if css_w <= 0 or css_h <= 0:
        return None
    scale = image_size[0] / css_w  # one scale for both axes: the page is never stretched
    x, y = point.x * scale, point.y * scale
    if not (0 <= point.x < css_w and 0 <= point.y < css_h):
        return None
    return x, y


@dataclass(frozen=True)
class Shot:
    """A page screenshot at CSS scale (1 image px per CSS px), cropped to :data:`MAX_CSS_HEIGHT`."""

    png: bytes
    css_width: float
    css_height: float
    page_height: float  # the whole page's height in CSS px, before any crop


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _jpeg(image: Any) -> bytes:
    out = BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def render_heatmap(shot: Shot | None, points: Sequence[ClickPoint], *,
                   viewport: tuple[float, float] = (1280, 720)) -> tuple[bytes, int, int]:
    """JPEG of the page with the clicks' smoothed density and the clicks themselves; (image, drawn, outside).

    Without a screenshot the clicks are drawn on a blank page of the device's width, so a heatmap still exists.
    The density is coloured with matplotlib's ``turbo`` map and blended with numpy: a matplotlib figure per
    heatmap cost ~0.7 s each on 2 busy cores, this costs a few tens of milliseconds.
    """
    import matplotlib
    from PIL import Image, ImageDraw
    from scipy.ndimage import gaussian_filter

    if shot is not None:
        page = Image.open(BytesIO(shot.png)).convert("RGB")
        css_w, css_h = shot.css_width, shot.css_height
    else:
        deepest = max((p.y for p in points), default=0.0)
        css_w, css_h = viewport[0], min(MAX_CSS_HEIGHT, max(viewport[1], deepest + 40))
        page = Image.new("RGB", (round(css_w), round(css_h)), "#f3f4f6")
    css_h = min(css_h, MAX_CSS_HEIGHT)
    page = page.crop((0, 0, page.width, min(page.height, round(css_h * page.width / css_w))))
    out_w = min(HEATMAP_WIDTH, round(css_w))
    out_h = max(1, round(css_h * out_w / css_w))
    page = page.resize((out_w, out_h), Image.Resampling.LANCZOS)
    placed = [(p, to_image(p, (css_w, css_h), (out_w, out_h))) for p in points]
    inside = [(p, xy) for p, xy in placed if xy is not None]
    if inside:
        cell = 2  # density in 2-px cells, smoothed, then scaled up: cheap, and smooth at this size
        grid = np.zeros((out_h // cell + 1, out_w // cell + 1))
        for _, (x, y) in inside:
            grid[min(int(y) // cell, grid.shape[0] - 1), min(int(x) // cell, grid.shape[1] - 1)] += 1.0
        grid = gaussian_filter(grid, sigma=max(1.0, CLICK_SIGMA_CSS * out_w / css_w / cell))
        grid /= grid.max() or 1.0
        density = np.asarray(Image.fromarray(grid.astype(np.float32), mode="F")
                             .resize((out_w, out_h), Image.Resampling.BILINEAR), dtype=np.float64)
        # Colour by density and fade the alpha with it: no hard edge, and the page shows through.
        colour = matplotlib.colormaps["turbo"](density)[..., :3]
        alpha = np.clip(density * 1.2, 0.0, 0.6)[..., None]
        blended = np.asarray(page, dtype=np.float64) / 255 * (1 - alpha) + colour * alpha
        page = Image.fromarray(np.clip(blended * 255, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(page)
        for point, (x, y) in inside:
            if point.interactive:
                draw.ellipse((x - 3.5, y - 3.5, x + 3.5, y + 3.5), fill="#ffffff", outline="#111827", width=1)
            else:
                draw.line((x - 4, y - 4, x + 4, y + 4), fill="#dc2626", width=2)
                draw.line((x - 4, y + 4, x + 4, y - 4), fill="#dc2626", width=2)
    return _jpeg(page), len(inside), len(points) - len(inside)


def _thumbnail(png: bytes, width: int = SHOT_WIDTH, max_height: int = SHOT_HEIGHT) -> str:
    from PIL import Image

    image = Image.open(BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS)
    if image.height > max_height:
        image = image.crop((0, 0, image.width, max_height))
    return _data_uri(_jpeg(image), "image/jpeg")


# --- plots ------------------------------------------------------------------------------------------------
def _figure_uri(fig: Any) -> str:
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return _data_uri(buffer.getvalue(), "image/png")


def _interval_plot(arms: Mapping[str, ArmSummary], title: str) -> str | None:
    """Conversion per arm with its 95 % Wilson interval, one row per arm."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [n for n, a in arms.items() if a.sessions]
    if not names:
        return None
    fig = Figure(figsize=(7, 0.9 + 0.42 * len(names)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    y = np.arange(len(names))[::-1]
    rates = np.array([arms[n].conversion_rate for n in names])
    low = rates - np.array([arms[n].ci_low for n in names])
    high = np.array([arms[n].ci_high for n in names]) - rates
    ax.errorbar(rates, y, xerr=[low, high], fmt="o", color="#1a56db", ecolor="#93a8d6", elinewidth=3, capsize=0)
    ax.set_yticks(y, [f"{n} (n={arms[n].sessions})" for n in names])
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("conversion (95 % Wilson interval)")
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _figure_uri(fig)


def _learning_plot(rewards: Sequence[float], conversions: Sequence[bool], title: str) -> str | None:
    """Session reward (faint) with its moving average, and the moving conversion rate below it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not rewards:
        return None
    y = np.asarray(rewards, dtype=np.float64)
    window = max(1, min(100, len(y) // 10))
    x = np.arange(1, len(y) + 1)
    fig = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    top.plot(x, y, color="tab:blue", alpha=0.25, linewidth=0.8, label="session reward")
    if len(y) >= window:
        top.plot(x[window - 1:], np.convolve(y, np.ones(window) / window, mode="valid"), color="tab:blue",
                 linewidth=2.0, label=f"moving average ({window})")
    top.set_ylabel("reward")
    top.set_title(title, fontsize=10, loc="left")
    top.grid(alpha=0.3)
    top.legend(loc="lower right", fontsize=8)
    if conversions:
        c = np.asarray(conversions[:len(y)], dtype=np.float64)
        if len(c) >= window:
            bottom.plot(np.arange(window, len(c) + 1), np.convolve(c, np.ones(window) / window, mode="valid"),
                        color="tab:green", linewidth=2.0)
        bottom.set_ylim(-0.05, 1.05)
    bottom.set_ylabel(f"conversion ({window})")
    bottom.set_xlabel("session")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    return _figure_uri(fig)


# --- the model ----------------------------------------------------------------------------------------------
@dataclass
class ReportModel:
    """Everything the template shows, built from the database (and, for images, the browser)."""

    run_id: int
    kind: str
    experiment: str
    status: str
    seed: int | None
    started_at: str
    finished_at: str | None
    config: dict[str, Any]
    summary: dict[str, Any]
    verdict: str  # promote | rollback | inconclusive | pass | fail | none
    verdict_label: str
    headline: str
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    personas: list[str] = field(default_factory=list)
    funnel: list[str] = field(default_factory=list)
    control: str = "control"
    by_variant: dict[str, ArmSummary] = field(default_factory=dict)
    by_persona: dict[str, ArmSummary] = field(default_factory=dict)
    by_variant_persona: dict[tuple[str, str], ArmSummary] = field(default_factory=dict)
    session_rewards: list[float] = field(default_factory=list)
    session_conversions: list[bool] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    clicks: dict[tuple[str, str, str], list[ClickPoint]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sessions: int = 0
    ends: dict[str, dict[str, int]] = field(default_factory=dict)  # variant → session end → count
    overall: ArmSummary = field(default_factory=lambda: summarize([]))  # every session of the run
    has_cta: bool = False


def _ordered(names: Iterable[str], first: Sequence[str]) -> list[str]:
    """``names`` once each: those in ``first`` in its order, then the rest as they came."""
    seen = list(dict.fromkeys(names))
    lead = [n for n in dict.fromkeys(first) if n in seen]
    return lead + [n for n in seen if n not in lead]


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _arm_text(name: str, arm: ArmSummary) -> str:
    return f"{name} {_pct(arm.conversion_rate)} (95 % {_pct(arm.ci_low)} – {_pct(arm.ci_high)}, n = {arm.sessions})"


def rollout_stages(checks: Sequence[Mapping[str, Any]], verdict: str | None) -> list[dict[str, Any]]:
    """The stage timeline rebuilt from a rollout's stored checks (the run's summary keeps only the verdict)."""
    names = list(dict.fromkeys(str(c["stage"]) for c in checks))
    stages: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        mine = [c for c in checks if c["stage"] == name]
        failed = any(c["status"] == "fail" and c["level"] == "error" for c in mine)
        outcome = "rollback" if failed else ("pass" if name == "preflight" else "continue")
        if i == len(names) - 1 and not failed and name != "preflight" and verdict in ("promote", "inconclusive"):
            outcome = verdict
        stage: dict[str, Any] = {"stage": name, "outcome": outcome}
        for c in mine:
            found = re.search(r"over (\d+) paired visitors", str(c.get("found", "")))
            if c["name"] == "primary.conversion" and found:
                stage["pairs"] = int(found.group(1))
        stages.append(stage)
    return stages


def _candidate_name(ref: str, experiment: Experiment | None) -> str:
    """The variant name a rollout's ``--candidate`` ran under (a name, or a patch file's stem); "" if unknown."""
    if experiment is not None and any(v.name == ref for v in experiment.variants):
        return ref
    path = Path(ref)
    return path.stem.replace(" ", "-") if path.suffix in (".css", ".toml") else ""


def _session_rewards(decisions: Sequence[Mapping[str, Any]]) -> list[float]:
    """Undiscounted reward per session, from the decision log (event ids are ``SESSION-STEP``)."""
    totals: dict[str, float] = {}
    for record in decisions:
        session = str(record["event_id"]).rsplit("-", 1)[0]
        totals[session] = totals.get(session, 0.0) + float(record.get("reward") or 0.0)
    return list(totals.values())


def _load_experiment(path: str, notes: list[str]) -> Experiment | None:
    try:
        return load_experiment(path)
    except UiabError as exc:
        notes.append(f"experiment {path} could not be read ({exc}); funnel order and screenshots are missing")
        return None


def load_model(store: Store, run_id: int, *, summary: Mapping[str, Any] | None = None,
               experiment: Experiment | None = None) -> ReportModel:
    """The report's content for one run, from the database alone (no browser). ``summary`` overrides the
    stored one (the rollout command passes its full report, stages included)."""
    run = store.run(run_id)
    if run is None:
        raise InputError(f"no run {run_id} in {store.path}", field="RUN_ID", fix="pass a stored run id")
    config = json.loads(run["config"] or "{}")
    stored = json.loads(run["summary"] or "null") or {}
    notes: list[str] = []
    if experiment is None:
        experiment = _load_experiment(run["experiment"], notes)
    rows = store.sessions(run_id)
    kind = str(run["kind"])
    control = str(config.get("control") or (experiment.rollout.control if experiment is not None else "control"))
    planned = list(config.get("variants", []))  # simulate and smoke name their arms
    if kind == "rollout":
        # A rollout that rolls back in pre-flight stores no session: its arms still belong in the report.
        planned += [control, str((summary or {}).get("candidate")
                                 or _candidate_name(str(config.get("candidate", "")), experiment))]
    variants = _ordered([*(r["variant"] for r in rows), *(v for v in planned if v)], [control, *planned])
    device_order: list[str] = list(config.get("devices", []))
    mix: list[str] = list(config.get("personas", []))
    funnel: list[str] = []
    cta = None
    if experiment is not None:
        funnel = [s.page for s in experiment.funnel] or [experiment.entry]
        cta = experiment.slot_selector("cta")
        try:
            from harness.run.population import experiment_personas

            people = experiment_personas(experiment)
            device_order = device_order or list(dict.fromkeys(p.device for p in people))
            if not mix and kind in ("rollout", "train"):
                mix = [p.name for p in people]  # they draw from the experiment's whole mix
        except UiabError:
            pass
    # The devices sessions ran on; with none stored, those the run would have used.
    devices = _ordered((r["device"] for r in rows), device_order) if rows else device_order
    personas = _ordered((r["persona"] for r in rows if r["persona"]), mix)
    personas += [p for p in mix if p not in personas]

    results = [(r, result_from_json(r["result"])) for r in rows]
    groups: dict[str, list[SessionResult]] = defaultdict(list)
    by_persona: dict[str, list[SessionResult]] = {p: [] for p in personas}
    pairs: dict[tuple[str, str], list[SessionResult]] = defaultdict(list)
    ends: dict[str, dict[str, int]] = {v: {} for v in variants}
    for row, result in results:
        groups[row["variant"]].append(result)
        if row["persona"]:
            by_persona.setdefault(row["persona"], []).append(result)
            pairs[(row["variant"], row["persona"])].append(result)
        end = str(row["result"].get("end") or row["status"])
        ends[row["variant"]][end] = ends[row["variant"]].get(end, 0) + 1
    model = ReportModel(
        run_id=run_id, kind=kind, experiment=str(run["experiment"]), status=str(run["status"]), seed=run["seed"],
        started_at=str(run["started_at"]), finished_at=run["finished_at"], config=config,
        summary={**stored, **(summary or {})}, verdict="none", verdict_label="", headline="",
        variants=variants, devices=devices, personas=personas, funnel=funnel, control=control,
        by_variant={v: summarize(groups[v], cta=cta) for v in variants},
        by_persona={p: summarize(by_persona[p], cta=cta) for p in personas},
        by_variant_persona={(v, p): summarize(pairs[(v, p)], cta=cta) for v in variants for p in personas
                            if pairs.get((v, p))},
        alerts=store.alerts(run_id), notes=notes, sessions=len(rows), ends=ends, has_cta=cta is not None,
        overall=summarize([r for _, r in results], cta=cta))

    clicks: dict[tuple[str, str, str], list[ClickPoint]] = defaultdict(list)
    for event in store.events(run_id, ["click"]):
        point = click_point(event)
        if point is not None:
            clicks[(str(event["variant"]), str(event["device"]), page_of(str(event.get("url", ""))))].append(point)
    model.clicks = dict(clicks)

    if kind == "rollout":
        _rollout_verdict(model, store.checks(run_id))
    elif kind == "train":
        model.session_conversions = [bool(r["goal_reached"]) for r in rows]
        _train_verdict(model, store.decisions(run_id), experiment)
    elif kind == "smoke":
        _smoke_verdict(model, rows)
    else:
        _simulate_verdict(model)
    if model.status != "completed":
        model.warnings.insert(0, f"the run is {model.status}: the figures cover the {len(rows)} sessions stored")
    return model


def _rollout_verdict(model: ReportModel, checks: list[dict[str, Any]]) -> None:
    summary = model.summary
    verdict = str(summary.get("verdict") or "inconclusive")
    candidate = str(summary.get("candidate") or model.config.get("candidate") or "candidate")
    control = str(summary.get("control") or model.control)
    model.verdict, model.verdict_label = verdict, verdict.upper()
    model.headline = f"{candidate} vs {control}: {verdict}"
    if model.config.get("replay_of"):
        model.headline += f" (replay of run {model.config['replay_of']})"
    model.reasons = list(summary.get("reasons") or [])
    model.checks = [dict(c) for c in (summary.get("checks") or checks)]
    model.warnings = list(summary.get("warnings") or [c["message"] for c in model.checks
                                                      if c.get("status") == "fail" and c.get("level") == "warn"])
    model.stages = list(summary.get("stages") or rollout_stages(model.checks, verdict))
    for stage in model.stages:
        stage["checks"] = [c for c in model.checks if c["stage"] == stage["stage"]]
        stage["failed"] = sum(c["status"] == "fail" for c in stage["checks"])
    model.notes.append("per-variant figures count every stored session of the rollout: pre-flight sessions "
                       "(candidate only) and unpaired control visitors included; the gate itself uses the pairs")


def _simulate_verdict(model: ReportModel) -> None:
    model.verdict, model.verdict_label = "none", "No verdict: simulation"
    arms = {v: a for v, a in model.by_variant.items() if a.sessions}
    if not arms:
        model.headline = "no sessions were stored"
        return
    best = max(arms, key=lambda v: (arms[v].conversion_rate, -list(arms).index(v)))
    base = model.control if model.control in arms else next(iter(arms))
    if best == base or len(arms) == 1:
        model.headline = f"Highest conversion: {_arm_text(best, arms[best])}"
        if len(arms) > 1:
            model.reasons.append(f"no variant converted more often than {base}")
        return
    model.headline = f"Highest conversion: {_arm_text(best, arms[best])}; {_arm_text(base, arms[base])}"
    if arms[best].ci_low > arms[base].ci_high:
        model.reasons.append(f"{best}'s interval lies entirely above {base}'s")
    else:
        model.reasons.append(f"the intervals of {best} and {base} overlap: no clear difference at this sample "
                             "size (run uiab rollout for a gated decision)")


def _train_verdict(model: ReportModel, decisions: list[dict[str, Any]], experiment: Experiment | None) -> None:
    policy = str(model.config.get("policy") or model.summary.get("policy") or "?")
    model.verdict, model.verdict_label = "none", "No verdict: training"
    model.session_rewards = _session_rewards(decisions)
    rewards = model.session_rewards
    total = model.overall
    if rewards:
        k = max(1, round(len(rewards) * 0.1))
        first, last = float(np.mean(rewards[:k])), float(np.mean(rewards[-k:]))
        model.headline = (f"{policy}: {len(rewards)} sessions; mean session reward {first:+.3f} over the first 10 % "
                          f"→ {last:+.3f} over the last 10 %; conversion {_pct(total.conversion_rate)} "
                          f"(95 % {_pct(total.ci_low)} – {_pct(total.ci_high)})")
        model.reasons.append("the reward rose over the run" if last > first else
                             "the reward did not rise over the run")
    else:
        model.headline = f"{policy}: no decisions were logged"
    counts: dict[int, int] = defaultdict(int)
    for record in decisions:
        counts[int(record["action"])] += 1
    keys: list[str] = []
    if experiment is not None:
        try:
            keys = list(experiment.action_catalog().keys)
        except UiabError:
            keys = []
    n = sum(counts.values()) or 1
    model.actions = [{"action": a, "key": keys[a] if a < len(keys) else f"action {a}", "count": c, "share": c / n}
                     for a, c in sorted(counts.items(), key=lambda item: -item[1])]
    model.notes.append(f"the variant {', '.join(model.variants) or 'policy:' + policy} is the policy choosing a "
                       "patch per page view: it has no patch of its own, so its screenshots and heatmaps are drawn "
                       "on control")


def _smoke_verdict(model: ReportModel, rows: list[dict[str, Any]]) -> None:
    problems = [f"{r['variant']} on {r['device']}: {p}" for r in rows for check in r["result"].get("checks", [])
                for p in check.get("problems", [])]
    ok = all(r["status"] == "walk" for r in rows) and not problems
    model.verdict, model.verdict_label = ("pass", "SMOKE PASS") if ok else ("fail", "SMOKE FAIL")
    pages = sum(len(r["result"].get("checks", [])) for r in rows)
    model.headline = f"{len(rows)} walks (variant × device), {pages} pages checked"
    model.reasons = problems


# --- screenshots at report time ---------------------------------------------------------------------------------
def _variant_for(name: str, experiment: Experiment, model: ReportModel, settings: Settings) -> tuple[Variant, str]:
    """The variant whose patch renders ``name``, and a note when that is not ``name`` itself."""
    for variant in experiment.variants:
        if variant.name == name:
            return variant, ""
    ref = str(model.config.get("candidate") or "")
    path = Path(ref)
    if path.suffix in (".css", ".toml") and path.is_file() and name in (path.stem, f"{path.stem}-candidate"):
        return Variant(name=name, patch=str(path.resolve())), ""
    written = settings.report_dir / "candidates" / f"{name}.toml"  # a checkpoint candidate's patch file
    if written.is_file():
        return Variant(name=name, patch=str(written.resolve())), ""
    base = next((v for v in experiment.variants if v.name == model.control), None) or experiment.variants[0]
    return base, f"{name} has no patch of its own: rendered on {base.name}"


ShotKey = tuple[str, str, str]  # (variant, device, page)


async def _capture(experiment: Experiment, wanted: Mapping[tuple[str, str], Sequence[str]],
                   variants: Mapping[str, Variant], settings: Settings, notes: list[str]) -> dict[ShotKey, Shot]:
    """Full-page screenshots (CSS scale) of each wanted page, per variant and device, in the real browser."""
    from harness.browser.launch import open_browser
    from harness.run.smoke_job import site_url
    from harness.run.variants import variant_init_scripts
    from harness.browser.visitor import open_visitor

    shots: dict[ShotKey, Shot] = {}
    with site_url(experiment) as base_url:
        async with open_browser(settings) as browser:
            gate = asyncio.Semaphore(max(1, settings.concurrency))

            async def one(variant_name: str, device: str, pages: Sequence[str]) -> None:
                async with gate:
                    try:
                        scripts = variant_init_scripts(experiment, variants[variant_name])
                        descriptor = browser.device(device)
                    except UiabError as exc:
                        notes.append(f"no screenshots of {variant_name} on {device}: {exc}")
                        return
                    async with open_visitor(browser, base_url, device=descriptor, goals=experiment.goal_specs(),
                                            init_scripts=scripts) as visitor:
                        for page in pages:
                            try:
                                await visitor.goto(page)
                                await visitor.advance(1000)  # let the page's timers settle, as smoke does
                                size = await visitor.page.evaluate(
                                    "[Math.max(document.documentElement.scrollWidth, innerWidth),"
                                    " Math.max(document.documentElement.scrollHeight, innerHeight)]")
                                width, height = float(size[0]), float(size[1])
                                crop = min(height, MAX_CSS_HEIGHT)
                                png = await visitor.page.screenshot(
                                    full_page=True, type="png", scale="css", animations="disabled",
                                    clip={"x": 0, "y": 0, "width": width, "height": crop})
                                shots[(variant_name, device, page)] = Shot(png, width, crop, height)
                            except PlaywrightError as exc:
                                first = str(exc).strip().splitlines()[0] if str(exc).strip() else "error"
                                notes.append(f"screenshot of {page} ({variant_name}, {device}) failed: {first}")

            await asyncio.gather(*(one(v, d, pages) for (v, d), pages in wanted.items()))
    return shots


# --- the page ---------------------------------------------------------------------------------------------
async def build_report_async(store: Store | str | Path, run: int | str, out_dir: str | Path, settings: Settings, *,
                             screenshots: bool = True, summary: Mapping[str, Any] | None = None,
                             latest: bool = True, nightly: Mapping[str, Any] | None = None) -> Path:
    """Write ``out_dir/index.html`` for ``run`` (an id or ``latest``); returns its path.

    ``screenshots=False`` skips the browser: heatmaps are then drawn on a blank page. ``latest`` also copies the
    page to ``settings.report_dir/latest/index.html`` when the run is the newest in its database.
    """
    if isinstance(store, Store):
        return await _build(store, run, Path(out_dir), settings, screenshots, summary, latest, nightly)
    path = Path(store)
    if not path.is_file():
        raise InputError(f"no database at {path}", field="--db", fix="pass the --db a uiab command wrote to")
    with Store(path) as opened:
        return await _build(opened, run, Path(out_dir), settings, screenshots, summary, latest, nightly)


def build_report(store: Store | str | Path, run: int | str, out_dir: str | Path, settings: Settings, *,
                 screenshots: bool = True, summary: Mapping[str, Any] | None = None, latest: bool = True,
                 nightly: Mapping[str, Any] | None = None) -> Path:
    """:func:`build_report_async` for code outside an event loop (the CLI).

    ``nightly``: the nightly's steps (``steps``: name, run_id, summary, href) and images (``curve``,
    ``variant_plot``) shown right after the verdict.
    """
    return asyncio.run(build_report_async(store, run, out_dir, settings, screenshots=screenshots, summary=summary,
                                          latest=latest, nightly=nightly))


@dataclass(frozen=True)
class Comparison:
    """Screenshots shown side by side: ``variants`` on one device and page (control first)."""

    device: str
    page: str
    variants: tuple[str, ...]


def plan_comparisons(model: ReportModel, patched: Mapping[str, Sequence[str]], *,
                     max_pages: int = 2) -> list[Comparison]:
    """Control beside each candidate, per device, on the pages where the candidate's patch matched (the
    tracker's patch reports say where), else on the entry page; only control where no variant has a patch."""
    entry = model.funnel[0] if model.funnel else None
    rank = {page: i for i, page in enumerate(model.funnel)}
    comparisons: list[Comparison] = []
    for variant in model.variants:
        if variant == model.control or variant not in patched:
            continue
        pages = sorted(dict.fromkeys(patched[variant]), key=lambda p: (rank.get(p, len(rank)), p))[:max_pages]
        for device in model.devices:
            for page in pages or ([entry] if entry else []):
                comparisons.append(Comparison(device, page, (model.control, variant)))
    if not comparisons and entry is not None:
        comparisons = [Comparison(device, entry, (model.control,)) for device in model.devices]
    return comparisons


async def _build(store: Store, run: int | str, out_dir: Path, settings: Settings, screenshots: bool,
                 summary: Mapping[str, Any] | None, latest: bool, nightly: Mapping[str, Any] | None = None) -> Path:
    run_id = resolve_run_id(store, run)
    notes: list[str] = []
    experiment = _load_experiment(store.run(run_id)["experiment"], notes)  # type: ignore[index]
    model = load_model(store, run_id, summary=summary, experiment=experiment)
    model.notes[:0] = notes
    targets = plan_heatmaps(model.clicks, variants=model.variants, devices=model.devices, funnel=model.funnel)
    shots: dict[ShotKey, Shot] = {}
    rendered_on: dict[str, str] = {}
    comparisons: list[Comparison] = []
    if screenshots and experiment is not None:
        variants: dict[str, Variant] = {}
        for name in dict.fromkeys([model.control, *model.variants]):
            variants[name], note = _variant_for(name, experiment, model, settings)
            if note:
                rendered_on[name] = note
        seen = _patched_pages(store, run_id)
        patched = {v: seen.get(v, []) for v in model.variants if v not in rendered_on and variants[v].patch}
        comparisons = plan_comparisons(model, patched)
        wanted: dict[tuple[str, str], list[str]] = defaultdict(list)
        for c in comparisons:
            for name in c.variants:
                wanted[(name, c.device)].append(c.page)
        for t in targets:
            wanted[(t.variant, t.device)].append(t.page)
        try:
            shots = await _capture(experiment, {k: list(dict.fromkeys(v)) for k, v in wanted.items()}, variants,
                                   settings, model.notes)
        except (UiabError, PlaywrightError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            model.notes.append(f"no screenshots: {first}; heatmaps are drawn on a blank page")
            logger.warning("report {}: no screenshots ({})", run_id, first)
    elif not screenshots:
        model.notes.append("screenshots were not taken (--no-screenshots): heatmaps are drawn on a blank page")

    blank = {t.device for t in targets if (t.variant, t.device, t.page) not in shots}
    viewports = await _viewports(sorted(blank)) if blank else {}
    heatmaps = []
    for t in targets:
        shot = shots.get((t.variant, t.device, t.page))
        image, _, outside = render_heatmap(shot, t.points, viewport=viewports.get(t.device, (1280, 720)))
        caption = f"{t.variant} · {t.device} · {t.page}: {len(t.points)} click(s)"
        if outside:
            caption += f", {outside} outside the part drawn"
        if shot is None:
            caption += " (no screenshot: blank page)"
        heatmaps.append({"variant": t.variant, "device": t.device, "page": t.page,
                         "uri": _data_uri(image, "image/jpeg"), "caption": caption,
                         "misclicks": sum(not p.interactive for p in t.points),
                         "note": rendered_on.get(t.variant, "")})
    screens = []
    for c in comparisons:
        row = [{"variant": v, "uri": _thumbnail(shots[(v, c.device, c.page)].png), "note": rendered_on.get(v, ""),
                "role": "control" if v == model.control else "candidate"}
               for v in c.variants if (v, c.device, c.page) in shots]
        if row:
            title = " vs ".join(c.variants[::-1]) if len(c.variants) > 1 else c.variants[0]
            screens.append({"title": f"{title} · {c.device} · {c.page}", "device": c.device, "page": c.page,
                            "shots": row})
    for check in model.checks:
        shot_path = check.get("screenshot")
        if shot_path and Path(shot_path).is_file():
            check["screenshot_uri"] = _thumbnail(Path(shot_path).read_bytes(), width=900, max_height=1400)

    html = _render(model, heatmaps=heatmaps, screens=screens, took_screenshots=bool(shots), nightly=nightly,
                   variant_plot=_interval_plot(model.by_variant, "conversion by variant"),
                   persona_plot=_interval_plot(model.by_persona, "conversion by persona")
                   if len(model.personas) > 1 else None,
                   curve=_learning_plot(model.session_rewards, model.session_conversions,
                                        f"uiab train {model.config.get('policy', '')}, run {run_id}")
                   if model.kind == "train" else None)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / "index.html"
    index.write_text(html, encoding="utf-8")
    if latest and store.latest_run_id() == run_id:
        update_latest(index, settings.report_dir)
    return index


def nightly_images(store: Store, *, simulate_run: int | None, train_run: int | None) -> dict[str, str | None]:
    """A nightly page's pictures of its other runs: conversion by variant (simulate), the learning curve (train)."""
    images: dict[str, str | None] = {"variant_plot": None, "persona_plot": None, "curve": None}
    if simulate_run is not None:
        model = load_model(store, simulate_run)
        images["variant_plot"] = _interval_plot(model.by_variant, f"simulate run {simulate_run}: conversion by variant")
        images["persona_plot"] = _interval_plot(model.by_persona, f"simulate run {simulate_run}: conversion by persona")
    if train_run is not None:
        model = load_model(store, train_run)
        images["curve"] = _learning_plot(model.session_rewards, model.session_conversions,
                                         f"uiab train {model.config.get('policy', '')}, run {train_run}")
    return images


def _patched_pages(store: Store, run_id: int) -> dict[str, list[str]]:
    """Per variant, the pages where its patch matched at least one element (from the tracker's patch reports)."""
    pages: dict[str, list[str]] = defaultdict(list)
    for event in store.events(run_id, ["patch"]):
        if any(int(n or 0) > 0 for n in dict(event.get("selectors") or {}).values()):
            page = page_of(str(event.get("url", "")))
            if page not in pages[str(event["variant"])]:
                pages[str(event["variant"])].append(page)
    return dict(pages)


async def _viewports(devices: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Each device's CSS viewport, from Playwright's descriptors (no browser is started)."""
    from playwright.async_api import async_playwright

    known: dict[str, tuple[float, float]] = {}
    try:
        async with async_playwright() as playwright:
            for device in devices:
                viewport = playwright.devices.get(device, {}).get("viewport")
                if viewport:
                    known[device] = (float(viewport["width"]), float(viewport["height"]))
    except PlaywrightError:
        pass  # the blank page falls back to a desktop viewport
    return known


def _render(model: ReportModel, **extra: Any) -> str:
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["pct"] = _pct
    return env.get_template("report.html.j2").render(
        m=model, generated=datetime.now(UTC).isoformat(timespec="seconds"), **extra)


def update_latest(index: Path, report_dir: Path) -> Path:
    """Copy a report to ``report_dir/latest/index.html`` (a copy, not a link: it is self-contained)."""
    target = report_dir / "latest" / "index.html"
    if index.resolve() == target.resolve():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(index, target)
    return target
