"""Perception: which candidates a persona notices, how legible, relevant and salient each is, and the words
newly in view. Figures cite their sources (docs/references.md); calibrations say they are not published."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent.kernel import uniform
from personas.laws import attention_share
from personas.model import Persona
from personas.snapshot import Candidate, PageSnapshot
from personas.state import PersonaState

__all__ = [
    "RELEVANCE_GAIN",
    "DETOUR",
    "Percept",
    "perceive",
    "newly_read",
    "relevance",
    "tokens",
]

# --- published constants (docs/references.md) -------------------------------------------------------------
# Apple HIG 44 pt and WCAG 2.5.5 (AAA) 44×44 CSS px: the size at which a target counts as comfortably big;
# used as the half-saturation area of the size part of salience (a modelling choice anchored there).
TARGET_REF_PX = 44.0
# WCAG 1.4.11 / ISO 9241-3: 3:1 is the contrast at which UI parts and text are comfortably distinguishable;
# salience counts contrast in multiples of the persona's own threshold, saturating at 3×.
CONTRAST_SATURATION = 3.0
# WCAG "large text": 18 pt regular or 14 pt bold read alike, so bold text counts as 18/14 ≈ 1.29× its size.
BOLD_SIZE_FACTOR = 18.0 / 14.0

# --- calibration (not published; chosen so the model shows the effects tests/test_effects.py pins) ---
# exp(gain · intent · relevance): a fully relevant label at full intent is e^4 ≈ 55× as attractive as an
# irrelevant one of the same salience.
RELEVANCE_GAIN = 4.0
# What a click must promise to be worth the detour, on the relevance scale (0..1): with intent, off-goal
# links fade (a determined shopper ignores the nav bar) while a low-intent visitor still wanders.
DETOUR = 0.25
# Below threshold, noticing falls as (log C / log C_min)^3 and legibility of small text as (size/min)^2, so
# text 25 % under the persona's minimum reads at about half: "much harder", not a wall. (That reading falls
# steeply below a critical print size is Legge et al.'s finding, 1985; this slope is assumed.)
VISIBILITY_EXPONENT = 3.0
LEGIBILITY_EXPONENT = 2.0
# A target counts as clickable in place when its aim point is on screen and this much of it is in view.
MIN_IN_VIEW = 0.5


_STOPWORDS = frozenset({"a", "an", "the", "to", "of", "and", "or", "for", "in", "on", "my", "your", "our",
                        "with", "at", "by", "now", "this", "it"})


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
        noticed = (not on_screen and remembered) or uniform(page.page_seed, c.selector) < visibility
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


def newly_read(snapshot: PageSnapshot, read: Mapping[str, tuple[float, float]]
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
