"""Accessibility (axe-core) and Web Vitals (LCP, CLS) of one page, in a context without the fake clock.

Playwright's clock replaces ``performance`` and empties ``getEntries*()`` (docs/references.md, browser facts), and
axe-core schedules its work with timers, so both are measured in a separate, real-time context with the
same device, network fence and patch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Error as PlaywrightError

from agent.kernel import first_line
from harness.browser.isolated import World
from harness.browser.launch import BrowserSession, NetworkGuard, origin_of

__all__ = ["PageAudit", "Violation", "audit_page"]

_AXE = Axe()

# LCP and CLS from buffered PerformanceObserver entries (the web-vitals definitions: CLS sums layout shifts
# without recent input; LCP is the latest largest-contentful-paint entry's render time).
_VITALS_JS = """
() => new Promise((resolve) => {
  let lcp = 0, cls = 0;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) lcp = Math.max(lcp, e.renderTime || e.loadTime || e.startTime);
    }).observe({ type: "largest-contentful-paint", buffered: true });
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) cls += e.value;
    }).observe({ type: "layout-shift", buffered: true });
  } catch (e) { /* an engine without these entry types reports zeros */ }
  requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => resolve({ lcp, cls }), 50)));
})
"""


@dataclass(frozen=True)
class Violation:
    """One axe-core rule that failed, with its impact and the elements it failed on."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]
    contrast: float | None = None  # for color-contrast: the lowest ratio axe measured on these elements

    @property
    def serious(self) -> bool:
        return self.impact in ("serious", "critical")


@dataclass
class PageAudit:
    page: str
    device: str
    lcp_ms: float | None = None
    cls: float | None = None
    violations: list[Violation] = field(default_factory=list)
    error: str | None = None

    def serious_rules(self) -> dict[str, Violation]:
        return {v.rule: v for v in self.violations if v.serious}


async def audit_page(browser: BrowserSession, base_url: str, device_name: str, path: str,
                     init_scripts: Sequence[str] = ()) -> PageAudit:
    """Load ``path`` fresh in real time with the patch, measure LCP/CLS, then run axe-core."""
    audit = PageAudit(page=path, device=device_name)
    context = await browser.browser.new_context(**browser.device(device_name), service_workers="block")
    try:
        await NetworkGuard(origin=origin_of(base_url)).install(context)
        page = await context.new_page()
        # Patches run in uiab's isolated world, as in sessions: the page cannot see that it is patched.
        world = await World.attach(await context.new_cdp_session(page))
        for script in init_scripts:
            await world.add_script(script)
        await page.goto(base_url.rstrip("/") + "/" + path.lstrip("/"), wait_until="load")
        vitals: dict[str, Any] = await page.evaluate(_VITALS_JS)
        audit.lcp_ms, audit.cls = float(vitals["lcp"]), float(vitals["cls"])
        results = await _AXE.run(page)
        for v in results.response.get("violations", []):
            nodes = v.get("nodes", [])
            targets = tuple(" ".join(map(str, n.get("target", []))) for n in nodes)
            ratios = [float(c["data"]["contrastRatio"]) for n in nodes for c in n.get("any", [])
                      if isinstance(c.get("data"), dict) and c["data"].get("contrastRatio")]
            audit.violations.append(Violation(rule=v["id"], impact=str(v.get("impact") or "minor"),
                                              help=str(v.get("help", "")), targets=targets,
                                              contrast=min(ratios) if ratios else None))
    except PlaywrightError as exc:
        audit.error = first_line(exc)
    finally:
        await context.close()
    return audit
