"""Rollout artifacts: JSON (every check) and JUnit XML (a testcase per check); the HTML is harness.report.render's."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.gate.model import RolloutReport

__all__ = ["write_json", "write_junit"]


def _finite(value: Any) -> Any:
    """JSON has no inf/NaN: an interval with no data yet is written as null bounds."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_json(report: RolloutReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(report.to_dict()), indent=2, default=str) + "\n", encoding="utf-8")
    return path


def write_junit(report: RolloutReport, path: Path) -> Path:
    """A testsuite per stage and a testcase per check; warnings pass with output, inconclusive is skipped."""
    suites = ET.Element("testsuites", name=f"uiab rollout {report.candidate} vs {report.control}")
    by_stage: dict[str, list[Any]] = defaultdict(list)
    for check in report.checks:
        by_stage[check.stage].append(check)
    for stage, checks in by_stage.items():
        failures = sum(c.failed and c.level == "error" for c in checks)
        skipped = sum(c.status == "skip" for c in checks)
        suite = ET.SubElement(suites, "testsuite", name=f"rollout.{stage}", tests=str(len(checks)),
                              failures=str(failures), skipped=str(skipped), errors="0")
        for check in checks:
            case = ET.SubElement(suite, "testcase", classname=f"uiab.rollout.{stage}",
                                 name=check.name + (f"[{check.device}]" if check.device else "")
                                 + (f"[{check.page}]" if check.page else "")
                                 + (f"[{check.persona}]" if check.persona else ""))
            if check.failed and check.level == "error":
                failure = ET.SubElement(case, "failure", message=check.message, type=check.name)
                failure.text = check.message
            elif check.status == "skip":
                ET.SubElement(case, "skipped", message=check.message)
            elif check.failed:
                ET.SubElement(case, "system-out").text = f"warning: {check.message}"
    suites.set("verdict", report.verdict)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    return path

