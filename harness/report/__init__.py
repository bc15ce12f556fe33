"""The report room: the self-contained HTML run report (every image inlined, no script) for any stored run.

``load`` reads a run from SQLite into a ``ReportModel`` (``model`` holds it and the prose), ``clicks`` plans the
heatmaps, ``images`` and ``plots`` draw, ``screenshots`` takes the pages in the real browser, and ``render``
writes the page. It may import ``harness.settings``, ``harness.store``, ``harness.stats``, ``harness.browser``,
``harness.run`` and ``agent``; never ``harness.gate``.
"""

from harness.report.clicks import ClickPoint, HeatmapTarget, click_point, plan_heatmaps, to_image
from harness.report.images import Shot, render_heatmap
from harness.report.load import load_model, resolve_run_id, result_from_json
from harness.report.model import ReportModel, rollout_stages
from harness.report.render import build_report, build_report_async, nightly_images, update_latest
from harness.report.screenshots import Comparison, plan_comparisons

__all__ = [
    "ClickPoint",
    "Comparison",
    "HeatmapTarget",
    "ReportModel",
    "Shot",
    "build_report",
    "build_report_async",
    "click_point",
    "load_model",
    "nightly_images",
    "plan_comparisons",
    "plan_heatmaps",
    "render_heatmap",
    "resolve_run_id",
    "result_from_json",
    "rollout_stages",
    "to_image",
    "update_latest",
]
