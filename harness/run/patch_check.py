"""``uiab patch check``: validate a patch file, and with an experiment apply it on every funnel page."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.kernel import InputError
from agent.patch import Patch, load_patch
from harness.browser.launch import open_browser
from harness.browser.patching import patch_init_script, patch_report
from harness.browser.visitor import open_visitor
from harness.run.experiment import load_experiment
from harness.run.population import experiment_devices
from harness.run.site import site_url
from harness.settings import Settings

__all__ = ["PatchCheck", "check_patch"]

# How the runtime begins the reason for an element it would not touch (a script, a style...).
_REFUSED = "refused "


@dataclass
class PatchCheck:
    """A validated patch and, per funnel page and device, how many elements each selector matched."""

    path: Path
    patch: Patch
    matches: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # device → page → selector
    failed_ops: list[str] = field(default_factory=list)

    def unmatched_everywhere(self) -> list[str]:
        seen: dict[str, int] = {}
        for pages in self.matches.values():
            for counts in pages.values():
                for selector, count in counts.items():
                    seen[selector] = max(seen.get(selector, 0), count)
        return [s for s, n in seen.items() if n == 0]

    def to_dict(self) -> dict[str, Any]:
        return {"patch": self.patch.name, "file": str(self.path), "digest": self.patch.digest,
                "css": self.patch.css, "ops": [op.model_dump(exclude_none=True) for op in self.patch.ops],
                "matches": self.matches, "unmatched": self.unmatched_everywhere(),
                "failed_ops": self.failed_ops, "valid": not self.unmatched_everywhere()}


async def check_patch(path: Path, settings: Settings, experiment_path: Path | None = None) -> PatchCheck:
    """Validate ``path``; with an experiment, load each funnel page with the patch on each persona device."""
    patch = load_patch(path)
    check = PatchCheck(path=path, patch=patch)
    if experiment_path is None:
        return check
    experiment = load_experiment(experiment_path)
    pages = [step.page for step in experiment.funnel] or [experiment.entry]
    script = patch_init_script(patch)
    refused: list[InputError] = []  # ops the runtime would not apply to an element it matched (a script...)
    with site_url(experiment) as base_url:
        async with open_browser(settings) as browser:
            for device_name in experiment_devices(experiment):
                device = browser.device(device_name, source=str(experiment.path))
                per_page: dict[str, dict[str, int]] = {}
                async with open_visitor(browser, base_url, device=device, goals=experiment.goal_specs(),
                                        init_scripts=[script]) as visitor:
                    for page in pages:
                        await visitor.goto(page)
                        await visitor.advance(500)
                        report = patch_report(visitor.events, url=page)
                        per_page[page] = dict(report.matched)
                        check.failed_ops.extend(f"{page} on {device_name}: {o['op']} {o['selector']} "
                                                f"({o['reason']})" for o in report.failed_ops
                                                if report.matched.get(o["selector"], 0) > 0)
                        refused.extend(_refusal(check, o, page) for o in report.failed_ops
                                       if str(o["reason"]).startswith(_REFUSED))
                check.matches[device_name] = per_page
    if refused:
        raise refused[0]
    unmatched = check.unmatched_everywhere()
    if unmatched:
        raise InputError(f"{', '.join(unmatched)} matched nothing on any funnel page of {experiment.name}",
                         source=str(path), field="selector", fix="check the selector against the site's HTML")
    return check


def _refusal(check: PatchCheck, failed: dict[str, Any], page: str) -> InputError:
    """The op the runtime refused on ``page`` as bad input, naming which op of the file it was."""
    reason = str(failed["reason"])
    index = next((i for i, op in enumerate(check.patch.ops)
                  if op.op == failed["op"] and op.selector == failed["selector"]), None)
    where = "target" if reason.startswith(_REFUSED + "target ") else "selector"
    element = reason.removeprefix(_REFUSED).split(":", 1)[0]
    return InputError(f"{failed['selector']} matched {element} on {page}, which no DOM op may change "
                      "(only elements that render content)", source=str(check.path),
                      field=f"ops[{index}].{where}" if index is not None else "ops",
                      fix="select the element by an id or class that no script, style or other "
                          "non-content element carries")
