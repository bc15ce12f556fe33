"""Persona files: a pydantic model with validated ranges, and loading by library name or path."""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from agent.kernel import InputError, PersonaError, error_from_validation, read_toml

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
# (docs/references.md marks the figure unverified).
FFITTS_SIGMA_ABS_MM = 1.5


class _Strict(BaseModel):
    """Frozen, and every key must be a field (checked first, so a misspelt key is reported as unknown)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any) -> Any:
        # pydantic would report a misspelt key twice, first as the required field it was meant to be; checked
        # here, before the fields, it is reported once, as unknown, with the close match.
        if isinstance(data, dict):
            known = list(cls.model_fields)
            for key in data:
                if key not in known:
                    close = difflib.get_close_matches(str(key), known, n=1)
                    fix = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(known)}"
                    raise PydanticCustomError("unknown_field", "unknown field",
                                              {"field": str(key), "message": "unknown field", "fix": fix})
        return data


class Reading(_Strict):
    """Reading speed and how much of a page's text gets read."""

    # Brysbaert (2019): 238 wpm for non-fiction, most adults 175–300; 50..800 bounds the plausible.
    wpm: Annotated[float, Field(ge=50, le=800)] = 238.0
    # Nielsen (2008): at most 28 % of a page's words are read per visit; 0.175 reproduces his +4.4 s per
    # extra 100 words at 238 wpm (4.4 s ÷ (100 words ÷ 238 wpm × 60 s) ≈ 0.175).
    fraction: Annotated[float, Field(ge=0.0, le=0.28)] = 0.175


class Patience(_Strict):
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


class Vision(_Strict):
    """The weakest contrast and smallest text this persona can use."""

    # WCAG 2.x contrast ratios run from 1 (none) to 21 (black on white).
    min_contrast: Annotated[float, Field(ge=1.0, le=21.0)]
    min_font_px: Annotated[float, Field(ge=0.0, le=72.0)]


class Motor(_Strict):
    """Pointing: device, Fitts' law constants (Shannon form) and aiming noise."""

    pointer: Literal["mouse", "touch"]
    # ACT-R 7 motor module: 50 ms to start a movement, b ≈ 100 ms/bit (mouse), 75 ms/bit (finger).
    fitts_a_ms: Annotated[float, Field(ge=0, le=2000)] = 50.0
    fitts_b_ms: Annotated[float, Field(gt=0, le=2000)]
    noise_px: Annotated[float, Field(ge=0, le=200)]
    # CSS px per physical mm on this device: needed to turn FFitts' 1.5 mm into CSS px for touch.
    px_per_mm: Annotated[float | None, Field(gt=0, le=40)] = None


class Choice(_Strict):
    """Hick–Hyman choice time T = a + b·log2(n + 1) over the options in view."""

    # Card, Moran & Newell (1983), Model Human Processor — b = I_c ≈ 150 ms/bit;
    # a = perceptual + cognitive cycle, 100 + 70 ms.
    hick_a_ms: Annotated[float, Field(ge=0, le=5000)] = 170.0
    hick_b_ms: Annotated[float, Field(ge=0, le=2000)] = 150.0


class Attention(_Strict):
    """Where attention goes: above the fold, and to the left."""

    # 0 = position does not matter, 1 = follows NN/g's per-screen viewing shares (57/17/7/5/3/2 %) fully.
    fold_bias: Annotated[float, Field(ge=0.0, le=1.0)]
    # Share of attention on the left half of the viewport: NN/g (2010, 2018) 0.69–0.80 on desktop; 0.5 = none.
    left_bias: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5


class Persona(_Strict):
    """A synthetic visitor: device, intent, goals, and the human-factors constants that drive it."""

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


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Persona
    for part in loc[:-1]:
        info = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        model = info.annotation if info is not None else None
        if model is None or not hasattr(model, "model_fields"):
            return []
    return list(model.model_fields)


_FIXES = {
    "tuple_type": 'write a list, e.g. {name} = ["buy", "add to cart"]',
    "list_type": 'write a list, e.g. {name} = ["buy", "add to cart"]',
    **dict.fromkeys(("greater_than", "greater_than_equal", "less_than", "less_than_equal"),
                    "use a value inside the range; the comments in personas/library/*.toml give sourced values"),
    "literal_error": "use one of the values listed",
}


def _error_from(exc: ValidationError, source: str) -> InputError:
    first = exc.errors()[0]  # the one error_from_validation reports
    loc = tuple(first["loc"])
    # pydantic's own message keeps the bound or the allowed values; the value given is added to it.
    got = "a table" if isinstance(first.get("input"), dict) else "{input!r}"
    said = first["msg"].replace("{", "{{").replace("}", "}}")
    messages = {first["type"]: f"{said[:1].lower()}{said[1:]} (got {got})", "missing": "required field is missing",
                "tuple_type": f"should be a list (got {got})", "list_type": f"should be a list (got {got})"}
    inner = _known_fields((*loc, "_"))  # a missing section is a table to add, with its fields
    table = ".".join(str(p) for p in loc)
    fixes = {**_FIXES, "missing": f"add a [{table}] table with {', '.join(inner)}" if inner else "add {name} = ..."}
    return error_from_validation(exc, source=source, error=PersonaError, messages=messages, fixes=fixes,
                                 default_fix="see personas/library/*.toml for valid examples")


def _parse(path: Path, *, library: bool) -> Persona:
    source = str(path)
    data = read_toml(path, error=PersonaError, what="persona file", fix="check the path")
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
