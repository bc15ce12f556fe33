"""The in-page tracker in a real Chromium: clicks, dwell in virtual time, errors, the network fence."""

from __future__ import annotations

import time

from harness.browser.launch import BrowserSession
from harness.browser.visitor import open_visitor


def _of(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind]


async def test_click_at_known_coordinates_records_the_right_selector(browser: BrowserSession,
                                                                      pages_url: str) -> None:
    async with open_visitor(browser, pages_url) as visitor:
        await visitor.goto("/basic.html")
        await visitor.click(160, 120)  # inside #buy (100..220 x 100..140)
        await visitor.click(40, 600)  # on the non-interactive filler
        clicks = _of(visitor.events, "click")
        assert [c["selector"] for c in clicks] == ["#buy", "#filler"]
        assert clicks[0]["interactive"] is True and clicks[1]["interactive"] is False
        assert (clicks[0]["x"], clicks[0]["y"]) == (160, 120)
        assert [m["target"] for m in _of(visitor.events, "misclick")] == ["#filler"]


async def test_touch_tap_is_recorded_as_a_click(browser: BrowserSession, pages_url: str) -> None:
    device = browser.device("iPhone 13")
    async with open_visitor(browser, pages_url, device=device) as visitor:
        await visitor.goto("/basic.html")
        await visitor.click(160, 120, touch=True)
        assert [c["selector"] for c in _of(visitor.events, "click")] == ["#buy"]


async def test_thirty_virtual_seconds_of_dwell_cost_little_real_time(browser: BrowserSession,
                                                                     pages_url: str) -> None:
    async with open_visitor(browser, pages_url) as visitor:
        await visitor.goto("/basic.html")
        started = time.perf_counter()
        await visitor.advance(30_000)
        real_s = time.perf_counter() - started
        await visitor.click(160, 215)  # the link to second.html: leaving records the dwell
        assert visitor.page.url.endswith("/second.html")
        leaves = _of(visitor.events, "page_leave")
        assert leaves[0]["url"] == "/basic.html"
        assert leaves[0]["dwell_ms"] == 30_000
        # Not a timing assertion on the machine: the real cost is reported against the virtual time.
        assert real_s < 30.0
        await visitor.advance(12_500)
        await visitor.finish()
        leaves = _of(visitor.events, "page_leave")
        assert [e["url"] for e in _of(visitor.events, "page_view")] == ["/basic.html", "/second.html"]
        assert leaves[1]["dwell_ms"] == 12_500


async def test_page_errors_and_console_errors_are_captured(browser: BrowserSession, pages_url: str) -> None:
    async with open_visitor(browser, pages_url) as visitor:
        await visitor.goto("/errors.html")
        errors = _of(visitor.events, "js_error")
        assert len(errors) == 1 and "undefinedFunctionCall" in errors[0]["message"]
        assert _of(visitor.events, "console_error")[0]["message"] == "inventory service said no"


async def test_requests_to_other_origins_are_blocked_and_counted(browser: BrowserSession,
                                                                 pages_url: str) -> None:
    async with open_visitor(browser, pages_url) as visitor:
        await visitor.goto("/offsite.html")
        await visitor.advance(1000)
        hosts = sorted({u.split("/")[2] for u in visitor.guard.blocked})
        assert hosts == ["127.0.0.2:9", "cdn.example.com", "tracker.example.net"]
        assert len(visitor.guard.blocked) == 3


async def test_scroll_depth_is_recorded(browser: BrowserSession, pages_url: str) -> None:
    async with open_visitor(browser, pages_url, device={"viewport": {"width": 800, "height": 600}}) as visitor:
        await visitor.goto("/basic.html")
        await visitor.scroll(1200)
        await visitor.advance(500)
        await visitor.finish()
        leave = _of(visitor.events, "page_leave")[-1]
        # 2800 px of page, 600 px viewport scrolled by 1200 px: (1200 + 600) / 2800.
        assert abs(leave["scroll_depth"] - 1800 / 2800) < 0.01


def test_off_origin_pattern_blocks_exactly_what_same_origin_rejects() -> None:
    """The driver-side route pattern and the Python rule agree (pure; no browser)."""
    from harness.browser.launch import off_origin_pattern, same_origin

    origin = "http://127.0.0.1:8123"
    urls = ["http://127.0.0.1:8123/", "http://127.0.0.1:8123", "http://127.0.0.1:8123/a?b#c",
            "http://127.0.0.1:8123?x", "http://127.0.0.1:81234/", "http://127.0.0.1:8123.evil.com/",
            "https://127.0.0.1:8123/", "http://localhost:8123/", "https://cdn.example.com/x.js",
            "data:text/plain,hi", "blob:http://127.0.0.1:8123/0e3f", "about:blank", "ws://127.0.0.1:8123/s",
            "http://user@127.0.0.1:8123/"]
    pattern = off_origin_pattern(origin)
    for url in urls:
        assert bool(pattern.search(url)) == (not same_origin(url, origin)), url
