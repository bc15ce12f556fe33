"""The agent's action catalog: a small grammar of UI patches generated from an experiment's ``[slots]``.

Each slot (a named selector) gets options of the seed's four kinds — modify an element, change the layout,
adjust colours, modify content — plus action 0, the untouched control. Colour options deliberately include
pairs that fail WCAG contrast, so a learner can find out that they hurt; every pair's ratio is in the
action's ``meta``. The same slots and copy always give the same actions with the same ids.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.css_validator import validate_op_selector
from agent.kernel import InputError, error_from_validation
from agent.patch import Patch, patch_from_mapping

__all__ = [
    "ACTION_KINDS",
    "SLOT_KINDS",
    "MAX_ACTIONS",
    "Slot",
    "SlotSpec",
    "Action",
    "ActionCatalog",
    "build_catalog",
    "contrast_ratio",
]

ActionKind = Literal["control", "element", "layout", "colour", "content"]
SlotKind = Literal["button", "text", "block"]
ACTION_KINDS: tuple[str, ...] = ("control", "element", "layout", "colour", "content")
SLOT_KINDS: tuple[str, ...] = ("button", "text", "block")
MAX_ACTIONS = 64  # the seed's action_size
_SLOT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}\Z")
# WCAG 2.x SC 1.4.3 (AA): 4.5:1 for body text; below it a colour pair is "unsafe".
AA_TEXT_CONTRAST = 4.5
PAGE_BACKGROUND = "#ffffff"  # what a recoloured text is assumed to sit on
PAGE_TEXT = "#111827"  # what sits on a recoloured block


def _channel(value: int) -> float:
    # WCAG 2.x relative luminance: sRGB channel linearised (threshold 0.04045, per the sRGB standard).
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(ch * 2 for ch in h)
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2.x contrast ratio (L1 + 0.05) / (L2 + 0.05) of two ``#rrggbb`` colours, from 1 to 21."""
    a, b = _luminance(foreground), _luminance(background)
    lighter, darker = max(a, b), min(a, b)
    return (lighter + 0.05) / (darker + 0.05)


class SlotSpec(BaseModel):
    """One ``[slots]`` entry written as a table: a selector, and optionally its kind and copy alternatives."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    selector: str
    kind: SlotKind | None = None
    copy_texts: tuple[str, ...] = Field((), alias="copy")  # `copy` would shadow BaseModel.copy


_SLOT_MESSAGES = {
    "extra_forbidden": "unknown key {name!r}",
    "literal_error": "unknown slot kind {input!r}",
    "missing": "a slot needs a {name}",
    "tuple_type": "copy must be a list of strings",
    "string_type": "must be a string",
}
_SLOT_FIXES = {
    "extra_forbidden": "a slot table takes selector, kind and copy",
    "literal_error": "use one of " + ", ".join(SLOT_KINDS),
}


@dataclass(frozen=True)
class Slot:
    """A named place on the page the agent may change."""

    name: str
    selector: str
    kind: SlotKind
    copy: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    """One choice the agent can make: a patch, with a stable key and a readable name."""

    id: int
    key: str
    name: str
    kind: ActionKind
    slot: str | None
    patch: Patch
    requires: tuple[str, ...] = ()  # selectors that must be on the page for the action to mean anything
    meta: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ActionCatalog:
    """The actions, indexed by id (action 0 is the control), with a per-page availability mask."""

    actions: tuple[Action, ...]
    slots: tuple[Slot, ...]

    def __len__(self) -> int:
        return len(self.actions)

    def subset(self, keys: Sequence[str]) -> ActionCatalog:
        """A smaller catalog of these actions (the control always first), renumbered in the given order."""
        chosen = [self.by_key("control")] + [self.by_key(k) for k in keys if k != "control"]
        return ActionCatalog(actions=tuple(replace(a, id=i) for i, a in enumerate(chosen)), slots=self.slots)

    def __iter__(self) -> Iterator[Action]:
        return iter(self.actions)

    def __getitem__(self, action_id: int) -> Action:
        return self.actions[action_id]

    @property
    def keys(self) -> list[str]:
        return [action.key for action in self.actions]

    @property
    def selectors(self) -> list[str]:
        """The slot selectors: what to look for on a page before calling ``mask``."""
        return [slot.selector for slot in self.slots]

    def by_key(self, key: str) -> Action:
        for action in self.actions:
            if action.key == key:
                return action
        raise KeyError(key)

    def mask(self, present_selectors: Collection[str]) -> np.ndarray:
        """Which actions are available on a page where ``present_selectors`` match; the control always is."""
        present = set(present_selectors)
        return np.array([all(s in present for s in action.requires) for action in self.actions], dtype=bool)


@dataclass(frozen=True)
class _Option:
    key: str
    name: str
    kind: ActionKind
    css: str = ""
    ops: tuple[dict[str, str], ...] = ()
    requires: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict, hash=False)


# (key, foreground, background) for filled controls; the last two fail AA on purpose.
_BUTTON_PALETTE = (
    ("white-on-navy", "#ffffff", "#1e429f"),
    ("white-on-green", "#ffffff", "#047857"),
    ("ink-on-amber", "#111827", "#fbbf24"),
    ("white-on-red", "#ffffff", "#b91c1c"),
    ("white-on-amber", "#ffffff", "#f59e0b"),
    ("grey-on-grey", "#9aa5b1", "#b8c2cc"),
)
# Text colours, on the assumed page background; grey and pale fail AA on purpose.
_TEXT_PALETTE = (("ink", "#111827"), ("navy", "#1e429f"), ("grey", "#9ca3af"), ("pale", "#d1d5db"))
# Block fills, under the assumed page text colour; charcoal fails AA on purpose.
_BLOCK_PALETTE = (("cream", "#fef3c7"), ("sky", "#e0f2fe"), ("charcoal", "#374151"))


def _colour_meta(foreground: str, background: str, assumed: str | None) -> dict[str, Any]:
    ratio = contrast_ratio(foreground, background)
    return {"foreground": foreground, "background": background, "contrast": round(ratio, 2),
            "contrast_safe": ratio >= AA_TEXT_CONTRAST, "assumed": assumed}


def _button_options(s: Slot) -> list[_Option]:
    sel = s.selector
    n = s.name
    return [
        # WCAG 2.5.5 (AAA) and Apple HIG: 44 px; Material: 48 dp (REFERENCES: target size).
        _Option(f"{n}.enlarge-44", f"Enlarge {n} to a 44 px target", "element",
                f"{sel}{{display:inline-block;min-height:44px;min-width:44px;padding:10px 20px;"
                "font-size:16px;line-height:24px}", meta={"target_px": 44}),
        _Option(f"{n}.enlarge-48", f"Enlarge {n} to a 48 px target", "element",
                f"{sel}{{display:inline-block;min-height:48px;min-width:48px;padding:12px 24px;"
                "font-size:18px;line-height:24px}", meta={"target_px": 48}),
        # WCAG 2.5.8 (AA) minimum of 24 px: a deliberately worse option.
        _Option(f"{n}.shrink-24", f"Shrink {n} to a 24 px target", "element",
                f"{sel}{{min-height:24px;padding:2px 8px;font-size:13px;line-height:20px}}",
                meta={"target_px": 24}),
        _Option(f"{n}.bold", f"Bold {n} label", "element", f"{sel}{{font-weight:700}}"),
        _Option(f"{n}.pill", f"Round {n} into a pill", "element", f"{sel}{{border-radius:999px}}"),
        _Option(f"{n}.shadow", f"Lift {n} with a shadow", "element",
                f"{sel}{{box-shadow:0 4px 12px rgba(0, 0, 0, 0.25)}}"),
        _Option(f"{n}.full-width", f"Make {n} full width", "element",
                f"{sel}{{display:block;width:100%;text-align:center}}"),
        *_layout_options(s),
        *(_Option(f"{n}.colour-{key}", f"Colour {n} {key.replace('-', ' ')}", "colour",
                  f"{sel}{{color:{fg};background-color:{bg};border-color:{bg}}}",
                  meta=_colour_meta(fg, bg, None))
          for key, fg, bg in _BUTTON_PALETTE),
    ]


def _layout_options(s: Slot) -> list[_Option]:
    sel, n = s.selector, s.name
    return [
        # order works inside flex and grid containers: "above the fold" without touching the DOM.
        _Option(f"{n}.first", f"Move {n} first in its container", "layout", f"{sel}{{order:-1}}"),
        _Option(f"{n}.last", f"Move {n} last in its container", "layout", f"{sel}{{order:99}}"),
        _Option(f"{n}.sticky", f"Make {n} sticky", "layout", ops=({"op": "sticky", "selector": sel},)),
    ]


def _text_options(s: Slot) -> list[_Option]:
    sel, n = s.selector, s.name
    return [
        _Option(f"{n}.larger", f"Larger {n}", "element", f"{sel}{{font-size:2.5rem;line-height:1.15}}"),
        _Option(f"{n}.smaller", f"Smaller {n}", "element", f"{sel}{{font-size:1.25rem;line-height:1.3}}"),
        _Option(f"{n}.heavy", f"Heavier {n}", "element", f"{sel}{{font-weight:800}}"),
        _Option(f"{n}.centre", f"Centre {n}", "element", f"{sel}{{text-align:center}}"),
        _Option(f"{n}.first", f"Move {n} first in its container", "layout", f"{sel}{{order:-1}}"),
        _Option(f"{n}.hide", f"Hide {n}", "layout", ops=({"op": "hide", "selector": sel},)),
        *(_Option(f"{n}.colour-{key}", f"Colour {n} {key}", "colour", f"{sel}{{color:{fg}}}",
                  meta=_colour_meta(fg, PAGE_BACKGROUND, "background"))
          for key, fg in _TEXT_PALETTE),
    ]


def _block_options(s: Slot) -> list[_Option]:
    sel, n = s.selector, s.name
    return [
        _Option(f"{n}.outline", f"Frame {n}", "element",
                f"{sel}{{padding:16px;border:2px solid #1e429f;border-radius:8px}}"),
        _Option(f"{n}.compact", f"Compact {n}", "element",
                f"{sel}{{padding:4px;margin-top:4px;margin-bottom:4px}}"),
        *_layout_options(s),
        _Option(f"{n}.hide", f"Hide {n}", "layout", ops=({"op": "hide", "selector": sel},)),
        *(_Option(f"{n}.colour-{key}", f"Fill {n} {key}", "colour", f"{sel}{{background-color:{bg}}}",
                  meta=_colour_meta(PAGE_TEXT, bg, "text"))
          for key, bg in _BLOCK_PALETTE),
    ]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32].strip("-") or "text"


def _copy_options(s: Slot) -> list[_Option]:
    out: list[_Option] = []
    used: set[str] = set()
    for text in s.copy:
        slug = _slug(text)
        key = f"{s.name}.copy-{slug}"
        suffix = 2
        while key in used:
            key, suffix = f"{s.name}.copy-{slug}-{suffix}", suffix + 1
        used.add(key)
        out.append(_Option(key, f"Say {text!r} on {s.name}", "content",
                           ops=({"op": "set_text", "selector": s.selector, "text": text},),
                           meta={"text": text}))
    return out


def _swap_options(slots: Sequence[Slot]) -> list[tuple[str, _Option]]:
    blocks = [s for s in slots if s.kind == "block"]
    return [(a.name, _Option(f"{a.name}.swap-{b.name}", f"Swap {a.name} and {b.name}", "layout",
                             ops=({"op": "swap", "selector": a.selector, "target": b.selector},),
                             requires=(a.selector, b.selector)))
            for i, a in enumerate(blocks) for b in blocks[i + 1:]]


_KIND_WORDS = {
    "button": {"cta", "button", "btn", "submit", "action"},
    "text": {"headline", "title", "heading", "subtitle", "tagline", "label", "copy", "text"},
}


def _infer_kind(name: str) -> SlotKind:
    """A slot given only as a selector is a button or text when its name says so, else a block."""
    words = set(re.split(r"[_-]", name))
    if words & _KIND_WORDS["button"]:
        return "button"
    if words & _KIND_WORDS["text"]:
        return "text"
    return "block"


def _slot(name: str, spec: str | Mapping[str, Any], extra_copy: Sequence[str], source: str | None) -> Slot:
    where = f"slots.{name}"
    if not isinstance(name, str) or not _SLOT_NAME.match(name):
        raise InputError(f"slot name {name!r} must be lower-case letters, digits, '_' or '-'", source=source,
                         field=where)
    if isinstance(spec, str):
        spec = {"selector": spec}
    elif not isinstance(spec, Mapping):
        raise InputError("a slot is a selector string or a table {selector, kind, copy}", source=source,
                         field=where)
    try:
        table = SlotSpec.model_validate(dict(spec))
    except ValidationError as exc:
        raise error_from_validation(exc, source=source, at=("slots", name), messages=_SLOT_MESSAGES,
                                    fixes=_SLOT_FIXES) from None
    selector = validate_op_selector(table.selector, source=source, field=f"{where}.selector")
    texts = list(dict.fromkeys(t.strip() for t in [*table.copy_texts, *extra_copy] if t.strip()))
    return Slot(name=name, selector=selector, kind=table.kind or _infer_kind(name), copy=tuple(texts))


def _options_for(slot: Slot) -> list[_Option]:
    by_kind = {"button": _button_options, "text": _text_options, "block": _block_options}
    options = by_kind[slot.kind](slot) + _copy_options(slot)
    return [o if o.requires else _Option(o.key, o.name, o.kind, o.css, o.ops, (slot.selector,), o.meta)
            for o in options]


def _round_robin(groups: list[list[_Option]], limit: int) -> list[list[_Option]]:
    """At most ``limit`` options, one from each group in turn, so a cap trims every slot evenly."""
    kept: list[list[_Option]] = [[] for _ in groups]
    total, depth = 0, 0
    while total < limit and any(depth < len(g) for g in groups):
        for i, group in enumerate(groups):
            if depth < len(group) and total < limit:
                kept[i].append(group[depth])
                total += 1
        depth += 1
    return kept


def build_catalog(
    slots: Mapping[str, str | Mapping[str, Any]],
    *,
    copy: Mapping[str, Sequence[str]] | None = None,
    max_actions: int = MAX_ACTIONS,
    source: str | None = None,
) -> ActionCatalog:
    """Generate the catalog from slots (name → selector, or {selector, kind, copy}); ids are deterministic."""
    if max_actions < 1:
        raise InputError("max_actions must be at least 1 (the control)", source=source, field="max_actions")
    extra = dict(copy or {})
    for name in extra:
        if name not in slots:
            raise InputError(f"copy for unknown slot {name!r}", source=source, field=f"copy.{name}",
                             fix=f"slots are {', '.join(slots) or 'none'}")
    parsed = [_slot(name, spec, list(extra.get(name, ())), source) for name, spec in slots.items()]
    seen: dict[str, str] = {}
    for slot in parsed:
        if slot.selector in seen:
            raise InputError(f"slots {seen[slot.selector]!r} and {slot.name!r} share a selector",
                             source=source, field=f"slots.{slot.name}")
        seen[slot.selector] = slot.name

    groups = [_options_for(slot) for slot in parsed]
    swaps = _swap_options(parsed)
    for owner, option in swaps:
        groups[[s.name for s in parsed].index(owner)].append(option)
    kept = _round_robin(groups, max_actions - 1)

    control = Action(id=0, key="control", name="Control (no change)", kind="control", slot=None,
                     patch=Patch(name="control"))
    actions = [control]
    for slot, options in zip(parsed, kept, strict=True):
        for option in options:
            patch = patch_from_mapping({"name": option.key, "css": option.css, "ops": list(option.ops)},
                                       source=source)
            actions.append(Action(id=len(actions), key=option.key, name=option.name, kind=option.kind,
                                  slot=slot.name, patch=patch, requires=option.requires,
                                  meta=dict(option.meta)))
    return ActionCatalog(actions=tuple(actions), slots=tuple(parsed))
