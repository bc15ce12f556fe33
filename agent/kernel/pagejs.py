"""The in-page code the tracker and the persona snapshot share, spliced into each at one marker line."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PAGE_COMMON_MARKER", "with_page_common"]

PAGE_COMMON_MARKER = "// @uiab:page-common"
_COMMON = (Path(__file__).parent / "js" / "page_common.js").read_text(encoding="utf-8")


def with_page_common(source: str) -> str:
    """``source`` with its marker line replaced by the shared ``INTERACTIVE`` set and ``selectorOf``."""
    lines = source.splitlines(keepends=True)
    marked = [i for i, line in enumerate(lines) if line.strip() == PAGE_COMMON_MARKER]
    if len(marked) != 1:
        raise ValueError(f"expected exactly one {PAGE_COMMON_MARKER!r} line, found {len(marked)}")
    lines[marked[0]] = _COMMON
    return "".join(lines)
