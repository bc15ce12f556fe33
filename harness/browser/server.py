"""Serve a site folder on 127.0.0.1 (never 0.0.0.0) at a free port, or check that a running site answers."""

from __future__ import annotations

import functools
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from agent.kernel import InputError, SiteUnreachableError

__all__ = ["serve_folder", "check_reachable"]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass

    def end_headers(self) -> None:
        # Same bytes every time; no-store keeps one visitor's cache from shaping the next one's timings.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@contextmanager
def serve_folder(folder: Path, *, port: int = 0) -> Iterator[str]:
    """Serve ``folder`` on loopback for the duration of the block; yields the base URL."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"site folder {folder} does not exist", field="site",
                         fix="point `site` at a folder, relative to experiment.toml")
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise InputError(f"port {port} on 127.0.0.1 is not free ({exc.strerror})", field="port",
                         fix="choose another port, or 0 for any free one") from None
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="uiab-site", daemon=True)
    thread.start()
    try:
        bound = server.server_address[1]  # the host is the loopback address bound above
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.shutdown()
        server.server_close()


def check_reachable(url: str, *, source: str | None = None, timeout: float = 5.0) -> None:
    """Raise :class:`SiteUnreachableError` if nothing answers at ``url``, :class:`InputError` on an HTTP error."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - the user's own site
            response.read(1)
    except urllib.error.HTTPError as exc:
        raise InputError(f"{url} answered HTTP {exc.code}", source=source, field="entry",
                         fix="check base_url and entry") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SiteUnreachableError(f"site unreachable at {url} ({reason})", source=source, field="base_url",
                                   fix="start the site, or use `site` to serve a folder") from None
