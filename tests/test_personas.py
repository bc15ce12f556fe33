"""The persona model without a browser: persona files, and decisions on hand-made snapshots.

Statistical checks use fixed seeds; their tolerances follow from the sample size (binomial standard errors,
two-proportion z statistics, a Kolmogorov–Smirnov test), so they hold for any seed, not just these.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from agent.kernel import InputError, PersonaError
from personas import (
    Decision,
    PageSnapshot,
    Persona,
    PersonaState,
    decide,
    list_personas,
    load_persona,
)
from personas import model as persona_model
from personas.decide import (
    REPEAT_FACTOR,
    attention_share,
    fitts_ms,
    hick_ms,
    leave_probability,
    patience_deadline_ms,
    reading_ms,
    relevance,
    tokens,
    width_along,
)
from personas.laws import MIN_MOVE_MS
from personas.perception import RELEVANCE_GAIN
from personas.snapshot import Box

SIX = {"hurried-mobile-shopper", "careful-desktop-researcher", "low-vision-senior", "tablet-browser",
       "bargain-hunter", "first-time-visitor"}


# --- hand-made snapshots ------------------------------------------------------------------------------------
def cand(selector: str, x: float, y: float, w: float, h: float, *, name: str = "", contrast: float = 7.0,
         fill: float = 1.0, font: float = 16.0, weight: int = 400, occluded: bool | None = False,
         href: str | None = None) -> dict[str, Any]:
    """A candidate dict shaped like snapshot.js output, at scroll 0 (``snap`` re-projects it)."""
    return {
        "index": 0, "selector": selector, "tag": "a" if href else "button", "name": name, "text": name,
        "bbox": {"x": x, "y": y, "width": w, "height": h}, "vbox": {"x": x, "y": y, "width": w, "height": h},
        "aim": {"x": x + w / 2, "y": y + h / 2}, "visible": 1.0, "in_viewport": 1.0, "occluded": occluded,
        "contrast": contrast, "fill_contrast": fill, "font_size_px": font, "font_weight": weight,
        "href": href,
    }


def snap(cands: Sequence[dict[str, Any]], *, width: float = 390, height: float = 664,
         page_height: float = 664, scroll_y: float = 0.0,
         blocks: Sequence[tuple[str, float, float, int]] = (), url: str = "/p") -> PageSnapshot:
    """A snapshot of a static page; blocks are (selector, y, height, words)."""
    raw = {
        "url": url, "viewport": {"width": width, "height": height},
        "scroll": {"x": 0, "y": 0, "width": width, "height": page_height},
        "candidates": [dict(c, index=i) for i, c in enumerate(cands)],
        "text_blocks": [{"selector": s, "tag": "p", "words": n, "bbox": {"x": 0, "y": y, "width": width,
                                                                          "height": h}}
                        for s, y, h, n in blocks],
        "total_words": sum(b[3] for b in blocks),
    }
    # Re-projection recomputes in-view shares from geometry, and keeps occlusion only where it is on screen.
    return PageSnapshot.from_dict(raw).scrolled_to(scroll_y)


def hit(snapshot: PageSnapshot, x: float, y: float) -> str | None:
    """What the browser would hit at a viewport point: the smallest candidate box holding it."""
    inside = [c for c in snapshot.candidates if snapshot.viewport_box(c).contains(x, y)]
    return min(inside, key=lambda c: c.bbox.area).selector if inside else None


@dataclass
class Visit:
    outcome: str  # "goal" | "leave" | "steps"
    clicks: int
    misclicks: int
    dwell_ms: float


def visit(persona: Persona, page: PageSnapshot, seed: int, goal: str, max_steps: int = 30) -> Visit:
    """Replay one page view: scrolls re-project the snapshot, clicks are hit-tested against the boxes."""
    rng = np.random.default_rng(seed)
    state, view = PersonaState(), page
    clicks = misclicks = 0
    for _ in range(max_steps):
        d = decide(persona, view, state, rng)
        if d.kind == "leave":
            return Visit("leave", clicks, misclicks, state.page_ms + d.total_ms)
        if d.kind == "scroll":
            state = state.advance(d)
            view = page.scrolled_to(view.scroll_y + d.scroll_dy)
            continue
        assert d.x is not None and d.y is not None
        clicks += 1
        target = hit(view, d.x, d.y)
        misclicks += target is None
        state = state.advance(d, hit=target == d.selector)
        if target == goal:
            return Visit("goal", clicks, misclicks, state.page_ms)
    return Visit("steps", clicks, misclicks, state.page_ms)


def z_two(p1: float, n1: int, p2: float, n2: int) -> float:
    """Two-proportion z statistic (pooled)."""
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n1 + 1 / n2))
    return (p1 - p2) / se


def binomial_tol(p: float, n: int, z: float = 4.0) -> float:
    return z * math.sqrt(max(p * (1 - p), 1e-4) / n)


HURRIED = load_persona("hurried-mobile-shopper")
DESKTOP = load_persona("careful-desktop-researcher")
LOW_VISION = load_persona("low-vision-senior")


# --- persona files ------------------------------------------------------------------------------------------
def test_library_holds_the_six_personas_with_valid_fields() -> None:
    personas = {p.name: p for p in list_personas()}
    assert SIX <= set(personas)
    for p in personas.values():
        assert 0 < p.share <= 1 and 0 <= p.intent <= 1 and p.goals
        assert p.patience.shape < 1, f"{p.name}: dwell should show negative aging (Liu et al. 2010)"
        assert 0 < p.reading.fraction <= 0.28  # Nielsen (2008) ceiling
        assert p.motor.fitts_b_ms in (75, 100) or p.name == "low-vision-senior"
    assert math.isclose(sum(p.share for p in personas.values() if p.name in SIX), 1.0, abs_tol=1e-9)


def test_each_persona_matches_its_brief() -> None:
    p = {name: load_persona(name) for name in SIX}
    hurried, careful = p["hurried-mobile-shopper"], p["careful-desktop-researcher"]
    senior = p["low-vision-senior"]
    assert hurried.device == "iPhone 13" and hurried.touch and hurried.motor.fitts_b_ms == 75
    assert hurried.intent >= 0.8 and hurried.patience.median_s() < careful.patience.median_s()
    assert careful.device == "Desktop Chrome" and careful.motor.pointer == "mouse"
    assert careful.reading.fraction > hurried.reading.fraction
    assert senior.vision.min_font_px >= 16 and 4.5 <= senior.vision.min_contrast <= 7
    assert senior.motor.fitts_b_ms > careful.motor.fitts_b_ms
    assert senior.motor.noise_px > careful.motor.noise_px
    assert p["tablet-browser"].device.startswith("iPad") and p["tablet-browser"].touch
    assert {"sale", "discount", "price"} <= set(p["bargain-hunter"].goals)
    assert p["first-time-visitor"].intent == min(x.intent for x in p.values())
    # FFitts: a touch persona's aim spread includes the 1.5 mm absolute finger part (6.04 px/mm on iPhone 13).
    assert math.isclose(hurried.aim_sigma_px, math.hypot(3, 1.5 * 6.04))


def _write(tmp_path: Path, text: str, name: str = "mine.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


VALID = (persona_model.LIBRARY / "careful-desktop-researcher.toml").read_text(encoding="utf-8")


def test_a_persona_file_loads_by_path_relative_to_a_folder(tmp_path: Path) -> None:
    _write(tmp_path, VALID.replace('name = "careful-desktop-researcher"', 'name = "mine"'))
    assert load_persona("mine.toml", relative_to=tmp_path).name == "mine"


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, 'name = "x"\nintent = [0.5\n')
    with pytest.raises(PersonaError) as err:
        load_persona(str(path))
    assert err.value.source == str(path) and "malformed TOML" in str(err.value)
    assert isinstance(err.value, InputError) and err.value.exit_code == 2


def test_unknown_field_names_the_field_and_a_close_match(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.replace("min_contrast =", "min_contrst ="))
    with pytest.raises(PersonaError) as err:
        load_persona(str(path))
    assert err.value.field == "vision.min_contrst"
    assert "unknown field" in str(err.value) and "min_contrast" in (err.value.fix or "")
    assert str(err.value).startswith(f"{path}: vision.min_contrst: ")


def test_out_of_range_value_names_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.replace("intent = 0.7", "intent = 1.5"))
    with pytest.raises(PersonaError) as err:
        load_persona(str(path))
    assert err.value.source == str(path) and err.value.field == "intent" and "1.5" in str(err.value)


def test_wrong_pointer_and_missing_section_are_reported(tmp_path: Path) -> None:
    with pytest.raises(PersonaError) as err:
        load_persona(str(_write(tmp_path, VALID.replace('pointer = "mouse"', 'pointer = "pen"'))))
    assert err.value.field == "motor.pointer"
    start = VALID.index("[patience]")
    without = VALID[:start] + VALID[VALID.index("[vision]"):]
    with pytest.raises(PersonaError) as err:
        load_persona(str(_write(tmp_path, without, "b.toml")))
    assert err.value.field == "patience" and "missing" in str(err.value)


def test_unknown_persona_name_lists_known_names_and_a_close_match() -> None:
    with pytest.raises(PersonaError) as err:
        load_persona("hurried-mobile-shoper")
    fix = err.value.fix or ""
    assert "did you mean 'hurried-mobile-shopper'" in fix and all(name in fix for name in SIX)


def test_a_library_file_must_carry_its_own_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, VALID, "other-name.toml")
    monkeypatch.setattr(persona_model, "LIBRARY", tmp_path)
    with pytest.raises(PersonaError) as err:
        load_persona("other-name")
    assert err.value.field == "name" and "other-name" in (err.value.fix or "")


# --- formulas -----------------------------------------------------------------------------------------------
def test_fitts_and_hick_match_hand_computed_values() -> None:
    assert fitts_ms(300, 20, 50, 100) == pytest.approx(50 + 100 * 4)  # log2(300/20 + 1) = 4 bits
    assert fitts_ms(10, 100, 50, 100) == pytest.approx(50 + MIN_MOVE_MS)  # ACT-R minimum movement
    assert hick_ms(7, 170, 150) == pytest.approx(170 + 150 * 3)  # log2(7 + 1) = 3 bits
    assert hick_ms(0, 170, 150) == pytest.approx(170)
    box = Box(0, 0, 80, 22)
    assert width_along(box, 100, 0) == 80 and width_along(box, 0, -100) == 22
    assert width_along(box, 100, 100) == pytest.approx(22 * math.sqrt(2))
    assert width_along(box, 0, 0) == 22


def test_leave_probability_is_the_weibull_conditional() -> None:
    patience = HURRIED.patience
    for t, dt in [(0, 2000), (5000, 1000), (60_000, 10_000)]:
        expected = 1 - patience.survival((t + dt) / 1000) / patience.survival(t / 1000)
        assert leave_probability(patience, t, dt) == pytest.approx(expected, rel=1e-12)
    # Negative aging (shape < 1): the same 2 s are riskier early in the visit than late.
    assert leave_probability(patience, 0, 2000) > leave_probability(patience, 30_000, 2000)
    # The deadline draw inverts the conditional survival: P(T < t + dt | T > t) at u = 1 − p is the border.
    p = leave_probability(patience, 5000, 1000)
    assert patience_deadline_ms(patience, 5000, 1 - p) == pytest.approx(6000, rel=1e-9)


def test_reading_time_is_words_over_wpm() -> None:
    assert reading_ms(238, 238, 1.0) == pytest.approx(60_000)
    assert reading_ms(300, 238, 0.175) == pytest.approx(3 * reading_ms(100, 238, 0.175))


def test_relevance_matches_goal_phrases_and_words() -> None:
    goals = ("add to cart", "sale")
    assert relevance("Add to cart", goals) == 1.0
    assert relevance("Cart", goals) == pytest.approx(0.25)  # one of two content words
    assert relevance("Sales this week", goals) == 1.0  # plural folded
    assert relevance("Shopping bag", ("shop",)) == 0.0  # whole words only: no stemming beyond plurals
    assert tokens("Trail Shoes — Café") == ["trail", "shoe", "cafe"]


def test_attention_follows_nng_screen_shares() -> None:
    assert attention_share(0, 1.0) == 1.0
    assert attention_share(1, 1.0) == pytest.approx(17 / 57)
    assert attention_share(5, 1.0) == pytest.approx(2 / 57)
    assert attention_share(9, 0.0) == 1.0


# --- one step -----------------------------------------------------------------------------------------------
CTA_SMALL = cand("#cta", 155, 400, 80, 22, name="Add to cart", contrast=6.2, fill=6.2, font=12)
CTA_BIG = cand("#cta", 115, 387, 160, 48, name="Add to cart", contrast=8.6, fill=8.6, font=18, weight=700)


def test_decision_time_is_reading_plus_hick_plus_fitts() -> None:
    page = snap([CTA_SMALL], blocks=[("#text", 100, 200, 100)])
    state = PersonaState(url="/p", pointer=(195.0, 100.0))
    for seed in range(50):
        d = decide(HURRIED, page, state, np.random.default_rng(seed))
        if d.kind == "click":
            break
    assert d.kind == "click" and d.selector == "#cta" and d.target == 0
    assert d.read_ms == pytest.approx(100 * 0.10 / 238 * 60_000)  # all 100 words in view, 10 % read
    assert d.think_ms == pytest.approx(170 + 150 * math.log2(1 + 1))  # one option noticed in view
    distance = 411 - 100  # straight down to the centre, so W is the box height
    assert d.move_ms == pytest.approx(50 + 75 * math.log2(distance / 22 + 1))
    assert d.total_ms == pytest.approx(d.read_ms + d.think_ms + d.move_ms)
    # The next step on the same page reads nothing twice.
    again = decide(HURRIED, page, state.advance(d, hit=False), np.random.default_rng(0))
    assert again.read_ms == 0 and again.words_read == 0


def test_same_seed_gives_identical_decisions() -> None:
    page = snap([CTA_SMALL, cand("#nav", 10, 10, 60, 30, name="Packs")], page_height=2000,
                blocks=[("#a", 100, 300, 80), ("#b", 900, 300, 120)])

    def run(seed: int) -> list[Decision]:
        return [decide(HURRIED, page, PersonaState(), np.random.default_rng(seed)) for _ in range(1)] + \
            [decide(DESKTOP, page, PersonaState(), np.random.default_rng(seed))]

    assert run(7) == run(7)
    assert [visit(HURRIED, page, s, "#cta") for s in range(30)] == [visit(HURRIED, page, s, "#cta")
                                                                       for s in range(30)]
    assert [visit(HURRIED, page, s, "#cta").dwell_ms for s in range(30)] != \
        [visit(HURRIED, page, s + 1000, "#cta").dwell_ms for s in range(30)]
    assert json.loads(json.dumps(run(7)[0].to_dict()))["url"] == "/p"


def test_the_persona_only_clicks_what_it_can_see() -> None:
    covered = cand("#cta", 155, 400, 80, 22, name="Add to cart", occluded=True)
    below = cand("#cta", 155, 1500, 80, 22, name="Add to cart")
    partly = cand("#cta", 155, 650, 80, 40, name="Add to cart")
    for target, page_height in [(covered, 664), (below, 2000), (partly, 2000)]:
        page = snap([target], page_height=page_height)
        kinds = {decide(HURRIED, page, PersonaState(), np.random.default_rng(s)).kind for s in range(300)}
        assert "click" not in kinds
    # Partly in view: the persona scrolls it into view first, naming the target it goes for.
    page = snap([partly], page_height=2000)
    scrolls = [d for s in range(200) if (d := decide(HURRIED, page, PersonaState(), np.random.default_rng(s)))
               .kind == "scroll" and d.selector == "#cta"]
    assert scrolls and all(d.scroll_dy == pytest.approx(670 - 332) for d in scrolls)


def test_a_click_that_hit_and_stayed_is_tried_less_often() -> None:
    page = snap([CTA_SMALL, cand("#nav", 10, 10, 60, 30, name="Packs")])
    fresh, clicked = PersonaState(url="/p"), PersonaState(url="/p", clicked={"#cta": 1})
    for seed in range(20):
        a = decide(HURRIED, page, fresh, np.random.default_rng(seed))
        b = decide(HURRIED, page, clicked, np.random.default_rng(seed))
        if a.selector == b.selector == "#cta":
            break
    # Same draws, same patience: only the target's weight changed, by REPEAT_FACTOR, so its odds against
    # the other options (1 − P(leave by patience) − p) fall by exactly that factor.
    in_sight = math.exp(-RELEVANCE_GAIN * HURRIED.intent * 1.0)  # the legible, fully relevant CTA is in view
    rest = 1 - leave_probability(HURRIED.patience, 0, a.read_ms + a.think_ms, in_sight)
    odds = (b.probability / (rest - b.probability)) / (a.probability / (rest - a.probability))
    assert odds == pytest.approx(REPEAT_FACTOR, rel=1e-6)


def test_state_resets_page_memory_on_a_new_page() -> None:
    page = snap([CTA_SMALL], blocks=[("#text", 100, 200, 100)])
    d = decide(HURRIED, page, PersonaState(), np.random.default_rng(1))
    state = PersonaState().advance(d)
    assert state.url == "/p" and state.pages_seen == 1 and state.step == 1 and state.read
    other = snap([CTA_SMALL], url="/q")
    d2 = decide(HURRIED, other, state, np.random.default_rng(2))
    moved = state.advance(d2)
    assert moved.url == "/q" and moved.pages_seen == 2 and moved.page_step == 1 and moved.step == 2
    assert moved.page_ms == pytest.approx(d2.total_ms) and "#text" not in moved.read


# --- the effects the model must show --------------------------------------------------------------------------
def test_touch_aim_points_miss_a_small_target_far_more_than_a_big_one() -> None:
    sigma = HURRIED.aim_sigma_px
    norm = stats.norm(scale=sigma)
    for target in (CTA_SMALL, CTA_BIG):
        page = snap([target])
        box = page.viewport_box(page.candidates[0])
        points = []
        for seed in range(4000):
            d = decide(HURRIED, page, PersonaState(), np.random.default_rng(seed))
            if d.kind == "click" and d.x is not None and d.y is not None:
                points.append((d.x, d.y))
            if len(points) == 2000:
                break
        assert len(points) == 2000
        hits = sum(box.contains(x, y) for x, y in points) / len(points)
        # FFitts: endpoint ~ N(centre, σ²) per axis; a hit needs both axes inside the box.
        expected = ((norm.cdf(box.width / 2) - norm.cdf(-box.width / 2))
                    * (norm.cdf(box.height / 2) - norm.cdf(-box.height / 2)))
        assert abs(hits - expected) < binomial_tol(expected, len(points))
        if target is CTA_SMALL:
            small = hits
    assert hits > small + 0.15  # 48 px tall vs 22 px: ≈ 0.99 vs ≈ 0.75


def test_enlarging_a_small_cta_raises_touch_click_through_and_lowers_misclicks() -> None:
    names = ["Trail", "Packs", "Layers", "Repairs", "Sale", "Bag"]
    nav = [cand(f"#nav{i}", 10 + 62 * i, 10, 56, 30, name=name) for i, name in enumerate(names)]
    n = 1500
    results = {}
    for label, cta in [("small", CTA_SMALL), ("big", CTA_BIG)]:
        page = snap([*nav, cta], page_height=2000, blocks=[("#copy", 120, 250, 80), ("#more", 700, 600, 150)])
        visits = [visit(HURRIED, page, seed, "#cta") for seed in range(n)]
        clicks = sum(v.clicks for v in visits)
        goals = sum(v.outcome == "goal" for v in visits)
        results[label] = (goals / n, sum(v.misclicks for v in visits) / clicks, clicks)
    (ctr_small, miss_small, clicks_small), (ctr_big, miss_big, clicks_big) = results["small"], results["big"]
    assert z_two(ctr_big, n, ctr_small, n) > 4
    assert z_two(miss_small, clicks_small, miss_big, clicks_big) > 4


def test_low_contrast_cta_is_lost_on_low_vision_but_not_on_desktop() -> None:
    width, height = 1280, 720
    nav = [cand(f"#nav{i}", 700 + 80 * i, 20, 60, 30, name=n, contrast=17.7) for i, n in
           enumerate(["Trail", "Packs", "Layers"])]
    normal = cand("#cta", 780, 220, 120, 40, name="Add to cart", contrast=6.2, fill=6.2, font=16, weight=700)
    faint = dict(normal, contrast=1.4, fill_contrast=1.8)  # grey on grey, as the shop's low-contrast variant
    n = 1000
    rate: dict[tuple[str, str], float] = {}
    for persona in (DESKTOP, LOW_VISION):
        for label, cta in [("normal", normal), ("faint", faint)]:
            page = snap([*nav, cta], width=width, height=height, page_height=1800,
                        blocks=[("#copy", 300, 400, 120)])
            rate[persona.name, label] = sum(visit(persona, page, s, "#cta").outcome == "goal"
                                            for s in range(n)) / n
    senior, desk = LOW_VISION.name, DESKTOP.name
    assert rate[senior, "faint"] < 0.02 and z_two(rate[senior, "normal"], n, rate[senior, "faint"], n) > 4
    assert rate[desk, "faint"] > 0.5
    # "Barely changes": the desktop persona keeps at least 85 % of its click-through.
    assert rate[desk, "faint"] > 0.85 * rate[desk, "normal"] - binomial_tol(rate[desk, "normal"], n, 3)


def test_cta_below_the_fold_costs_the_hurried_persona() -> None:
    blocks = [(f"#p{i}", 150 + 300 * i, 260, 60) for i in range(8)]
    above = snap([CTA_SMALL], page_height=2600, blocks=blocks)
    below = snap([dict(CTA_SMALL, bbox={"x": 155, "y": 2100, "width": 80, "height": 22},
                       aim={"x": 195, "y": 2111})], page_height=2600, blocks=blocks)
    n = 1500
    rate_above = sum(visit(HURRIED, above, s, "#cta").outcome == "goal" for s in range(n)) / n
    rate_below = sum(visit(HURRIED, below, s, "#cta").outcome == "goal" for s in range(n)) / n
    assert z_two(rate_above, n, rate_below, n) > 4


def test_dwell_on_a_page_with_nothing_to_do_is_the_personas_weibull() -> None:
    # A long text page, nothing to click: the persona reads and scrolls until its patience ends, so the
    # dwell is exactly the Weibull (re-drawn each step, conditional on the time already spent).
    page = snap([], page_height=664 * 6, blocks=[(f"#p{i}", 40 + 330 * i, 300, 70) for i in range(12)])
    dwell = np.array([visit(HURRIED, page, s, "#none", max_steps=200).dwell_ms for s in range(2000)]) / 1000
    weibull = stats.weibull_min(c=HURRIED.patience.shape, scale=HURRIED.patience.scale_s)
    assert stats.kstest(dwell, weibull.cdf).pvalue > 0.01
    assert stats.kstest(dwell, stats.weibull_min(c=1.0, scale=HURRIED.patience.scale_s).cdf).pvalue < 1e-6
    shape = float(np.asarray(stats.weibull_min.fit(dwell, floc=0))[0])
    assert shape < 1


def test_longer_text_lengthens_dwell_by_about_words_over_wpm() -> None:
    # The CTA is in view; extra words in view are read (fraction × words ÷ wpm) before acting.
    def mean_dwell(words: int) -> float:
        page = snap([CTA_BIG], blocks=[("#copy", 100, 250, words)])
        return float(np.mean([visit(DESKTOP, page, s, "#cta").dwell_ms for s in range(600)]))

    extra = reading_ms(300, DESKTOP.reading.wpm, DESKTOP.reading.fraction)
    assert mean_dwell(400) - mean_dwell(100) == pytest.approx(extra, rel=0.15)
