"""Patch injection: the init script that applies a Patch before first paint (in uiab's world), and its report."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.patch import Patch

__all__ = ["PatchReport", "patch_init_script", "patch_report", "runtime_source"]

_RUNTIME = Path(__file__).parent / "js" / "patch_runtime.js"


def runtime_source() -> str:
    """The trusted runtime's JavaScript (the same for every patch)."""
    return _RUNTIME.read_text(encoding="utf-8")


def patch_init_script(patch: Patch) -> str:
    """An init script: the patch as a JSON data line, then the runtime that applies it."""
    # ASCII-only JSON is a plain JS literal (no raw U+2028/2029); "<" is escaped as well, so the line stays
    # inert even if someone inlines it into an HTML <script> element.
    config = json.dumps(patch.config(), ensure_ascii=True, sort_keys=True).replace("<", "\\u003c")
    return f"window.__UIAB_PATCH__ = {config};\n{runtime_source()}"


@dataclass(frozen=True)
class PatchReport:
    """What the runtime said about one patch on one page: matches per selector and failed ops."""

    name: str | None
    url: str | None = None
    matched: dict[str, int] = field(default_factory=dict)
    failed_ops: list[dict[str, Any]] = field(default_factory=list)
    css_failed: bool = False
    reported: bool = False

    @property
    def unmatched(self) -> list[str]:
        return [selector for selector, count in self.matched.items() if count == 0]

    @property
    def applied(self) -> bool:
        """True only when the runtime reported, every selector matched and every op applied."""
        return self.reported and not self.unmatched and not self.failed_ops and not self.css_failed


def patch_report(events: Iterable[Mapping[str, Any]], *, name: str | None = None,
                 url: str | None = None) -> PatchReport:
    """The latest ``patch`` event (optionally of one patch, on one page path) as a PatchReport.

    The runtime re-sends its report whenever it changes, so the latest one is current; no event at all
    means the patch never ran, which counts as not applied.
    """
    latest: Mapping[str, Any] | None = None
    for event in events:
        if event.get("type") != "patch":
            continue
        if name is not None and event.get("name") != name:
            continue
        if url is not None and event.get("url") != url:
            continue
        latest = event
    if latest is None:
        return PatchReport(name=name, url=url)
    failed = [{"op": o.get("op"), "selector": o.get("selector"), "reason": o.get("reason")}
              for o in latest.get("ops", []) if o.get("status") != "applied"]
    return PatchReport(
        name=latest.get("name"),
        url=latest.get("url"),
        matched={str(k): int(v) for k, v in dict(latest.get("selectors", {})).items()},
        failed_ops=failed,
        css_failed=latest.get("css") == "failed",
        reported=True,
    )
