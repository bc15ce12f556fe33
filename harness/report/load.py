"""The run read back from SQLite into a :class:`ReportModel`: sessions, arms, clicks, checks, decisions.

No browser: everything here comes from the database (and the experiment file, for the funnel and the mix).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from agent.kernel import InputError, UiabError
from harness.report.clicks import ClickPoint, click_point, page_of
from harness.report.model import (
    ReportModel,
    rollout_verdict,
    simulate_verdict,
    smoke_verdict,
    train_verdict,
)
from harness.run.experiment import Experiment, load_experiment
from harness.run.outcome import PageView, SessionResult
from harness.run.summary import summarize
from harness.store.database import Store

__all__ = ["load_experiment_noted", "load_model", "patched_pages", "resolve_run_id", "result_from_json"]


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

def _ordered(names: Iterable[str], first: Sequence[str]) -> list[str]:
    """``names`` once each: those in ``first`` in its order, then the rest as they came."""
    seen = list(dict.fromkeys(names))
    lead = [n for n in dict.fromkeys(first) if n in seen]
    return lead + [n for n in seen if n not in lead]


def _candidate_name(ref: str, experiment: Experiment | None) -> str:
    """The variant name a rollout's ``--candidate`` ran under (a name, or a patch file's stem); "" if unknown."""
    if experiment is not None and any(v.name == ref for v in experiment.variants):
        return ref
    path = Path(ref)
    return path.stem.replace(" ", "-") if path.suffix in (".css", ".toml") else ""


def load_experiment_noted(path: str, notes: list[str]) -> Experiment | None:
    """The run's experiment, or None with a note saying what the report will miss without it."""
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
        experiment = load_experiment_noted(run["experiment"], notes)
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
        rollout_verdict(model, store.checks(run_id))
    elif kind == "train":
        model.session_conversions = [bool(r["goal_reached"]) for r in rows]
        train_verdict(model, store.decisions(run_id), experiment)
    elif kind == "smoke":
        smoke_verdict(model, rows)
    else:
        simulate_verdict(model)
    if model.status != "completed":
        model.warnings.insert(0, f"the run is {model.status}: the figures cover the {len(rows)} sessions stored")
    return model

def patched_pages(store: Store, run_id: int) -> dict[str, list[str]]:
    """Per variant, the pages where its patch matched at least one element (from the tracker's patch reports)."""
    pages: dict[str, list[str]] = defaultdict(list)
    for event in store.events(run_id, ["patch"]):
        if any(int(n or 0) > 0 for n in dict(event.get("selectors") or {}).values()):
            page = page_of(str(event.get("url", "")))
            if page not in pages[str(event["variant"])]:
                pages[str(event["variant"])].append(page)
    return dict(pages)

