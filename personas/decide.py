"""The pure decision model: perceive → weigh → choose → time one step. numpy only; no browser.

One step on a page, as DESIGN.md lays it out:

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
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from personas.model import Patience, Persona
from personas.snapshot import Box, Candidate, PageSnapshot

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

DecisionKind = Literal["click", "scroll", "leave"]

# --- published constants (REFERENCES.md unless marked) ------------------------------------------------
# ACT-R 7 motor module: minimum movement (execution) time 0.1 s; the 0.05 s to start one is ``fitts_a_ms``.
MIN_MOVE_MS = 100.0
# NN/g eye-tracking (2018): share of viewing time per screenful, 57/17/7/5/3/2 %; the other 9 % is spread thin
# further down, taken here as 1 % a screen.
NNG_SCREEN_SHARES: tuple[float, ...] = (57.0, 17.0, 7.0, 5.0, 3.0, 2.0)
NNG_TAIL_SHARE = 1.0
# Apple HIG 44 pt and WCAG 2.5.5 (AAA) 44×44 CSS px: the size at which a target counts as comfortably big;
# used as the half-saturation area of the size part of salience (a modelling choice anchored there).
TARGET_REF_PX = 44.0
# WCAG 1.4.11 / ISO 9241-3: 3:1 is the contrast at which UI parts and text are comfortably distinguishable;
# salience counts contrast in multiples of the persona's own threshold, saturating at 3×.
CONTRAST_SATURATION = 3.0
# WCAG "large text": 18 pt regular or 14 pt bold read alike, so bold text counts as 18/14 ≈ 1.29× its size.
BOLD_SIZE_FACTOR = 18.0 / 14.0
# Chromium pages by 87.5 % of the viewport (Blink ScrollableArea kMinFractionToStepWhenPaging), keeping an
# overlap so nothing is skipped between screens.
SCROLL_PAGE_FRACTION = 0.875

# --- calibration (not published figures; chosen so the model shows the effects the issue lists) ---------
# exp(gain · intent · relevance): a fully relevant label at full intent is e^4 ≈ 55× as attractive as an
# irrelevant one of the same salience.
RELEVANCE_GAIN = 4.0
# What the persona expects of the unseen rest of the page, on the relevance scale (0 = nothing, 1 = its goal).
SCROLL_PRIOR = 0.5
# What a click must promise to be worth the detour, on the same scale: with intent, off-goal links fade
# (a determined shopper ignores the nav bar) while a low-intent visitor still wanders.
DETOUR = 0.25
# Weight of "nothing here is worth it" at zero intent, the unit the other weights are measured in; it falls
# as (1 − intent), so a determined visitor gives up by choice rarely (patience still ends any visit).
LEAVE_WEIGHT = 1.0
MIN_LEAVE_WEIGHT = 0.02
# A target clicked before on this page (that did not navigate) is re-tried with this factor per earlier click.
REPEAT_FACTOR = 0.3
# A relevant target seen earlier on this page but now scrolled away is recalled with this factor.
MEMORY_FACTOR = 0.5
# Below threshold, noticing falls as (log C / log C_min)^3 and legibility of small text as (size/min)^2, so
# text 25 % under the persona's minimum reads at about half: "much harder", not a wall. (That reading falls
# steeply below a critical print size is Legge et al.'s finding, 1985; this slope is assumed.)
VISIBILITY_EXPONENT = 3.0
LEGIBILITY_EXPONENT = 2.0
# A target counts as clickable in place when its aim point is on screen and this much of it is in view.
MIN_IN_VIEW = 0.5

_STOPWORDS = frozenset({"a", "an", "the", "to", "of", "and", "or", "for", "in", "on", "my", "your", "our",
                        "with", "at", "by", "now", "this", "it"})


# --- pure formulas --------------------------------------------------------------------------------------
def fitts_ms(distance_px: float, width_px: float, a_ms: float, b_ms: float) -> float:
    """Fitts, Shannon form (MacKenzie): a + b·log2(D/W + 1), the execution part at least ACT-R's 0.1 s."""
    index = math.log2(max(distance_px, 0.0) / max(width_px, 1e-6) + 1.0)
    return a_ms + max(MIN_MOVE_MS, b_ms * index)


def hick_ms(n: int, a_ms: float, b_ms: float) -> float:
    """Hick–Hyman: T = a + b·log2(n + 1) for n equally likely alternatives (Hick 1952, Hyman 1953)."""
    return a_ms + b_ms * math.log2(max(n, 0) + 1)


def width_along(box: Box, dx: float, dy: float) -> float:
    """Target width along the approach direction (the chord through the centre); the smaller side at D = 0."""
    length = math.hypot(dx, dy)
    if length == 0:
        return min(box.width, box.height)
    ux, uy = abs(dx) / length, abs(dy) / length
    along_x = box.width / ux if ux > 0 else math.inf
    along_y = box.height / uy if uy > 0 else math.inf
    return min(along_x, along_y)


def leave_probability(patience: Patience, t_ms: float, dt_ms: float, hazard_ratio: float = 1.0) -> float:
    """P(leave during Δt | stayed t) = 1 − (S(t+Δt)/S(t))^r, S the Weibull survival of the page dwell.

    ``hazard_ratio`` r scales the Weibull hazard (proportional hazards); r = 1 is the plain 1 − S(t+Δt)/S(t).
    """
    lam, k = patience.scale_s * 1000.0, patience.shape
    # log S(t) = −(t/λ)^k; the difference avoids 0/0 far in the tail.
    log_ratio = (max(t_ms, 0.0) / lam) ** k - (max(t_ms + dt_ms, 0.0) / lam) ** k
    return float(-math.expm1(hazard_ratio * log_ratio))


def patience_deadline_ms(patience: Patience, t_ms: float, u: float, hazard_ratio: float = 1.0) -> float:
    """Page time at which patience runs out, drawn from the Weibull conditional on having stayed ``t_ms``.

    Inverse of (S(T)/S(t))^r = u: T = λ·((t/λ)^k − ln(u)/r)^(1/k). Re-drawn every step, it has the same law as
    one draw per page view, so page dwell follows the Weibull exactly when nothing else ends the visit.
    """
    lam, k = patience.scale_s * 1000.0, patience.shape
    u = min(max(u, 1e-300), 1.0)
    return lam * ((max(t_ms, 0.0) / lam) ** k - math.log(u) / max(hazard_ratio, 1e-12)) ** (1.0 / k)


def reading_ms(words: float, wpm: float, fraction: float) -> float:
    """Time to read ``fraction`` of ``words`` at ``wpm`` (Nielsen 2008: people read ≤ 28 % of a page)."""
    return max(words, 0.0) * fraction / wpm * 60_000.0


def attention_share(screen: int, fold_bias: float) -> float:
    """Relative attention to screenful ``screen`` (0 = above the fold): NN/g shares, blended by fold_bias."""
    share = NNG_SCREEN_SHARES[screen] if 0 <= screen < len(NNG_SCREEN_SHARES) else NNG_TAIL_SHARE
    return (1.0 - fold_bias) + fold_bias * share / NNG_SCREEN_SHARES[0]


def tokens(text: str) -> list[str]:
    """Lower-case word tokens, accents stripped, a plural ``s`` dropped (``Shoes`` → ``shoe``)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    out = []
    for word in re.findall(r"[a-z0-9]+", plain):
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


def relevance(label: str, goals: Iterable[str]) -> float:
    """How well a label matches the goals: a goal phrase in order → 1, all its words → 0.8, some → ≤ 0.5."""
    words = tokens(label)
    if not words:
        return 0.0
    present = set(words)
    best = 0.0
    for goal in goals:
        phrase = tokens(goal)
        if not phrase:
            continue
        n = len(phrase)
        if any(words[i:i + n] == phrase for i in range(len(words) - n + 1)):
            return 1.0
        content = [w for w in phrase if w not in _STOPWORDS] or phrase
        hits = sum(w in present for w in content)
        if hits == len(content):
            best = max(best, 0.8)
        elif hits:
            best = max(best, 0.5 * hits / len(content))
    return best


def _uniform(seed: int, key: str) -> float:
    """A uniform draw tied to (step seed, element): the same element gets the same draw in paired runs."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8, key=seed.to_bytes(8, "little")).digest()
    return int.from_bytes(digest, "little") / 2.0**64


# --- state and decision ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PersonaState:
    """What the persona carries from step to step; immutable — ``advance`` returns the next one."""

    url: str | None = None  # page the page-level fields belong to
    step: int = 0  # steps taken in the session
    page_step: int = 0  # steps taken on this page view
    pages_seen: int = 0  # page views started
    page_ms: float = 0.0  # virtual time on this page view
    session_ms: float = 0.0
    pointer: tuple[float, float] | None = None  # viewport coordinates; None = viewport centre
    # selector → clicks on this page that hit it (a navigation resets the page-level fields)
    clicked: Mapping[str, int] = field(default_factory=dict)
    # text block selector → the document y-span of it seen so far on this page
    read: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    seen: frozenset[str] = frozenset()  # relevant targets noticed on this page (recalled after scrolling)
    page_seed: int = 0  # drawn when the page view starts: what is noticed stays noticed on this page

    def on_page(self, url: str) -> PersonaState:
        """A new page view starts (navigation): page-level memory and the page clock reset."""
        return replace(self, url=url, page_step=0, pages_seen=self.pages_seen + 1, page_ms=0.0,
                       clicked={}, read={}, seen=frozenset(), page_seed=0)

    def advance(self, decision: Decision, *, hit: bool = True) -> PersonaState:
        """The state after acting on ``decision``; ``hit=False``: the click missed, so it is not held against
        the target (the persona tries again)."""
        base = self if decision.url == self.url else self.on_page(decision.url)
        clicked = dict(base.clicked)
        if decision.kind == "click" and hit and decision.selector is not None:
            clicked[decision.selector] = clicked.get(decision.selector, 0) + 1
        read = dict(base.read)
        read.update(dict(decision.read_spans))
        return replace(
            base, step=base.step + 1, page_step=base.page_step + 1,
            page_ms=base.page_ms + decision.total_ms, session_ms=base.session_ms + decision.total_ms,
            pointer=decision.pointer, clicked=clicked, read=read, seen=base.seen | frozenset(decision.seen),
            page_seed=decision.page_seed,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """One step's choice and the virtual time it takes; coordinates are viewport CSS px."""

    kind: DecisionKind
    url: str
    reason: str
    probability: float  # of this choice, given what was perceived this step
    target: int | None = None  # candidate index in the snapshot (click, or the target a scroll reveals)
    selector: str | None = None
    x: float | None = None  # click point (aim + noise); for a scroll, where the wheel/swipe happens
    y: float | None = None
    scroll_dy: float = 0.0  # > 0 scrolls down
    read_ms: float = 0.0
    think_ms: float = 0.0
    move_ms: float = 0.0
    total_ms: float = 0.0  # time on the page this step takes (for a leave: until the visitor is gone)
    pointer: tuple[float, float] | None = None  # pointer position after the step
    words_read: float = 0.0  # newly visible words this step (before the reading fraction)
    read_spans: tuple[tuple[str, tuple[float, float]], ...] = ()  # for PersonaState.advance
    seen: tuple[str, ...] = ()  # for PersonaState.advance
    page_seed: int = 0  # for PersonaState.advance

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields for the decision log (the bookkeeping for ``advance`` left out)."""
        return {
            "kind": self.kind, "url": self.url, "reason": self.reason, "probability": self.probability,
            "target": self.target, "selector": self.selector, "x": self.x, "y": self.y,
            "scroll_dy": self.scroll_dy, "read_ms": self.read_ms, "think_ms": self.think_ms,
            "move_ms": self.move_ms, "total_ms": self.total_ms,
        }


@dataclass(frozen=True, slots=True)
class Percept:
    """One candidate as this persona takes it in at this step."""

    candidate: Candidate
    visibility: float  # P(noticed): contrast of text or fill against the persona's threshold
    legibility: float  # how readable the label is (contrast and font size), 0..1
    relevance: float  # goal match of the label, 0..1 (before legibility)
    salience: float  # size × contrast × left bias, 0..1
    attention: float  # by the screenful it sits on (fold bias)
    noticed: bool  # drawn with ``visibility`` (always True for a remembered target off-screen)
    on_screen: bool  # some of it is visible in the viewport and not covered at its aim point
    clickable: bool  # aim point on screen, enough of it in view, not occluded
    weight: float  # attention × salience × exp(gain · intent · (relevance · legibility − detour))


# --- perception -----------------------------------------------------------------------------------------
def _visibility(contrast: float, threshold: float) -> float:
    if contrast >= threshold:
        return 1.0
    if threshold <= 1.0 or contrast <= 1.0:
        return 0.0
    return (math.log(contrast) / math.log(threshold)) ** VISIBILITY_EXPONENT


def _legibility(c: Candidate, persona: Persona) -> float:
    size = c.font_size_px * (BOLD_SIZE_FACTOR if c.font_weight >= 700 else 1.0)
    minimum = persona.vision.min_font_px
    by_size = 1.0 if size >= minimum or minimum <= 0 else (size / minimum) ** LEGIBILITY_EXPONENT
    return _visibility(c.contrast, persona.vision.min_contrast) * by_size


def _salience(c: Candidate, snapshot: PageSnapshot, persona: Persona) -> float:
    # Size: the area in view, saturating around a 44×44 px target (see TARGET_REF_PX).
    fraction = c.in_viewport if c.in_viewport > 0 else c.visible
    area = c.bbox.area * fraction
    size = area / (area + TARGET_REF_PX**2)
    # Contrast: the stronger of text and fill, in multiples of the persona's threshold (CONTRAST_SATURATION).
    strongest = max(c.contrast, c.fill_contrast)
    ratio = math.log(max(strongest, 1.0) / persona.vision.min_contrast) / math.log(CONTRAST_SATURATION)
    # Above the threshold contrast matters little once a label can be read, so it moves salience by ≤ 25 %.
    contrast = 0.75 + 0.25 * min(1.0, max(0.0, ratio))
    # Left bias: NN/g's share of attention on the left half (left_bias), normalised so no bias gives 1.
    left = persona.attention.left_bias
    side = 2 * left if (c.aim_x - snapshot.scroll_x) < snapshot.viewport_width / 2 else 2 * (1 - left)
    return size * contrast * side


def perceive(persona: Persona, snapshot: PageSnapshot, state: PersonaState) -> list[Percept]:
    """Every candidate the persona could act on this step, noticed or not (see ``Percept.noticed``).

    Noticing is drawn once per element and page view (from ``state.page_seed``): looking again at a control
    below one's contrast threshold does not make it appear.
    """
    page = state if state.url == snapshot.url else state.on_page(snapshot.url)
    vw, vh = snapshot.viewport_width, snapshot.viewport_height
    label_goals = persona.goals
    out: list[Percept] = []
    for c in snapshot.candidates:
        if c.disabled or c.visible <= 0:
            continue
        vbox = snapshot.viewport_box(c)
        ax, ay = c.aim_x - snapshot.scroll_x, c.aim_y - snapshot.scroll_y
        aim_on_screen = 0 <= ax < vw and 0 <= ay < vh
        covered = bool(c.occluded) and aim_on_screen
        on_screen = c.in_viewport > 0 and not covered
        # Enough of what can be seen at all is on screen (or it fills half the screen, for big targets).
        big_enough = (c.in_viewport >= MIN_IN_VIEW * c.visible
                      or min(vbox.bottom, vh) - max(vbox.y, 0) >= vh / 2)
        remembered = c.selector in page.seen
        if not on_screen and not remembered:
            continue  # below the fold or covered: the persona cannot know it is there
        visibility = max(_visibility(c.contrast, persona.vision.min_contrast),
                         _visibility(c.fill_contrast, persona.vision.min_contrast))
        noticed = (not on_screen and remembered) or _uniform(page.page_seed, c.selector) < visibility
        label = c.name if c.text and c.text in c.name else f"{c.name} {c.text}"
        screen = int(max(c.aim_y, 0.0) // vh) if vh > 0 else 0
        legibility = _legibility(c, persona)
        match = relevance(label, label_goals)
        salience = _salience(c, snapshot, persona)
        attention = attention_share(screen, persona.attention.fold_bias)
        gain = RELEVANCE_GAIN * persona.intent * (match * legibility - DETOUR)
        weight = attention * salience * math.exp(gain)
        out.append(Percept(
            candidate=c, visibility=visibility, legibility=legibility, relevance=match, salience=salience,
            attention=attention, noticed=noticed, on_screen=on_screen,
            clickable=on_screen and aim_on_screen and big_enough, weight=weight,
        ))
    return out


def _reading(persona: Persona, snapshot: PageSnapshot, read: Mapping[str, tuple[float, float]]
             ) -> tuple[float, list[tuple[str, tuple[float, float]]]]:
    """Newly visible words (not seen before on this page) and the blocks' updated seen spans."""
    top, bottom = snapshot.scroll_y, snapshot.scroll_y + snapshot.viewport_height
    words = 0.0
    spans: list[tuple[str, tuple[float, float]]] = []
    for block in snapshot.text_blocks:
        lo, hi = max(block.bbox.y, top), min(block.bbox.bottom, bottom)
        if hi <= lo or block.bbox.height <= 0:
            continue
        old = read.get(block.selector)
        new = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
        gained = (new[1] - new[0]) - (0.0 if old is None else old[1] - old[0])
        if gained > 0:
            words += block.words * gained / block.bbox.height
            spans.append((block.selector, new))
    return words, spans


# --- the step -------------------------------------------------------------------------------------------
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
    words, spans = _reading(persona, snapshot, page.read)
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
