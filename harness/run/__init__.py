"""The run room: an experiment from its file to stored sessions — ``experiment.toml``, who visits and what they
see (population, assignment), one persona session (perceive → decide → act) and its measured outcome, the
simulate and smoke jobs, the browser-backed runner the agent trains through, and ``uiab train``. It may import
``harness.settings``, ``harness.store``, ``harness.stats``, ``harness.browser``, ``personas`` and ``agent``
(torch only inside ``uiab train``'s functions), never ``harness.gate``, ``harness.report`` or the interfaces.
"""

from harness.run.agent_runner import BrowserSessionRunner, FinishedSession
from harness.run.assignment import assign_variant, plan_visitors, sticky_bucket
from harness.run.experiment import Experiment, FunnelStep, Goal, Variant, load_experiment
from harness.run.outcome import PageView, SessionResult, session_result
from harness.run.patch_check import PatchCheck, check_patch
from harness.run.population import experiment_devices, experiment_personas, select_personas
from harness.run.session import SessionOutcome, VisitorPlan, run_persona_session, visitor_seed
from harness.run.simulate import SimulationReport, run_plans, simulate
from harness.run.site import site_url
from harness.run.smoke import PageCheck, SmokeWalk
from harness.run.smoke_job import SmokeReport, run_smoke
from harness.run.summary import ArmSummary, summarize
from harness.run.train import TrainReport, run_training

__all__ = [
    "Experiment",
    "FunnelStep",
    "Goal",
    "Variant",
    "load_experiment",
    "site_url",
    "experiment_personas",
    "experiment_devices",
    "select_personas",
    "plan_visitors",
    "assign_variant",
    "sticky_bucket",
    "VisitorPlan",
    "SessionOutcome",
    "run_persona_session",
    "visitor_seed",
    "PageView",
    "SessionResult",
    "session_result",
    "SimulationReport",
    "run_plans",
    "simulate",
    "SmokeReport",
    "SmokeWalk",
    "PageCheck",
    "run_smoke",
    "PatchCheck",
    "check_patch",
    "ArmSummary",
    "summarize",
    "BrowserSessionRunner",
    "FinishedSession",
    "TrainReport",
    "run_training",
]
