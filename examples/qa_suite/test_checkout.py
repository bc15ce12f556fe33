"""Checkout QA for the demo shop: the funnel works in each variant, and no variant costs conversions."""

from __future__ import annotations

import pytest

from harness.interfaces.pytest_plugin import UiabHarness
from harness.testing import assert_not_worse


def test_every_variant_can_walk_the_funnel(uiab: UiabHarness) -> None:
    report = uiab.smoke(variants=["control", "big-cta"])
    problems = [f"{w.variant} on {w.device}: {p}" for w in report.walks for page in w.pages for p in page.problems]
    assert report.ok, "\n".join(problems)


@pytest.mark.variant("big-cta")
def test_big_cta_is_not_worse(uiab: UiabHarness) -> None:
    # Paired: every visitor sees both variants on the same random stream, so the interval is narrow.
    result = uiab.simulate(paired=True)
    assert_not_worse(result, "big-cta", metric="conversion", margin=0.10)
    assert_not_worse(result, "big-cta", metric="misclick", margin=0.10)


@pytest.mark.persona("low-vision-senior")
@pytest.mark.variant("low-contrast-cta")
@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="a pale button the persona cannot see: uiab must catch it (strict: a pass is a failure)")
def test_low_contrast_cta_loses_low_vision_seniors(uiab: UiabHarness, persona: str) -> None:
    result = uiab.simulate(paired=True)  # this persona only
    assert {o.plan.persona.name for o in result.outcomes} == {persona}
    assert_not_worse(result, "low-contrast-cta", metric="conversion", margin=0.10)
