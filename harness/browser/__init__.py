"""The browser room: find or connect to Chromium, the network fence, one visitor's page (device, virtual
clock, tracker, patch scripts, real input), the reused-tab pool, the loopback site server, audits (axe-core,
Web Vitals), screenshots, and the in-page scripts in ``js/``. It may import ``agent.kernel``,
``harness.settings`` and ``agent.patch`` (a patch is data to inject), nothing else of uiab.
"""

from harness.browser.audits import PageAudit, Violation, audit_page
from harness.browser.launch import BrowserSession, NetworkGuard, device_descriptor, find_chromium, open_browser
from harness.browser.patching import PatchReport, patch_init_script, patch_report
from harness.browser.pool import VisitorPool
from harness.browser.screenshots import side_by_side
from harness.browser.server import check_reachable, serve_folder
from harness.browser.visitor import Visitor, VisitorContext, open_visitor, tracker_script

__all__ = [
    "BrowserSession",
    "NetworkGuard",
    "device_descriptor",
    "find_chromium",
    "open_browser",
    "Visitor",
    "VisitorContext",
    "open_visitor",
    "tracker_script",
    "VisitorPool",
    "serve_folder",
    "check_reachable",
    "PageAudit",
    "Violation",
    "audit_page",
    "side_by_side",
    "PatchReport",
    "patch_init_script",
    "patch_report",
]
