"""The network fence holds on every channel: a page that tries them all reaches nothing off its origin.

A logging server on another loopback origin records every TCP connection and every UDP datagram it gets.
The site page (``tests/pages/fence/channels.html``, served by the project's site server) tries each channel
at it, one port per channel, so a connection would say which channel leaked and a blocked attempt which
channel was counted. The last tests drive the proxy itself, without a browser.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import BrowserContext, Page

from harness.browser import launch
from harness.browser.fence import BROWSER_SERVICE_HOST, Blocked, Fence
from harness.browser.launch import BrowserSession, NetworkGuard, open_browser, origin_of
from harness.browser.visitor import Visitor, open_visitor
from harness.settings import Settings

PAGES = Path(__file__).resolve().parent / "pages"
# What the page's routes refuse (http), or, for what a page sends as it goes, whichever layer sees it first.
ROUTED = ("img", "fetch", "xhr", "iframe", "script", "eventsource", "beacon", "css_url", "form", "worker_fetch",
          "link_prefetch", "link_preload", "pagehide_keepalive", "pagehide_beacon")
# What leaked before the proxy: Playwright never sees it, so only the proxy can refuse (and count) it.
BELOW_THE_PAGE = {"shared_worker": "proxy-http", "worker_websocket": "proxy-connect",
                  "shared_worker_websocket": "proxy-connect", "turn_tcp": "proxy-connect", "websocket": "websocket"}
# What never leaves the browser at all under the fence (UDP needs a proxy that carries it; speculation,
# preconnect and pings through a proxy either do not start or stop at it): the logger shows it.
SILENT_TCP = ("spec_prefetch", "spec_prerender", "link_prerender", "link_preconnect", "link_preconnect_tls",
              "link_dns_prefetch", "predictor", "ping", "service_worker")
UDP = ("stun", "turn_udp", "webtransport")


def _logger_host() -> str:
    """127.0.0.2 where it binds (a different address), else 127.0.0.1 (each channel's port its own origin)."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
        return "127.0.0.2"
    except OSError:
        return "127.0.0.1"


@dataclass
class Logger:
    """Listens on one TCP port per channel and one UDP port per UDP channel; remembers whatever arrives."""

    host: str
    ports: dict[str, int] = field(default_factory=dict)
    connections: list[str] = field(default_factory=list)
    datagrams: list[str] = field(default_factory=list)

    def channel_of(self, blocked: Blocked) -> str | None:
        """Which of the page's channels an attempt was, by the logger port it was for."""
        host, _, port = blocked.origin.rpartition("/")[2].rpartition(":")
        if host != self.host:
            return None
        return next((name for name, p in self.ports.items() if str(p) == port), None)

    def fragment(self) -> str:
        return quote(json.dumps({"host": self.host, **self.ports}))


@asynccontextmanager
async def logging_server() -> AsyncIterator[Logger]:
    logger = Logger(_logger_host())
    servers: list[asyncio.Server] = []
    transports: list[asyncio.BaseTransport] = []
    loop = asyncio.get_running_loop()

    for name in (*ROUTED, *BELOW_THE_PAGE, *SILENT_TCP):
        async def accepted(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str = name) -> None:
            logger.connections.append(name)
            writer.close()
        server = await asyncio.start_server(accepted, logger.host, 0)
        servers.append(server)
        logger.ports[name] = server.sockets[0].getsockname()[1]

    class Datagrams(asyncio.DatagramProtocol):
        def __init__(self, name: str) -> None:
            self.name = name

        def datagram_received(self, data: bytes, addr: Any) -> None:
            logger.datagrams.append(self.name)

    for name in UDP:
        transport, _ = await loop.create_datagram_endpoint(lambda n=name: Datagrams(n),  # type: ignore[misc]
                                                           local_addr=(logger.host, 0))
        transports.append(transport)
        logger.ports[name] = transport.get_extra_info("sockname")[1]
    try:
        yield logger
    finally:
        for server in servers:
            server.close()
        for transport in transports:
            transport.close()


async def _counted(blocked: list[Blocked], logger: Logger, expected: set[str]) -> dict[str, set[str]]:
    """Channel name → the fence channels that counted it, once every expected one is counted (or after 20 s)."""
    seen: dict[str, set[str]] = {}
    for _ in range(400):
        seen = {}
        for attempt in list(blocked):
            name = logger.channel_of(attempt)
            if name is not None:
                seen.setdefault(name, set()).add(attempt.channel)
        if expected <= set(seen):
            break
        await asyncio.sleep(0.05)
    return seen


def _assert_held(seen: dict[str, set[str]], logger: Logger) -> None:
    assert logger.connections == [] and logger.datagrams == []  # the logging server received nothing
    assert set(ROUTED) | set(BELOW_THE_PAGE) <= set(seen), sorted(set(ROUTED) | set(BELOW_THE_PAGE) - set(seen))
    for name, channel in BELOW_THE_PAGE.items():
        assert seen[name] == {channel}, (name, seen[name])
    assert not set(seen) & (set(SILENT_TCP) | set(UDP))


async def test_a_visitor_reaches_nothing_off_the_origin_on_any_channel(browser: BrowserSession,
                                                                        pages_url: str) -> None:
    async with logging_server() as logger, open_visitor(browser, pages_url) as visitor:
        await _try_every_channel(visitor, logger)
        seen = await _counted(visitor.guard.blocked_from, logger, set(ROUTED) | set(BELOW_THE_PAGE))
        await visitor.advance(5_000)  # whatever a page timer would still send
        await asyncio.sleep(1)  # ... and whatever is still on its way
        assert await visitor.page.evaluate("location.pathname") == "/fence/second.html"
        _assert_held(seen, logger)
        # The visitor's count is the page's doing only: the browser's own autofill query (the page has a form)
        # is refused too, but charged to no one.
        assert all(logger.channel_of(b) for b in visitor.guard.blocked_from)
        assert browser.fence is not None
        assert any(b.channel == "browser" and BROWSER_SERVICE_HOST in b.origin for b in browser.fence.blocked)
        assert visitor.guard.by_channel()[(f"{logger.host}:{logger.ports['turn_tcp']}", "proxy-connect")] >= 1


async def _try_every_channel(visitor: Visitor, logger: Logger) -> None:
    await visitor.goto(f"/fence/channels.html#{logger.fragment()}")
    tried = await visitor.page.evaluate("window.__tried")
    assert "websocket" in tried and "stun" in tried and "speculation" in tried  # the page got to try them
    await visitor.page.mouse.move(150, 350)  # over the link the navigation predictor would preconnect to
    await visitor.advance(2_000)
    await visitor.goto("/fence/second.html")  # pagehide: the keepalive fetch and the beacon


def _looked_up(netlog: Path) -> list[str]:
    """Every host Chromium's resolver was asked for, from its net log."""
    text = netlog.read_text(encoding="utf-8").rstrip()
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # cut short: keep the events written in full
        log = json.loads(text[:text.rindex("},") + 1] + "]}")
    kinds = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    return [e["params"]["host"] for e in log["events"]
            if kinds.get(e["type"]) == "HOST_RESOLVER_MANAGER_REQUEST" and "host" in e.get("params", {})]


async def test_no_name_the_page_chooses_is_looked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     pages_url: str) -> None:
    netlog = tmp_path / "netlog.json"
    monkeypatch.setattr(launch, "FENCE_ARGS", (*launch.FENCE_ARGS, f"--log-net-log={netlog}"))
    async with open_browser(Settings()) as browser, open_visitor(browser, pages_url) as visitor:
        await visitor.goto("/fence/hostnames.html")
        await visitor.goto("/fence/second.html")  # pagehide: the beacon
        wanted = {"http://shared-worker.leak.example", "http://beacon.leak.example", "socket.leak.example:80"}
        for _ in range(400):
            if wanted <= {b.origin for b in visitor.guard.blocked_from}:
                break
            await asyncio.sleep(0.05)
        counted = {b.origin for b in visitor.guard.blocked_from}
    assert wanted <= counted, counted
    looked_up = _looked_up(netlog)
    assert [h for h in looked_up if "leak.example" in h] == []
    assert any("~notfound" in h for h in looked_up)  # Chromium did ask; the rule answered, not a resolver


async def test_what_a_page_sends_as_it_goes_can_be_kept_from_the_next_visitors_count(
        browser: BrowserSession, pages_url: str) -> None:
    fence = browser.fence
    assert fence is not None
    async with open_visitor(browser, pages_url) as visitor:
        await visitor.goto("/fence/hostnames.html")
        visitor.guard.charging = False  # as while a reused tab is wiped for the next visitor
        await visitor.page.goto("about:blank")  # pagehide: the beacon
        for _ in range(200):
            if any(b.origin == "http://beacon.leak.example" for b in fence.blocked):
                break
            await asyncio.sleep(0.05)
        assert any(b.origin == "http://beacon.leak.example" for b in fence.blocked)  # refused, on the record
        assert not any(b.origin == "http://beacon.leak.example" for b in visitor.guard.blocked_from)


async def _fenced_context(browser: BrowserSession, site: str, **options: Any) -> tuple[BrowserContext, NetworkGuard]:
    context = await browser.browser.new_context(service_workers="block", **options)
    guard = NetworkGuard(origin=origin_of(site))
    await guard.install(context)
    return context, guard


async def test_the_site_origin_straight_through_the_proxy_still_fences_everything_else(
        browser: BrowserSession, pages_url: str) -> None:
    # A context made with base_url bypasses the proxy for the site's own host and port only (the fast path).
    async with logging_server() as logger:
        context, guard = await _fenced_context(browser, pages_url, base_url=pages_url)
        try:
            page = await context.new_page()
            await page.goto(f"{pages_url}/fence/channels.html#{logger.fragment()}")
            await page.mouse.move(150, 350)
            await page.goto(f"{pages_url}/fence/second.html")
            seen = await _counted(guard.blocked_from, logger, set(ROUTED) | set(BELOW_THE_PAGE))
            await asyncio.sleep(1)
        finally:
            await context.close()
        _assert_held(seen, logger)


async def test_speculative_loads_of_the_site_are_refused_and_charged_to_no_one(browser: BrowserSession,
                                                                                 pages_url: str) -> None:
    context, guard = await _fenced_context(browser, pages_url)
    try:
        page = await context.new_page()
        await page.goto(f"{pages_url}/fence/speculation.html")
        fence = browser.fence
        assert fence is not None
        wanted = {f"{pages_url}/fence/second.html", f"{pages_url}/fence/third.html"}
        for _ in range(200):
            refused = {b[0] for b in fence.blocked if b.channel == "speculation"}
            if wanted <= refused:
                break
            await asyncio.sleep(0.05)
        assert wanted <= refused
        assert guard.blocked == []  # not off the origin: the session counts nothing
        # The site itself is served through the same proxy: the page loaded, and its own fetch works.
        assert await page.evaluate("fetch('second.html').then((r) => r.status)") == 200
    finally:
        await context.close()


@pytest.mark.parametrize("straight", [False, True], ids=["through-the-proxy", "bypassing-it"])
async def test_the_sites_own_websocket_keeps_working(browser: BrowserSession, straight: bool) -> None:
    async with socket_site() as (base_url, heard):
        options = {"base_url": base_url} if straight else {}
        context, guard = await _fenced_context(browser, base_url, **options)
        try:
            page: Page = await context.new_page()
            await page.goto(f"{base_url}/")
            got = await page.evaluate("window.__reply")
        finally:
            await context.close()
    assert got == "hello from the site"
    assert heard == [b"ack"]
    assert guard.blocked == []


_PAGE = b"""<!doctype html><title>socket</title><script>
window.__reply = new Promise((resolve) => {
  const ws = new WebSocket(`ws://${location.host}/socket`);
  ws.onmessage = (e) => { ws.send("ack"); resolve(e.data); };
  ws.onerror = () => resolve("error");
});
</script>"""


@asynccontextmanager
async def socket_site() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A site with a page and a WebSocket on one origin: it says hello, and keeps what the page answers."""
    heard: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        if "/socket" not in head.split("\r\n", 1)[0]:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (len(_PAGE), _PAGE))
            writer.close()
            return
        key = next(h.split(":", 1)[1].strip() for h in head.split("\r\n") if h.lower().startswith("sec-websocket-key"))
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        message = b"hello from the site"
        writer.write(bytes([0x81, len(message)]) + message)  # one unmasked text frame
        frame = await reader.readexactly(2)
        mask = await reader.readexactly(4)
        payload = await reader.readexactly(frame[1] & 0x7F)
        heard.append(bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", heard
    finally:
        server.close()


@asynccontextmanager
async def keep_alive_site() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A server that answers every request with a keep-alive response, and keeps each request head it got."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n"
                     b"Keep-Alive: timeout=60\r\n\r\nok")
        await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", heads
    finally:
        server.close()


async def _ask(port: int, request: bytes) -> bytes:
    """Send one request to a gate and read until it closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(-1), timeout=10)
    writer.close()
    return answer


async def test_a_gate_refuses_and_counts_what_it_has_not_admitted() -> None:
    fence = Fence()
    try:
        gate = await fence.open_gate(loopback_until_admitted=False)  # the browser's own gate
        async with keep_alive_site() as (site, heads):
            netloc = site.split("//", 1)[1]
            charged: list[Blocked] = []
            plain = await _ask(gate.port, f"GET {site}/x HTTP/1.1\r\nHost: {netloc}\r\n\r\n".encode())
            tunnel = await _ask(gate.port, f"CONNECT {netloc} HTTP/1.1\r\nHost: {netloc}\r\n\r\n".encode())
            assert plain.startswith(b"HTTP/1.1 403") and tunnel.startswith(b"HTTP/1.1 403")
            assert heads == []  # nothing reached the server
            assert [(b[0], b.channel, b.origin) for b in gate.blocked] == [
                (f"{site}/x", "proxy-http", site), (f"CONNECT {netloc}", "proxy-connect", netloc)]
            gate.admit(site, charged.append)
            passed = await _ask(gate.port, f"GET {site}/x?q=1 HTTP/1.1\r\nHost: {netloc}\r\n"
                                           f"Proxy-Connection: keep-alive\r\n\r\n".encode())
            gate.dismiss(site, charged.append)
            again = await _ask(gate.port, f"GET {site}/y HTTP/1.1\r\nHost: {netloc}\r\n\r\n".encode())
        # The server got the request in origin form, told to close; the browser is told the same, so it
        # cannot send another request (for another origin) down this connection.
        assert heads[0].startswith(b"GET /x?q=1 HTTP/1.1\r\n") and b"\r\nConnection: close\r\n" in heads[0]
        assert b"Proxy-Connection" not in heads[0]
        assert passed.startswith(b"HTTP/1.1 200") and passed.endswith(b"\r\n\r\nok")
        assert b"Connection: close" in passed and b"keep-alive" not in passed.lower()
        assert again.startswith(b"HTTP/1.1 403") and len(heads) == 1 and charged == []
        assert fence.by_channel()[(site, "proxy-http")] == 2
    finally:
        fence.close()


async def test_the_browsers_own_and_speculative_loads_are_refused_but_charged_to_no_one() -> None:
    fence = Fence()
    try:
        gate = await fence.open_gate()
        async with keep_alive_site() as (site, heads):
            netloc = site.split("//", 1)[1]
            charged: list[Blocked] = []
            gate.admit(site, charged.append)
            autofill = await _ask(gate.port, f"CONNECT {BROWSER_SERVICE_HOST}:443 HTTP/1.1\r\n\r\n".encode())
            ahead = await _ask(gate.port, f"GET {site}/next HTTP/1.1\r\nHost: {netloc}\r\n"
                                          f"Sec-Purpose: prefetch;prerender\r\n\r\n".encode())
            away = await _ask(gate.port, b"CONNECT 127.0.0.9:5 HTTP/1.1\r\n\r\n")
        assert all(a.startswith(b"HTTP/1.1 403") for a in (autofill, ahead, away)) and heads == []
        assert [b.channel for b in gate.blocked] == ["browser", "speculation", "proxy-connect"]
        assert [b[0] for b in charged] == ["CONNECT 127.0.0.9:5"]  # only the page's attempt off the origin
    finally:
        fence.close()


async def test_a_context_no_guard_has_claimed_reaches_loopback_only() -> None:
    # A context a test makes for itself, without a guard: its loopback site loads, nothing else leaves.
    fence = Fence()
    try:
        gate = await fence.open_gate()
        async with keep_alive_site() as (site, heads):
            netloc = site.split("//", 1)[1]
            local = await _ask(gate.port, f"GET {site}/x HTTP/1.1\r\nHost: {netloc}\r\n\r\n".encode())
            away = await _ask(gate.port, b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
            tunnel = await _ask(gate.port, b"CONNECT 10.1.2.3:443 HTTP/1.1\r\n\r\n")
            gate.admit("http://127.0.0.1:9")  # a guard claims the context for another site
            now = await _ask(gate.port, f"GET {site}/y HTTP/1.1\r\nHost: {netloc}\r\n\r\n".encode())
        assert local.startswith(b"HTTP/1.1 200") and len(heads) == 1
        assert all(a.startswith(b"HTTP/1.1 403") for a in (away, tunnel, now))
        assert [b[0] for b in gate.blocked] == ["http://example.com/", "CONNECT 10.1.2.3:443", f"{site}/y"]
    finally:
        fence.close()
