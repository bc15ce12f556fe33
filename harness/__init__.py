"""uiab's harness: synthetic personas drive real Chromium through UI variants; measure, gate, report.

Its rooms, bottom to top — ``settings``; ``store`` (SQLite); ``stats`` (pure statistics); ``browser``
(Chromium, fence, visitor, pool, site server); ``run`` (experiment, sessions, simulate, smoke, train);
``report`` and ``gate`` (the HTML report; the staged rollout); ``interfaces`` (CLI, nightly, pytest plugin)
and ``testing`` (QA assertions) — each import only the rooms below them, ``personas`` and ``agent``. This
package exports what a user may import; each name loads on first use, so ``import harness`` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.kernel import (
    BrowserError,
    CheckpointError,
    InfrastructureError,
    InputError,
    PatchValidationError,
    PersonaError,
    SiteUnreachableError,
    UiabError,
)
from agent.kernel.lazy import lazy_exports

if TYPE_CHECKING:
    from harness.browser import BrowserSession, VisitorPool, open_browser, serve_folder
    from harness.gate import RolloutOptions, RolloutReport, run_rollout
    from harness.interfaces.nightly import NightlyOptions, NightlyResult, run_nightly
    from harness.report import build_report
    from harness.run import (
        BrowserSessionRunner,
        Experiment,
        SessionResult,
        SimulationReport,
        SmokeReport,
        TrainReport,
        load_experiment,
        run_smoke,
        run_training,
        simulate,
    )
    from harness.settings import Settings, load_settings
    from harness.store import Store
    from harness.testing import Comparison, assert_better, assert_not_worse, compare

_WHERE = {
    "Settings": "harness.settings",
    "load_settings": "harness.settings",
    "Store": "harness.store",
    "BrowserSession": "harness.browser",
    "VisitorPool": "harness.browser",
    "open_browser": "harness.browser",
    "serve_folder": "harness.browser",
    "Experiment": "harness.run",
    "load_experiment": "harness.run",
    "SessionResult": "harness.run",
    "SmokeReport": "harness.run",
    "run_smoke": "harness.run",
    "SimulationReport": "harness.run",
    "simulate": "harness.run",
    "TrainReport": "harness.run",
    "run_training": "harness.run",
    "BrowserSessionRunner": "harness.run",
    "RolloutOptions": "harness.gate",
    "RolloutReport": "harness.gate",
    "run_rollout": "harness.gate",
    "build_report": "harness.report",
    "NightlyOptions": "harness.interfaces.nightly",
    "NightlyResult": "harness.interfaces.nightly",
    "run_nightly": "harness.interfaces.nightly",
    "Comparison": "harness.testing",
    "assert_better": "harness.testing",
    "assert_not_worse": "harness.testing",
    "compare": "harness.testing",
}

__all__ = [
    "UiabError",
    "InputError",
    "PatchValidationError",
    "PersonaError",
    "CheckpointError",
    "InfrastructureError",
    "SiteUnreachableError",
    "BrowserError",
    "Settings",
    "load_settings",
    "Store",
    "BrowserSession",
    "VisitorPool",
    "open_browser",
    "serve_folder",
    "Experiment",
    "load_experiment",
    "SessionResult",
    "SmokeReport",
    "run_smoke",
    "SimulationReport",
    "simulate",
    "TrainReport",
    "run_training",
    "BrowserSessionRunner",
    "RolloutOptions",
    "RolloutReport",
    "run_rollout",
    "build_report",
    "NightlyOptions",
    "NightlyResult",
    "run_nightly",
    "Comparison",
    "assert_better",
    "assert_not_worse",
    "compare",
]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
