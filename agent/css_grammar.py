"""The patch CSS grammar as data: limits, what is banned and why, and each allowed property's value grammar.

``agent/css_validator.py`` reads these tables; a property or keyword is allowed by adding it here. Every banned
name carries the reason the error message gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "MAX_CSS_BYTES", "MAX_RULES", "MAX_DECLARATIONS", "MAX_SELECTOR_CHARS", "MAX_VALUE_COMPONENTS", "MAX_NESTING",
    "BANNED_FUNCTIONS", "BANNED_PROPERTIES", "BANNED_AT_RULES", "BANNED_WORDS", "PLAIN_NAME", "GLOBAL_KEYWORDS",
    "LENGTH_UNITS", "MATH_FUNCTIONS", "COLOUR_FUNCTIONS", "PropertySpec", "ALLOWED_PROPERTIES", "PSEUDO_CLASSES",
    "STATE_PSEUDO_CLASSES", "SELECTOR_FUNCTIONS", "NTH_FUNCTIONS", "NTH_NAME", "SELECTOR_LITERALS", "MEDIA_WORDS",
    "MEDIA_FEATURES", "NON_CONTENT_ELEMENTS",
]

MAX_CSS_BYTES = 20_000
MAX_RULES = 200
MAX_DECLARATIONS = 50
MAX_SELECTOR_CHARS = 500
MAX_VALUE_COMPONENTS = 48
MAX_NESTING = 4

# Names that only ever appear in attacks; checked first anywhere they can hide so the error says why.
BANNED_FUNCTIONS = {
    "url": "url() loads a resource, which can exfiltrate page data",
    "src": "src() loads a resource, which can exfiltrate page data",
    "image-set": "image-set() loads images, which can exfiltrate page data",
    "-webkit-image-set": "image-set() loads images, which can exfiltrate page data",
    "image": "image() loads images, which can exfiltrate page data",
    "cross-fade": "cross-fade() loads images, which can exfiltrate page data",
    "-webkit-cross-fade": "cross-fade() loads images, which can exfiltrate page data",
    "element": "element() renders other content",
    "-moz-element": "element() renders other content",
    "paint": "paint() runs a worklet",
    "expression": "expression() runs script",
    "var": "var() substitutes text that was not validated",
    "env": "env() substitutes text that was not validated",
    "attr": "attr() reads attribute values",
}
BANNED_PROPERTIES = {
    "behavior": "behavior loads script (HTC)",
    "-ms-behavior": "behavior loads script (HTC)",
    "-moz-binding": "-moz-binding loads script (XBL)",
    "content": "content inserts text and can read attribute values",
}
BANNED_AT_RULES = {
    "import": "@import loads another stylesheet",
    "font-face": "@font-face loads fonts (unicode-range probes exfiltrate text)",
    "namespace": "@namespace is not allowed",
    "charset": "@charset is not allowed (the patch is already text)",
}
# Substrings refused in any identifier: scheme names and IE's expression, whatever they are spelled into.
BANNED_WORDS = ("javascript", "vbscript", "expression")
# After escapes are decoded an identifier must still be a plain ASCII name: escapes cannot smuggle anything.
PLAIN_NAME = re.compile(r"-?-?[A-Za-z_][A-Za-z0-9_-]*\Z")

GLOBAL_KEYWORDS = frozenset({"inherit", "initial", "unset", "revert"})
LENGTH_UNITS = frozenset({
    "px", "em", "rem", "ex", "ch", "lh", "rlh", "vw", "vh", "vmin", "vmax", "svw", "svh", "lvw", "lvh",
    "dvw", "dvh", "pt", "pc", "cm", "mm", "in", "q",
})
MATH_FUNCTIONS = frozenset({"calc", "min", "max", "clamp"})
COLOUR_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla", "hwb", "lab", "lch", "oklab", "oklch", "color"})
_BORDER_STYLES = frozenset({"none", "hidden", "solid", "dashed", "dotted", "double", "groove", "ridge",
                            "inset", "outset"})
_BORDER_WIDTHS = frozenset({"thin", "medium", "thick"})
_SELF_ALIGN = frozenset({"auto", "normal", "stretch", "center", "start", "end", "flex-start", "flex-end",
                         "self-start", "self-end", "baseline", "first", "last", "safe", "unsafe", "left",
                         "right"})


@dataclass(frozen=True)
class PropertySpec:
    """What one property's value may contain: component kinds, keywords, count and separators."""

    kinds: frozenset[str] = frozenset()  # length, percent, number, integer, colour
    keywords: frozenset[str] = frozenset()
    max_parts: int = 1
    commas: bool = False
    slash: bool = False
    nonneg: bool = False
    low: float | None = None
    high: float | None = None


def _spec(kinds: str = "", keywords: str | frozenset[str] = "", **kw: object) -> PropertySpec:
    words = keywords if isinstance(keywords, frozenset) else frozenset(keywords.split())
    return PropertySpec(kinds=frozenset(kinds.split()), keywords=words, **kw)  # type: ignore[arg-type]


_COLOUR = _spec("colour", "transparent currentcolor")
_SIZE = _spec("length percent", "auto min-content max-content fit-content", nonneg=True)
_MAX_SIZE = _spec("length percent", "none min-content max-content fit-content", nonneg=True)
_OFFSET = _spec("length percent", "auto")
_BORDER = _spec("length colour", _BORDER_STYLES | _BORDER_WIDTHS | {"transparent", "currentcolor"},
                max_parts=3)
_SIDES = ("top", "right", "bottom", "left")
_CORNERS = ("top-left", "top-right", "bottom-right", "bottom-left")

ALLOWED_PROPERTIES: dict[str, PropertySpec] = {
    "color": _COLOUR,
    "background-color": _COLOUR,
    "background": _COLOUR,  # colour only: the shorthand also takes images
    "border": _BORDER,
    "border-color": _spec("colour", "transparent currentcolor", max_parts=4),
    "border-style": _spec("", _BORDER_STYLES, max_parts=4),
    "border-width": _spec("length", _BORDER_WIDTHS, max_parts=4, nonneg=True),
    "border-radius": _spec("length percent", max_parts=8, slash=True, nonneg=True),
    "outline": _BORDER,
    "outline-color": _COLOUR,
    "outline-style": _spec("", _BORDER_STYLES | {"auto"}),
    "outline-width": _spec("length", _BORDER_WIDTHS, nonneg=True),
    "outline-offset": _spec("length"),
    "padding": _spec("length percent", max_parts=4, nonneg=True),
    "margin": _spec("length percent", "auto", max_parts=4),
    "font-size": _spec("length percent",
                       "xx-small x-small small medium large x-large xx-large smaller larger", nonneg=True),
    "font-weight": _spec("number", "normal bold bolder lighter", low=1, high=1000),
    "font-style": _spec("", "normal italic oblique"),
    "width": _SIZE,
    "height": _SIZE,
    "min-width": _SIZE,
    "min-height": _SIZE,
    "max-width": _MAX_SIZE,
    "max-height": _MAX_SIZE,
    "text-align": _spec("", "left right center justify start end"),
    "text-decoration": _spec("length colour", "none underline overline line-through solid double dotted "
                             "dashed wavy transparent currentcolor", max_parts=4),
    "box-shadow": _spec("length colour", "inset none transparent currentcolor", max_parts=24, commas=True),
    "display": _spec("", "none block inline inline-block flex inline-flex grid inline-grid flow-root "
                     "contents table table-row table-cell list-item", max_parts=2),
    "position": _spec("", "static relative absolute fixed sticky"),
    "top": _OFFSET,
    "right": _OFFSET,
    "bottom": _OFFSET,
    "left": _OFFSET,
    "z-index": _spec("integer", "auto"),
    "order": _spec("integer"),
    "flex": _spec("number length percent", "none auto content", max_parts=3),
    "flex-direction": _spec("", "row row-reverse column column-reverse"),
    "flex-wrap": _spec("", "nowrap wrap wrap-reverse"),
    "flex-grow": _spec("number", nonneg=True),
    "flex-shrink": _spec("number", nonneg=True),
    "flex-basis": _spec("length percent", "auto content min-content max-content fit-content", nonneg=True),
    "align-self": _spec("", _SELF_ALIGN, max_parts=2),
    "justify-self": _spec("", _SELF_ALIGN, max_parts=2),
    "align-items": _spec("", _SELF_ALIGN - {"auto"}, max_parts=2),
    "justify-content": _spec("", _SELF_ALIGN | {"space-between", "space-around", "space-evenly"},
                             max_parts=2),
    "gap": _spec("length percent", "normal", max_parts=2, nonneg=True),
    "grid-row": _spec("integer", "auto span", max_parts=5, slash=True),
    "grid-column": _spec("integer", "auto span", max_parts=5, slash=True),
    "line-height": _spec("number length percent", "normal", nonneg=True),
    "letter-spacing": _spec("length", "normal"),
    "opacity": _spec("number percent", low=0, high=1),
    "visibility": _spec("", "visible hidden collapse"),
    "white-space": _spec("", "normal nowrap pre pre-wrap pre-line break-spaces"),
}
for _side in _SIDES:
    ALLOWED_PROPERTIES[f"margin-{_side}"] = _spec("length percent", "auto")
    ALLOWED_PROPERTIES[f"padding-{_side}"] = _spec("length percent", nonneg=True)
    ALLOWED_PROPERTIES[f"border-{_side}"] = _BORDER
    ALLOWED_PROPERTIES[f"border-{_side}-color"] = _COLOUR
    ALLOWED_PROPERTIES[f"border-{_side}-style"] = _spec("", _BORDER_STYLES)
    ALLOWED_PROPERTIES[f"border-{_side}-width"] = _spec("length", _BORDER_WIDTHS, nonneg=True)
for _corner in _CORNERS:
    ALLOWED_PROPERTIES[f"border-{_corner}-radius"] = _spec("length percent", max_parts=2, nonneg=True)
for _edge in ("start", "end"):
    ALLOWED_PROPERTIES[f"grid-row-{_edge}"] = _spec("integer", "auto span", max_parts=2)
    ALLOWED_PROPERTIES[f"grid-column-{_edge}"] = _spec("integer", "auto span", max_parts=2)

PSEUDO_CLASSES = frozenset({
    "hover", "focus", "focus-visible", "focus-within", "active", "first-child", "last-child", "only-child",
    "first-of-type", "last-of-type", "only-of-type", "empty", "root", "disabled", "enabled", "checked",
})
# User-action states: a rule for them styles elements that exist but are not (yet) in that state.
STATE_PSEUDO_CLASSES = frozenset({"hover", "focus", "focus-visible", "focus-within", "active"})
SELECTOR_FUNCTIONS = frozenset({"not", "is", "where"})
NTH_FUNCTIONS = frozenset({"nth-child", "nth-last-child", "nth-of-type", "nth-last-of-type"})
NTH_NAME = re.compile(r"-?n(-\d+)?\Z|odd\Z|even\Z")
SELECTOR_LITERALS = frozenset({".", ":", ">", "+", "~", ",", "*"})

# Elements a DOM op may never change (lower-case local names, HTML and SVG alike), each with the reason the
# error gives. Text set on a script runs as code; on a style it is CSS the validator never saw; the rest load
# or embed things, or are not rendered content. harness/browser/js/patch_runtime.js holds the same list and
# refuses a matched element by name at run time (tests/test_patch_safety.py checks the two agree).
NON_CONTENT_ELEMENTS = {
    "script": "its text runs as script",
    "style": "its text is CSS the patch validator never checked",
    "link": "it loads stylesheets and other resources",
    "meta": "it configures the document (refresh, CSP, viewport)",
    "base": "it changes where every URL on the page points",
    "iframe": "it embeds another document",
    "frame": "it embeds another document",
    "frameset": "it embeds other documents",
    "fencedframe": "it embeds another document",
    "portal": "it embeds another document",
    "object": "it embeds a plugin or another document",
    "embed": "it embeds a plugin or another document",
    "param": "it configures a plugin",
    "applet": "it embeds a plugin",
    "template": "its markup is inert until page script stamps it out",
    "noscript": "its markup is not rendered while script runs",
    "head": "it holds the document's metadata, scripts and styles",
    "html": "it is the whole document, scripts and styles included",
    "title": "it is the document's title, not page content",
    "foreignobject": "it embeds HTML inside SVG",
}

MEDIA_WORDS = frozenset({"screen", "print", "all", "and", "not", "only", "or"})
MEDIA_FEATURES = frozenset({
    "width", "min-width", "max-width", "height", "min-height", "max-height", "orientation", "hover",
    "any-hover", "pointer", "any-pointer", "prefers-reduced-motion", "prefers-color-scheme",
    "prefers-contrast",
})
