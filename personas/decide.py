"""The pure decision model: perceive → weigh → choose → time one step. numpy only; no browser.

One step on a page, as docs/design.md lays it out:

1. *Perceive*: which candidates this persona notices (text or fill contrast against ``vision.min_contrast``;
   drawn once per element and page view) and how legible their labels are (contrast, font size against
   ``vision.min_font_px``). Only what is on screen and not covered at its aim point can be noticed.
2. *Spend time looking*: partial reading of the newly visible text (words × fraction ÷ wpm) plus a
   Hick–Hyman choice over the options noticed in view.
3. *Choose* with a softmax over: click a target in view, scroll to a target that is partly in view or was
   seen earlier, scroll down, or leave (linger until patience runs out). Weight of a target = attention by
   screenful (fold bias) × salience (size, contrast, left bias) × exp(gain · intent · (relevance − detour)).
4. *Act*: Fitts time from the pointer to the target, and an aim point with Gaussian noise around the
   target's centre, not clamped to the box: the browser decides what is hit.

Throughout, patience can run out (Weibull hazard over the time the step takes, given the time already on the
page; lowered by proportional hazards while the goal is in sight) → leave at that instant.

Every draw comes from the ``numpy.random.Generator`` passed in, a fixed number per step (so paired runs with
common random numbers stay aligned when variants differ in what the page holds).

The step is here; perception (1) is in ``personas.perception``, the published laws (2, 4 and patience) in
``personas.laws``, the state carried between steps in ``personas.state``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from personas.laws import (
    MIN_MOVE_MS,
    attention_share,
    fitts_ms,
    hick_ms,
    leave_probability,
    patience_deadline_ms,
    reading_ms,
    width_along,
)
from personas.model import Persona
from personas.perception import DETOUR, RELEVANCE_GAIN, Percept, newly_read, perceive, relevance, tokens
from personas.snapshot import Candidate, PageSnapshot
from personas.state import Decision, DecisionKind, PersonaState

# The step is defined here; the rest is re-exported so ``personas.decide`` stays the model's one import.
__all__ = [
    "Decision",
    "DecisionKind",
    "Percept",
    "PersonaState",
    "decide",
    "perceive",
    "fitts_ms",
    "hick_ms",
    "width_along",
    "leave_probability",
    "patience_deadline_ms",
    "reading_ms",
    "relevance",
    "attention_share",
    "tokens",
]

# Chromium pages by 87.5 % of the viewport (Blink ScrollableArea kMinFractionToStepWhenPaging), keeping an
# overlap so nothing is skipped between screens.
SCROLL_PAGE_FRACTION = 0.875

# --- calibration (not published; chosen so the model shows the effects tests/test_effects.py pins) ---
# What the persona expects of the unseen rest of the page, on the relevance scale (0 = nothing, 1 = its goal).
SCROLL_PRIOR = 0.5
# Weight of "nothing here is worth it" at zero intent, the unit the other weights are measured in; it falls
# as (1 − intent), so a determined visitor gives up by choice rarely (patience still ends any visit).
LEAVE_WEIGHT = 1.0
MIN_LEAVE_WEIGHT = 0.02
# A target clicked before on this page (that did not navigate) is re-tried with this factor per earlier click.
REPEAT_FACTOR = 0.3
# A relevant target seen earlier on this page but now scrolled away is recalled with this factor.
MEMORY_FACTOR = 0.5


@dataclass(frozen=True, slots=True)
class _Option:
    kind: DecisionKind
    weight: float
    percept: Percept | None = None
    scroll_dy: float = 0.0
    why: str = ""


def _gone_midway(persona: Persona, deadline: float, t: float, looking: float, move_ms: float, ratio: float,
                 p_choice: float, common: dict[str, Any]) -> Decision:
    """Patience ran out during the movement: the whole step is at risk, so dwell stays Weibull."""
    p = p_choice * leave_probability(persona.patience, t + looking, move_ms, ratio)
    return Decision(kind="leave", probability=p, total_ms=deadline - t,
                    reason=f"patience ran out after {deadline / 1000:.1f} s on the page", **common)


def _scroll_to(c: Candidate, snapshot: PageSnapshot) -> float:
    """Scroll that brings the target's aim point to the middle of the viewport, within the page."""
    want = c.aim_y - snapshot.viewport_height / 2
    want = min(max(want, 0.0), snapshot.max_scroll_y)
    return want - snapshot.scroll_y


def decide(persona: Persona, snapshot: PageSnapshot, state: PersonaState,
           rng: np.random.Generator) -> Decision:
    """The persona's next step on this page: click, scroll or leave, with its virtual time."""
    # A fixed number of draws per step, in a fixed order (see the module docstring).
    step_seed = int(rng.integers(1, 2**63 - 1))
    u_patience, u_choice, u_linger = (float(u) for u in rng.random(3))
    noise = rng.standard_normal(2)

    page = state if state.url == snapshot.url else state.on_page(snapshot.url)
    if page.page_step == 0 and page.page_seed == 0:
        page = replace(page, page_seed=step_seed)  # a fresh page view: its noticing draws start here
    vw, vh = snapshot.viewport_width, snapshot.viewport_height
    pointer = page.pointer if page.pointer is not None else (vw / 2, vh / 2)
    t = page.page_ms

    percepts = perceive(persona, snapshot, page)
    in_view = [p for p in percepts if p.noticed and p.on_screen]
    words, spans = newly_read(snapshot, page.read)
    read_ms = reading_ms(words, persona.reading.wpm, persona.reading.fraction)
    think_ms = hick_ms(len(in_view), persona.choice.hick_a_ms, persona.choice.hick_b_ms)
    looking = read_ms + think_ms
    # Worth coming back to after scrolling away: a legible label that beats the detour.
    seen = tuple(p.candidate.selector for p in in_view if p.relevance * p.legibility > DETOUR)
    common: dict[str, Any] = {"url": snapshot.url, "read_ms": read_ms, "think_ms": think_ms,
                              "pointer": pointer, "words_read": words, "read_spans": tuple(spans),
                              "seen": seen, "page_seed": page.page_seed}

    # Patience (Liu, White & Dumais 2010): the Weibull deadline for this page, given the time already spent.
    # With its goal in sight a visitor is far less likely to give up: the hazard is scaled by
    # exp(−gain · intent · best legible relevance in view) (proportional hazards, so the Weibull shape stays).
    best = max((p.relevance * p.legibility for p in in_view), default=0.0)
    ratio = math.exp(-RELEVANCE_GAIN * persona.intent * best)
    deadline = patience_deadline_ms(persona.patience, t, u_patience, ratio)
    p_out = leave_probability(persona.patience, t, looking, ratio)
    if deadline < t + looking:
        return Decision(kind="leave", probability=p_out, total_ms=deadline - t,
                        reason=f"patience ran out after {deadline / 1000:.1f} s on the page", **common)

    options: list[_Option] = []
    for p in percepts:
        if not p.noticed:
            continue
        c = p.candidate
        weight = p.weight * REPEAT_FACTOR ** page.clicked.get(c.selector, 0)
        reveal = 0.0 if c.fixed else _scroll_to(c, snapshot)  # scrolling cannot move a fixed element
        aim_on_screen = 0 <= c.aim_y - snapshot.scroll_y < vh and 0 <= c.aim_x - snapshot.scroll_x < vw
        if p.clickable or (p.on_screen and aim_on_screen and abs(reveal) < 1):
            # In view, or as much in view as the page allows: clicked where it is.
            options.append(_Option("click", weight, p, why="in view"))
        elif abs(reveal) < 1:
            continue  # cannot be brought any further into view
        elif p.on_screen:
            options.append(_Option("scroll", weight, p, reveal, why="partly in view"))
        else:
            options.append(_Option("scroll", weight * MEMORY_FACTOR, p, reveal, why="seen earlier"))
    room = snapshot.max_scroll_y - snapshot.scroll_y
    if room > 1 and vh > 0:
        dy = min(SCROLL_PAGE_FRACTION * vh, room)
        screen = int((snapshot.scroll_y + dy + vh / 2) // vh)
        weight = attention_share(screen, persona.attention.fold_bias) * math.exp(
            RELEVANCE_GAIN * persona.intent * SCROLL_PRIOR)
        options.append(_Option("scroll", weight, None, dy, why="more page below"))
    leave_weight = max(LEAVE_WEIGHT * (1.0 - persona.intent), MIN_LEAVE_WEIGHT)
    options.append(_Option("leave", leave_weight, None, why="nothing worth doing"))

    # Softmax over log-weights = weights normalised; picked by inverting the CDF with one uniform draw.
    weights = np.array([o.weight for o in options], dtype=float)
    probs = weights / weights.sum()
    chosen = int(np.searchsorted(np.cumsum(probs), u_choice, side="right"))
    chosen = min(chosen, len(options) - 1)
    option = options[chosen]
    p_choice = (1.0 - p_out) * float(probs[chosen])

    if option.kind == "leave":
        # Nothing worth doing: the visitor lingers past ``looking`` until its plain (unscaled) patience ends.
        gone = patience_deadline_ms(persona.patience, t + looking, u_linger)
        why = f"nothing worth doing; left after {gone / 1000:.1f} s on the page"
        return Decision(kind="leave", probability=p_choice, total_ms=gone - t, reason=why, **common)

    if option.kind == "scroll":
        # A wheel turn or a swipe: the shortest motor action (ACT-R: start 50 ms + minimum movement 100 ms).
        move_ms = persona.motor.fitts_a_ms + MIN_MOVE_MS
        if deadline < t + looking + move_ms:
            return _gone_midway(persona, deadline, t, looking, move_ms, ratio, p_choice, common)
        target = option.percept.candidate if option.percept else None
        reason = (f"scroll to {target.selector} ({option.why})" if target
                  else "scroll down: nothing in view worth clicking yet")
        return Decision(kind="scroll", probability=p_choice, scroll_dy=option.scroll_dy,
                        target=target.index if target else None, selector=target.selector if target else None,
                        x=pointer[0], y=pointer[1], move_ms=move_ms, total_ms=looking + move_ms,
                        reason=reason, **common)

    assert option.percept is not None
    p = option.percept
    c = p.candidate
    ax, ay = c.aim_x - snapshot.scroll_x, c.aim_y - snapshot.scroll_y
    dx, dy = ax - pointer[0], ay - pointer[1]
    move_ms = fitts_ms(math.hypot(dx, dy), width_along(snapshot.viewport_box(c), dx, dy),
                       persona.motor.fitts_a_ms, persona.motor.fitts_b_ms)
    if deadline < t + looking + move_ms:
        return _gone_midway(persona, deadline, t, looking, move_ms, ratio, p_choice, common)
    # Aim point ~ N(centre, σ²) per axis, NOT clamped to the box (FFitts; small targets get missed);
    # clamped to the screen, which a finger or cursor cannot leave.
    sigma = persona.aim_sigma_px
    x = float(min(max(ax + sigma * noise[0], 0.0), vw - 1))
    y = float(min(max(ay + sigma * noise[1], 0.0), vh - 1))
    reason = (f"click {c.selector} ({c.name[:40]!r}): relevance {p.relevance:.2f}, legibility "
              f"{p.legibility:.2f}, salience {p.salience:.2f}, p={p_choice:.2f}")
    return Decision(kind="click", probability=p_choice, target=c.index, selector=c.selector, x=x, y=y,
                    move_ms=move_ms, total_ms=looking + move_ms, reason=reason,
                    **{**common, "pointer": (x, y)})
