"""``experiment.toml``: the site, the persona mix, the funnel, goals, variants and slots — validated."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from agent.catalog import ActionCatalog, build_catalog
from agent.css_validator import validate_selector
from agent.kernel import InputError, PatchValidationError, PersonaError, error_from_validation, read_toml
from agent.patch import load_patch
from harness.settings import MAX_SESSIONS, MAX_STAGES
from personas import load_persona

__all__ = ["MAX_SESSIONS", "MAX_STAGES", "NAME_PATTERN", "AgentSettings", "Experiment", "FunnelStep", "Goal",
           "Guardrails", "RolloutSettings", "Variant", "load_experiment", "stages_problem"]

# A slug: it names folders (nightly-NAME) and seeds the assignment salt, so no '/', no leading '.', no spaces.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_NAME_FIX = "use letters, digits, '.', '_' or '-', starting with a letter or digit (at most 80), e.g. shop-checkout"
# Playwright's own selector engines (xpath=, text=, css=, id=, internal:...=), its chaining (>>) and its
# auto-detected XPath (//, ..) and text ("...") forms: none of them is CSS, so the page's querySelector rejects them.
_ENGINE = re.compile(r"""^\s*(?:[A-Za-z_][\w-]*(?::[\w-]+)*\s*=|//|\.\.|["'])""")
_SELECTOR_FIX = "write a CSS selector of ids, classes, element names and bare [attributes], e.g. #checkout"


def _custom(message: str, fix: str, field: str | None = None) -> PydanticCustomError:
    # error_from_validation reads message, fix and field from the context: one line, with a fix of our own.
    return PydanticCustomError("uiab_input", "{message}", {"message": message, "fix": fix, "field": field})


def _css_selector(value: str) -> str:
    """A funnel or goal selector in the patch grammar (agent.css_validator); Playwright engines are refused."""
    if ">>" in value or _ENGINE.match(value):
        raise _custom(f"{value!r} is a Playwright selector, not CSS (xpath=, text=, css= and >> are not supported)",
                      _SELECTOR_FIX)
    try:
        validate_selector(value)
    except PatchValidationError as exc:
        where = f" at column {exc.column}" if exc.column is not None else ""
        fix = exc.fix if exc.fix and "what a patch may contain" not in exc.fix else _SELECTOR_FIX
        raise _custom(f"{value!r} is not a selector uiab accepts{where}: {exc.message}", fix) from None
    return value


def _site_path(value: str) -> str:
    """A path on the site (``/cart.html``): never empty, never another origin (``//host``, ``http://``)."""
    if not value.startswith("/") or value.startswith("//") or any(c.isspace() for c in value):
        raise _custom(f"{value!r} is not a path on the site", "give a path that starts with one /, e.g. /index.html")
    return value


def stages_problem(stages: Sequence[int]) -> str | None:
    """What is wrong with a traffic ramp, or ``None``: increasing percentages in (0, 100], at most MAX_STAGES."""
    if not stages:
        return "no stages given"
    if len(stages) > MAX_STAGES:
        return f"{len(stages)} stages, more than {MAX_STAGES}"
    if any(not 0 < s <= 100 for s in stages) or list(stages) != sorted(set(stages)):
        return f"stages {list(stages)} must be increasing percentages in (0, 100]"
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FunnelStep(_Strict):
    """One page of the goal path and the element that leads on from it."""

    page: str
    next: str | None = None

    _page = field_validator("page")(_site_path)
    _next = field_validator("next")(_css_selector)


class Goal(_Strict):
    """Reached when ``click`` is clicked or ``url`` loads."""

    click: str | None = None
    url: str | None = None

    _click = field_validator("click")(_css_selector)
    _url = field_validator("url")(_site_path)

    @model_validator(mode="after")
    def _one_trigger(self) -> Goal:
        if not self.click and not self.url:
            raise ValueError("a goal needs `click` (a selector) or `url` (a path)")
        return self


class Variant(_Strict):
    """A named variant; ``patch`` is a .css or .toml patch file relative to the experiment file."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    patch: str | None = None
    description: str = ""


class Guardrails(_Strict):
    """Non-inferiority margins: how much worse than control the candidate may be (absolute, per visitor)."""

    bounce: float = Field(default=0.10, ge=0, le=1)
    misclick_rate: float = Field(default=0.10, ge=0, le=1)
    error_rate: float = Field(default=0.02, ge=0, le=1)


class RolloutSettings(_Strict):
    """The ``[rollout]`` table: defaults for ``uiab rollout``."""

    control: str = "control"
    # The seed's ramp: 10 → 50 → 100 % with a health check between steps (docs/references.md).
    stages: list[int] = Field(default_factory=lambda: [10, 50, 100])
    sessions_per_stage: int = Field(default=40, ge=2, le=MAX_SESSIONS)
    primary: Literal["conversion"] = "conversion"
    margin: float = Field(default=0.05, ge=0, le=1)  # the primary metric's non-inferiority margin
    promote_if: Literal["superior", "non_inferior"] = "superior"
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    # Optimizely's minimum evidence before a winner: 100 visitors and 25 conversions per arm (docs/references.md).
    min_visitors: int = Field(default=100, ge=0)
    min_conversions: int = Field(default=25, ge=0)
    srm_alpha: float = Field(default=0.001, gt=0, lt=0.5)  # GrowthBook, Eppo
    srm_min_per_arm: int = Field(default=20, ge=0)
    min_patch_rate: float = Field(default=0.7, ge=0, le=1)  # the seed's min_success_rate
    preflight_sessions: int = Field(default=2, ge=0, le=100)  # per persona, on the candidate
    persona_harm: Literal["warn", "error"] = "warn"
    lcp_margin_ms: float = Field(default=500.0, ge=0)
    cls_margin: float = Field(default=0.05, ge=0)
    guardrails: Guardrails = Guardrails()  # frozen, so one shared default is safe

    @model_validator(mode="after")
    def _ramp(self) -> RolloutSettings:
        problem = stages_problem(self.stages)
        if problem:
            raise _custom(problem, "e.g. stages = [10, 50, 100]", field="stages")
        return self


class RewardWeightSettings(_Strict):
    """How much each measured part counts in the reward (the seed: result 0.3, user 0.4, business 0.3)."""

    result: float = Field(default=0.3, ge=0)
    user: float = Field(default=0.4, ge=0)
    business: float = Field(default=0.3, ge=0)


class AgentSettings(_Strict):
    """The ``[agent]`` table: what ``uiab train`` learns with."""

    gamma: float = Field(default=0.95, ge=0, le=1)  # the seed's discount
    reward: RewardWeightSettings = RewardWeightSettings()


class Experiment(_Strict):
    """A validated experiment; ``path`` is the file it came from (relative paths resolve against it)."""

    name: str
    site: str | None = None
    base_url: str | None = None
    entry: str = "/index.html"
    personas: list[str] = Field(min_length=1)
    funnel: list[FunnelStep] = Field(default_factory=list)
    goals: dict[str, Goal] = Field(default_factory=dict)
    variants: list[Variant] = Field(default_factory=lambda: [Variant(name="control")])
    slots: dict[str, Any] = Field(default_factory=dict)
    rollout: RolloutSettings = RolloutSettings()
    agent: AgentSettings = AgentSettings()
    path: Path = Field(default=Path("experiment.toml"), exclude=True)

    _entry = field_validator("entry")(_site_path)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise _custom(f"{value!r} is not a slug (it names folders, e.g. nightly-NAME)", _NAME_FIX)
        return value

    @model_validator(mode="after")
    def _check(self) -> Experiment:
        if not self.funnel:
            raise _custom("the funnel is empty: smoke would check nothing", field="funnel",
                          fix=f'add one [[funnel]] table per page of the goal path, from page = "{self.entry}" '
                              '(the entry), each with next = "#the-way-on" but the last')
        if not self.variants:
            raise _custom("no variants", field="variants",
                          fix='add [[variants]] with name = "control", or leave `variants` out for control alone')
        if bool(self.site) == bool(self.base_url):
            raise ValueError("give exactly one of `site` (a folder to serve) or `base_url` (a running site)")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("`base_url` must start with http:// or https://")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        return self

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def site_folder(self) -> Path | None:
        return (self.folder / self.site).resolve() if self.site else None

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        known = ", ".join(v.name for v in self.variants)
        raise InputError(f"no variant named {name!r}", source=str(self.path), field="variants",
                         fix=f"use one of: {known}")

    def action_catalog(self) -> ActionCatalog:
        """The agent's action catalog, generated from ``[slots]`` (selectors, kinds, copy alternatives)."""
        return build_catalog(self.slots, source=str(self.path))

    def slot_selector(self, name: str) -> str | None:
        """The selector of slot ``name`` (given as a string or as a table with ``selector``), if any."""
        spec = self.slots.get(name)
        if isinstance(spec, str):
            return spec
        if isinstance(spec, dict) and isinstance(spec.get("selector"), str):
            return spec["selector"]
        return None

    def goal_specs(self) -> list[dict[str, str]]:
        """Goals in the shape the in-page tracker takes."""
        return [{"name": name, **goal.model_dump(exclude_none=True)} for name, goal in self.goals.items()]

    def funnel_step(self, page: str) -> FunnelStep | None:
        for step in self.funnel:
            if step.page == page:
                return step
        return None


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; any problem becomes a one-line :class:`InputError`."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder, not a file", source=str(path), fix="pass the path of an experiment.toml")
    data = read_toml(path, what="file", fix="pass the path of an experiment.toml")
    try:
        experiment = Experiment(**data, path=path.resolve())
    except ValidationError as exc:
        raise error_from_validation(exc, source=str(path), fixes={"extra_forbidden": "remove it or check its spelling"},
                                    default_fix="see README, experiment.toml") from None
    if experiment.site_folder is not None and not experiment.site_folder.is_dir():
        raise InputError(f"site folder {experiment.site_folder} does not exist", source=str(path),
                         field="site", fix="point `site` at a folder relative to this file")
    experiment.action_catalog()  # bad slots are bad input, found when the file is read
    for variant in experiment.variants:
        if variant.patch and not (experiment.folder / variant.patch).is_file():
            raise InputError(f"patch file {variant.patch} does not exist", source=str(path),
                             field=f"variants.{variant.name}.patch", fix="check the path, relative to this file")
        if variant.patch and Path(variant.patch).suffix not in (".css", ".toml"):
            raise InputError(f"patch file {variant.patch} is neither .css nor .toml", source=str(path),
                             field=f"variants.{variant.name}.patch", fix="a patch is a .css or a .toml file")
        if variant.patch:
            load_patch(experiment.folder / variant.patch)  # every variant's patch, not only the ones a run picks
    for index, ref in enumerate(experiment.personas):
        try:
            load_persona(ref, relative_to=experiment.folder)
        except PersonaError as exc:
            if exc.source:  # a persona file's own error names that file
                raise
            raise PersonaError(exc.message, source=str(path), field=f"personas[{index}]", fix=exc.fix) from None
    return experiment
