"""The agent's action catalog for the demo shop: enough distinct, valid, stable actions, with masks."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.catalog import MAX_ACTIONS, build_catalog, contrast_ratio
from agent.css_validator import validate_css
from agent.kernel import InputError, PatchValidationError

EXPERIMENT = Path(__file__).resolve().parent.parent / "site_fixtures" / "shop" / "experiment.toml"
FALLBACK_SLOTS = {"cta": "#add-to-cart", "headline": "#hero-title", "buy_box": "#buy-box",
                  "sale_banner": "#sale-banner"}
# Used only when the experiment lists no copy alternatives of its own.
FALLBACK_COPY = {"cta": ["Add to bag", "Buy now — free returns"], "headline": ["Trail shoes for every mile"]}


def _shop() -> tuple[dict[str, Any], dict[str, list[str]]]:
    if not EXPERIMENT.is_file():
        return FALLBACK_SLOTS, FALLBACK_COPY
    data = tomllib.loads(EXPERIMENT.read_text(encoding="utf-8"))
    slots = data.get("slots") or FALLBACK_SLOTS
    has_copy = "copy" in data or any(isinstance(s, dict) and s.get("copy") for s in slots.values())
    return slots, data.get("copy", {}) if has_copy else FALLBACK_COPY


@pytest.fixture
def shop() -> Any:
    slots, copy = _shop()
    return build_catalog(slots, copy=copy)


def test_shop_catalog_has_enough_distinct_actions_of_every_kind(shop: Any) -> None:
    assert 24 <= len(shop) - 1 and len(shop) <= MAX_ACTIONS
    assert [a.id for a in shop] == list(range(len(shop)))
    assert shop[0].key == "control" and shop[0].patch.is_empty and shop[0].kind == "control"
    keys = [a.key for a in shop]
    assert len(set(keys)) == len(keys)
    digests = [a.patch.digest for a in shop]
    assert len(set(digests)) == len(digests)  # distinct changes, not just distinct names
    kinds = Counter(a.kind for a in shop)
    assert set(kinds) == {"control", "element", "layout", "colour", "content"}
    assert all(kinds[k] >= 2 for k in ("element", "layout", "colour", "content"))


def test_every_action_patch_validates_and_touches_only_its_slots(shop: Any) -> None:
    slot_selectors = set(shop.selectors)
    for action in shop.actions[1:]:
        assert validate_css(action.patch.css) == action.patch.css
        assert set(action.patch.selectors) <= slot_selectors
        assert set(action.requires) == set(action.patch.selectors)
        assert action.patch.name == action.key
        assert action.slot is not None and action.key.startswith(action.slot + ".")
        assert action.name


def test_ids_are_deterministic() -> None:
    slots, copy = _shop()
    first = build_catalog(slots, copy=copy)
    second = build_catalog(dict(slots), copy={k: list(v) for k, v in copy.items()})
    assert [(a.id, a.key, a.patch.digest) for a in first] == [(a.id, a.key, a.patch.digest) for a in second]


def test_colour_actions_carry_contrast_both_safe_and_unsafe(shop: Any) -> None:
    colours = [a for a in shop if a.kind == "colour"]
    for action in colours:
        meta = action.meta
        assert meta["contrast"] == round(contrast_ratio(meta["foreground"], meta["background"]), 2)
        assert meta["contrast_safe"] == (meta["contrast"] >= 4.5)
    assert any(a.meta["contrast"] >= 7 for a in colours)  # AAA
    assert any(a.meta["contrast"] < 3 for a in colours)  # fails even large-text AA, on purpose


def test_contrast_ratio_matches_wcag() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#000") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#777777") == pytest.approx(1.0)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the classic AA grey


def test_mask_follows_the_slots_present_on_the_page(shop: Any) -> None:
    nothing = shop.mask([])
    assert nothing.dtype == np.bool_ and nothing.shape == (len(shop),)
    assert nothing.tolist() == [True] + [False] * (len(shop) - 1)  # the control is always available
    assert shop.mask(shop.selectors).all()
    cta = shop.slots[0]
    only_cta = shop.mask([cta.selector, "#something-else"])
    expected = ["control"] + [a.key for a in shop if a.slot == cta.name]
    assert [a.key for a in shop if only_cta[a.id]] == expected
    swaps = [a for a in shop if len(a.requires) == 2]
    for swap in swaps:
        assert not shop.mask(swap.requires[:1])[swap.id]
        assert shop.mask(swap.requires)[swap.id]


def test_cap_trims_every_slot_evenly() -> None:
    copy = {"cta": [f"Buy option {i}" for i in range(40)]}
    catalog = build_catalog(FALLBACK_SLOTS, copy=copy)
    assert len(catalog) == MAX_ACTIONS
    per_slot = Counter(a.slot for a in catalog.actions[1:])
    assert set(per_slot) == set(FALLBACK_SLOTS)
    assert min(per_slot.values()) >= 8
    assert [a.key for a in build_catalog(FALLBACK_SLOTS, max_actions=1)] == ["control"]


def test_slot_tables_choose_kind_and_copy() -> None:
    catalog = build_catalog({"promo": {"selector": ".promo h2", "kind": "text",
                                       "copy": ["Winter sale", "Winter sale"]}})
    keys = catalog.keys
    assert "promo.larger" in keys and "promo.copy-winter-sale" in keys
    assert sum(k.startswith("promo.copy-") for k in keys) == 1  # duplicates dropped
    inferred = build_catalog({"cta": "#buy", "page_title": "h1", "sidebar": "#side"})
    assert {s.name: s.kind for s in inferred.slots} == {"cta": "button", "page_title": "text",
                                                        "sidebar": "block"}


@pytest.mark.parametrize(("slots", "copy", "error", "message"), [
    ({"cta": "input[value^=a]"}, None, PatchValidationError, "slots.cta.selector"),
    ({"cta": {"selector": "#a", "kind": "widget"}}, None, InputError, "unknown slot kind 'widget'"),
    ({"cta": {"selector": "#a", "colour": "red"}}, None, InputError, "unknown key 'colour'"),
    ({"Bad Name": "#a"}, None, InputError, "slot name"),
    ({"cta": "#a"}, {"hero": ["x"]}, InputError, "copy for unknown slot 'hero'"),
    ({"cta": "#a", "other": "#a"}, None, InputError, "share a selector"),
    ({"cta": {"selector": "#a", "copy": "Buy"}}, None, InputError, "copy must be a list"),
])
def test_bad_slots_are_input_errors(slots: dict[str, Any], copy: dict[str, list[str]] | None,
                                    error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        build_catalog(slots, copy=copy, source="experiment.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("experiment.toml: ")
