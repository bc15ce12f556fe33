"""Suite-wide uiab settings: override ``uiab_settings_args`` as pytest-playwright's ``*_args`` fixtures are."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def uiab_settings_args(uiab_settings_args: dict[str, Any]) -> dict[str, Any]:
    """One session in flight per worker (the default, spelled out): on a 2-core runner the browser uses the other."""
    return {**uiab_settings_args, "concurrency": 1}
