"""The fence below the page: a forward proxy on 127.0.0.1 that every connection of the browser must pass.

``context.route`` sees the HTTP that Playwright intercepts. It never sees what the browser sends on its own
(a beacon after its page is gone, a SharedWorker's fetch, a speculative prefetch), a WebSocket from a worker,
or WebRTC's TURN over TCP. Chromium therefore sends every connection through this proxy, loopback included
(Playwright adds ``<-loopback>`` to the bypass list), and the proxy passes through only connections to an
admitted origin. Anything else gets a 403 before a byte reaches its target, and is recorded as
:class:`Blocked`.

Each context has a gate of its own (a listener on its own port), so what a gate refuses is that context's
visitor's. The proxy runs on its own thread and event loop, so the browser's traffic flows whatever the
harness's loop is doing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["BROWSER_SERVICE_HOST", "Blocked", "Fence", "Gate", "origin_key"]

# Chromium's own per-context service (autofill's form queries) is pointed here by a launch switch, so the
# proxy can tell it from the page's traffic: refused like the rest, but no visitor's doing. `.invalid` is
# reserved (RFC 2606), so no page can mean a real host by it.
BROWSER_SERVICE_HOST = "browser.uiab.invalid"
_HEAD_LIMIT = 256 * 1024  # a request or response head larger than this is refused
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer"}
_REFUSAL = (b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 32\r\n"
            b"Connection: close\r\n\r\nblocked by uiab's network fence\n")
_BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Blocked(tuple[str, str]):
    """One refused attempt. Unpacks as ``(url, page_url)``; ``channel`` and ``origin`` say how and where to."""

    channel: str
    origin: str

    def __new__(cls, url: str, page_url: str, *, channel: str, origin: str) -> Blocked:
        blocked = super().__new__(cls, (url, page_url))
        blocked.channel, blocked.origin = channel, origin
        return blocked

    def __repr__(self) -> str:
        return f"Blocked({self[0]!r}, {self[1]!r}, channel={self.channel!r})"


def origin_key(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a URL: the port filled in from the scheme, the host lower-case."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(parts.scheme, 0)


def _authority(target: str) -> tuple[str, int] | None:
    """``(host, port)`` of a CONNECT target (an IPv6 host in brackets), or ``None`` if it is not one."""
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]").lower(), int(port)


def _loopback(host: str) -> bool:
    """A loopback address, or ``localhost``; no other name is resolved to find out."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _header(headers: list[str], name: str) -> str:
    prefix = name.lower() + ":"
    return next((h.split(":", 1)[1].strip() for h in headers if h.lower().startswith(prefix)), "")


@dataclass
class Gate:
    """One listener's policy: the origins it lets through, and the attempts it refused."""

    port: int = 0
    blocked: list[Blocked] = field(default_factory=list)
    report: Callable[[Blocked], None] | None = None  # the fence's record, across all its gates
    # Until an origin is admitted, loopback only (a context a test made for itself, without a guard), or
    # nothing (the browser's own gate: its background traffic must stay in).
    loopback_until_admitted: bool = True
    _origins: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    _sinks: list[Callable[[Blocked], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closer: Callable[[], None] | None = None

    @property
    def server(self) -> str:
        """The proxy address to give Chromium."""
        return f"http://127.0.0.1:{self.port}"

    def admit(self, origin: str, sink: Callable[[Blocked], None] | None = None) -> None:
        """Let ``origin`` through, until :meth:`dismiss`; ``sink`` also gets each attempt charged to a visitor."""
        with self._lock:
            self.loopback_until_admitted = False
            self._origins[origin_key(origin)] += 1
            if sink is not None:
                self._sinks.append(sink)

    def dismiss(self, origin: str, sink: Callable[[Blocked], None] | None = None) -> None:
        with self._lock:
            self._origins[origin_key(origin)] -= 1
            self._origins = +self._origins  # drops an origin no longer admitted
            if sink is not None and sink in self._sinks:
                self._sinks.remove(sink)

    def allows(self, scheme: str, host: str, port: int) -> bool:
        with self._lock:
            return (scheme, host, port) in self._origins or (self.loopback_until_admitted and _loopback(host))

    def allows_tunnel(self, host: str, port: int) -> bool:
        # A tunnel carries HTTPS, a WebSocket or TURN; whichever it is, it may only reach an admitted host:port.
        with self._lock:
            return any((h, p) == (host, port) for _, h, p in self._origins) or \
                (self.loopback_until_admitted and _loopback(host))

    def refuse(self, blocked: Blocked, *, charged: bool = True) -> None:
        """Record a refusal; ``charged`` ones (the page's, off the origin) also go to the visitor's sinks."""
        with self._lock:
            self.blocked.append(blocked)
            sinks = list(self._sinks) if charged else []
        if self.report is not None:
            self.report(blocked)
        for sink in sinks:
            sink(blocked)

    def close(self) -> None:
        if self._closer is not None:
            closer, self._closer = self._closer, None
            closer()


class Fence:
    """The proxy: an event loop on its own thread, serving any number of gates on 127.0.0.1."""

    def __init__(self) -> None:
        self.blocked: list[Blocked] = []  # what every gate refused, in the order it happened
        self._servers: set[asyncio.Server] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="uiab-fence", daemon=True)
        self._thread.start()

    def by_channel(self) -> Counter[tuple[str, str]]:
        """How many attempts the proxy refused, by ``(origin, channel)``."""
        return Counter((b.origin, b.channel) for b in self.blocked)

    async def open_gate(self, *, loopback_until_admitted: bool = True) -> Gate:
        """A new gate on a free port; until an origin is admitted, it passes loopback only, or nothing."""
        gate = Gate(report=self.blocked.append, loopback_until_admitted=loopback_until_admitted)
        server = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._listen(gate), self._loop))
        gate.port = server.sockets[0].getsockname()[1]
        gate._closer = lambda: self._call(self._stop, server)
        return gate

    def close(self) -> None:
        """Stop every gate and the loop; a connection still open is cut."""
        if self._loop.is_closed():
            return

        async def shut() -> None:
            for server in list(self._servers):
                self._stop(server)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, fn: Callable[..., None], *args: object) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the fence already closed, and every gate with it
            pass

    async def _listen(self, gate: Gate) -> asyncio.Server:
        server = await asyncio.start_server(lambda r, w: _serve(gate, r, w), "127.0.0.1", 0, limit=_HEAD_LIMIT)
        self._servers.add(server)
        return server

    def _stop(self, server: asyncio.Server) -> None:
        self._servers.discard(server)
        server.close()


async def _serve(gate: Gate, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One connection from the browser: one CONNECT, or one request in absolute form."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        _close(writer)  # a preconnect that never sent a request, or garbage: nothing went anywhere
        return
    line, *headers = head[:-4].decode("latin-1").split("\r\n")
    method, _, rest = line.partition(" ")
    target, _, version = rest.partition(" ")
    page = _header(headers, "referer")
    if method.upper() == "CONNECT":
        authority = _authority(target)
        if authority is None or not gate.allows_tunnel(*authority):
            charged = authority is None or authority[0] != BROWSER_SERVICE_HOST
            gate.refuse(Blocked(f"CONNECT {target}", page, channel="proxy-connect" if charged else "browser",
                                origin=target), charged=charged)
            await _answer(writer, _REFUSAL)
            return
        await _tunnel(reader, writer, *authority)
        return
    scheme, host, port = origin_key(target)
    parts = urlsplit(target)
    if scheme != "http" or not host or not gate.allows(scheme, host, port):
        charged = host != BROWSER_SERVICE_HOST
        gate.refuse(Blocked(target, page, channel="proxy-http" if charged else "browser",
                            origin=f"{parts.scheme}://{parts.netloc}"), charged=charged)
        await _answer(writer, _REFUSAL)
        return
    if _header(headers, "sec-purpose").startswith("prefetch"):
        # A speculative load (speculation rules, <link rel=prefetch>) of the site's own page: not off the
        # origin, so no visitor's blocked request, but a page the visitor never asked for stays unloaded.
        gate.refuse(Blocked(target, page, channel="speculation", origin=f"{parts.scheme}://{parts.netloc}"),
                    charged=False)
        await _answer(writer, _REFUSAL)
        return
    await _forward(reader, writer, line, headers, host, port)


async def _tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int) -> None:
    try:
        up_reader, up_writer = await asyncio.open_connection(host, port)
    except OSError:
        await _answer(writer, _BAD_GATEWAY)
        return
    writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
    await _until_either_closes(_copy(reader, up_writer), _copy(up_reader, writer), writer, up_writer)


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: str, headers: list[str],
                   host: str, port: int) -> None:
    """Pass one request on to an admitted origin, with ``Connection: close`` both ways.

    Closing after one exchange is what keeps a connection to one origin: a connection kept alive would let
    the browser send its next request, perhaps for another origin, down a connection opened for this one.
    """
    method, target, version = line.split(" ", 2)
    parts = urlsplit(target)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    upgrade = bool(_header(headers, "upgrade"))  # a WebSocket handshake keeps its Connection: Upgrade
    kept = [h for h in headers if upgrade or h.split(":", 1)[0].strip().lower() not in _HOP_HEADERS]
    try:
        up_reader, up_writer = await asyncio.open_connection(host, port, limit=_HEAD_LIMIT)
    except OSError:
        await _answer(writer, _BAD_GATEWAY)
        return
    closing = [] if upgrade else ["Connection: close"]
    up_writer.write("\r\n".join([f"{method} {path} {version}", *kept, *closing, "", ""]).encode("latin-1"))
    response = _copy(up_reader, writer) if upgrade else _respond(up_reader, writer, head_only=method == "HEAD")
    await _until_either_closes(_copy(reader, up_writer), response, writer, up_writer)


async def _respond(up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, head_only: bool) -> None:
    """Copy one response back, its final head saying ``Connection: close``, and end with its body."""
    try:
        while True:
            head = await up_reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1] if head.count(b" ") else b""
            if not status.startswith(b"1"):
                break
            writer.write(head)  # an interim response (100, 103) passes as it is
        first, *lines = head[:-4].decode("latin-1").split("\r\n")
        kept = [h for h in lines if h.split(":", 1)[0].strip().lower() not in _HOP_HEADERS]
        writer.write("\r\n".join([first, *kept, "Connection: close", "", ""]).encode("latin-1"))
        length = _header(lines, "content-length")
        if head_only or status in (b"204", b"304"):
            return
        if length.isdigit() and not _header(lines, "transfer-encoding"):
            # A server that keeps the connection alive would otherwise hold it open after the body.
            left = int(length)
            while left:
                data = await up_reader.read(min(left, 65536))
                if not data:
                    return
                writer.write(data)
                await writer.drain()
                left -= len(data)
            return
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        return
    await _copy(up_reader, writer)  # chunked, or until the server closes


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except OSError:
        pass


async def _until_either_closes(one: Coroutine[None, None, None], other: Coroutine[None, None, None],
                               *writers: asyncio.StreamWriter) -> None:
    # Either side closing ends the exchange: the response is complete, or the browser gave up on it.
    tasks = {asyncio.ensure_future(one), asyncio.ensure_future(other)}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        _close(*writers)


async def _answer(writer: asyncio.StreamWriter, data: bytes) -> None:
    try:
        writer.write(data)
        await writer.drain()
    except OSError:
        pass
    _close(writer)


def _close(*writers: asyncio.StreamWriter) -> None:
    for writer in writers:
        try:
            writer.close()
        except OSError:
            pass
