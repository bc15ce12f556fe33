"""Make sure a Chromium exists: the configured one, one on PATH, Playwright's download, or Debian's package.

Run by ``make``; prints what it found and exits non-zero only when every way failed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys

from agent.kernel import UiabError
from harness.browser.launch import find_chromium, open_browser
from harness.settings import Settings, load_settings

__all__ = ["ensure_chromium"]


def _works(settings: Settings) -> bool:
    async def probe() -> None:
        async with open_browser(settings) as session:
            page = await session.browser.new_page()
            await page.set_content("<p>ok</p>")

    try:
        asyncio.run(probe())
        return True
    except UiabError as exc:
        print(f"  not usable: {exc}")
        return False


def _run(command: list[str], timeout: float) -> bool:
    print("  $", " ".join(command))
    try:
        return subprocess.run(command, timeout=timeout, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"  failed: {exc}")
        return False


def ensure_chromium() -> int:
    settings = load_settings()
    if settings.browser_endpoint:
        print(f"browser: a Playwright server at {settings.browser_endpoint}")
        return 0
    found = find_chromium(settings)
    if found and _works(settings):
        print(f"browser: {found}")
        return 0
    # Playwright's own download is preferred where the network allows it; on a closed network it fails.
    print("browser: none on PATH; trying Playwright's download")
    if _run([sys.executable, "-m", "playwright", "install", "chromium"], timeout=180) and _works(settings):
        print("browser: Playwright's Chromium")
        return 0
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("browser: falling back to Debian's chromium package")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, timeout=900)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env, timeout=1800)
        if find_chromium(settings) and _works(settings):
            print(f"browser: {find_chromium(settings)}")
            return 0
    print("browser: no Chromium could be found or installed. Install Chromium and set "
          "UIAB_BROWSER_EXECUTABLE to its path, or set UIAB_BROWSER_ENDPOINT to a Playwright server.",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(ensure_chromium())
