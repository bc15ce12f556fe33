"""The gate room: the staged rollout gate — candidates (a variant, a patch file or a checkpoint), pre-flight
(smoke walks, audits, staging sessions), traffic stages, their checks, the verdict and its artifacts (JSON,
JUnit). It may import ``harness.settings``, ``harness.store``, ``harness.stats``, ``harness.browser``,
``harness.run`` and ``agent`` (torch only for a checkpoint candidate, in ``harness.gate.agent_candidate``),
never ``harness.report`` or the interfaces.
"""

from harness.gate.artifacts import write_json, write_junit
from harness.gate.candidates import resolve_candidate
from harness.gate.model import EXIT_CODES, Check, RolloutOptions, RolloutReport
from harness.gate.rollout import run_rollout

__all__ = [
    "run_rollout",
    "RolloutOptions",
    "RolloutReport",
    "Check",
    "EXIT_CODES",
    "resolve_candidate",
    "write_json",
    "write_junit",
]
