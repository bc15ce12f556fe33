"""Persona files: a pydantic model with validated ranges, and loading by library name or path."""

from __future__ import annotations

import difflib
import math
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.kernel import PersonaError

if TYPE_CHECKING:
    import numpy as np

    from personas.decide import Decision, PersonaState
    from personas.snapshot import PageSnapshot

__all__ = [
    "LIBRARY",
    "Persona",
    "Reading",
    "Patience",
    "Vision",
    "Motor",
    "Choice",
    "Attention",
    "TrafficSource",
    "load_persona",
    "list_personas",
]

LIBRARY = Path(__file__).parent / "library"

TrafficSource = Literal["direct", "organic_search", "paid_search", "social", "email", "referral", "display"]

# The CSS reference pixel is 1/96 inch (CSS Values 4), so a desktop CSS px is 25.4/96 mm.
CSS_PX_PER_MM = 96 / 25.4
# Android's density-independent pixel is defined at 160 dpi (Android developer docs, "Screen densities"):
# the fallback scale for a touch screen whose file does not give its own.
TOUCH_PX_PER_MM = 160 / 25.4
# FFitts law: the absolute (finger) part of the touch endpoint spread, σ_a ≈ 1.5 mm — Bi, Li & Zhai, CHI 2013
# (REFERENCES.md marks the figure unverified).
FFITTS_SIGMA_ABS_MM = 1.5


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reading(_Section):
    """Reading speed and how much of a page's text gets read."""

    # Brysbaert (2019): 238 wpm for non-fiction, most adults 175–300; 50..800 bounds the plausible.
    wpm: Annotated[float, Field(ge=50, le=800)] = 238.0
    # Nielsen (2008): at most 28 % of a page's words are read per visit; 0.175 reproduces his +4.4 s per
    # extra 100 words at 238 wpm (4.4 s ÷ (100 words ÷ 238 wpm × 60 s) ≈ 0.175).
    fraction: Annotated[float, Field(ge=0.0, le=0.28)] = 0.175


class Patience(_Section):
    """Dwell on one page ~ Weibull(scale, shape): S(t) = exp(−(t/scale)^shape)."""

    scale_s: Annotated[float, Field(gt=0, le=3600)]
    # Liu, White & Dumais (SIGIR 2010): shape < 1 ("negative aging") on 99 % of pages; > 1 is allowed for
    # task pages where people rarely leave early.
    shape: Annotated[float, Field(gt=0.1, le=5)]

    def survival(self, t_s: float) -> float:
        """S(t): the probability of still being on the page after ``t_s`` seconds."""
        return math.exp(-((max(t_s, 0.0) / self.scale_s) ** self.shape))

    def median_s(self) -> float:
        return self.scale_s * math.log(2) ** (1 / self.shape)


class Vision(_Section):
    """The weakest contrast and smallest text this persona can use."""

    # WCAG 2.x contrast ratios run from 1 (none) to 21 (black on white).
    min_contrast: Annotated[float, Field(ge=1.0, le=21.0)]
    min_font_px: Annotated[float, Field(ge=0.0, le=72.0)]


class Motor(_Section):
    """Pointing: device, Fitts' law constants (Shannon form) and aiming noise."""

    pointer: Literal["mouse", "touch"]
    # ACT-R 7 motor module: 50 ms to start a movement, b ≈ 100 ms/bit (mouse), 75 ms/bit (finger).
    fitts_a_ms: Annotated[float, Field(ge=0, le=2000)] = 50.0
    fitts_b_ms: Annotated[float, Field(gt=0, le=2000)]
    noise_px: Annotated[float, Field(ge=0, le=200)]
    # CSS px per physical mm on this device: needed to turn FFitts' 1.5 mm into CSS px for touch.
    px_per_mm: Annotated[float | None, Field(gt=0, le=40)] = None


class Choice(_Section):
    """Hick–Hyman choice time T = a + b·log2(n + 1) over the options in view."""

    # Not in REFERENCES.md: Card, Moran & Newell (1983), Model Human Processor — b = I_c ≈ 150 ms/bit;
    # a = perceptual + cognitive cycle, 100 + 70 ms.
    hick_a_ms: Annotated[float, Field(ge=0, le=5000)] = 170.0
    hick_b_ms: Annotated[float, Field(ge=0, le=2000)] = 150.0


class Attention(_Section):
    """Where attention goes: above the fold, and to the left."""

    # 0 = position does not matter, 1 = follows NN/g's per-screen viewing shares (57/17/7/5/3/2 %) fully.
    fold_bias: Annotated[float, Field(ge=0.0, le=1.0)]
    # Share of attention on the left half of the viewport: NN/g (2010, 2018) 0.69–0.80 on desktop; 0.5 = none.
    left_bias: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5


class Persona(BaseModel):
    """A synthetic visitor: device, intent, goals, and the human-factors constants that drive it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
    description: str = ""
    device: Annotated[str, Field(min_length=1)]  # a Playwright device descriptor name; the harness checks it
    share: Annotated[float, Field(gt=0.0, le=1.0)]  # share of traffic when a mix is drawn
    intent: Annotated[float, Field(ge=0.0, le=1.0)]
    goals: Annotated[tuple[str, ...], Field(min_length=1)]
    traffic_source: TrafficSource = "direct"
    reading: Reading = Reading()
    patience: Patience
    vision: Vision
    motor: Motor
    choice: Choice = Choice()
    attention: Attention

    @property
    def touch(self) -> bool:
        return self.motor.pointer == "touch"

    @property
    def px_per_mm(self) -> float:
        if self.motor.px_per_mm is not None:
            return self.motor.px_per_mm
        return TOUCH_PX_PER_MM if self.touch else CSS_PX_PER_MM

    @property
    def aim_sigma_px(self) -> float:
        """Per-axis σ of the aim point: motor noise, plus FFitts' absolute finger spread for touch."""
        absolute = FFITTS_SIGMA_ABS_MM * self.px_per_mm if self.touch else 0.0
        return math.hypot(self.motor.noise_px, absolute)

    def decide(self, snapshot: PageSnapshot, state: PersonaState, rng: np.random.Generator) -> Decision:
        """One step: what this persona does next on this page (see ``personas.decide.decide``)."""
        from personas.decide import decide

        return decide(self, snapshot, state, rng)


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if not isinstance(p, int)) or "(top level)"


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Persona
    for part in loc[:-1]:
        info = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        model = info.annotation if info is not None else None
        if model is None or not hasattr(model, "model_fields"):
            return []
    return list(model.model_fields)


def _error_from(exc: ValidationError, source: str) -> PersonaError:
    # A misspelt key shows up twice (unknown + missing); the unknown one is the useful report.
    err = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = tuple(err["loc"])
    field = _field_path(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _known_fields(loc)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(known)}"
        return PersonaError("unknown field", source=source, field=field, fix=hint)
    if kind == "missing":
        inner = _known_fields((*loc, "_"))
        fix = f"add a [{field}] table with {', '.join(inner)}" if inner else f"add {loc[-1]} = ..."
        return PersonaError("required field is missing", source=source, field=field, fix=fix)
    got = err.get("input")
    shown = repr(got) if not isinstance(got, dict) else "a table"
    message = f"{err['msg'][:1].lower()}{err['msg'][1:]} (got {shown})"
    if kind in ("tuple_type", "list_type"):
        message = f"should be a list (got {shown})"
        fix = f'write a list, e.g. {loc[-1]} = ["buy", "add to cart"]'
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        fix = "use a value inside the range; the comments in personas/library/*.toml give sourced values"
    elif kind == "literal_error":
        fix = "use one of the values listed"
    else:
        fix = "see personas/library/*.toml for valid examples"
    return PersonaError(message, source=source, field=field, fix=fix)


def _parse(path: Path, *, library: bool) -> Persona:
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PersonaError("no such persona file", source=source, fix="check the path") from None
    except tomllib.TOMLDecodeError as exc:
        raise PersonaError(f"not valid TOML: {exc}", source=source, fix="fix the TOML syntax there") from None
    try:
        persona = Persona.model_validate(data)
    except ValidationError as exc:
        raise _error_from(exc, source) from None
    if library and persona.name != path.stem:
        raise PersonaError(f"name {persona.name!r} differs from the file name", source=source, field="name",
                           fix=f'set name = "{path.stem}" or rename the file')
    return persona


def _library_names() -> list[str]:
    return sorted(p.stem for p in LIBRARY.glob("*.toml"))


def load_persona(ref: str, *, relative_to: Path | None = None) -> Persona:
    """A library persona by name (``"low-vision-senior"``), or a ``.toml`` path from ``relative_to``."""
    if ref.endswith(".toml") or "/" in ref or "\\" in ref:
        path = Path(ref)
        if not path.is_absolute():
            path = (relative_to or Path.cwd()) / path
        return _parse(path, library=False)
    known = _library_names()
    if ref not in known:
        close = difflib.get_close_matches(ref, known, n=1)
        hint = (f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(known)}"
        raise PersonaError(f"unknown persona {ref!r}", field="persona", fix=hint)
    return _parse(LIBRARY / f"{ref}.toml", library=True)


def list_personas() -> list[Persona]:
    """Every persona in ``personas/library``, sorted by name."""
    return [_parse(LIBRARY / f"{name}.toml", library=True) for name in _library_names()]
