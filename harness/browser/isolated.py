"""uiab's own world in a page: the tracker and the patch runtime run where page script cannot reach them.

A CDP isolated world (what extensions' content scripts get) shares the page's DOM, so clicks, scrolls and
navigations are seen as they happen, but has JavaScript globals of its own: the page can neither see nor
call ``__uiab_emit``, ``window.__uiab`` or ``window.__uiab_patches``, and cannot wrap or replace them. The
binding exists only in contexts named :data:`WORLD`, which page script cannot create. Page errors and
console errors come from the browser's own reports (``Runtime.exceptionThrown``, ``consoleAPICalled``), not
from anything the page can hook. Everything arrives on one CDP session per page, in the order the renderer
produced it, so a round trip on that session (:meth:`World.barrier`) means everything before it is in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import CDPSession
from playwright.async_api import Error as PlaywrightError

__all__ = ["BINDING", "WORLD", "Receiver", "World", "page_path"]

WORLD = "uiab"
BINDING = "__uiab_emit"
CONSOLE_MESSAGE_CHARS = 500

# An event and, for the tracker's, the execution context (one per document) that sent it.
Receiver = Callable[[dict[str, Any], int | None], None]


def page_path(url: str) -> str:
    """What the tracker calls a page: ``location.pathname + location.search``."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _as_text(value: dict[str, Any]) -> str:
    """A CDP RemoteObject as JavaScript's ``String()`` would show it (objects by their description)."""
    kind = value.get("type")
    if kind == "undefined":
        return "undefined"
    if value.get("subtype") == "null":
        return "null"
    if kind == "string":
        return str(value.get("value", ""))
    if kind == "boolean":
        return "true" if value.get("value") else "false"
    if "unserializableValue" in value:
        return str(value["unserializableValue"]).removesuffix("n")  # a BigInt prints without its n
    description = str(value.get("description", value.get("value", "")))
    # An error's description carries its stack; String(error) is the first line.
    return description.split("\n", 1)[0] if value.get("subtype") == "error" else description


class World:
    """The :data:`WORLD` world of one page, over one CDP session; events go to :meth:`route_to`'s receiver."""

    def __init__(self, cdp: CDPSession, main_frame: str) -> None:
        self.cdp = cdp
        self.main_frame = main_frame
        self.context_id: int | None = None  # the main frame's current uiab context, for :meth:`evaluate`
        self._receiver: Receiver = lambda _event, _document: None
        self._frames: dict[str, str] = {}  # frame id -> its document's URL
        self._page_contexts: dict[int, str] = {}  # the page's own (main-world) contexts -> frame id
        self._ours: set[int] = set()
        self._others: set[int] = set()  # other isolated worlds (Playwright's utility world): not the page
        self._muted: set[int] = set()  # documents that were there before the receiver: not its events

    @classmethod
    async def attach(cls, cdp: CDPSession) -> World:
        """Listen on ``cdp`` (a session on the page) and bind the tracker's channel in :data:`WORLD` only."""
        tree = await cdp.send("Page.getFrameTree")
        frame = tree["frameTree"]["frame"]
        world = cls(cdp, str(frame["id"]))
        world._frames[world.main_frame] = str(frame.get("url", ""))
        handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "Runtime.bindingCalled": world._binding_called,
            "Runtime.exceptionThrown": world._exception_thrown,
            "Runtime.consoleAPICalled": world._console_called,
            "Runtime.executionContextCreated": world._context_created,
            "Runtime.executionContextDestroyed": world._context_destroyed,
            "Runtime.executionContextsCleared": world._contexts_cleared,
            "Page.frameNavigated": world._frame_navigated,
            "Page.navigatedWithinDocument": world._navigated_within_document,
            "Page.frameDetached": world._frame_detached,
        }
        for event, handler in handlers.items():
            cdp.on(event, handler)
        # The page agent runs scripts-on-new-document only for sessions that enabled it.
        await cdp.send("Page.enable")
        await cdp.send("Runtime.enable")
        await cdp.send("Runtime.addBinding", {"name": BINDING, "executionContextName": WORLD})
        return world

    def route_to(self, receiver: Receiver) -> None:
        """Send events to ``receiver`` from now on, and only those of documents loaded from now on.

        A reused page hands over on ``about:blank``; what that document (or one before it) still says, on
        its way out, is no visitor's.
        """
        self._receiver = receiver
        self._muted = self._ours | set(self._page_contexts) | self._muted

    async def add_script(self, source: str) -> str:
        """Run ``source`` in :data:`WORLD` at the start of every document of the page; its identifier."""
        reply = await self.cdp.send("Page.addScriptToEvaluateOnNewDocument", {"source": source, "worldName": WORLD})
        return str(reply["identifier"])

    async def remove_script(self, identifier: str) -> None:
        await self.cdp.send("Page.removeScriptToEvaluateOnNewDocument", {"identifier": identifier})

    async def evaluate(self, expression: str) -> Any:
        """Evaluate ``expression`` in the main frame's uiab world; its JSON-able value."""
        if self.context_id is None:
            raise PlaywrightError("the page has no uiab world (no document loaded since it was attached)")
        reply = await self.cdp.send("Runtime.evaluate", {"expression": expression, "contextId": self.context_id,
                                                         "returnByValue": True})
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            raise PlaywrightError(_as_text(details.get("exception") or {}) or str(details.get("text")))
        return reply.get("result", {}).get("value")

    async def barrier(self) -> None:
        """A round trip to the renderer on this session: every event sent before it has been received."""
        try:
            await self.cdp.send("Runtime.evaluate", {"expression": "0"})
        except PlaywrightError:
            pass

    # --- CDP events -------------------------------------------------------------------------------------
    def _context_created(self, params: dict[str, Any]) -> None:
        context = params["context"]
        aux = context.get("auxData") or {}
        cid, frame = int(context["id"]), str(aux.get("frameId", ""))
        if aux.get("isDefault"):
            self._page_contexts[cid] = frame
        elif context.get("name") == WORLD:
            self._ours.add(cid)
            if frame == self.main_frame:
                self.context_id = cid
        else:
            self._others.add(cid)

    def _context_destroyed(self, params: dict[str, Any]) -> None:
        cid = int(params["executionContextId"])
        self._muted.discard(cid)
        self._page_contexts.pop(cid, None)
        self._ours.discard(cid)
        self._others.discard(cid)
        if cid == self.context_id:
            self.context_id = None

    def _contexts_cleared(self, _params: dict[str, Any]) -> None:
        self._muted.clear()
        self._page_contexts.clear()
        self._ours.clear()
        self._others.clear()
        self.context_id = None

    def _frame_navigated(self, params: dict[str, Any]) -> None:
        frame = params["frame"]
        self._frames[str(frame["id"])] = str(frame.get("url", ""))

    def _frame_detached(self, params: dict[str, Any]) -> None:
        self._frames.pop(str(params.get("frameId")), None)

    def _navigated_within_document(self, params: dict[str, Any]) -> None:
        self._frames[str(params["frameId"])] = str(params.get("url", ""))

    def _binding_called(self, params: dict[str, Any]) -> None:
        cid = params.get("executionContextId")
        if params.get("name") != BINDING or cid not in self._ours or cid in self._muted:
            return
        try:
            event = json.loads(str(params.get("payload", "")))
        except ValueError:
            return
        if isinstance(event, dict) and isinstance(event.get("type"), str):
            self._receiver(event, int(cid))

    def _page_url(self, cid: Any) -> str | None:
        """The path of the document whose own script runs in context ``cid``; ``None`` if not the page's."""
        if cid in self._ours or cid in self._others or cid in self._muted:
            return None
        frame = self._page_contexts.get(int(cid), self.main_frame) if cid is not None else self.main_frame
        return page_path(self._frames.get(frame, ""))

    def _exception_thrown(self, params: dict[str, Any]) -> None:
        # An exception that reached the browser uncaught: what DevTools' console and Playwright's "pageerror"
        # show. One the page handled itself (its onerror returned true) is handled, like one it caught.
        details = params.get("exceptionDetails") or {}
        url = self._page_url(details.get("executionContextId"))
        if url is None:
            return
        thrown = _as_text(details["exception"]) if details.get("exception") else ""
        text = str(details.get("text") or "Uncaught")
        line = details.get("lineNumber")
        self._receiver({"type": "js_error", "t": None, "url": url,
                        "message": f"{text} {thrown}" if thrown else text,
                        "source": details.get("url") or None,
                        "line": int(line) + 1 if isinstance(line, int) else None}, None)

    def _console_called(self, params: dict[str, Any]) -> None:
        if params.get("type") != "error":
            return
        url = self._page_url(params.get("executionContextId"))
        if url is None:
            return
        message = " ".join(_as_text(a) for a in params.get("args") or [])[:CONSOLE_MESSAGE_CHARS]
        self._receiver({"type": "console_error", "t": None, "url": url, "message": message}, None)
