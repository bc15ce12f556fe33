"""The interfaces room: the user's ways in — the ``uiab`` command line (``cli`` assembles the app from
``cli_run``, ``cli_gate`` and ``cli_inspect``), the resumable nightly pipeline (``nightly``), the pytest plugin
(``pytest_plugin``, with its harness and failure artifacts in ``plugin_harness`` and ``plugin_artifacts``) and
logging (``logs``). It sits at the top and may import every other room. Each name below loads on first use, so
importing the room (as pytest does, to load the plugin) loads neither the CLI nor the harness.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.kernel.lazy import lazy_exports

if TYPE_CHECKING:
    from harness.interfaces.cli import app, main
    from harness.interfaces.logs import configure_logging
    from harness.interfaces.nightly import NightlyOptions, NightlyResult, run_nightly
    from harness.interfaces.plugin_harness import UiabHarness

_WHERE = {
    "app": "harness.interfaces.cli",
    "main": "harness.interfaces.cli",
    "configure_logging": "harness.interfaces.logs",
    "NightlyOptions": "harness.interfaces.nightly",
    "NightlyResult": "harness.interfaces.nightly",
    "run_nightly": "harness.interfaces.nightly",
    "UiabHarness": "harness.interfaces.plugin_harness",
}

__all__ = ["app", "main", "configure_logging", "NightlyOptions", "NightlyResult", "run_nightly", "UiabHarness"]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
